#!/bin/bash
# vubctl on the host, where the module is not loaded (the kernel side is tested in the VM:
# tests/vm/guest.d/40-admin.sh): usage errors exit 2 before any netlink, a missing family
# is "vhost_user_bridge module not loaded" and exit 1.  TAP.
set -u
V=$(cd "$(dirname "$0")/../.." && pwd)/build/vubctl
n=0 failed=0
t() {	# STATUS MESSAGE ARGS...: vubctl ARGS exits STATUS with MESSAGE on stderr (or stdout)
	local st=$1 msg=$2 rc=0 out
	shift 2
	out=$("$V" "$@" 2>&1) || rc=$?
	n=$((n + 1))
	if [ "$rc" = "$st" ] && grep -qF -- "$msg" <<<"$out"; then
		echo "ok $n - vubctl $*: exit $rc, $(head -1 <<<"$out")"
	else
		echo "not ok $n - vubctl $*: exit $rc (want $st), \"$out\" (want \"$msg\")"
		failed=$((failed + 1))
	fi
}
[ -x "$V" ] || { echo "1..0 # SKIP no $V (make all)"; exit 77; }
t 0 "usage: vubctl" -h
t 0 "instance add NAME --socket PATH" help
t 2 "usage: vubctl"
t 2 "unknown object" frobnicate
t 2 "usage" -x instance list
t 2 "usage: instance add NAME" instance add web
t 2 "--socket needs a value" instance add web --socket
t 2 "unknown instance type \"blk\"" instance add web --socket /x --type blk
t 2 "unexpected \"extra\"" instance add web --socket /x extra
t 2 "usage: instance del NAME" instance del
t 2 "unexpected \"--frce\"" instance del web --frce
t 2 "usage: instance show NAME" instance show
t 2 "unknown instance command" instance frob
t 2 "usage: device show ID" device show abc
t 2 "usage: device show ID" device show 4294967296
t 2 "usage: bridge [show]" bridge frob
t 2 "monitor takes no argument" monitor now
if [ -d /sys/module/vhost_user_bridge ]; then
	n=$((n + 1))
	echo "ok $n - module not loaded message # SKIP the module is loaded on this host"
else
	t 1 "vhost_user_bridge module not loaded" instance list
	t 1 "vhost_user_bridge module not loaded" -j dev
	t 1 "vhost_user_bridge module not loaded" monitor
fi
echo "1..$n"
[ $failed = 0 ]
