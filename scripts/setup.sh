#!/usr/bin/env bash
# The README's first command: installs missing Debian packages, builds azc
# (Release) into build/, writes a small model with azc's own GGUF writer and
# runs it end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p out
azc=build/cli/azc
$azc mkmodel --shape tiny-llama -o out/tiny-llama.gguf
$azc inspect out/tiny-llama.gguf | head -8
echo "--- azc run out/tiny-llama.gguf (random weights: the text is noise) ---"
$azc run out/tiny-llama.gguf -p "Salam" -n 24 --seed 1
if [ -f ../shared/models/stories260K.gguf ]; then
  echo "--- azc run ../shared/models/stories260K.gguf (a trained model) ---"
  $azc run ../shared/models/stories260K.gguf -p "Once upon a time" -n 64 --temp 0
fi
