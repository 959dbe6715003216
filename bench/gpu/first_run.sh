#!/usr/bin/env bash
# The first run of sepconv on a GPU: one device call of at most 8 minutes. From the repository
# root, with the bundle built here first (bench/gpu/bundle.sh .bundle) and carried:
#
#   device tool: run(command="bench/gpu/first_run.sh", carry=[".bundle"], timeout_s=540)
#
# It unpacks .bundle/sepconv-gpu.tar.gz and runs bench/gpu/run.sh's steps with time limits that
# add up to 8 minutes, writing everything under $OUT (results.tgz, and the small files on their
# own so the reply shows them):
#   info     env-<gpu>.txt
#   native   sepconv_gpu_test against the CPU reference (gpu-native-<gpu>.txt), then again
#            under compute-sanitizer memcheck (gpu-native-memcheck-<gpu>.txt: 0 errors expected)
#   tests    the Java suite with its CUDA tests (gpu-tests-<gpu>.txt, junit-<gpu>/)
#   train    50 MobileNetV2-cifar steps at batch 256 on the CPU and CUDA, loss by loss
#            (gpu-train-<gpu>.md), and a --device cuda run of the command line (train-cli-<gpu>.log)
#   bench    ours against cuDNN fp32 and tf32 on the MobileNetV2-cifar batch-256 shapes
#            (gpu-<gpu>.csv/.md)
#   torch    bench/gpu/torch_train.py: PyTorch's MobileNetV2-cifar at batch 256 on the same GPU
# Without a GPU (here) it says so for each step and ends in seconds, exit 0.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/.bundle/first-run}
mkdir -p "$OUT"
STEPS="info native tests train bench torch"
if ! nvidia-smi -L >/dev/null 2>&1; then
  for s in $STEPS; do printf '%-8s skipped  no GPU: nvidia-smi is missing or lists no device\n' "$s"; done | tee "$OUT/summary-nogpu.txt"
  exit 0
fi
BUNDLE=${BUNDLE:-$ROOT/.bundle/sepconv-gpu.tar.gz}
[ -f "$BUNDLE" ] || { echo "no bundle at $BUNDLE: run bench/gpu/bundle.sh .bundle here first" >&2; exit 2; }
WORK=$(mktemp -d)
tar xzf "$BUNDLE" -C "$WORK"
RESULTS=$WORK/results
# time limits (seconds), 480 in all; the native test's batch-256 cases run in the bench step's shapes
export T_NATIVE=45 T_SANITIZER=75 T_TESTS=150 T_TRAIN=70 T_BENCH=95 T_TORCH=45
export SANITIZER_TOOLS=memcheck
# the suite but for FaultsTest (full disks, signals, memory limits: the CPU's, checked by CI; a minute of child JVMs)
export TEST_ARGS="--exclude-classname=.*FaultsTest"
export BENCH_ARGS="--models mobilenetv2-cifar --filter ^256x --precision fp32,tf32 --quick"
export TORCH_ARGS="--models mobilenetv2 --batches 256 --precisions fp32"
PACK=$OUT/results.tgz timeout -k 10 490 "$WORK/sepconv-gpu/run.sh" "$RESULTS" $STEPS
rc=$?
for f in "$RESULTS"/summary-*.txt "$RESULTS"/gpu-train-*.md "$RESULTS"/gpu-*.md "$RESULTS"/env-*.txt; do
  [ -f "$f" ] && cp "$f" "$OUT/"
done
exit $rc
