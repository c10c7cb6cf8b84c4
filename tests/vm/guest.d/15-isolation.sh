#!/bin/bash
# One hung back-end delays only its own devices (issue: a single-threaded
# daemon once made every VM wait behind it).  Two unmodified dpdk-testpmd
# back-ends, A and B, each behind its own instance; the daemon's deadline is
# ISO_DEADLINE_MS.  B's latency is measured twice with ISO_N GET_FEATURES
# calls (vub_ioctl -n): idle, and while A is stopped (SIGSTOP) and
# ISO_A_VMMS VMMs keep calling into A, each call waiting for A until the
# deadline.  Asserted: every call into A fails with ETIMEDOUT from the
# daemon's deadline (well before the kernel's req_timeout_ms), B's calls all
# succeed and none waited for A (p99 far below the deadline), and A serves new
# devices again once it continues (SIGCONT).  The median and p99 ratios of B's
# two runs are printed; they are measured, not asserted (TCG timing).
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
# shellcheck source=../e2e-virtio-user.sh
. "$(dirname "$0")/../e2e-virtio-user.sh"

ISO_N=${ISO_N:-10000}
ISO_DEADLINE_MS=${ISO_DEADLINE_MS:-2000}
ISO_A_VMMS=${ISO_A_VMMS:-3}
V=$e2e_build/vubctl
IO=$e2e_build/vub_ioctl

cleanup() {
	[ -n "${e2e_pid[a]:-}" ] && kill -CONT "${e2e_pid[a]}" 2>/dev/null
	[ -z "$e2e_dir" ] || touch "$e2e_dir/stop"
	wait_loops
	e2e_cleanup
	for i in iso-a iso-b; do "$V" instance del "$i" --force >/dev/null 2>&1; done
}
trap cleanup EXIT

loops=()
wait_loops() {
	local p
	for p in "${loops[@]}"; do wait "$p" 2>/dev/null; done
	loops=()
}

fail() { e2e_fail "$1"; exit 1; }

# "median p99 max" (us) of a vub_ioctl -n line.
lat() { awk '/: ok median/ { print $6, $8, $10 }' <<<"$1"; }

[ -x "$e2e_testpmd" ] || { echo "SKIP: no $e2e_testpmd (apt-get install dpdk-dev)"; exit 4; }
[ -x "$IO" ] || { echo "SKIP: no $IO (make)"; exit 4; }
e2e_dir=$(mktemp -d /run/vub-iso.XXXXXX)
ktimeouts=$(dmesg | grep -c 'no answer in time')
rm -rf /run/dpdk/vub-e2e-*

for x in a b; do
	tp_start "$x" 0 1 128 --vdev "net_vhost0,iface=$e2e_dir/$x.sock,queues=1" -- -i --total-num-mbufs=2048
done
for x in a b; do
	tp_wait "$x" 'testpmd> ' 1 120 || fail "$e2e_why"
	"$V" instance add "iso-$x" --socket "$e2e_dir/$x.sock" >/dev/null || fail "vubctl instance add iso-$x"
done
"$e2e_build/vhost-user-bridged" --backend "$e2e_dir/none.sock" --timeout "$ISO_DEADLINE_MS" \
	>"$e2e_dir/bridged.log" 2>&1 &
e2e_daemon_pid=$!
for _ in $(seq 100); do
	grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
	sleep 0.1
done
out=$("$IO" --dev /dev/vhost-user-bridge-iso-a get-features) || fail "A before the test: $out"
echo "A (running): $out"

idle=$("$IO" --dev /dev/vhost-user-bridge-iso-b -n "$ISO_N" get-features)
echo "B idle:            $idle"
read -r med0 p990 _ <<<"$(lat "$idle")"
[ -n "$med0" ] || fail "B's idle run failed: $idle"

kill -STOP "${e2e_pid[a]}"
for i in $(seq "$ISO_A_VMMS"); do
	(
		while [ ! -e "$e2e_dir/stop" ]; do
			"$IO" --dev /dev/vhost-user-bridge-iso-a get-features
		done >"$e2e_dir/a$i.out" 2>&1
	) &
	loops+=($!)
done
sleep 1		# A's calls are waiting in the daemon
stalled=$("$IO" --dev /dev/vhost-user-bridge-iso-b -n "$ISO_N" get-features)
echo "B with A stopped:  $stalled"
touch "$e2e_dir/stop"
wait_loops
read -r med1 p991 max1 <<<"$(lat "$stalled")"
[ -n "$med1" ] || fail "B failed while A was stopped: $stalled"
awk -v a="$med1" -v b="$med0" -v c="$p991" -v d="$p990" \
	'BEGIN { printf "B while A is stopped / B idle: median %.2fx, p99 %.2fx\n", a / b, c / d }'

cat "$e2e_dir"/a*.out | sed 's/ after [0-9]* ms//' | sort | uniq -c | sed 's/^ */A, calls while it was stopped: /'
na=$(cat "$e2e_dir"/a*.out | wc -l)
nt=$(cat "$e2e_dir"/a*.out | grep -c 'error ETIMEDOUT')
[ "$na" -ge 1 ] && [ "$na" = "$nt" ] || fail "every call into the stopped A must fail with ETIMEDOUT ($nt of $na did)"
slow=$(cat "$e2e_dir"/a*.out | awk -v d="$ISO_DEADLINE_MS" '{ ms = $(NF - 1) } ms < d - 100 || ms > d + 3000' | head -3)
[ -z "$slow" ] || fail "calls into A must end at the daemon's deadline ($ISO_DEADLINE_MS ms), far before the kernel's: $slow"
[ "$p991" -lt $((ISO_DEADLINE_MS * 1000 / 4)) ] ||
	fail "B's p99 ($p991 us) is a sizeable part of the deadline: B waited for A"
grep -q 'request.s deadline' "$e2e_dir/bridged.log" ||
	fail "the daemon's log does not say that A's requests hit their deadline"
grep -o 'dev [0-9]* pid [0-9]* seq [0-9]*: VHOST_GET_FEATURES .*ETIMEDOUT.*' "$e2e_dir/bridged.log" | head -1 | sed 's/^/daemon: /'

kill -CONT "${e2e_pid[a]}"
# A first works off the connections its stopped listen queue collected (on the
# debug kernel that outlasts one 2 s deadline): give it a few deadlines.
for _ in 1 2 3 4 5; do
	out=$("$IO" --dev /dev/vhost-user-bridge-iso-a get-features) && break
done || fail "A after SIGCONT: $out"
echo "A (continued): $out"
[ "$(dmesg | grep -c 'no answer in time')" = "$ktimeouts" ] ||
	fail "the kernel's timeout fired: $(dmesg | grep 'no answer in time' | tail -1)"
echo "PASS"
