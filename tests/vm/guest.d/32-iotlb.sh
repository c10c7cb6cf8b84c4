#!/bin/bash
# IOTLB (vIOMMU) through the bridge:
#
# 1. build/vub_iotlb (tests/selftests/vub_iotlb.c): vhost-net's IOTLB message channel
#    on /dev/vhost-user-bridge, every write, read and poll compared with /dev/vhost-net,
#    and the back-end's misses (VUB_U_CMD_DEV_MSG) read by the VMM.
# 2. Unmodified QEMU 7.2 with a vIOMMU: q35, -device intel-iommu (intremap=off:
#    TCG), virtio-net-pci iommu_platform=on,ats=on; the iPXE guest of
#    30-e2e-qemu.sh (whose functions this sources) acks VIRTIO_F_IOMMU_PLATFORM and
#    never turns on DMA remapping, so every translation is the identity, in 4 KiB
#    pages, but QEMU's vhost still works through the IOTLB: its ring addresses are
#    I/O virtual addresses and the device learns each page from an IOTLB UPDATE.
#    Against /dev/vhost-net (the reference: vhost-net can reach nothing without
#    them) and through the bridge to unmodified dpdk-testpmd with
#    net_vhost iommu-support=1, whose IOTLB misses (on the back-end channel) the
#    daemon passes up, QEMU reads from its vhost fd and answers with UPDATEs that
#    the daemon sends as VHOST_USER_IOTLB_MSG.  Besides everything 30-e2e-qemu.sh
#    checks (packets counted at both ends, the tap sees none), the daemon must have
#    forwarded UPDATEs and passed up misses, none refused, and testpmd must have
#    negotiated ACCESS_PLATFORM.  testpmd may drop echoes: DPDK drops a packet whose
#    guest buffer has no translation yet instead of waiting for it (vhost-net waits),
#    so at most one per write miss that the daemon passed up (each is a buffer page's
#    first use); every packet must be echoed or dropped so.
#
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=30-e2e-qemu.sh
. "$(dirname "$0")/30-e2e-qemu.sh"

# shellcheck disable=SC2054 # commas: QEMU's option syntax
qe_machine=(-machine q35,graphics=off,memory-backend=mem -device intel-iommu,intremap=off,device-iotlb=on)
qe_nic_opts=,iommu_platform=on,ats=on,disable-legacy=on
qe_vhost_opts=,iommu-support=1
qe_keep_dir=qemu-iotlb
qe_tx_drops_ok=1

# After the bridge run's checks: the IOTLB messages really flowed.
qe_bridge_extra() {
	local log=$e2e_dir/bridged.log rel u m nf w f
	rel=$(grep -m1 -o 'released after.*' "$log")
	detail "daemon: dev ${rel:-(no release line)}"
	u=$(grep -c 'IOTLB UPDATE .* -> 0$' "$log")
	m=$(grep -c 'back-end IOTLB MISS .* -> VMM: queued' "$log")
	nf=$(grep -cE 'IOTLB .* -> E[A-Z]+|back-end IOTLB .*refused|-> VMM: [A-Z][a-z]' "$log")
	detail "daemon: $u IOTLB UPDATEs forwarded to the back-end, $m misses passed up to QEMU, $nf refused"
	grep -m3 -E 'IOTLB (UPDATE|INVALIDATE) |back-end IOTLB ' "$log" | sed 's/^/      /'
	[ "$u" -gt 0 ] || { qe_fail "no IOTLB UPDATE reached the back-end"; return; }
	[ "$m" -gt 0 ] || { qe_fail "no IOTLB miss of the back-end reached QEMU"; return; }
	[ "$nf" = 0 ] || { qe_fail "$nf IOTLB messages were refused"; return; }
	grep -q "IOTLB: $u updates" <<<"$rel" || { qe_fail "the device's IOTLB counts ($rel) are not the $u UPDATEs logged"; return; }
	w=$(grep -cE 'back-end IOTLB MISS .* perm (wo|rw) -> VMM: queued' "$log")
	detail "testpmd dropped $qe_tp_txdrop echoes; the back-end missed $w times for a write (a guest RX buffer's first use)"
	[ "$qe_tp_txdrop" -le "$w" ] || { qe_fail "testpmd dropped $qe_tp_txdrop echoes, more than its $w write misses"; return; }
	f=$(grep -o 'negotiated Virtio features: 0x[0-9a-f]*' "${e2e_log[qbe]}" | tail -1 | grep -o '0x.*')
	detail "testpmd negotiated features ${f:-?} (bit 33: ACCESS_PLATFORM)"
	if [ -z "$f" ] || ! (((f >> 33) & 1)); then
		qe_fail "testpmd did not negotiate ACCESS_PLATFORM"
		return
	fi
}

io_selftests() {
	local t=$qe_build/vub_iotlb
	[ -x "$t" ] || { qe_fail "no $t (make)"; return; }
	say "vub_iotlb: the IOTLB message channel compared with vhost-net"
	"$t" 2>&1 | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" = 0 ] || { qe_fail "vub_iotlb failed"; return; }
}

io_main() {
	local rc st=0
	io_selftests || st=1
	command -v "$qe_qemu" >/dev/null || { echo "no $qe_qemu (make deps)"; return 4; }
	say "QEMU with a vIOMMU (q35, intel-iommu, virtio-net-pci$qe_nic_opts)"
	qe_main
	rc=$?
	[ $st = 0 ] || { echo "FAIL: vub_iotlb"; return 1; }
	[ $rc = 0 ] || return $rc
	# QEMU acked and used ACCESS_PLATFORM: the guest's features in the bridge run
	grep -q 'VIRTIO_F_IOMMU_PLATFORM' "${VUB_OUT:-/nonexistent}/$qe_keep_dir/bridge.qmp.log" 2>/dev/null &&
		detail "the guest acked VIRTIO_F_IOMMU_PLATFORM (x-query-virtio-status)"
	return 0
}

trap qe_cleanup EXIT
trap 'exit 1' TERM INT HUP
io_main
