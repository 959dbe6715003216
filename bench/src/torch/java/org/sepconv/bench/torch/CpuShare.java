package org.sepconv.bench.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * How much of the machine's CPU time other processes used between two readings: busy time of
 * all CPUs from {@code /proc/stat} less this process's own from {@code /proc/self/stat} (both in
 * clock ticks), over all CPU time. On a shared machine it says which measurements ran beside
 * someone else's work; off Linux it is NaN.
 */
record CpuShare(long busy, long total, long self) {
  static CpuShare now() {
    try {
      String[] cpu = Files.readAllLines(Paths.get("/proc/stat")).get(0).trim().split("\\s+");
      // cpu user nice system idle iowait irq softirq steal ...
      long busy = 0, idle = Long.parseLong(cpu[4]) + Long.parseLong(cpu[5]);
      for (int i : new int[] {1, 2, 3, 6, 7, 8}) busy += Long.parseLong(cpu[i]);
      String stat = Files.readString(Paths.get("/proc/self/stat"));
      // after "pid (comm) ": state is field 3, utime and stime fields 14 and 15
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return new CpuShare(busy, busy + idle, Long.parseLong(f[11]) + Long.parseLong(f[12]));
    } catch (IOException | RuntimeException e) {
      return new CpuShare(-1, -1, -1);
    }
  }

  /** The share of all CPU time since {@code start} that went to other processes, in [0, 1]. */
  double othersSince(CpuShare start) {
    long total = this.total - start.total;
    if (start.total < 0 || total <= 0) return Double.NaN;
    return Math.max(0, Math.min(1, (double) (busy - start.busy - (self - start.self)) / total));
  }
}
