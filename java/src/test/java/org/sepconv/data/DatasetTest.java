package org.sepconv.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatasetTest {
  private static final String[] TEN = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

  private static Dataset random(int n, int c, int h, int w, long seed) {
    Random rng = new Random(seed);
    byte[] im = new byte[n * c * h * w], lb = new byte[n];
    rng.nextBytes(im);
    for (int i = 0; i < n; i++) lb[i] = (byte) rng.nextInt(10);
    return new Dataset("random", TEN, c, h, w, im, lb);
  }

  @Test
  void subsetPicksDistinctImagesDeterministically() {
    Dataset ds = random(20, 2, 3, 3, 1);
    Dataset a = ds.subset(6, 5), b = ds.subset(6, 5), other = ds.subset(6, 6);
    assertEquals(6, a.size());
    assertArrayEquals(a.images(), b.images());
    assertFalse(Arrays.equals(a.images(), other.images()));
    Set<Integer> used = new HashSet<>();
    for (int i = 0; i < a.size(); i++) { // each picked image is a distinct original one
      byte[] img = Arrays.copyOfRange(a.images(), i * 18, (i + 1) * 18);
      int match = -1;
      for (int j = 0; j < ds.size(); j++)
        if (Arrays.equals(img, Arrays.copyOfRange(ds.images(), j * 18, (j + 1) * 18))) match = j;
      assertTrue(match >= 0 && used.add(match), "image " + i);
      assertEquals(ds.label(match), a.label(i));
    }
    assertEquals(20, ds.subset(20, 0).size());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ds.subset(21, 0));
    assertEquals("limit 21 must be in 1..20, the size of random", e.getMessage());
  }

  @Test
  void channelStatisticsMatchADirectComputation() {
    Dataset ds = random(7, 3, 5, 4, 2);
    double[] mean = ds.channelMean(), std = ds.channelStd();
    for (int c = 0; c < 3; c++) {
      double s = 0, ss = 0;
      int n = 0;
      for (int i = 0; i < 7; i++)
        for (int p = 0; p < 20; p++, n++) s += (ds.images()[(i * 3 + c) * 20 + p] & 0xFF) / 255.0;
      double m = s / n;
      for (int i = 0; i < 7; i++)
        for (int p = 0; p < 20; p++) {
          double d = (ds.images()[(i * 3 + c) * 20 + p] & 0xFF) / 255.0 - m;
          ss += d * d;
        }
      assertEquals(m, mean[c], 1e-12);
      assertEquals(Math.sqrt(ss / n), std[c], 1e-12);
    }
  }

  @Test
  void constructorChecksSizesAndLabels() {
    assertThrows(IllegalArgumentException.class,
        () -> new Dataset("d", TEN, 1, 2, 2, new byte[7], new byte[2]));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Dataset("d", TEN, 1, 1, 1, new byte[2], new byte[] {0, 10}));
    assertEquals("labels[1]: 10 is not below the 10 classes", e.getMessage());
  }

  @Test
  void syntheticIsDeterministicBalancedAndLearnable() {
    Dataset train = Synthetic.make(500, 10, 3, 16, 1), test = Synthetic.make(200, 10, 3, 16, 2);
    assertArrayEquals(train.images(), Synthetic.make(500, 10, 3, 16, 1).images());
    assertFalse(Arrays.equals(test.images(), Synthetic.make(200, 10, 3, 16, 3).images()));
    int[] counts = new int[10];
    for (int i = 0; i < train.size(); i++) counts[train.label(i)]++;
    for (int c : counts) assertEquals(50, c);
    // a nearest-class-mean classifier fitted on one seed's images works on another's
    int per = 3 * 16 * 16;
    double[][] centroid = new double[10][per];
    for (int i = 0; i < train.size(); i++)
      for (int k = 0; k < per; k++)
        centroid[train.label(i)][k] += (train.images()[i * per + k] & 0xFF) / 50.0;
    int right = 0;
    for (int i = 0; i < test.size(); i++) {
      int best = -1;
      double bestDist = Double.MAX_VALUE;
      for (int c = 0; c < 10; c++) {
        double d = 0;
        for (int k = 0; k < per; k++) {
          double e = (test.images()[i * per + k] & 0xFF) - centroid[c][k];
          d += e * e;
        }
        if (d < bestDist) {
          bestDist = d;
          best = c;
        }
      }
      if (best == test.label(i)) right++;
    }
    assertTrue(right >= 190, right + "/200 right");
  }
}
