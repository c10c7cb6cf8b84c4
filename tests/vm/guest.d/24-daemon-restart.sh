#!/bin/bash
# The bridge daemon restarts under running VMMs without the back-end noticing.
# One unmodified dpdk-testpmd back-end with two vhost-user ports: port 0 serves
# unmodified DPDK virtio-user (through /dev/vhost-user-bridge) whose packets
# keep bouncing; port 1, behind instance "restart", serves a VMM that issues
# VHOST_GET_FEATURES in a loop (vub_ioctl -n, a new device per run).  The
# daemon is SIGKILLed and started again RESTART_N times.  The kernel keeps each
# device's back-end connection and the daemon's record of it (the fd store);
# each new daemon restores them and carries on.
# Asserted: the back-end's RX counter on port 0 rises across every restart;
# its log shows one vhost-user connection on port 0's socket and no hang-up
# (the back-end never saw the restarts); every ioctl of the loop succeeded
# except those the killed daemon held, which fail with ECONNRESET (an ioctl
# issued while no daemon is attached waits up to recovery_ms for the next
# one); afterwards the module's objects (slabs, devices) and the daemon's fds
# are what they were, and the last daemon answers a new VMM.
# The kernel log is checked for WARN/BUG/hung tasks by tests/vm/guest.sh.
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
# VUB_TEST_TIMEOUT=900
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"

RESTART_N=${RESTART_N:-100}
V=$e2e_build/vubctl
P=/sys/module/vhost_user_bridge/parameters
recovery0=$(cat $P/recovery_ms)
loop_pid=

cleanup() {
	[ -z "$loop_pid" ] || kill "$loop_pid" 2>/dev/null
	e2e_cleanup
	"$V" instance del restart --force >/dev/null 2>&1
	echo "$recovery0" >$P/recovery_ms
}
trap cleanup EXIT
fail() { e2e_fail "$1"; exit 1; }
nfds() { find "/proc/$1/fd" -mindepth 1 | wc -l; }
ndevs() { "$V" -j device list | jq length; }
# Active objects of a slab cache, after a shrink (per-CPU slabs count as active).
slab() {
	echo 1 >"/sys/kernel/slab/$1/shrink" 2>/dev/null
	awk -v c="$1" '$1 == c { print $2 }' /proc/slabinfo
}
# The back-end's RX-packets on port 0, into $rx0.  Builtins only, reading the log
# from where the last call stopped (fd $lfd): every fork costs under TCG.
be_rx0() {
	local line k inblock=0
	rx0=
	tp_cmd be "show port stats 0"
	for ((k = 0; k < 3000; k++)); do
		while IFS= read -r line <&"$lfd"; do
			case $line in
			*'NIC statistics for port 0 '*) inblock=1 ;;
			*RX-packets:*) ((inblock)) && read -r _ rx0 _ <<<"$line" ;;
			*Tx-pps:*) ((inblock)) && [ -n "$rx0" ] && return 0 ;;
			esac
		done
		read -r -t 0.02 -u "$tick"	# a sleep without a fork
	done
	return 1
}

# A daemon; waits until it attached (and so restored what the store holds).
# Builtins only in the wait: every fork costs under TCG.
daemon_start() {
	local log=$e2e_dir/bridged.$1.log line k
	# Without the shell's own fds (the testpmds' FIFOs, the log reader):
	# every daemon holds the same set.
	(
		for f in "${e2e_fd[@]}" "$tick" "$lfd"; do
			eval "exec $f<&-"
		done
		exec "$e2e_build/vhost-user-bridged" --timeout "$e2e_daemon_ms" --backend "$e2e_dir/s0.sock"
	) >"$log" 2>&1 &
	e2e_daemon_pid=$!
	for ((k = 0; k < 1000; k++)); do
		[ -e "$log" ] && while IFS= read -r line; do
			[[ $line == *'attached: API version'* ]] && return 0
		done <"$log"
		[ -d "/proc/$e2e_daemon_pid" ] || break
		read -r -t 0.02 -u "$tick"	# a sleep without a fork
	done
	fail "daemon $1 did not attach: $(tail -3 "$log")"
}

