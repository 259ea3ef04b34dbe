#!/usr/bin/env bash
# The runtime must not depend on a compiler: libazrt.so and a program built
# on azrt.h alone (examples/minimal.c) must not link LLVM, NVRTC or CUDA,
# neither as a library (ldd) nor as symbols (nm).
# usage: check_deps.sh LIBAZRT.so AZRT_MINIMAL
set -u
lib=$1 bin=$2
fail=0
for f in "$lib" "$bin"; do
  [ -e "$f" ] || { echo "FAIL: $f does not exist"; exit 1; }
  deps=$(ldd "$f" 2>&1)
  if echo "$deps" | grep -Ei 'llvm|nvrtc|libcuda|cudart|clang'; then
    echo "FAIL: $f links a compiler library"; fail=1
  fi
  syms=$(nm -D "$f" 2>/dev/null; nm "$f" 2>/dev/null)
  if echo "$syms" | grep -E '\b(LLVM[A-Z][A-Za-z]+|nvrtc[A-Z][A-Za-z]+|cu[A-Z][a-z]+[A-Z][A-Za-z]*)\b' | head -5 | grep .; then
    echo "FAIL: $f references compiler symbols"; fail=1
  fi
  echo "ok: $f: $(echo "$deps" | awk '{print $1}' | tr '\n' ' ')"
done
# the CUDA executor is in the runtime all the same: it loads the driver with dlopen
if ! nm -D "$lib" 2>/dev/null | grep -q ' T azc_cuda_driver_open$'; then
  echo "FAIL: $lib lacks the CUDA driver loader (azc_cuda_driver_open)"; fail=1
fi
exit $fail
