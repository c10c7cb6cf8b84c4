#!/bin/bash
# The fuzzers (tests/selftests/vub_fuzz.c), VUB_FUZZ_SECS seconds each (default 10;
# make fuzz runs them for longer):
#  1. a malicious daemon on the raw channel while VMM processes issue ioctls;
#  2. the ioctl fuzzer against /dev/vhost-user-bridge, with vhost-user-bridged and an
#     unmodified dpdk-testpmd back-end running; the daemon must survive it and keep its
#     descriptor count;
#  3. the same fuzzer against /dev/vhost-net, the control.
# Each fails on an errno a VMM must never see, a hang or a leak; guest.sh fails the run
# on any oops, WARN or hung-task report (hung_task_timeout_secs is lowered meanwhile).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${VUB_BUILD:-$top/build}
secs=${VUB_FUZZ_SECS:-10}
testpmd=${DPDK_TESTPMD:-/usr/bin/dpdk-testpmd}
fails=0
dir=
be=
bd=

skip() { echo "$*"; exit 4; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
	[ -z "$bd" ] || kill -KILL "$bd" 2>/dev/null
	[ -z "$be" ] || kill -KILL "$be" 2>/dev/null
	[ -z "$hung" ] || echo "$hung" >/proc/sys/kernel/hung_task_timeout_secs
	[ -z "$dir" ] || rm -rf "$dir"
}
hung=
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/vhost-user-bridge-control ] || skip "module not loaded"
for b in vub_fuzz vhost-user-bridged; do
	[ -x "$build/$b" ] || skip "missing $build/$b (make all)"
done
[ -x "$testpmd" ] || skip "no $testpmd"
if [ -w /proc/sys/kernel/hung_task_timeout_secs ]; then
	hung=$(cat /proc/sys/kernel/hung_task_timeout_secs)
	echo 60 >/proc/sys/kernel/hung_task_timeout_secs	# above req_timeout_ms (30 s)
fi
dir=$(mktemp -d /run/vub-fuzz.XXXXXX)
t0=$SECONDS

# 1. the malicious daemon (nothing else may be attached)
"$build/vub_fuzz" daemon --secs "$secs" --procs 3 || bad "vub_fuzz daemon"

# 2. the bridge with a live daemon and back-end
mkfifo "$dir/be.in"
exec 7<>"$dir/be.in"
setsid stdbuf -oL "$testpmd" --lcores=0@0,1@1 --no-huge --no-pci -m 256 --file-prefix=vub-fuzz-be \
	--log-level=lib.eal:error --vdev "net_vhost0,iface=$dir/be.sock,queues=1,client=0" -- \
	-i --forward-mode=io --total-num-mbufs=8192 --nb-cores=1 <"$dir/be.in" >"$dir/be.log" 2>&1 &
be=$!
for _ in $(seq 900); do
	grep -q 'testpmd> ' "$dir/be.log" 2>/dev/null && break
	kill -0 "$be" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q 'testpmd> ' "$dir/be.log"; then
	sed 's/^/testpmd: /' "$dir/be.log"
	bad "the back-end testpmd did not start"
else
	echo start >&7
	"$build/vhost-user-bridged" --timeout 20000 --backend "$dir/be.sock" >"$dir/bridged.log" 2>&1 &
	bd=$!
	for _ in $(seq 100); do
		grep -q 'attached: API version' "$dir/bridged.log" && break
		sleep 0.1
	done
	if ! grep -q 'attached: API version' "$dir/bridged.log"; then
		bad "vhost-user-bridged did not attach"
	else
		"$build/vub_fuzz" ioctl --dev /dev/vhost-user-bridge --secs "$secs" --procs 3 \
			--daemon-pid "$bd" || bad "vub_fuzz ioctl /dev/vhost-user-bridge"
		kill -0 "$bd" 2>/dev/null || bad "vhost-user-bridged died under the fuzzer"
		kill -0 "$be" 2>/dev/null || echo "note: the back-end testpmd exited under the fuzzer (a back-end's robustness, not the bridge's)"
		echo "daemon's log: $(wc -l <"$dir/bridged.log") lines; its last: $(tail -1 "$dir/bridged.log")"
		kill -TERM "$bd"
		wait "$bd" || bad "vhost-user-bridged exit status $? after SIGTERM"
		bd=
	fi
	echo quit >&7
	for _ in $(seq 100); do kill -0 "$be" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$be" 2>/dev/null
	be=
fi
exec 7>&-

# 3. the control
"$build/vub_fuzz" ioctl --dev /dev/vhost-net --secs "$secs" --procs 3 || bad "vub_fuzz ioctl /dev/vhost-net"

echo "fuzzers: $((SECONDS - t0)) s in all"
if [ "$fails" = 0 ]; then echo "PASS"; exit 0; fi
echo "FAIL: $fails fuzzer runs failed"
exit 1