[ -x "$e2e_testpmd" ] || { echo "SKIP: no $e2e_testpmd (apt-get install dpdk-dev)"; exit 4; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 4; }
e2e_dir=$(mktemp -d /run/vub-restart.XXXXXX)
mkfifo "$e2e_dir/tick"
exec {tick}<>"$e2e_dir/tick"
rm -rf /run/dpdk/vub-e2e-*
# Ioctls issued while no daemon is attached wait for the next one.
echo 10000 >$P/recovery_ms

tp_start be 0 1 256 --vdev "net_vhost0,iface=$e2e_dir/s0.sock,queues=1" \
	--vdev "net_vhost1,iface=$e2e_dir/s1.sock,queues=1" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=8192 --nb-cores=1
tp_wait be 'testpmd> ' 1 120 || fail "$e2e_why"
exec {lfd}<"${e2e_log[be]}"
tp_cmd be start
"$V" instance add restart --socket "$e2e_dir/s1.sock" >/dev/null || fail "vubctl instance add restart"
# Devices of earlier tests may still be closing; counts are relative to n0.
for _ in $(seq 50); do
	[ "$(ndevs)" = 0 ] && break
	sleep 0.2
done
n0=$(ndevs)
slab_dev0=$(slab vub_dev)
slab_req0=$(slab vub_req)
daemon_start 0

tp_start vmm 1 0 64 --vdev "net_virtio_user0,path=/dev/vhost-user-bridge,queues=1" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1
tp_wait vmm 'testpmd> ' 1 120 || fail "$e2e_why"
tp_cmd vmm "start tx_first 4"
sleep 3
vmm_dev=$(grep -o 'dev [0-9]*: pair 0 of the NIC' "$e2e_dir/bridged.0.log" | head -1 | cut -d' ' -f2 | tr -d :)
[ -n "$vmm_dev" ] || fail "the daemon's log does not show the VMM's device"
conn0=$(grep -c "$e2e_dir/s0.sock.*new vhost user connection" "${e2e_log[be]}")
[ "$conn0" = 1 ] || fail "expected one vhost-user connection on port 0's socket, found $conn0"
be_rx0 || fail "no statistics from the back-end"
b0=$rx0
[ "$b0" -gt 0 ] || fail "no traffic before the restarts"
fds0=$(nfds "$e2e_daemon_pid")
echo "before: back-end RX $b0; daemon $fds0 fds; slabs vub_dev $slab_dev0 vub_req $slab_req0 (without devices)"

# The ioctl loop: each run opens a device on instance "restart" and issues
# 500 GET_FEATURES; it stops at a failure and says which call and errno.
(
	while [ ! -e "$e2e_dir/stop" ]; do
		"$e2e_build/vub_ioctl" --dev /dev/vhost-user-bridge-restart -n 500 get-features
	done
) >"$e2e_dir/ioctl.log" 2>&1 &
loop_pid=$!

prev=$b0
t0=${EPOCHREALTIME/./}	# microseconds; builtins only in the loop
td=0
tr=0
for ((i = 1; i <= RESTART_N; i++)); do
	((i % 10)) || echo "restart $i: $(((${EPOCHREALTIME/./} - t0) / 1000000)) s (starting daemons $((td / 1000000)) s, reading statistics $((tr / 1000000)) s), back-end RX $prev"
	kill -KILL "$e2e_daemon_pid"
	wait "$e2e_daemon_pid" 2>/dev/null
	t1=${EPOCHREALTIME/./}
	daemon_start "$i"
	t2=${EPOCHREALTIME/./}
	be_rx0 || fail "restart $i: no statistics from the back-end"
	t3=${EPOCHREALTIME/./}
	td=$((td + t2 - t1))
	tr=$((tr + t3 - t2))
	[ "$rx0" -gt "$prev" ] ||
		fail "restart $i: the back-end's RX counter did not rise ($prev -> $rx0)"
	prev=$rx0
done
echo "$RESTART_N restarts in $(((${EPOCHREALTIME/./} - t0) / 1000000)) s (starting daemons $((td / 1000000)) s, reading statistics $((tr / 1000000)) s)"
touch "$e2e_dir/stop"
wait "$loop_pid"
loop_pid=

