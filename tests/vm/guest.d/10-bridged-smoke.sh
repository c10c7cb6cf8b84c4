#!/bin/bash
# The real daemon, end to end, without a back-end: vhost-user-bridged
# --verbose attaches, a VMM's VHOST_GET_FEATURES reaches it and fails with
# ECONNREFUSED because nothing listens on --backend, the daemon's log says
# so, and SIGTERM makes it detach and exit 0.  Under a systemd-like
# $NOTIFY_SOCKET it reports READY=1 once attached and STOPPING=1 on SIGTERM.
# (Traffic through a real back-end: 20-e2e-virtio-user.sh.)
# Runs in the test VM as root with the module loaded (tests/vm/guest.sh).
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${VUB_BUILD:-$top/build}
log=
pid=

skip() { echo "$*"; exit 4; }
fail() {
	echo "FAIL: $*"
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$log" ] && sed 's/^/daemon: /' "$log"
	exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/vhost-user-bridge-control ] || skip "module not loaded"
for b in vhost-user-bridged vub_ioctl; do
	[ -x "$build/$b" ] || skip "missing $build/$b (make all)"
done

log=$(mktemp)
notify=
# systemd's side of sd_notify, if python3 is there: a datagram socket, two messages.
if command -v python3 >/dev/null; then
	notify=$(mktemp)
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
for _ in range(2):
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' /run/vub-smoke-notify.sock >"$notify" 2>&1 &
	npid=$!
	for _ in $(seq 50); do [ -S /run/vub-smoke-notify.sock ] && break; sleep 0.1; done
	export NOTIFY_SOCKET=/run/vub-smoke-notify.sock
fi
"$build/vhost-user-bridged" --verbose --tags 2 --backend /run/vub-smoke-nobody.sock >"$log" 2>&1 &
pid=$!
unset NOTIFY_SOCKET
for _ in $(seq 100); do
	grep -q 'attached: API version' "$log" && break
	kill -0 "$pid" 2>/dev/null || fail "daemon exited before attaching"
	sleep 0.1
done
grep -q 'attached: API version' "$log" || fail "daemon did not attach within 10 s"

out=$("$build/vub_ioctl" get-features 2>&1)
echo "vub_ioctl: $out"
case $out in
*"error ECONNREFUSED"*) ;;
*) fail "VHOST_GET_FEATURES: expected ECONNREFUSED (no back-end listening)" ;;
esac
grep -q 'VHOST_GET_FEATURES .*-> ECONNREFUSED: cannot connect to the back-end' "$log" ||
	fail "the daemon's log does not show the request and why it failed"

kill -TERM "$pid"
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "daemon still running 10 s after SIGTERM"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || fail "daemon exited with status $rc after SIGTERM, expected 0"
grep -q 'stopped by signal, detached' "$log" || fail "no clean-shutdown line in the log"
if [ -n "$notify" ]; then
	wait "$npid"
	echo "notify: $(paste -sd '|' "$notify")"
	grep -q '^READY=1' "$notify" || fail "no READY=1 on \$NOTIFY_SOCKET"
	grep -q '^STOPPING=1' "$notify" || fail "no STOPPING=1 on \$NOTIFY_SOCKET"
	rm -f "$notify" /run/vub-smoke-notify.sock
else
	echo "python3 missing: READY=1/STOPPING=1 not checked"
fi

# Detached: the next VMM ioctl finds no daemon.
out=$("$build/vub_ioctl" get-features 2>&1)
case $out in
*"error ENOTCONN"*) ;;
*) fail "after shutdown: expected ENOTCONN, got: $out" ;;
esac
sed 's/^/daemon: /' "$log"
rm -f "$log"
echo "PASS"
