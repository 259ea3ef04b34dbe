#!/usr/bin/env bash
# The README's first command: installs missing Debian packages, builds azc
# (Release) into build/, writes a small model with azc's own GGUF writer,
# compiles it into a bundle and runs the bundle with the thin runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAZC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p out
azc=build/cli/azc
$azc mkmodel --shape tiny-llama --type q8_0 -o out/tiny-llama.gguf
$azc compile out/tiny-llama.gguf -o out/tiny-llama.bundle
$azc inspect out/tiny-llama.bundle | head -20
echo "--- azc run out/tiny-llama.bundle (random weights: the text is noise) ---"
$azc run out/tiny-llama.bundle -p "Salam" -n 24 --seed 1
if [ -f ../shared/models/stories260K.gguf ]; then
  echo "--- a trained model: ../shared/models/stories260K.gguf, compiled and run ---"
  $azc compile ../shared/models/stories260K.gguf -o out/stories260K.bundle
  $azc run out/stories260K.bundle -p "Once upon a time" -n 64 --temp 0
fi
