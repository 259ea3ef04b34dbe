#!/usr/bin/env bash
# azc_cpu_gate decides by cpuid: under qemu-x86_64 emulating a Haswell (AVX2,
# no AVX-512) it must skip (77, naming the feature) a program compiled for
# AVX-512 and run one compiled for AVX2; on the host it passes the program's
# arguments and exit status through; an unknown feature name is an error.
# usage: test_cpu_gate.sh AZC_CPU_GATE QEMU_X86_64
set -u
gate=$1 qemu=$2
fails=0
expect() { # name, wanted exit status, then the command
  local name=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ]; then echo "ok   $name"; else
    echo "FAIL $name: exit $rc, wanted $want: $out"; fails=$((fails + 1)); fi
  last_out=$out
}
expect "host: runs the program, its status passes through" 5 "$gate" sse4.1,avx /bin/sh -c 'exit 5'
expect "unknown feature name is an error" 2 "$gate" avx512vnn /bin/true
expect "empty feature in the list is an error" 2 "$gate" avx2,,fma /bin/true
q() { timeout 20 "$qemu" -cpu Haswell "$@"; }
expect "haswell: avx512 program skipped" 77 q "$gate" avx2,avx512f,avx512vnni /bin/true
if ! grep -q "SKIPPED.*lacks avx512f,avx512vnni (cpuid)" <<<"$last_out"; then
  echo "FAIL the skip message names the missing features: $last_out"; fails=$((fails + 1)); fi
expect "haswell: avx2 program runs" 3 q "$gate" avx2,fma,f16c,bmi2 /bin/sh -c 'exit 3'
echo "$fails failed"
exit $((fails > 0))
