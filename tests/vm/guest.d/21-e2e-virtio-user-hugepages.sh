#!/bin/bash
# 20-e2e-virtio-user.sh with the VMM on 2 MiB hugepages, as DPDK is usually
# run (--huge-dir, --single-file-segments) instead of --no-huge: every memseg
# list reaches VHOST_SET_MEM_TABLE as one region of hugetlbfs pages followed
# by a far larger PROT_NONE reservation, which the kernel leaves out of the
# pieces the back-end maps.  Counted at both ends like the --no-huge run.
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
huge=/run/vub-e2e-hugepages
pages=128			# 256 MiB reserved, 128 MiB of it for the VMM
nr0=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null)

cleanup() {
	e2e_cleanup
	if mountpoint -q "$huge"; then
		rm -f "$huge"/*
		umount "$huge"
	fi
	rmdir "$huge" 2>/dev/null
	[ -z "$nr0" ] || echo "$nr0" >/proc/sys/vm/nr_hugepages
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 4; }
[ -e /sys/kernel/mm/hugepages/hugepages-2048kB ] || { echo "no 2 MiB hugepages in this kernel"; exit 4; }
echo "$pages" >/proc/sys/vm/nr_hugepages
free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
[ "$free" -ge "$pages" ] || { echo "FAILED: asked for $pages hugepages, $free are free"; exit 1; }
mkdir -p "$huge" && mount -t hugetlbfs -o pagesize=2M nodev "$huge" ||
	{ echo "FAILED: cannot mount hugetlbfs on $huge"; exit 1; }
echo "    $free hugepages of 2 MiB free, hugetlbfs on $huge"
# 3 s of traffic (not 6): the --no-huge run has just measured the rate
E2E_HUGE_DIR=$huge E2E_VMM_MEM=128 E2E_SECONDS=3 e2e_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
