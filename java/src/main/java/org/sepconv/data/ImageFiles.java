package org.sepconv.data;

import static org.sepconv.data.DataException.reason;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * Image files for prediction, decoded with javax.imageio (PNG, JPEG, and whatever else the JDK
 * reads: BMP, GIF, WBMP; CMYK JPEGs it cannot). Each image is resized to size×size with
 * Java2D's bilinear interpolation, which samples only the 2×2 nearest source pixels: shrinking
 * by much more than 2× aliases, unlike an area-averaging resize (PIL's {@code reduce}). Aspect
 * ratio is not kept, and transparent pixels are composited over black.
 */
public final class ImageFiles {
  private ImageFiles() {}

  static {
    if (System.getProperty("java.awt.headless") == null)
      System.setProperty("java.awt.headless", "true");
  }

  /** One decoded image: channels × size × size values in [0, 1], not normalised. */
  public record Image(Path path, float[] chw) {}

  /**
   * The image at {@code fileOrDir}, or every .png, .jpg and .jpeg in that folder (not its
   * subfolders), sorted by file name.
   *
   * @param channels 1 for gray (luminance 0.299 R + 0.587 G + 0.114 B, as PIL's "L"), 3 for RGB
   * @throws DataException a file is missing or cannot be decoded, or the folder holds no image
   */
  public static List<Image> load(Path fileOrDir, int channels, int size) {
    if (channels != 1 && channels != 3)
      throw new IllegalArgumentException("channels: expected 1 or 3, got " + channels);
    if (size < 1) throw new IllegalArgumentException("size: must be >= 1, got " + size);
    List<Path> files;
    if (Files.isDirectory(fileOrDir)) {
      try (Stream<Path> s = Files.list(fileOrDir)) {
        files = s.filter(p -> Files.isRegularFile(p) && isImageName(p)).sorted().toList();
      } catch (IOException e) {
        throw new DataException(fileOrDir + ": cannot list (" + reason(e) + ")", e);
      }
      if (files.isEmpty())
        throw new DataException(fileOrDir + ": no .png, .jpg or .jpeg files in this folder");
    } else if (Files.isRegularFile(fileOrDir)) {
      files = List.of(fileOrDir);
    } else {
      throw new DataException(fileOrDir + ": not found");
    }
    List<Image> out = new ArrayList<>(files.size());
    for (Path f : files) out.add(new Image(f, toChw(decode(f), channels, size)));
    return out;
  }

  private static boolean isImageName(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
  }

  private static BufferedImage decode(Path f) {
    BufferedImage img;
    try {
      img = ImageIO.read(f.toFile());
    } catch (IOException | RuntimeException e) { // ImageIO throws unchecked on some bad files
      throw new DataException(f + ": cannot decode image (" + reason(e) + ")", e);
    }
    if (img == null)
      throw new DataException(f + ": not an image format ImageIO reads (PNG or JPEG expected)");
    return img;
  }

  private static float[] toChw(BufferedImage img, int channels, int size) {
    BufferedImage rgb = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = rgb.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION,
          RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
      g.drawImage(img, 0, 0, size, size, null);
    } finally {
      g.dispose();
    }
    int plane = size * size;
    int[] px = rgb.getRGB(0, 0, size, size, null, 0, size);
    float[] chw = new float[channels * plane];
    for (int i = 0; i < plane; i++) {
      int r = (px[i] >> 16) & 0xFF, gr = (px[i] >> 8) & 0xFF, b = px[i] & 0xFF;
      if (channels == 1) {
        chw[i] = (0.299f * r + 0.587f * gr + 0.114f * b) / 255f;
      } else {
        chw[i] = r / 255f;
        chw[plane + i] = gr / 255f;
        chw[2 * plane + i] = b / 255f;
      }
    }
    return chw;
  }
}
