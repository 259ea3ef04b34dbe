#!/usr/bin/env bash
# The model the server tests serve, made by azc itself: a random-weight
# tiny-llama (azc mkmodel) compiled to WORK/tiny.bundle (kernels cached in
# WORK/cache, so a rerun compiles nothing). Rebuilt when azc is newer.
# usage: make_model.sh AZC WORK
set -eu
azc=$1 work=$2
mkdir -p "$work"
export AZC_CACHE_DIR=$work/cache
if [ ! -f "$work/tiny.bundle" ] || [ "$azc" -nt "$work/tiny.bundle" ]; then
  "$azc" mkmodel --shape tiny-llama -o "$work/tiny.gguf"
  "$azc" compile "$work/tiny.gguf" -o "$work/tiny.bundle" 2>&1 | tail -n 3
fi
ls -l "$work/tiny.bundle"
