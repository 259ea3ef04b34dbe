#!/usr/bin/env bash
# The fresh-machine check: the README's two commands (scripts/setup.sh and
# scripts/test.sh), run as root in a chroot of a fresh Debian 12 (bookworm)
# root filesystem, with a git clone of HEAD (no build folders) next to a copy
# of ../shared. Prints how long each command took.
#
#   tests/fresh/check.sh             # the whole check
#   tests/fresh/check.sh --prepare   # only make the cached root filesystem
#   tests/fresh/check.sh --keep      # keep the fresh root afterwards
#
# The minbase root filesystem (debootstrap --variant=minbase
# --include=ca-certificates,git) is made once and kept as a tarball in
# $AZC_FRESH_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/azc-fresh); every
# check extracts a new copy of it. The Debian mirror is the one this machine's
# own apt sources name (/etc/apt/sources.list, /etc/apt/sources.list.d/).
# Needs root, debootstrap and network access to that mirror.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared
cache=${AZC_FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/azc-fresh}
tarball=$cache/bookworm-minbase.tar
prepare_only=0
keep=0
for a in "$@"; do
  case $a in
  --prepare) prepare_only=1 ;;
  --keep) keep=1 ;;
  *)
    echo "check.sh: unknown option '$a' (expected --prepare or --keep)" >&2
    exit 2
    ;;
  esac
done

die() {
  echo "check.sh: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# The first Debian mirror in this machine's apt sources that serves the main
# archive (not the security one): deb822 .sources files first, then the
# one-line format.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() { if (uris != "" && types ~ /(^| )deb( |$)/ && suites !~ /security/ && uris !~ /security/) { split(uris, u, " "); print u[1]; uris = ""; exit } uris = ""; types = ""; suites = "" }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "types:" { $1 = ""; types = $0 }
      tolower($1) == "uris:" { $1 = ""; sub(/^ +/, ""); uris = $0 }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" {
           i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
           if ($i !~ /security/ && $(i + 1) !~ /security/) { print $i; exit } }' "$f"
  done
}

if [ ! -f "$tarball" ]; then
  mirror=$(find_mirror | head -n 1)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources"
  mkdir -p "$cache"
  stage=$(mktemp -d "$cache/debootstrap.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  echo "check.sh: debootstrap bookworm (minbase) from $mirror into $stage" >&2
  t0=$(date +%s)
  debootstrap --variant=minbase --include=ca-certificates,git bookworm "$stage/root" "$mirror" \
    >"$stage/debootstrap.log" 2>&1 || {
    tail -n 30 "$stage/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  }
  rm -rf "$stage/root/var/cache/apt/archives/"*.deb
  tar -C "$stage/root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$stage"
  trap - EXIT
  echo "check.sh: root filesystem cached in $tarball ($(($(date +%s) - t0)) s)" >&2
fi
[ "$prepare_only" -eq 1 ] && exit 0

[ -d "$shared" ] || die "no ../shared beside the checkout ($shared)"
git -C "$repo" diff --quiet HEAD -- || echo "check.sh: note: uncommitted changes are not part of the check (it clones HEAD)" >&2
head=$(git -C "$repo" rev-parse HEAD)

root=$(mktemp -d "$cache/root.XXXXXX")
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  if [ "$keep" -eq 1 ]; then
    echo "check.sh: kept $root" >&2
  else
    # Never delete through a mount that is still there.
    if ! grep -q " $root/" /proc/self/mounts; then rm -rf "$root"; fi
  fi
}
trap cleanup EXIT

echo "check.sh: fresh root $root, azc $head" >&2
tar -C "$root" -xf "$tarball"
mkdir -p "$root/work"
git clone -q --no-hardlinks "$repo" "$root/work/azc"
git -C "$root/work/azc" checkout -q --detach "$head"
cp -a "$shared" "$root/work/shared"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

mnt() { # mnt TARGET MOUNT-ARGS...
  local target=$1
  shift
  mount "$@" "$target"
  mounted+=("$target")
}
mnt "$root/proc" -t proc proc
mnt "$root/sys" -t sysfs sys
mnt "$root/dev" --rbind /dev
mount --make-rslave "$root/dev"
mnt "$root/tmp" -t tmpfs tmpfs

run_timed() { # run_timed NAME COMMAND
  local name=$1 cmd=$2 t0 t1 rc=0
  echo "check.sh: --- $name ---" >&2
  t0=$(date +%s)
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb /bin/bash -c "cd /work/azc && $cmd" || rc=$?
  t1=$(date +%s)
  times+=("$name: $((t1 - t0)) s (exit $rc)")
  return $rc
}
times=()
status=0
run_timed scripts/setup.sh scripts/setup.sh || status=1
if [ $status -eq 0 ]; then
  run_timed scripts/test.sh scripts/test.sh || status=1
fi
echo "check.sh: azc $head on a fresh bookworm minbase ($(nproc) cores):" >&2
for t in "${times[@]}"; do echo "check.sh:   $t" >&2; done
[ $status -eq 0 ] && echo "check.sh: PASS" >&2 || echo "check.sh: FAIL" >&2
exit $status
