# shellcheck shell=bash
# TAP helpers of the VM's test scripts (tests/vm/guest.sh, tests/vm/systemd-guest.sh):
# point STATUS DESCRIPTION (0 ok, 4 skip with $skip_reason, else not ok; the time since the
# previous point is appended), diag [PREFIX] (a program's output as comments), run PROGRAM...
# (own session, time limit VUB_TEST_TIMEOUT, whatever it left running killed).  Counts in n, failed.
centisecs() { local u; read -r u _ </proc/uptime; now=$((10#${u/./})); }	# sets now
n=0 failed=0 now=0
centisecs
t_last=$now
point() {	# STATUS DESCRIPTION: 0 ok, 4 skip (reason in $skip_reason), else not ok
	local st=$1 d
	shift
	n=$((n + 1))
	centisecs
	d="$* ($(((now - t_last) / 100)).$(((now - t_last) % 100 / 10))s)"
	t_last=$now
	case $st in
	0) echo "ok $n - $d" ;;
	4) echo "ok $n - $d # SKIP ${skip_reason:-}" ;;
	*) echo "not ok $n - $d"; failed=$((failed + 1)) ;;
	esac
}
diag() { sed -u "s/^/${1:-# }/"; }	# indent a program's output under its test point
run() {	# a test program: own session, per-test timeout, line-buffered stdio
	local pid rc=0
	setsid stdbuf -oL -eL timeout -k 10 "$VUB_TEST_TIMEOUT" "$@" &
	pid=$!
	wait "$pid" || rc=$?
	# Whatever it left running (a daemon, a background job) would keep our pipes and the
	# module open: end it, so a leftover process is not mistaken for a leaked reference.
	kill -KILL -- "-$pid" 2>/dev/null
	return "$rc"
}

