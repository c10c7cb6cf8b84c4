#!/bin/bash
# Runs inside the test VM, as root, chrooted into the read-only host root (tests/vm/init).
# /run, /tmp and /dev/shm are tmpfs; /run/out is the writable results dir.  The env file
# written by run.sh provides VUB_TOP VUB_BUILD VUB_KREL VUB_MODROOT VUB_KMOD VUB_MODE VUB_OUT
# VUB_TEST_TIMEOUT VUB_DMESG_BAD; they are exported to every test.
# Prints TAP; exits 0 only if every test point passed.
set -uo pipefail	# no -e: a failing step is a "not ok", and the run goes on to rmmod + dmesg

# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

echo "TAP version 13"
echo "# kernel $(uname -r), $(nproc) cpus, mode $VUB_MODE"

# Nothing may depend on the host's /lib/modules (run.sh hides it): modprobe is
# tests/vm/init's wrapper with -d for the kernel under test's cached module tree.
[ ! -e /lib/modules ] && [ "$(command -v modprobe)" = /run/vub-bin/modprobe ]
point $? "the host's /lib/modules is absent; modprobe uses $VUB_MODROOT"
modprobe -a tun vhost_net 2>&1 | diag
[ -c /dev/net/tun ] && [ -c /dev/vhost-net ]
point $? "modprobe tun vhost_net (reference devices /dev/net/tun, /dev/vhost-net)"

# kmemleak (the debug kernel only): what the kernel leaked before our module came is
# forgotten ("clear" after a scan: boot-time objects, which kmemleak often misjudges), so that
# every object reported at the end was allocated while the tests ran.
kml=/sys/kernel/debug/kmemleak
kmemleak_scan() {	# OUT: two scans (an object must be unreferenced for longer than 5 s), then the report
	echo scan >"$kml" && sleep 6 && echo scan >"$kml" && cat "$kml" >"$1"
}
if [ -w "$kml" ]; then
	kmemleak_scan "$VUB_OUT/boot-kmemleak.txt" && echo clear >"$kml"
	point $? "kmemleak: boot-time objects forgotten ($(grep -c '^unreferenced object' "$VUB_OUT/boot-kmemleak.txt"))"
fi

loaded=0
if [ ! -e "$VUB_KMOD" ]; then
	echo "# missing $VUB_KMOD"
elif insmod "$VUB_KMOD" req_timeout_ms="$VUB_REQ_TIMEOUT_MS" 2>&1 | diag; then
	loaded=1
fi
[ $loaded = 1 ] && [ -c /dev/vhost-user-bridge ] && [ -c /dev/vhost-user-bridge-control ]
point $? "insmod vhost_user_bridge.ko: /dev/vhost-user-bridge and /dev/vhost-user-bridge-control exist"

if [ "$VUB_MODE" = bench ]; then
	# make bench: tests/vm/bench.sh runs vub_bench, the data path, bring-up and
	# vub_ctlbench, and leaves bench.md and bench.json in $VUB_OUT.
	VUB_TEST_TIMEOUT=$((VUB_TEST_TIMEOUT > 1800 ? VUB_TEST_TIMEOUT : 1800)) \
		run "$VUB_TOP/tests/vm/bench.sh" 2>&1 | diag
	point "${PIPESTATUS[0]}" "tests/vm/bench.sh"
else
	# The selftests speak TAP themselves: their points are nested (indented) under one point.
	# VUB_TESTS (make fuzz): only the programs and scripts it names.
	if [ -n "${VUB_TESTS:-}" ] && [[ " $VUB_TESTS " != *" vub_selftests "* ]]; then
		skip_reason="not in VUB_TESTS"
		(exit 4)
	elif [ ! -x "$VUB_BUILD/vub_selftests" ]; then
		echo "# missing $VUB_BUILD/vub_selftests (make all)"
		false
	elif [ $loaded = 0 ]; then
		echo "# not run: the module is not loaded"
		false
	else
		run "$VUB_BUILD/vub_selftests" 2>&1 | diag "    "
	fi
	point $? "vub_selftests"

	# Script tests, one point each: exit 0 ok, 4 skip (last output line = reason), else not ok.
	for t in "$VUB_TOP"/tests/vm/guest.d/*.sh; do
		[ -x "$t" ] || continue
		[ -z "${VUB_TESTS:-}" ] || [[ " $VUB_TESTS " == *" ${t##*/} "* ]] || continue
		log=$(mktemp)
		# A script may raise its own time limit with a line "# VUB_TEST_TIMEOUT=SECONDS".
		tmo=$(sed -n 's/^# VUB_TEST_TIMEOUT=\([0-9][0-9]*\)$/\1/p' "$t" | head -1)
		[ "${tmo:-0}" -gt "$VUB_TEST_TIMEOUT" ] || tmo=$VUB_TEST_TIMEOUT
		VUB_TEST_TIMEOUT=$tmo run "$t" 2>&1 | tee "$log" | diag
		st=${PIPESTATUS[0]}
		skip_reason=$(tail -n 1 "$log")
		rm -f "$log"
		point "$st" "guest.d/${t##*/}"
	done
fi

# kmemleak prints its backtraces' symbols when it is read: read it once while the module
# is loaded (its frames named), and once after rmmod (what the module's exit left behind;
# its frames are then bare addresses, the only ones, as everything else is built in).
if [ -w "$kml" ]; then
	kmemleak_scan "$VUB_OUT/kmemleak-loaded.txt"
	leaks=$(grep -c '^unreferenced object' "$VUB_OUT/kmemleak-loaded.txt")
	[ "$leaks" = 0 ] || head -60 "$VUB_OUT/kmemleak-loaded.txt" | diag
	[ "$leaks" = 0 ]
	point $? "kmemleak, module loaded: $leaks unreferenced object(s) since the tests began"
fi

# The module must go away: anything still holding it is a leaked reference.  Give
# asynchronous teardown (closing files of killed processes, workqueues) a few seconds.
st=1
if [ $loaded = 1 ]; then
	for _ in $(seq 20); do
		rmmod vhost_user_bridge 2>/dev/null && { st=0; break; }
		sleep 0.5
	done
	[ $st = 0 ] || { rmmod vhost_user_bridge 2>&1; grep '^vhost_user_bridge ' /proc/modules; } | diag
fi
point $st "rmmod vhost_user_bridge (no leaked references)"

if [ -w "$kml" ]; then
	# Only what is new since the last read: the loaded read's objects are already a failure.
	echo clear >"$kml"
	kmemleak_scan "$VUB_OUT/kmemleak-unloaded.txt"
	leaks=$(grep -c '^unreferenced object' "$VUB_OUT/kmemleak-unloaded.txt")
	[ "$leaks" = 0 ] || head -60 "$VUB_OUT/kmemleak-unloaded.txt" | diag
	[ "$leaks" = 0 ]
	point $? "kmemleak, module unloaded: $leaks more unreferenced object(s)"
fi

dmesg_point

tap_end
[ $failed = 0 ]
