#!/bin/bash
# VMMs SIGKILLed at random points of setup and traffic must give everything
# back and disturb no one else.  One unmodified dpdk-testpmd back-end with two
# vhost-user ports: port 0 serves a long-lived VMM (unmodified DPDK
# virtio-user through /dev/vhost-user-bridge) whose packets keep bouncing;
# port 1, behind instance "vmmkill", serves vub_vmmkill, which sets a device
# up as QEMU does and is SIGKILLed VMMKILL_N times at random points.
# Asserted afterwards: every device the killed VMMs opened was released in the
# module (vubctl) and in the daemon (its log), the daemon holds the same
# number of fds as before, no request is in flight, the long-lived VMM's
# traffic kept flowing (its counters rise), and the daemon answers a new VMM.
# The kernel log is checked for WARN/BUG/hung tasks by tests/vm/guest.sh.
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
# 100 kills take about a minute on an idle host, ten on a loaded one:
# VUB_TEST_TIMEOUT=1500
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"

VMMKILL_N=${VMMKILL_N:-100}
V=$e2e_build/vubctl

cleanup() {
	e2e_cleanup
	"$V" instance del vmmkill --force >/dev/null 2>&1
}
trap cleanup EXIT
fail() { e2e_fail "$1"; exit 1; }
nfds() { find "/proc/$1/fd" -mindepth 1 | wc -l; }
ndevs() { "$V" -j device list | jq length; }

[ -x "$e2e_testpmd" ] || { echo "SKIP: no $e2e_testpmd (apt-get install dpdk-dev)"; exit 4; }
[ -x "$e2e_build/vub_vmmkill" ] || { echo "SKIP: no $e2e_build/vub_vmmkill (make)"; exit 4; }
e2e_dir=$(mktemp -d /run/vub-kill.XXXXXX)
rm -rf /run/dpdk/vub-e2e-*

tp_start be 0 1 256 --vdev "net_vhost0,iface=$e2e_dir/s0.sock,queues=1" \
	--vdev "net_vhost1,iface=$e2e_dir/s1.sock,queues=1" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=8192 --nb-cores=1
tp_wait be 'testpmd> ' 1 120 || fail "$e2e_why"
tp_cmd be start
"$V" instance add vmmkill --socket "$e2e_dir/s1.sock" >/dev/null || fail "vubctl instance add vmmkill"
"$e2e_build/vhost-user-bridged" --timeout "$e2e_daemon_ms" --backend "$e2e_dir/s0.sock" >"$e2e_dir/bridged.log" 2>&1 &
e2e_daemon_pid=$!
e2e_until 10 grep -q 'attached: API version' "$e2e_dir/bridged.log"

tp_start vmm 1 0 64 --vdev "net_virtio_user0,path=/dev/vhost-user-bridge,queues=1" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1
tp_wait vmm 'testpmd> ' 1 120 || fail "$e2e_why"
tp_cmd vmm "start tx_first 4"
sleep 3
read -r -a v0 <<<"$(tp_stats vmm)"
fds0=$(nfds "$e2e_daemon_pid")
[ "$(ndevs)" = 1 ] || fail "expected the long-lived VMM's device only: $("$V" device list)"
echo "long-lived VMM: RX ${v0[0]} TX ${v0[2]}; daemon: $fds0 fds"

out=$("$e2e_build/vub_vmmkill" --dev /dev/vhost-user-bridge-vmmkill -n "$VMMKILL_N") ||
	fail "vub_vmmkill: $out"
echo "$out"
one_dev() { [ "$(ndevs)" = 1 ]; }
e2e_until 60 one_dev || fail "devices left in the module after the kills: $("$V" device list)"
# The module forgets a device when its last fd closes; the daemon logs the
# release when it has handled VUB_OP_RELEASE, a moment later (behind a killed VMM's
# exchange with testpmd that is still running: up to a minute on a loaded host).
one_left() {
	opened=$(grep -c 'new device of VMM pid' "$e2e_dir/bridged.log")
	released=$(grep -c 'released after' "$e2e_dir/bridged.log")
	[ $((opened - released)) = 1 ]
}
t=$SECONDS
e2e_until 300 one_left
echo "daemon: $opened devices seen, $released released (the last $((SECONDS - t)) s after the module's)"
if [ $((opened - released)) != 1 ]; then
	# Each device the daemon still holds, with everything it logged about it.
	for d in $(awk '/new device of VMM pid/ { d[$3] = 1 } /released after/ { delete d[$3] }
			END { for (k in d) print k }' "$e2e_dir/bridged.log"); do
		grep -F "dev $d " "$e2e_dir/bridged.log" | tail -20
	done
	grep -F 'never seen' "$e2e_dir/bridged.log"
	fail "the daemon released $released of $((opened - 1)) killed VMMs' devices"
fi
fds_back() { [ "$(nfds "$e2e_daemon_pid")" = "$fds0" ]; }
e2e_until 30 fds_back ||
	fail "the daemon holds $(nfds "$e2e_daemon_pid") fds, $fds0 before the kills: $(ls -l "/proc/$e2e_daemon_pid/fd" | tail -5)"
j=$("$V" -j bridge)
jq -e '.inflight == 0' <<<"$j" >/dev/null || fail "requests still in flight: $j"

read -r -a v1 <<<"$(tp_stats vmm)"
sleep 2
read -r -a v2 <<<"$(tp_stats vmm)"
echo "long-lived VMM: RX ${v1[0]} -> ${v2[0]}, TX ${v1[2]} -> ${v2[2]}"
[ "${v1[0]}" -gt "${v0[0]}" ] && [ "${v2[0]}" -gt "${v1[0]}" ] ||
	fail "the long-lived VMM's traffic stopped"
out=$("$e2e_build/vub_ioctl" --dev /dev/vhost-user-bridge-vmmkill get-features) ||
	fail "a new VMM after the kills: $out"
echo "a new VMM: $out"
tp_quit vmm || fail "the long-lived VMM did not quit"
echo "PASS"
