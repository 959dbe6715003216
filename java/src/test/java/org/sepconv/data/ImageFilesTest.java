package org.sepconv.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFilesTest {
  @TempDir Path dir;

  private Path solid(String name, String format, int type, int w, int h, int rgb)
      throws IOException {
    BufferedImage img = new BufferedImage(w, h, type);
    for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, rgb);
    Path p = dir.resolve(name);
    assertTrue(ImageIO.write(img, format, p.toFile()), "no writer for " + format);
    return p;
  }

  private static void assertAll(float[] v, int from, int to, double expected, double tol) {
    for (int i = from; i < to; i++) assertEquals(expected, v[i], tol, "element " + i);
  }

  @Test
  void solidPngInRgbAndGray() throws IOException {
    Path p = solid("a.png", "png", BufferedImage.TYPE_INT_RGB, 40, 20, 0xC86432); // 200,100,50
    List<ImageFiles.Image> rgb = ImageFiles.load(p, 3, 32);
    assertEquals(1, rgb.size());
    assertEquals(p, rgb.get(0).path());
    float[] v = rgb.get(0).chw();
    assertEquals(3 * 32 * 32, v.length);
    assertAll(v, 0, 1024, 200 / 255.0, 1e-6);
    assertAll(v, 1024, 2048, 100 / 255.0, 1e-6);
    assertAll(v, 2048, 3072, 50 / 255.0, 1e-6);
    float[] g = ImageFiles.load(p, 1, 8).get(0).chw();
    assertEquals(64, g.length);
    assertAll(g, 0, 64, (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255, 1e-5);
  }

  @Test
  void grayPngKeepsItsValues() throws IOException {
    // Java2D's gray colour space is linear, so getRGB/setRGB on a gray image apply a gamma
    // curve; the stored byte 100 must still read as 100/255
    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < 28; y++)
      for (int x = 0; x < 28; x++) img.getRaster().setSample(x, y, 0, 100);
    Path p = dir.resolve("g.png");
    ImageIO.write(img, "png", p.toFile());
    assertAll(ImageFiles.load(p, 1, 32).get(0).chw(), 0, 1024, 100 / 255.0, 1.5 / 255);
    assertAll(ImageFiles.load(p, 3, 32).get(0).chw(), 0, 3072, 100 / 255.0, 1.5 / 255);
  }

  @Test
  void jpegDecodesApproximately() throws IOException {
    Path p = solid("b.jpg", "jpg", BufferedImage.TYPE_INT_RGB, 16, 16, 0x2080E0);
    float[] v = ImageFiles.load(p, 3, 32).get(0).chw();
    assertAll(v, 0, 1024, 0x20 / 255.0, 4 / 255.0);
    assertAll(v, 1024, 2048, 0x80 / 255.0, 4 / 255.0);
    assertAll(v, 2048, 3072, 0xE0 / 255.0, 4 / 255.0);
  }

  @Test
  void resizingIsBilinear() throws IOException {
    BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    img.setRGB(1, 0, 0xFFFFFF);
    Path p = dir.resolve("edge.png");
    ImageIO.write(img, "png", p.toFile());
    float[] v = ImageFiles.load(p, 1, 4).get(0).chw();
    for (float x : v) assertTrue(x >= 0 && x <= 1, "in [0, 1]: " + x);
    assertEquals(0, v[0], 1e-6);
    assertEquals(1, v[3], 1e-6);
    assertTrue(v[1] > 0.1 && v[1] < 0.5 && v[2] > 0.5 && v[2] < 0.9,
        "interpolated, not nearest: " + v[1] + ", " + v[2]);
  }

  @Test
  void folderLoadsImagesSortedByName() throws IOException {
    solid("b.png", "png", BufferedImage.TYPE_INT_RGB, 4, 4, 0x000000);
    solid("a.jpg", "jpg", BufferedImage.TYPE_INT_RGB, 4, 4, 0xFFFFFF);
    solid("c.JPEG", "jpg", BufferedImage.TYPE_INT_RGB, 4, 4, 0x808080);
    Files.writeString(dir.resolve("notes.txt"), "not an image");
    Files.createDirectory(dir.resolve("sub.png"));
    List<ImageFiles.Image> all = ImageFiles.load(dir, 1, 4);
    assertEquals(List.of(dir.resolve("a.jpg"), dir.resolve("b.png"), dir.resolve("c.JPEG")),
        all.stream().map(ImageFiles.Image::path).toList());
    assertEquals(1, all.get(0).chw()[0], 3 / 255.0);
    assertEquals(0, all.get(1).chw()[0], 1e-6);
  }

  @Test
  void failuresNameTheFile() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad.png"), "this is text");
    DataException e = assertThrows(DataException.class, () -> ImageFiles.load(bad, 3, 32));
    assertTrue(e.getMessage().startsWith(bad + ": "), e.getMessage());
    e = assertThrows(DataException.class, () -> ImageFiles.load(dir, 3, 32));
    assertTrue(e.getMessage().contains("bad.png"), e.getMessage());
    Path empty = Files.createDirectory(dir.resolve("empty"));
    e = assertThrows(DataException.class, () -> ImageFiles.load(empty, 3, 32));
    assertEquals(empty + ": no .png, .jpg or .jpeg files in this folder", e.getMessage());
    Path none = dir.resolve("none.png");
    e = assertThrows(DataException.class, () -> ImageFiles.load(none, 3, 32));
    assertEquals(none + ": not found", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ImageFiles.load(empty, 2, 32));
  }
}
