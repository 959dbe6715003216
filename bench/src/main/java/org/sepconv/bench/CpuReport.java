package org.sepconv.bench;
public final class CpuReport { public static void main(String[] a) {} }
