#!/bin/bash
# Dirty logging (live migration) through the bridge: build/vub_dirtylog acts
# as a VMM with a dirty log, as QEMU runs one while it migrates (VHOST_F_LOG_ALL,
# VHOST_SET_LOG_BASE with its own private memory, rings with VHOST_VRING_F_LOG),
# on /dev/vhost-user-bridge; unmodified dpdk-testpmd with the vhost-user PMD is
# the back-end, in txonly mode, so it fills the VMM's receive buffers.  Every
# guest page the back-end wrote must be marked in the VMM's log, nothing else,
# and nothing around the log may change (tests/selftests/vub_dirtylog.c).
# Then the same VMM on /dev/vhost-net with the same number of frames sent to its
# tap: the pages the two mark must be the same receive buffers and used ring.
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"
trap e2e_cleanup EXIT

dl_main() {
	local sock tool=$e2e_build/vub_dirtylog i rc ours theirs

	e2e_need || return
	[ -x "$tool" ] || { e2e_why="no $tool (make)"; return 4; }
	e2e_dir=$(mktemp -d /run/vub-e2e.XXXXXX)
	sock=$e2e_dir/backend.sock
	rm -rf /run/dpdk/vub-e2e-*

	say "Starting the back-end: unmodified dpdk-testpmd, vhost-user PMD on $sock, txonly (it sends into the VMM's receive ring)"
	tp_start be 0 1 256 --vdev "net_vhost0,iface=$sock,queues=1,client=0" -- \
		-i --forward-mode=txonly --port-topology=loop --total-num-mbufs=8192 --nb-cores=1
	tp_wait be 'testpmd> ' 1 90 || { e2e_fail; return; }
	tp_cmd be start
	say "Starting the bridge daemon: vhost-user-bridged --backend $sock"
	"$e2e_build/vhost-user-bridged" --verbose --timeout "$e2e_daemon_ms" --backend "$sock" \
		>"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	grep -q 'attached: API version' "$e2e_dir/bridged.log" ||
		{ e2e_fail "vhost-user-bridged did not attach to the kernel"; return; }

	say "The VMM with a dirty log on /dev/vhost-user-bridge"
	"$tool" --dev /dev/vhost-user-bridge --pages "$e2e_dir/bridge.pages" --timeout 90 \
		>"$e2e_dir/dirtylog-bridge.log" 2>&1
	rc=$?
	sed 's/^/    /' "$e2e_dir/dirtylog-bridge.log"
	detail "the daemon: $(grep -m1 -o 'dirty log of the VMM.*' "$e2e_dir/bridged.log" || echo 'no log forwarded')"
	detail "the back-end: $(grep -m1 -o 'log mmap size.*' "${e2e_log[be]}" || echo 'no SET_LOG_BASE seen')"
	detail "the back-end negotiated $(grep -o 'negotiated Virtio features: 0x[0-9a-f]*' "${e2e_log[be]}" | tail -1) (bit 26: LOG_ALL)"
	[ "$rc" = 0 ] || { e2e_fail "vub_dirtylog through the bridge failed (exit $rc)"; return; }
	grep -q 'log mmap size' "${e2e_log[be]}" ||
		{ e2e_fail "the back-end never got VHOST_USER_SET_LOG_BASE"; return; }
	grep -q 'log base unmapped: Bad address' "$e2e_dir/dirtylog-bridge.log" ||
		{ e2e_fail "the bridge did not refuse an unmapped log base with EFAULT"; return; }

	if [ ! -c /dev/vhost-net ]; then
		say "no /dev/vhost-net: no comparison"
	else
		say "The same VMM on /dev/vhost-net, 128 frames sent to its tap"
		"$tool" --dev /dev/vhost-net --inject 128 --pages "$e2e_dir/vhost-net.pages" --timeout 60 \
			>"$e2e_dir/dirtylog-vhost-net.log" 2>&1
		rc=$?
		sed 's/^/    /' "$e2e_dir/dirtylog-vhost-net.log"
		[ "$rc" = 0 ] || { e2e_fail "vub_dirtylog on vhost-net failed (exit $rc)"; return; }
		grep -q 'log base unmapped: accepted' "$e2e_dir/dirtylog-vhost-net.log" ||
			{ e2e_fail "vhost-net did not accept an unmapped log base"; return; }
		# the tx ring's used page (0x40005000): vhost-net writes its flags, DPDK need not
		ours=$(grep -vx 0x40005000 "$e2e_dir/bridge.pages" | tr '\n' ' ')
		theirs=$(grep -vx 0x40005000 "$e2e_dir/vhost-net.pages" | tr '\n' ' ')
		detail "marked pages: bridge $(wc -l <"$e2e_dir/bridge.pages"), vhost-net $(wc -l <"$e2e_dir/vhost-net.pages") (tx used ring: bridge $(grep -cx 0x40005000 "$e2e_dir/bridge.pages"), vhost-net $(grep -cx 0x40005000 "$e2e_dir/vhost-net.pages"))"
		[ "$ours" = "$theirs" ] ||
			{ e2e_fail "the bridge and vhost-net marked different pages: $(diff "$e2e_dir/bridge.pages" "$e2e_dir/vhost-net.pages" | grep '^[<>]' | head -10 | tr '\n' ' ')"; return; }
		say "The bridge and vhost-net marked the same pages for the same traffic"
	fi
	tp_quit be || { e2e_fail "the back-end testpmd did not quit"; return; }
	kill -TERM "$e2e_daemon_pid"
	wait "$e2e_daemon_pid"
	e2e_daemon_pid=
	return 0
}

dl_main
rc=$?
[ $rc = 4 ] && echo "$e2e_why"
exit $rc
