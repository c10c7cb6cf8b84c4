# shellcheck shell=bash
# TAP helpers of the VM's test scripts (tests/vm/guest.sh, tests/vm/systemd-guest.sh):
# point STATUS DESCRIPTION (0 ok, 4 skip with $skip_reason, else not ok; the time since the
# previous point is appended), diag [PREFIX] (a program's output as comments), run PROGRAM...
# (own cgroup and session, time limit VUB_TEST_TIMEOUT, whatever it left running killed),
# dmesg_point (the kernel log checked), tap_end (the plan and the end marker).  Counts in n, failed.
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
diag() { sed -u -e "s/^/${1:-# }/" -e '$a\'; }	# indent a program's output under its test point (and end its last line)
# Each test program runs in a cgroup of its own: whatever it leaves behind (a testpmd in a
# session of its own, a daemon) is killed when it ends, so nothing of it reaches the next
# test, and what it runs can be listed when it nears its time limit.
cg=/sys/fs/cgroup/vub-test
stuck() {	# where each process of the test waits (kernel stack), 5 s before its time limit
	local p
	echo "# ${VUB_TEST_TIMEOUT}s limit in 5 s: the test's processes, where each waits"
	for p in $(cat "$cg/cgroup.procs"); do
		echo "# $p $(ps -o stat=,etime= -p "$p") $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-160)"
		sed 's/^/#     /' "/proc/$p/stack"
	done 2>/dev/null
}
run() {	# a test program: own cgroup and session, per-test timeout, line-buffered stdio
	local pid w k rc=0
	mountpoint -q "${cg%/*}" || mount -t cgroup2 cgroup2 "${cg%/*}"
	mkdir -p "$cg" || return
	(echo "$BASHPID" >"$cg/cgroup.procs" &&
		exec setsid stdbuf -oL -eL timeout -k 10 "$VUB_TEST_TIMEOUT" "$@") &
	pid=$!
	{ sleep $((VUB_TEST_TIMEOUT - 5)) >/dev/null 2>&1 && stuck; } &	# (the sleep must not hold the pipe)
	w=$!
	wait "$pid" || rc=$?
	kill "$w" 2>/dev/null
	# Whatever it left running would keep our pipes and the module open: end it, so
	# that a leftover process is not mistaken for a leaked reference.
	echo 1 >"$cg/cgroup.kill"
	for ((k = 0; k < 100; k++)); do
		grep -q '^populated 0' "$cg/cgroup.events" && break
		sleep 0.1
	done
	rmdir "$cg" || echo "# processes of the test still alive 10 s after SIGKILL: $(cat "$cg/cgroup.procs")"
	return "$rc"
}
dmesg_point() {	# the kernel log, kept in $VUB_OUT/dmesg.txt, free of $VUB_DMESG_BAD
	local splats
	dmesg >"$VUB_OUT/dmesg.txt"
	splats=$(grep -E "$VUB_DMESG_BAD" "$VUB_OUT/dmesg.txt")
	[ -z "$splats" ] || head -20 <<<"$splats" | diag
	[ -z "$splats" ]
	point $? "kernel log free of WARNING/BUG/Oops/lockdep/hung task reports"
}
tap_end() { echo "1..$n"; echo "# VUB_GUEST_DONE: $n tests, $failed failed"; }	# the plan and run.sh's marker
