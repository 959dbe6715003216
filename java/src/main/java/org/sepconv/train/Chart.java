package org.sepconv.train;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.sepconv.io.AtomicFile;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The training curves as one PNG: loss (train and test) on the left, accuracy on the right,
 * per epoch. Drawn with XChart and written through a temp file and a rename.
 */
public final class Chart {
  private static final int W = 640, H = 420;

  private Chart() {}

  /**
   * Loads Java2D, its fonts and the PNG writer now. They register JVM shutdown hooks when first
   * used, which is refused once a shutdown (Ctrl-C) has begun, so a trainer calls this at the
   * start and can still draw the chart while it saves on Ctrl-C.
   */
  public static void warmUp() {
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.drawString("0", 0, 8);
    } finally {
      g.dispose();
    }
    try {
      ImageIO.write(img, "png", new ByteArrayOutputStream());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the chart of {@code rows} (at least one) to {@code file}; {@code title} heads both panels. */
  public static void write(Path file, List<Metrics.Row> rows, String title) {
    if (rows.isEmpty()) throw new IllegalArgumentException("no epochs to chart");
    warmUp();
    double[] epoch = new double[rows.size()];
    double[] trainLoss = new double[rows.size()], testLoss = new double[rows.size()];
    double[] trainAcc = new double[rows.size()], testAcc = new double[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      Metrics.Row r = rows.get(i);
      epoch[i] = r.epoch();
      trainLoss[i] = r.trainLoss();
      testLoss[i] = r.testLoss();
      trainAcc[i] = r.trainAcc();
      testAcc[i] = r.testAcc();
    }
    XYChart loss = panel(title + ": loss", "loss", Styler.LegendPosition.InsideNE); // curves fall: top right is free
    loss.addSeries("train", epoch, trainLoss).setMarker(SeriesMarkers.CIRCLE);
    loss.addSeries("test", epoch, testLoss).setMarker(SeriesMarkers.CIRCLE);
    XYChart acc = panel(title + ": accuracy", "accuracy", Styler.LegendPosition.InsideSE); // curves rise
    acc.addSeries("train", epoch, trainAcc).setMarker(SeriesMarkers.CIRCLE);
    acc.addSeries("test", epoch, testAcc).setMarker(SeriesMarkers.CIRCLE);

    BufferedImage img = new BufferedImage(2 * W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.drawImage(BitmapEncoder.getBufferedImage(loss), 0, 0, null);
      g.drawImage(BitmapEncoder.getBufferedImage(acc), W, 0, null);
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    try {
      if (!ImageIO.write(img, "png", png)) throw new IOException("no PNG encoder in this Java runtime");
    } catch (IOException e) {
      throw new UncheckedIOException("drawing " + file + ": " + e.getMessage(), e);
    }
    AtomicFile.write(file, png.toByteArray());
  }

  private static XYChart panel(String title, String yTitle, Styler.LegendPosition legend) {
    XYChart c = new XYChartBuilder().width(W).height(H).title(title).xAxisTitle("epoch").yAxisTitle(yTitle).build();
    c.getStyler().setLegendPosition(legend);
    c.getStyler().setXAxisDecimalPattern("0");
    c.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
    return c;
  }
}
