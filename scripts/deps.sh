#!/usr/bin/env bash
# Installs the Debian 12 packages azc builds with, when any is missing.
# Needs root (or sudo) only when something must be installed.
set -euo pipefail
pkgs=(build-essential cmake pkg-config llvm-19-dev clang-19 libclang-rt-19-dev libxxhash-dev
      libcjson-dev libmicrohttpd-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      python3 python3-jinja2 curl wrk)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "azc: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
