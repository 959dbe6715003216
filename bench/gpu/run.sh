#!/usr/bin/env bash
# Runs on the GPU host, from inside the unpacked bundle (bench/gpu/bundle.sh makes it):
#
#   sepconv-gpu/run.sh RESULTS_DIR [info] [tests] [native] [train] [bench] [torch]    (no step named: all)
#
# Steps, each logged under RESULTS_DIR (<gpu> is the GPU's short name, e.g. h100):
#   info    env-<gpu>.txt: nvidia-smi, driver and CUDA versions, the CUDA libraries found
#   tests   gpu-tests-<gpu>.txt: the Java test suite (JUnit console launcher), pass/fail counts
#           (TEST_ARGS adds launcher arguments, e.g. --exclude-classname REGEX)
#   native  gpu-native-<gpu>.txt (+ -memcheck, -racecheck under compute-sanitizer): sepconv_gpu_test
#           (SANITIZER_TOOLS picks the tools, default "memcheck racecheck"; NATIVE_ARGS adds arguments)
#   train   gpu-train-<gpu>.md: 50 MobileNetV2-cifar steps at batch 256 on the CPU and on CUDA, loss by
#           loss (TrainCheck), and train-cli-<gpu>.log: the same model trained by the command line
#           with --device cuda for one 50-step epoch (checkpoints, resume point, evaluation)
#   bench   gpu-<gpu>.csv/.md/.png and gpu-bench-<gpu>.log: sepconv vs cuDNN (GpuReport)
#   torch   torch-train-<gpu>.csv and .log: PyTorch training images/s (torch_train.py)
# A failing step does not stop the others. Every step has a time limit (T_TESTS, T_NATIVE,
# T_SANITIZER, T_TRAIN, T_BENCH, T_TORCH seconds; BENCH_ARGS and TORCH_ARGS add arguments) so that one
# call fits the device tool's 10 minutes: pick steps accordingly. Exit status: 0 if no step
# failed (steps skipped for want of a GPU or a tool are not failures), 1 otherwise.
# Without a GPU every step says so and is skipped; ALLOW_NO_GPU=1 runs tests and bench anyway.
# PACK=FILE.tgz packs RESULTS_DIR into one file at the end (the device tool returns 8 files at most).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 RESULTS_DIR [info] [tests] [native] [train] [bench] [torch]" >&2; exit 2; }
mkdir -p "$1"
RESULTS=$(cd "$1" && pwd)
shift
STEPS=${*:-info tests native train bench torch}
T_TESTS=${T_TESTS:-420} T_NATIVE=${T_NATIVE:-120} T_SANITIZER=${T_SANITIZER:-240} T_TRAIN=${T_TRAIN:-240}
T_BENCH=${T_BENCH:-540} T_TORCH=${T_TORCH:-420}
SANITIZER_TOOLS=${SANITIZER_TOOLS:-memcheck racecheck}

# ---- the GPU, and its short name as GpuReport.slug derives it ("NVIDIA H100 80GB HBM3" -> h100)
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
CUDA_VER=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
if [ -n "$GPU_NAME" ]; then
  GPU=$(echo "$GPU_NAME" | sed -E 's/^[Nn][Vv][Ii][Dd][Ii][Aa] +//' | awk '{print tolower($1)}' | tr -cd 'a-z0-9-')
  NO_GPU=""
else
  GPU=nogpu
  NO_GPU="no GPU: nvidia-smi is missing or lists no device"
fi

# ---- CUDA libraries for the JVM: the bytedeco JNI libraries link libcudart.so.13,
# libcublas(Lt).so.13 and libcudnn*.so.9 by soname. The host has them in the Python nvidia/*
# pip packages (or a CUDA toolkit); find each and put its folder on LD_LIBRARY_PATH, for the
# Java and native steps only (PyTorch finds its own).
# One walk of the file system finds them all (the first copy of each name wins).
FOUND=$(find / \( -path /proc -o -path /sys -o -path /dev -o -path "$HERE" \) -prune -o \
  \( -name libcudart.so.13 -o -name libcublas.so.13 -o -name libcublasLt.so.13 -o -name libcudnn.so.9 \
     -o -name libcudnn_cnn.so.9 -o -name libcuda.so.1 \) -print 2>/dev/null)