# The ioctls: runs of 50 that succeeded, and calls that failed, by errno.
ok_runs=$(grep -c 'x 500: ok' "$e2e_dir/ioctl.log")
bad=$(grep -v 'x 500: ok' "$e2e_dir/ioctl.log" | grep -v 'ECONNRESET')
resets=$(grep -c 'ECONNRESET' "$e2e_dir/ioctl.log")
ok_calls=$((ok_runs * 500 + $(grep -o 'ECONNRESET.* call [0-9]*' "$e2e_dir/ioctl.log" |
	awk '{ s += $NF - 1 } END { print s + 0 }')))
echo "ioctl loop: $ok_calls calls succeeded ($ok_runs runs of 500), $resets failed with ECONNRESET (held by a killed daemon)"
[ -z "$bad" ] || fail "ioctls failed otherwise: $(head -5 <<<"$bad")"
[ "$ok_runs" -gt 0 ] || fail "no ioctl run succeeded"

# The back-end never saw a restart on port 0.
conn=$(grep -c "$e2e_dir/s0.sock.*new vhost user connection" "${e2e_log[be]}")
closed=$(grep -c "$e2e_dir/s0.sock.*vhost peer closed" "${e2e_log[be]}")
[ "$conn" = 1 ] && [ "$closed" = 0 ] ||
	fail "the back-end saw port 0's connection change: $conn connections, $closed closed"
restored=0
for ((i = 1; i <= RESTART_N; i++)); do
	grep -q "dev $vmm_dev: restored from the fd store.*back-end connection kept" "$e2e_dir/bridged.$i.log" &&
		restored=$((restored + 1))
done
[ "$restored" = "$RESTART_N" ] || fail "only $restored of $RESTART_N daemons restored a kept connection"

be_rx0 || fail "no statistics from the back-end"
b1=$rx0
sleep 2
be_rx0 || fail "no statistics from the back-end"
b2=$rx0
echo "after $RESTART_N restarts: back-end RX $b0 -> $b1 -> $b2"
[ "$b2" -gt "$b1" ] || fail "the traffic stopped after the restarts"

# Objects: the loop's devices are gone, in the module and in the daemon.
for _ in $(seq 100); do
	[ "$(ndevs)" = $((n0 + 1)) ] && break
	sleep 0.1
done
[ "$(ndevs)" = $((n0 + 1)) ] || fail "devices left in the module: $("$V" device list)"
for _ in $(seq 100); do
	[ "$(nfds "$e2e_daemon_pid")" = "$fds0" ] && break
	sleep 0.1
done
fds1=$(nfds "$e2e_daemon_pid")
echo "daemon: $fds1 fds (the first one had $fds0)"
[ "$fds1" = "$fds0" ] || fail "the last daemon holds $fds1 fds, the first $fds0: $(ls -l "/proc/$e2e_daemon_pid/fd")"
j=$("$V" -j bridge)
jq -e '.inflight == 0' <<<"$j" >/dev/null || fail "requests still in flight: $j"
out=$("$e2e_build/vub_ioctl" --dev /dev/vhost-user-bridge-restart get-features) ||
	fail "a new VMM after the restarts: $out"
echo "a new VMM: $out"
tp_quit vmm || fail "the VMM did not quit"
for _ in $(seq 100); do
	[ "$(ndevs)" = "$n0" ] && [ "$(slab vub_dev)" = "$slab_dev0" ] && break
	sleep 0.1
done
echo "slabs after: vub_dev $(slab vub_dev) vub_req $(slab vub_req)"
[ "$(slab vub_dev)" = "$slab_dev0" ] || fail "vub_dev objects: $slab_dev0 before, $(slab vub_dev) after"
[ "$(slab vub_req)" = "$slab_req0" ] || fail "vub_req objects: $slab_req0 before, $(slab vub_req) after"
# Closing the VMM closed the connection the store kept: the back-end sees it now.
for _ in $(seq 100); do
	grep -q "$e2e_dir/s0.sock.*vhost peer closed" "${e2e_log[be]}" && break
	sleep 0.1
done
grep -q "$e2e_dir/s0.sock.*vhost peer closed" "${e2e_log[be]}" ||
	fail "the VMM quit, and the back-end's connection stayed open"
echo "PASS"
