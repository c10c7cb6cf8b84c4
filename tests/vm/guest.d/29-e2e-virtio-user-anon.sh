#!/bin/bash
# End to end with unmodified DPDK on both sides, as 20-e2e-virtio-user.sh, but with the
# VMM's memory private anonymous: the VMM testpmd runs with LD_PRELOAD=libvub_nomemfd.so,
# so memfd_create() fails and DPDK's --no-huge memory falls back to MAP_PRIVATE |
# MAP_ANONYMOUS, which no vhost-user back-end can map.  With mem_mirror=1 (set for the
# run, put back after) the bridge hands the back-end mirrors of it, and the packets
# bouncing between the two testpmds for E2E_SECONDS (tens of thousands, both ways, each
# buffer written by one side and read by the other) must be counted exactly at both ends.
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
# A lockdep kernel reports the back-end's invalidation nested in the VMM's as recursive
# locking of its one mmu_notifier map (design.rst, "Mirrored memory"), and turns lockdep
# off for every later test: run on KVER=kasan, the same debug kernel without lockdep.
[ -e /proc/lockdep ] && { echo "lockdep kernel: mirrors nest mmu notifier invalidations, which lockdep reports (design.rst); make check-vm KVER=kasan runs it"; exit 4; }
shim=$e2e_build/libvub_nomemfd.so
param=/sys/module/vhost_user_bridge/parameters/mem_mirror
[ -e "$shim" ] || { echo "no $shim (make)"; exit 4; }
[ -w "$param" ] || { echo "FAIL: no $param"; exit 1; }
read -r old <"$param"
trap 'e2e_cleanup; echo "$old" >"$param"' EXIT
echo 1 >"$param"

av_main() {
	E2E_VMM_PRELOAD=$shim e2e_main || return
	grep -q 'libvub_nomemfd: memfd_create() refused' "${e2e_log[vmm]}" ||
		{ echo "FAIL: the VMM did not run without memfd (no line of $shim in its log)"; return 1; }
	detail "the VMM's memfd_create() failed (libvub_nomemfd), so its memory was private anonymous: mirrored"
}
av_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
