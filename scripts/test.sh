#!/usr/bin/env bash
# The README's second command (and what CI runs): installs missing Debian
# packages, builds every target with warnings as errors under AddressSanitizer
# and UndefinedBehaviorSanitizer into build-test/, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAZC_WERROR=ON -DAZC_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)" "$@"