LIBS=""
LIB_REPORT=""
# Preferred: the pip packages' copies, then a CUDA toolkit's; never JavaCPP's cache of links.
add_lib() {
  local p
  p=$( (echo "$FOUND" | grep "/site-packages/nvidia/.*/$1\$"; echo "$FOUND" | grep "^/usr/local/cuda[^/]*/.*/$1\$";
        echo "$FOUND" | grep "/$1\$") | grep -v '/\.javacpp/\|/sepconv-javacpp/' | head -1)
  LIB_REPORT+="$1: ${p:-NOT FOUND}"$'\n'
  [ -n "$p" ] || return 0
  case ":$LIBS:" in *":$(dirname "$p"):"*) ;; *) LIBS=${LIBS:+$LIBS:}$(dirname "$p") ;; esac
}
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn_cnn.so.9 libcudnn.so.9; do add_lib "$so"; done
# the driver's libcuda.so.1 is normally in the linker cache; a found copy is added only if not
ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 ' || add_lib libcuda.so.1
JAVA_LD=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export FONTCONFIG_FILE=$HERE/fonts/fonts.conf
JAVA="$HERE/runtime/bin/java -Xmx8g -Djava.awt.headless=true -Dsepconv.blas=none -Dorg.bytedeco.javacpp.cachedir=/tmp/sepconv-javacpp"
CP=$(ls "$HERE"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer 2>/dev/null | head -1)

SUMMARY=""
FAILED=0
record() { # step, status word, detail
  SUMMARY+=$(printf '%-8s %-8s %s' "$1" "$2" "$3")$'\n'
  [ "$2" != FAILED ] || FAILED=1
}
# runs "$@" under a time limit into a log; returns its status (124: timed out)
bounded() {
  local limit=$1 log=$2
  shift 2
  echo "\$ $*" >> "$log"
  timeout -k 10 "$limit" "$@" >> "$log" 2>&1
}
header() {
  printf 'GPU: %s\ndriver: %s, CUDA (driver): %s\nhost: %s\ndate: %s\nbundle: %s\ncommand: %s\n\n' \
    "${GPU_NAME:-none}" "${DRIVER:-none}" "${CUDA_VER:-none}" "$(uname -n)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$(sed -n 2p "$HERE/MANIFEST.txt" 2>/dev/null)" "$1"
}

step_info() {
  local log=$RESULTS/env-$GPU.txt
  { header "run.sh info"; if command -v nvidia-smi >/dev/null; then nvidia-smi 2>&1; else echo "nvidia-smi: not found"; fi
    echo; echo "CUDA libraries:"; printf '%s' "$LIB_REPORT"
    echo "LD_LIBRARY_PATH for java/native: $JAVA_LD"; echo "compute-sanitizer: ${SANITIZER:-none}"
    echo "nvcc: $(nvcc --version 2>/dev/null | tail -1)"; $JAVA -version 2>&1; cat "$HERE/MANIFEST.txt"; } > "$log"
  cat "$log"
  record info ok "$log"
}

step_tests() {
  local log=$RESULTS/gpu-tests-$GPU.txt
  if [ -n "$NO_GPU" ] && [ "${ALLOW_NO_GPU:-0}" != 1 ]; then record tests skipped "$NO_GPU"; return; fi
  local cmd=(env LD_LIBRARY_PATH="$JAVA_LD" $JAVA -jar "$(ls "$HERE"/lib/junit-platform-console-standalone-*.jar)" execute
    --class-path "$HERE/test-classes:$CP" --scan-class-path "$HERE/test-classes" --disable-banner --details=tree
    --reports-dir "$RESULTS/junit-$GPU" ${TEST_ARGS:-})
  header "${cmd[*]}" > "$log"
  bounded "$T_TESTS" "$log" "${cmd[@]}"
  local rc=$?
  local ok fail skip
  ok=$(sed -n 's/.*\[ *\([0-9]*\) tests successful.*/\1/p' "$log" | tail -1)
  fail=$(sed -n 's/.*\[ *\([0-9]*\) tests failed.*/\1/p' "$log" | tail -1)
  skip=$(sed -n 's/.*\[ *\([0-9]*\) tests skipped.*/\1/p' "$log" | tail -1)
  local counts="${ok:-?} passed, ${fail:-?} failed, ${skip:-?} skipped"
  echo "$counts (exit $rc)" >> "$log"
  [ $rc -eq 0 ] && record tests ok "$counts: $log" || record tests FAILED "$counts, exit $rc$([ $rc -eq 124 ] && echo ' (timed out)'): $log"
}

step_native() {
  local bin=$HERE/native/sepconv_gpu_test
  if [ ! -x "$bin" ]; then record native skipped "no sepconv_gpu_test in the bundle"; return; fi
  if [ -n "$NO_GPU" ]; then record native skipped "$NO_GPU"; return; fi
  local ld=$HERE/native:$JAVA_LD log=$RESULTS/gpu-native-$GPU.txt
  header "$bin" > "$log"
  bounded "$T_NATIVE" "$log" env LD_LIBRARY_PATH="$ld" "$bin" ${NATIVE_ARGS:-}
  local rc=$?
  [ $rc -eq 0 ] && record native ok "$log" || record native FAILED "exit $rc: $log"
  if [ -z "$SANITIZER" ]; then record sanitize skipped "compute-sanitizer not found"; return; fi
  for tool in $SANITIZER_TOOLS; do
    log=$RESULTS/gpu-native-$tool-$GPU.txt
    header "$SANITIZER --tool $tool --error-exitcode 1 $bin ${NATIVE_ARGS:-}" > "$log"
    bounded "$T_SANITIZER" "$log" env LD_LIBRARY_PATH="$ld" "$SANITIZER" --tool "$tool" --error-exitcode 1 "$bin" ${NATIVE_ARGS:-}
    rc=$?
    [ $rc -eq 0 ] && record "$tool" ok "$log" || record "$tool" FAILED "exit $rc: $log"
  done
}

