#!/usr/bin/env bash
# Builds the GPU bundle: everything a Linux x86-64 GPU host with no Java and no network needs to
# run the Java test suite, the native GPU test, the GPU benchmarks against cuDNN and the PyTorch
# baseline. Output: OUTDIR/sepconv-gpu.tar.gz alone (it unpacks to sepconv-gpu/; KEEP_TREE=1
# also leaves the unpacked OUTDIR/sepconv-gpu/). See bench/README.md, "GPU".
# OUTDIR .bundle (git-ignored) is what the device tool's carry expects.
#
#   bench/gpu/bundle.sh OUTDIR          # builds with Maven first
#   SKIP_BUILD=1 bench/gpu/bundle.sh OUTDIR   # reuses core/target, java/target and bench/target
#   MVN_FLAGS=-o bench/gpu/bundle.sh OUTDIR   # offline Maven
#
# The CUDA libraries (cudart, cuBLAS, cuDNN) are not in the bundle: run.sh finds the host's.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/sepconv-gpu
LIMIT_MIB=40

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== mvn package -Pgpu-bundle"
  (cd "$ROOT" && mvn -B -q ${MVN_FLAGS:-} package -DskipTests -Pgpu-bundle)
fi
for f in java/target/sepconv.jar bench/target/sepconv-bench.jar core/target/test-classes java/target/test-classes bench/target/gpu-lib; do
  [ -e "$ROOT/$f" ] || { echo "missing $ROOT/$f: build first (without SKIP_BUILD=1)" >&2; exit 1; }
done

rm -rf "$OUT/sepconv-gpu" "$OUT/sepconv-gpu.tar.gz"
mkdir -p "$B/lib" "$B/native"

# ---- Java runtime: the modules the code that runs there needs (jdeps over the jars):
# java.desktop for AWT/ImageIO (the trainer's charts and image loading, the GPU report's chart),
# java.management and jdk.unsupported for JavaCPP, java.logging for the JUnit launcher. Headless
# only: the X11, splash-screen and sound libraries stay out. --compress=0, not 2, because the
# tarball compresses better than jlink does: lib/modules at --compress=2 is 22 MB and gzips to
# 21.5 MB; at --compress=0 it is 46 MB and gzips to 15.5 MB. Native libraries are stripped
# (libjvm.so: 24 MB -> 20 MB).
echo "== jlink"
JLINK=${JAVA_HOME:+$JAVA_HOME/bin/}jlink
"$JLINK" --add-modules java.base,jdk.unsupported,java.management,java.logging,java.desktop \
  --strip-debug --no-header-files --no-man-pages --compress="${JLINK_COMPRESS:-0}" \
  --exclude-files='**/libawt_xawt.so,**/libjawt.so,**/libsplashscreen.so,**/libjsound.so' --output "$B/runtime"
find "$B/runtime/lib" -name '*.so' -exec strip --strip-unneeded {} +

# AWT draws text through libfontmanager, which needs freetype and harfbuzz (and what they
# need), dlopens fontconfig, and finds no font on a bare host. The runtime's libraries carry
# RPATH $ORIGIN, so the closure copied beside them is found first; run.sh points FONTCONFIG_FILE
# at a config that lists only the bundled DejaVu fonts.
echo "== font libraries and fonts"
copy_closure() {
  ldd "$1" | awk '/=> \// {print $3}' | while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libstdc++.so*|libgcc_s.so*|ld-linux*) ;;
      *) [ -e "$B/runtime/lib/$(basename "$lib")" ] || cp -L "$lib" "$B/runtime/lib/" ;;
    esac
  done
}
copy_closure "$B/runtime/lib/libfontmanager.so"
FC=$(ldconfig -p | awk '/libfontconfig.so.1 .*x86-64/ {print $NF; exit}')
if [ -n "$FC" ]; then cp -L "$FC" "$B/runtime/lib/" && copy_closure "$FC"; else echo "warning: no libfontconfig.so.1 here; charts rely on the host's" >&2; fi
mkdir -p "$B/fonts"
for f in DejaVuSans.ttf DejaVuSans-Bold.ttf; do
  src=$(find /usr/share/fonts -name "$f" 2>/dev/null | head -1)
  if [ -n "$src" ]; then cp "$src" "$B/fonts/"; else echo "warning: $f not found (apt-get install fonts-dejavu-core)" >&2; fi
done
cat > "$B/fonts/fonts.conf" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir prefix="relative">.</dir>
  <cachedir>/tmp/sepconv-fontconfig-cache</cachedir>
</fontconfig>
EOF

# ---- jars. sepconv.jar without OpenBLAS (20 MB of the 22): run.sh passes -Dsepconv.blas=none,
# so the CPU paths use the built-in GEMM. The CUDA JNI jar keeps cudart, cuBLAS and cuDNN only.
echo "== jars"
cp "$ROOT/java/target/sepconv.jar" "$B/lib/sepconv.jar"
zip -q -d "$B/lib/sepconv.jar" 'org/bytedeco/openblas/*' 'META-INF/native-image/*openblas*' >/dev/null || true
cp "$ROOT/bench/target/sepconv-bench.jar" "$B/lib/"
cp "$ROOT"/bench/target/gpu-lib/*.jar "$B/lib/"
CUDA_JNI=$(ls "$B"/lib/cuda-*-linux-x86_64.jar)
keep='jnicudart|jnicublas|jnicudnn'
drop=$(unzip -Z1 "$CUDA_JNI" | grep -E '(^|/)lib' | grep -E '\.so' | grep -vE "$keep" || true)
[ -z "$drop" ] || zip -q -d "$CUDA_JNI" $drop >/dev/null
# the tests of both modules, the library's and the command line's, in one folder
mkdir -p "$B/test-classes"
cp -r "$ROOT/core/target/test-classes/." "$ROOT/java/target/test-classes/." "$B/test-classes/"

# ---- the native GPU test, when the CMake build made one (cuda/test/gpu_test.cu)
GPU_TEST=$(find "$ROOT/core/target/native-build" -maxdepth 3 -type f -name sepconv_gpu_test -perm -u+x 2>/dev/null | head -1 || true)
if [ -n "$GPU_TEST" ]; then
  cp "$GPU_TEST" "$B/native/"
  cp "$ROOT/core/target/classes/org/sepconv/nativeapi/linux-x86_64/libsepconv.so" "$B/native/"
else
  echo "note: no sepconv_gpu_test in core/target/native-build (needs nvcc and cuda/test/gpu_test.cu); run.sh will skip it"
fi

cp "$ROOT/bench/gpu/run.sh" "$ROOT/bench/gpu/torch_train.py" "$B/"
chmod +x "$B/run.sh"
{
  echo "sepconv GPU bundle"
  echo "commit: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "java: $("$B/runtime/bin/java" -version 2>&1 | head -1)"
  echo
  (cd "$B" && du -sh runtime lib test-classes native fonts)
} > "$B/MANIFEST.txt"

echo "== tar"
tar czf "$OUT/sepconv-gpu.tar.gz" -C "$STAGE" sepconv-gpu
[ "${KEEP_TREE:-0}" != 1 ] || cp -r "$B" "$OUT/"
size=$(stat -c %s "$OUT/sepconv-gpu.tar.gz")
echo "bundle: $OUT/sepconv-gpu.tar.gz $((size / 1024 / 1024)) MiB ($size bytes); unpacked $(du -sh "$B" | cut -f1)"
cat "$B/MANIFEST.txt"
if [ "$size" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
  echo "error: the bundle is over $LIMIT_MIB MiB" >&2
  exit 1
fi
