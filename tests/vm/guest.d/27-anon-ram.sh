#!/bin/bash
# Unmodified QEMU 7.2 with its default RAM (plain -m 128M, no memory backend: private
# anonymous memory, which no vhost-user back-end can map) through the bridge to
# unmodified dpdk-testpmd: the module hands testpmd mirrors of QEMU's RAM (module
# parameter mem_mirror=1 for the default node, set for the run and put back after).
# The run is 30-e2e-qemu.sh's bridge run (its functions, sourced), only the RAM differs:
# iPXE's packets counted by the guest's rings must equal testpmd's RX and TX counters,
# the tap must see none, testpmd must echo every packet, QEMU and the daemon must end
# cleanly with no failed ioctl.  The vhost-net run with the same RAM is the reference.
#
# exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source-path=SCRIPTDIR source=30-e2e-qemu.sh
. "$(dirname "$(readlink -f "$0")")/30-e2e-qemu.sh"

# A lockdep kernel reports the back-end's invalidation nested in the VMM's as recursive
# locking of its one mmu_notifier map (design.rst, "Mirrored memory"), and turns lockdep
# off for every later test: run on KVER=kasan, the same debug kernel without lockdep.
[ -e /proc/lockdep ] && { echo "lockdep kernel: mirrors nest mmu notifier invalidations, which lockdep reports (design.rst); make check-vm KVER=kasan runs it"; exit 4; }
qe_machine=(-machine pc,graphics=off)	# shellcheck disable=SC2054 # one argument
qe_mem=()
qe_mem_what="default RAM: private anonymous"
ar_param=/sys/module/vhost_user_bridge/parameters/mem_mirror
[ -w "$ar_param" ] || { echo "FAIL: no $ar_param (module not loaded, or without mirrors)"; exit 1; }
read -r ar_old <"$ar_param"
ar_cleanup() {
	qe_cleanup
	echo "$ar_old" >"$ar_param"
}
trap ar_cleanup EXIT
trap 'exit 1' TERM INT HUP
echo 1 >"$ar_param"
qe_main