step_train() {
  local log=$RESULTS/gpu-train-$GPU.log cli=$RESULTS/train-cli-$GPU.log
  if [ -n "$NO_GPU" ]; then record train skipped "$NO_GPU"; return; fi
  local cmd=(env LD_LIBRARY_PATH="$JAVA_LD" $JAVA -cp "$CP" org.sepconv.bench.gpu.TrainCheck --model mobilenetv2
    --batch 256 --steps 50 --out "$RESULTS/gpu-train-$GPU.md")
  header "${cmd[*]}" > "$log"
  bounded "$T_TRAIN" "$log" "${cmd[@]}"
  local rc=$?
  tail -3 "$log"
  [ $rc -eq 0 ] && record train ok "$RESULTS/gpu-train-$GPU.md" || record train FAILED "exit $rc: $log"
  # the command line end to end on the device: one epoch of 50 steps, checkpoints, evaluation
  local run=/tmp/sepconv-train-cli
  rm -rf "$run"
  cmd=(env LD_LIBRARY_PATH="$JAVA_LD" $JAVA -jar "$HERE/lib/sepconv.jar" train --device cuda --dataset synthetic
    --model mobilenetv2 --limit-train 12800 --batch-size 256 --epochs 1 --out "$run")
  header "${cmd[*]}" > "$cli"
  bounded "$T_TRAIN" "$cli" "${cmd[@]}"
  rc=$?
  tail -2 "$cli"
  [ $rc -eq 0 ] && [ -s "$run/last.safetensors" ] && record train-cli ok "$cli" || record train-cli FAILED "exit $rc: $cli"
}

step_bench() {
  local log=$RESULTS/gpu-bench-$GPU.log
  if [ -n "$NO_GPU" ] && [ "${ALLOW_NO_GPU:-0}" != 1 ]; then record bench skipped "$NO_GPU"; return; fi
  # the report stops starting new shapes a minute before the step's limit and keeps what it measured
  local cmd=(env LD_LIBRARY_PATH="$JAVA_LD" $JAVA -cp "$CP" org.sepconv.bench.gpu.GpuReport --out "$RESULTS" --gpu "$GPU"
    --budget-s $((T_BENCH - 60)) ${BENCH_ARGS:-})
  header "${cmd[*]}" > "$log"
  bounded "$T_BENCH" "$log" "${cmd[@]}"
  local rc=$?
  tail -3 "$log"
  local why
  why=$(grep -m1 'GPU benchmarks skipped' "$log")
  if [ $rc -eq 0 ] && [ -n "$why" ]; then record bench skipped "${why#GPU benchmarks skipped: }"
  elif [ $rc -eq 0 ]; then record bench ok "$RESULTS/gpu-$GPU.csv"
  else record bench FAILED "exit $rc: $log"; fi
}

step_torch() {
  local out=$RESULTS/torch-train-$GPU.csv log=$RESULTS/torch-train-$GPU.log
  if [ -n "$NO_GPU" ]; then record torch skipped "$NO_GPU"; return; fi
  if ! python3 -c 'import torch' 2>/dev/null; then record torch skipped "python3 has no torch"; return; fi
  header "python3 torch_train.py --out $out ${TORCH_ARGS:-}" > "$log"
  bounded "$T_TORCH" "$log" env PYTHONUNBUFFERED=1 python3 "$HERE/torch_train.py" --out "$out" --budget-s $((T_TORCH - 30)) ${TORCH_ARGS:-}
  local rc=$?
  tail -8 "$log"
  [ $rc -eq 0 ] && record torch ok "$out" || record torch FAILED "exit $rc: $log"
}

echo "GPU: ${GPU_NAME:-none} ($GPU); driver ${DRIVER:-none}; CUDA ${CUDA_VER:-none}; results: $RESULTS; steps: $STEPS"
[ -z "$NO_GPU" ] || echo "$NO_GPU"
for s in $STEPS; do
  case $s in
    info|tests|native|train|bench|torch) echo "== $s"; "step_$s" ;;
    *) echo "unknown step '$s' (info tests native train bench torch)" >&2; record "$s" FAILED "unknown step" ;;
  esac
done
printf '\n== summary (%s)\n%s' "$GPU" "$SUMMARY" | tee "$RESULTS/summary-$GPU.txt"
[ -z "${PACK:-}" ] || tar czf "$PACK" -C "$RESULTS" .
exit $FAILED
