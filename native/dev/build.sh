#!/bin/sh
# Builds the kernel experiments of native/dev/ against a CPU-only libsepconv in native/dev/build.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"
cmake -S "$here/../../cmake" -B "$out/lib" -DSEPCONV_CUDA=OFF -DSEPCONV_OUTPUT_DIR="$out" >/dev/null
cmake --build "$out/lib" -j 2 >/dev/null
for src in "$here"/*/*.cpp; do
  name=$(basename "$(dirname "$src")")_$(basename "$src" .cpp)
  if grep -q NO_LINK "$src"; then  # loads libraries itself (dlopen)
    g++ -std=c++17 -O3 -march=native -Wall -Wno-unused-parameter -I "$here/../include" "$src" -ldl -pthread -o "$out/$name"
  else
    g++ -std=c++17 -O3 -march=native -Wall -Wno-unused-parameter -I "$here/../include" "$src" \
      -L "$out" -lsepconv -Wl,-rpath,"$out" -pthread -o "$out/$name"
  fi
done
echo "built in $out"
