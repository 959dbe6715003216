#!/usr/bin/env bash
# A/B: a training step of MobileNetV2-cifar and ResNet18-cifar at batch 64, timed with each of
# several builds in turn, round after round in one run (ratios measured side by side; absolute
# times drift on shared machines).
#
#   bench/ab/ab.sh REF [REF...]     e.g. bench/ab/ab.sh d337fbf HEAD
#
# Each REF is checked out into a worktree under .ab/ (git-ignored) and built there once
# (mvn package -DskipTests -pl java -am); StepBench.java is compiled against each jar. ROUNDS (default 3),
# WARMUP (3), STEPS (15 for MobileNetV2, a third for ResNet18) and MODELS set the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p .ab
ROUNDS=${ROUNDS:-3} WARMUP=${WARMUP:-3} STEPS=${STEPS:-15} MODELS=${MODELS:-mobilenetv2 resnet18}
jars=()
for ref in "$@"; do
  sha=$(git rev-parse --short "$ref")
  dir=.ab/$sha
  if [ ! -f "$dir/java/target/sepconv.jar" ]; then
    [ -d "$dir" ] || git worktree add -q --detach "$dir" "$sha"
    (cd "$dir" && mvn -B -q ${MVN_FLAGS:-} package -DskipTests -pl java -am)
  fi
  mkdir -p "$dir/.ab-classes"
  javac -q -cp "$dir/java/target/sepconv.jar" -d "$dir/.ab-classes" bench/ab/StepBench.java 2>/dev/null \
    || javac -cp "$dir/java/target/sepconv.jar" -d "$dir/.ab-classes" bench/ab/StepBench.java
  jars+=("$sha:$dir/java/target/sepconv.jar:$dir/.ab-classes")
done
for round in $(seq "$ROUNDS"); do
  for m in $MODELS; do
    steps=$STEPS
    [ "$m" = resnet18 ] && steps=$(( (STEPS + 2) / 3 ))
    for j in "${jars[@]}"; do
      sha=${j%%:*}
      printf 'round %d %-8s ' "$round" "$sha"
      java -Xmx4g -cp "${j#*:}" StepBench "$m" 64 "$WARMUP" "$steps"
    done
  done
done
