#!/usr/bin/env bash
# A dry run of `device_check.sh run` on this machine as if it were a bare GPU machine: a copy
# of the kit in a clean folder, no Rust, no checkout, no Vulkan loader.
#
#     bash benches/device_check_dryrun.sh [KIT] [-- VAR=VALUE ...]
#
# Needs root, unshare and overlayfs (a private mount namespace; nothing outside it changes).
# Inside it: tmpfs over /work and /tmp, so neither this checkout, the folder the kit was built
# in, nor the cargo target folder exist; an overlay over the system's library folder and /etc
# with libvulkan.so.1 removed (and ldconfig's cache rebuilt without it), so `run` must unpack
# the loader from the kit; then `env -i PATH=/usr/bin:/bin bash KIT/device_check.sh run` in
# quick mode. The VAR=VALUE pairs go into that environment (e.g. VK_DRIVER_FILES=/nonexistent
# for a machine without a driver). Keeps the loader when DRYRUN_KEEP_LOADER=1.
# The summary is in ${DRYRUN_OUT:-/var/tmp/device-check-dryrun}/summary.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kit="${1:-$here/../device-check-kit}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
[[ -f "$kit/KIT" ]] || { echo "no kit at $kit: run bash benches/device_check.sh prepare" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "the dry run needs root (a mount namespace)" >&2; exit 1; }
base=/var/tmp/device-check-dryrun-root
out="${DRYRUN_OUT:-/var/tmp/device-check-dryrun}"
rm -rf "$base" "$out"
mkdir -p "$base/clean" "$base/ov/lib/up" "$base/ov/lib/work" "$base/ov/etc/up" "$base/ov/etc/work"
cp -a "$kit" "$base/clean/device-check-kit"
libdir="$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ { print $NF; exit }')"
libdir="$(readlink -f "${libdir%/*}")"
export base out libdir
unshare -m --propagation private bash -c '
set -e
mount -t tmpfs tmpfs /work 2>/dev/null || true
mount -t tmpfs tmpfs /tmp
if [[ "${DRYRUN_KEEP_LOADER:-0}" != 1 ]]; then
    mount -t overlay overlay -o "lowerdir=$libdir,upperdir=$base/ov/lib/up,workdir=$base/ov/lib/work" "$libdir"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$base/ov/etc/up,workdir=$base/ov/etc/work" /etc
    rm -f "$libdir"/libvulkan.so.1*
    ldconfig
    echo "dry run: libvulkan.so.1 removed (ldconfig -p lists $(ldconfig -p | grep -c "libvulkan\.so\.1 " || true))"
fi
echo "dry run: /work and /tmp hidden; cargo in PATH=/usr/bin:/bin: $(PATH=/usr/bin:/bin command -v cargo || echo none)"
rc=0
env -i PATH=/usr/bin:/bin OUT="$out" DEVICE_CHECK_QUICK=1 "$@" \
    bash "$base/clean/device-check-kit/device_check.sh" run || rc=$?
echo "dry run: device_check.sh run exited $rc"
exit $rc
' dryrun "$@"
