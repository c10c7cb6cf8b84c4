#!/bin/bash
# make bench, in the test VM (tests/vm/guest.sh --bench mode, as root, module loaded).
# Everything side by side in the same boot, alternated, repeated; no timing is asserted.
#
#   0. The channel alone: build/vub_bench (VHOST_GET_FEATURES answered by a test
#      daemon against a unix-socket round trip).
#   1. Data path: one testpmd back-end with two vhost-user ports; unmodified DPDK
#      virtio-user (testpmd) on each: (a) path=/dev/vhost-user-bridge through
#      vhost-user-bridged to port 0, (b) path=<port 1's socket>, native vhost-user.
#      Packets bounce (io forwarding both sides, E2E_BURSTS bursts in flight) for
#      BENCH_SECS; packets/s each way from the VMM's own counters ("Throughput since
#      last show").  BENCH_REPS repetitions per frame size (testpmd set txpkts), a and b
#      alternating which goes first.  During each run: the daemon's CPU time
#      (/proc/PID/stat utime+stime) and the ioctls the module forwarded (vubctl).
#   3. Bring-up: launch of the VMM to its prompt (its port started: EAL, then the
#      vhost set-up), bridge vs native, 1 + BENCH_BRINGUP times each, alternated.
#   2. Per-ioctl cost: build/vub_ctlbench, the bridge against the daemon's own
#      front-end on a direct connection to the same back-end (port 0).
#   4. Concurrency: vub_ctlbench --procs P for P in BENCH_PROCS: P processes issuing
#      SET_VRING_CALL at once, each on its own device or connection.
#   5. Scale: vub_ctlbench --scale N for N in BENCH_SCALE (1 64 256; 1024 takes about
#      10 minutes more on a loaded 2-core machine): N devices (and, for
#      comparison, N direct connections) set up and started at once by 16 processes;
#      set-up rate, slab bytes, the daemon's RSS and fds, per device.
#   3b. QEMU bring-up (qemu): unmodified QEMU 7.2, nested, its iPXE guest (as in
#      guest.d/30-e2e-qemu.sh), launch to the first packet testpmd receives from it
#      (testpmd's verbose "received" line): (a) -netdev tap,vhost=on,vhostfd=N
#      N<>/dev/vhost-user-bridge, (b) -netdev vhost-user on port 1's socket;
#      BENCH_QEMU_REPS of each, alternated.
#   3c. Large memory tables (mem): vub_ctlbench --memtable BENCH_MEM_MIB (memfd, never
#      touched) and BENCH_MEM_HUGE_MIB of 2 MiB hugepages (if the pool can have them):
#      SET_MEM_TABLE with 8 regions (8 files) and 64 regions (one file), bridge vs direct.
#   1m. Mirrored memory (anon): the data path of (a) DPDK virtio-user with private
#      anonymous memory (memfd_create() failing under LD_PRELOAD=libvub_nomemfd.so,
#      DPDK falls back to MAP_PRIVATE | MAP_ANONYMOUS) on an instance added with
#      --mem mirror, bound to a third port of the back-end, against (b) the bridge with
#      DPDK's memfd memory, as in section 1; alternated, BENCH_REPS runs per size.
#   6. Profile (prof): P SET_VRING_CALL processes for P in BENCH_PROF_PROCS, each side
#      alone: per request, the daemon's and the back-end's CPU time and context
#      switches (/proc), the daemon's system calls (strace -c, a pass of its own), and
#      perf record's top symbols of the daemon when perf works in the VM.  Then the
#      same for each daemon binary in BENCH_PROF_DAEMONS (e.g. an older build), in
#      the same boot.
# BENCH_SECTIONS picks what runs (default: all, "0 1 3 anon qemu 2 mem 4 5 prof").
# The daemon runs with the limits of the packaged unit under systemd (RLIMIT_NOFILE
# 1024 soft, 524288 hard: it raises the soft limit itself); the back-end testpmd and
# the VMMs with 524288.
# Writes $VUB_OUT/bench.md (the Markdown table), bench.json, bench-runs.tsv.
# Exit 0 when everything ran, 1 otherwise, 4 (skip) without what it needs.
set -u
# shellcheck source=e2e-virtio-user.sh
. "$(dirname "$0")/e2e-virtio-user.sh"
# The table is written whatever happens (a time limit's SIGTERM included): report(), below.
reported=0
trap 'report; e2e_cleanup' EXIT
trap 'echo "bench.sh: terminated; reporting what was measured"; exit 1' TERM INT

BENCH_REPS=${BENCH_REPS:-3}
BENCH_SECS=${BENCH_SECS:-3}
BENCH_SIZES=${BENCH_SIZES:-64 1500}
BENCH_BRINGUP=${BENCH_BRINGUP:-0}
BENCH_PROCS=${BENCH_PROCS:-1 8 64}
BENCH_SCALE=${BENCH_SCALE:-1 64 256}
BENCH_SECTIONS=${BENCH_SECTIONS:-0 1 3 anon qemu 2 mem 4 5 prof}
BENCH_QEMU_REPS=${BENCH_QEMU_REPS:-2}
BENCH_MEM_MIB=${BENCH_MEM_MIB:-4096}
BENCH_MEM_HUGE_MIB=${BENCH_MEM_HUGE_MIB:-256}
BENCH_PROF_PROCS=${BENCH_PROF_PROCS:-1 8 64}
BENCH_PROF_DAEMONS=${BENCH_PROF_DAEMONS:-}
out=${VUB_OUT:-/tmp}
runs=$out/bench-runs.tsv	# section key value...: every sample

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 4; }
[ -x "$e2e_testpmd" ] || { echo "no $e2e_testpmd (apt-get install dpdk-dev)"; exit 4; }
for b in vhost-user-bridged vub_bench vub_ctlbench vubctl; do
	[ -x "$e2e_build/$b" ] || { echo "no $e2e_build/$b (make)"; exit 4; }
done
[ -c /dev/vhost-user-bridge ] || { echo "no /dev/vhost-user-bridge (module not loaded)"; exit 4; }
e2e_dir=$(mktemp -d /run/vub-bench.XXXXXX)
ulimit -n 524288 || ulimit -n 65536
rm -rf /run/dpdk/vub-e2e-*
: >"$runs"
failed=0
fail() { echo "FAILED: $*"; e2e_dump; failed=1; }

want() { [[ " $BENCH_SECTIONS " == *" $1 "* ]]; }
# median min max of the numbers on stdin (one per line)
mmm() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) { print "- - -"; exit }
	m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, a[1], a[NR] }'; }
# div A B: A / B to two decimals, n/a when B is not positive.
div() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }'; }
# col KEY F: field F of the runs file's samples "KEY\t..." (KEY a regex with \t).
col() { awk -v k="$1" -v f="$2" '$0 ~ "^" k "\t" { split($0, c, "\t"); print c[f] }' "$runs"; }

# --- 0. the channel alone -----------------------------------------------------
if want 0; then
echo "== 0. channel round trip (vub_bench: test daemon, no back-end)"
"$e2e_build/vub_bench" -n 5000 >"$e2e_dir/vub_bench.log" 2>&1 || fail "vub_bench"
sed 's/^/    /' "$e2e_dir/vub_bench.log"
fi
# (no process substitution: the VM's /dev has no /dev/fd)
read -r ch_med ch_p99 un_med un_p99 <<<"$(sed -n \
	's/^# vub_bench: bridge median \([0-9.]*\) us p99 \([0-9.]*\) us; baseline median \([0-9.]*\) us p99 \([0-9.]*\) us.*/\1 \2 \3 \4/p' \
	"$e2e_dir/vub_bench.log" 2>/dev/null)"

# --- the back-end and the daemon ----------------------------------------------
sockb=$e2e_dir/bridge.sock
sockn=$e2e_dir/native.sock
socka=$e2e_dir/mirror.sock	# port 2, only for section anon
# --no-mlockall: testpmd would otherwise fault in and lock all of a VMM's memory when it
# maps it (section 3c's GiBs, QEMU's 128 MiB), in the middle of what is timed.
echo "== back-end: testpmd, port 0 on $sockb (behind the bridge), port 1 on $sockn (native)"
ports=(--vdev "net_vhost0,iface=$sockb,queues=1,client=0" --vdev "net_vhost1,iface=$sockn,queues=1,client=0")
want anon && ports+=(--vdev "net_vhost2,iface=$socka,queues=1,client=0")
tp_start be 0 1 384 "${ports[@]}" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=16384 --nb-cores=1 --no-mlockall
tp_wait be 'testpmd> ' 1 120 || { fail "$e2e_why"; exit 1; }
tp_cmd be start
# start_daemon BINARY: the daemon, with the packaged unit's file limit.
start_daemon() {
	local i
	# shellcheck disable=SC2016 # for the inner shell
	bash -c 'ulimit -Sn 1024 && exec "$@"' - "$1" --timeout 25000 --backend "$sockb" \
		>"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && return 0
		sleep 0.1
	done
	return 1
}
start_daemon "$e2e_build/vhost-user-bridged" || { fail "the daemon did not attach"; exit 1; }

# bench_vmm NAME: start VMM testpmd NAME (b: the bridge, n: native, a: the bridge with
# private anonymous memory, mirrored) and time its
# launch to its prompt, which testpmd prints once its port started: EAL set-up,
# then virtio-user's whole vhost set-up (synchronous ioctls or vhost-user messages,
# every ring started); the sample goes to $runs.
bench_vmm() {
	local name=$1 path=$sockn t0 pre=
	[ "$name" = b ] && path=/dev/vhost-user-bridge
	[ "$name" = a ] && path=/dev/vhost-user-bridge-vubbench-anon pre=$e2e_build/libvub_nomemfd.so
	rm -f "$e2e_dir/$name.log"
	t0=$(e2e_now)
	LD_PRELOAD=$pre tp_start "$name" 1 0 64 --vdev "net_virtio_user0,path=$path,queues=1" -- \
		-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1
	tp_wait "$name" 'testpmd> ' 1 120 || { fail "$name: $e2e_why"; return 1; }
	printf 'bringup\t%s\t%s\n' "$name" "$(e2e_since "$t0")" >>"$runs"
}

# bench_pps NAME: "RX-pps TX-pps" of the VMM's port since the previous show.
bench_pps() {
	local n
	n=$(grep -c 'Tx-pps:' "${e2e_log[$1]}")
	tp_stats "$1" >/dev/null || return 1
	awk -v n=$((n + 1)) '/Rx-pps:/ { r = $2 } /Tx-pps:/ && ++k == n { print r, $2 }' "${e2e_log[$1]}"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$e2e_daemon_pid/stat"; }
ioctls() { "$e2e_build/vubctl" -j device list 2>/dev/null | jq '[.[].ioctls] | add // 0'; }

# bench_run NAME SIZE REP [KEY]: one traffic run of VMM NAME, its sample under KEY
# (default data) in $runs.
bench_run() {
	local name=$1 size=$2 rep=$3 key=${4:-data} c0 c1 i0 i1 pps
	tp_cmd "$name" "start tx_first $E2E_BURSTS"
	sleep 1
	bench_pps "$name" >/dev/null || return 1
	c0=$(cpu_ticks) i0=$(ioctls)
	sleep "$BENCH_SECS"
	pps=$(bench_pps "$name") || return 1
	c1=$(cpu_ticks) i1=$(ioctls)
	tp_stop "$name" || return 1
	# what is still in flight comes back: take it without answering
	tp_cmd "$name" "set fwd rxonly"
	tp_cmd "$name" start
	sleep 1
	tp_stop "$name" || return 1
	tp_cmd "$name" "set fwd io"
	read -r rx tx <<<"$pps"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$size" "$name" "$rep" \
		"$(((rx + tx) / 2))" "$((c1 - c0))" "$((i1 - i0))" "$pps" >>"$runs"
	echo "    $size B, $(case $name in b) echo bridge ;; a) echo bridge, mirrored ;; *) echo native ;; esac), run $rep: RX $rx TX $tx packets/s; daemon CPU $((c1 - c0)) ticks, $((i1 - i0)) ioctls"
}

# --- 1. data path -------------------------------------------------------------
if want 1 || want 3; then
echo "== 1. data path: bridge (b) and native vhost-user (n), ${BENCH_SECS} s per run, $BENCH_REPS runs per size"
bench_vmm b && bench_vmm n || exit 1
for s in "$sockb" "$sockn"; do
	echo "    the back-end negotiated on ${s##*/}: $(grep -F "($s) negotiated Virtio features" "${e2e_log[be]}" |
		tail -1 | grep -o '0x[0-9a-f]*$')"
done
for size in $BENCH_SIZES; do
	want 1 || break
	tp_cmd b "set txpkts $size"
	tp_cmd n "set txpkts $size"
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		order="b n"
		[ $((rep % 2)) = 0 ] && order="n b"
		for name in $order; do
			bench_run "$name" "$size" "$rep" || { fail "$name: ${e2e_why:-traffic run failed}"; break 3; }
		done
	done
done

# --- 3. bring-up --------------------------------------------------------------
echo "== 3. bring-up: VMM launch to its port started, $BENCH_BRINGUP more of each"
for ((rep = 1; rep <= BENCH_BRINGUP && !failed; rep++)); do
	order="n b"
	[ $((rep % 2)) = 0 ] && order="b n"
	for name in $order; do
		tp_quit "$name" || { fail "$name did not quit"; break 2; }
		bench_vmm "$name" || break 2
	done
done
tp_quit b
tp_quit n
fi

# --- 1m. data path, mirrored memory ---------------------------------------------
if want anon; then
echo "== 1m. data path: the bridge with mirrored anonymous memory (a) and with memfd memory (b), ${BENCH_SECS} s per run, $BENCH_REPS runs per size"
if [ ! -e "$e2e_build/libvub_nomemfd.so" ]; then
	fail "no $e2e_build/libvub_nomemfd.so (make)"
elif ! "$e2e_build/vubctl" instance add vubbench-anon --socket "$socka" --mem mirror; then
	fail "vubctl instance add vubbench-anon --mem mirror"
elif bench_vmm a && bench_vmm b; then
	grep -h 'Falling back to anonymous\|memfd' "${e2e_log[a]}" | sed 's/^/    a: /'
	for size in $BENCH_SIZES; do
		tp_cmd a "set txpkts $size"
		tp_cmd b "set txpkts $size"
		for ((rep = 1; rep <= BENCH_REPS; rep++)); do
			order="a b"
			[ $((rep % 2)) = 0 ] && order="b a"
			for name in $order; do
				bench_run "$name" "$size" "$rep" datam ||
					{ fail "$name: ${e2e_why:-traffic run failed}"; break 3; }
			done
		done
	done
fi
tp_quit a
tp_quit b
"$e2e_build/vubctl" instance del vubbench-anon --force >/dev/null 2>&1
fi

# --- 3b. QEMU bring-up --------------------------------------------------------
# bench_qemu NAME REP: unmodified QEMU (iPXE guest) through the bridge (b) or
# native vhost-user (n); launch to the first packet the back-end receives from it.
bench_qemu() {
	local name=$1 rep=$2 port=1 t0 i n0 con pid
	local -a net=(-chardev "socket,id=c0,path=$sockn" -netdev "vhost-user,id=n0,chardev=c0")
	if [ "$name" = b ]; then
		port=0
		ip link del tapqb 2>/dev/null
		ip tuntap add dev tapqb mode tap && ip link set tapqb up || return 1
		net=(-netdev "tap,id=n0,ifname=tapqb,script=no,downscript=no,vhost=on,vhostfd=20")
	fi
	n0=$(grep -c "port $port/queue 0: received" "${e2e_log[be]}")
	t0=$(e2e_now)
	qemu-system-x86_64 -accel tcg -smp 1 -m 128M -nodefaults -no-user-config -display none \
		-machine pc,graphics=off,memory-backend=mem \
		-object memory-backend-memfd,id=mem,size=128M,share=on "${net[@]}" \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 -boot n \
		-serial "file:$e2e_dir/q$name.serial" 20<>/dev/vhost-user-bridge \
		</dev/null >"$e2e_dir/q$name.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 3000; i++)); do	# 300 s
		IFS= read -r -d '' con <"${e2e_log[be]}"
		n=$(grep -c "port $port/queue 0: received" <<<"$con")
		[ "$n" -gt "$n0" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$n" -gt "$n0" ]; then
		printf 'qemu\t%s\t%s\n' "$name" "$(e2e_since "$t0")" >>"$runs"
		echo "    QEMU $([ "$name" = b ] && echo bridge || echo native), run $rep: first packet at the back-end $(e2e_since "$t0") s after launch"
	else
		echo "    QEMU $name, run $rep: no packet: $(tail -3 "$e2e_dir/q$name.log" | tr '\n' ' ')"
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { echo "    QEMU $name did not exit 30 s after SIGTERM: killed"; kill -KILL "$pid"; }
	wait "$pid" 2>/dev/null
	ip link del tapqb 2>/dev/null
	[ "$n" -gt "$n0" ]
}
if want qemu; then
	echo "== 3b. QEMU bring-up: unmodified QEMU 7.2 (iPXE guest), launch to its first packet at testpmd, $BENCH_QEMU_REPS of each"
	tp_cmd be "set verbose 1"
	tp_cmd be start
	for ((rep = 1; rep <= BENCH_QEMU_REPS && !failed; rep++)); do
		order="b n"
		[ $((rep % 2)) = 0 ] && order="n b"
		for name in $order; do
			bench_qemu "$name" "$rep" || { fail "QEMU $name: no packet"; break 2; }
		done
	done
	tp_cmd be "set verbose 0"
fi
echo "    (stopping the back-end's forwarding)"
tp_stop be >/dev/null

# --- 2. per-ioctl cost --------------------------------------------------------
if want 2; then
echo "== 2. per-ioctl cost: vub_ctlbench, bridge vs the daemon's front-end directly on $sockb"
"$e2e_build/vub_ctlbench" --backend "$sockb" -r 5 -n 100 >"$e2e_dir/ctl.log" 2>&1 || fail "vub_ctlbench"
sed 's/^/    /' "$e2e_dir/ctl.log"
awk '$1 == "ctl" { OFS = "\t"; $1 = "ctl"; print }' "$e2e_dir/ctl.log" >>"$runs"
fi

# --- 3c. large memory tables --------------------------------------------------
if want mem; then
	echo "== 3c. large memory tables: SET_MEM_TABLE of $BENCH_MEM_MIB MiB of memfd, 8 and 64 regions, bridge vs direct"
	timeout 600 "$e2e_build/vub_ctlbench" --backend "$sockb" --memtable "$BENCH_MEM_MIB" -r 4 -n 10 >"$e2e_dir/memt.log" 2>&1 ||
		fail "vub_ctlbench --memtable"
	sed 's/^/    /' "$e2e_dir/memt.log"
	hp=$(cat /proc/sys/vm/nr_hugepages)
	echo "    growing the hugepage pool by $((BENCH_MEM_HUGE_MIB / 2)) pages"
	timeout 120 sh -c "echo $((hp + BENCH_MEM_HUGE_MIB / 2)) >/proc/sys/vm/nr_hugepages" 2>/dev/null
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	if [ "${free:-0}" -ge $((BENCH_MEM_HUGE_MIB / 2)) ]; then
		echo "    the same with $BENCH_MEM_HUGE_MIB MiB of 2 MiB hugepages (memfd MFD_HUGETLB; $free pages free)"
		timeout 600 "$e2e_build/vub_ctlbench" --backend "$sockb" --memtable "$BENCH_MEM_HUGE_MIB" --huge 1 -r 4 -n 10 \
			>"$e2e_dir/memth.log" 2>&1 || fail "vub_ctlbench --memtable --huge 1"
		sed 's/^/    /' "$e2e_dir/memth.log"
		cat "$e2e_dir/memth.log" >>"$e2e_dir/memt.log"
	else
		echo "    no hugepages: the pool could not grow to $((BENCH_MEM_HUGE_MIB / 2)) free 2 MiB pages (HugePages_Free $free)"
	fi
	echo "$hp" >/proc/sys/vm/nr_hugepages 2>/dev/null
	awk '$1 == "memt" { OFS = "\t"; $1 = "memt"; print }' "$e2e_dir/memt.log" >>"$runs"
fi

# --- 4. concurrency -----------------------------------------------------------
want 4 && echo "== 4. concurrency: P processes issuing SET_VRING_CALL at once, bridge vs direct"
want 4 && for p in $BENCH_PROCS; do
	"$e2e_build/vub_ctlbench" --backend "$sockb" --procs "$p" -r 2 -n 400 >"$e2e_dir/conc.log" 2>&1 ||
		fail "vub_ctlbench --procs $p"
	sed 's/^/    /' "$e2e_dir/conc.log"
	awk '$1 == "conc" { OFS = "\t"; $1 = "conc"; print }' "$e2e_dir/conc.log" >>"$runs"
done

# --- 5. scale -----------------------------------------------------------------
want 5 && echo "== 5. scale: N devices set up and started at once (16 processes), then N direct connections"
want 5 && for n in $BENCH_SCALE; do
	# Devices that did not come up are a result (a limit reached), not a failure of the run.
	"$e2e_build/vub_ctlbench" --backend "$sockb" --scale "$n" --daemon "$e2e_daemon_pid" >"$e2e_dir/scale.log" 2>&1 ||
		echo "    not every device came up (the table shows how many did)"
	sed 's/^/    /' "$e2e_dir/scale.log" | head -20
	awk '$1 == "scale" { OFS = "\t"; $1 = "scale"; print }' "$e2e_dir/scale.log" >>"$runs"
done
want 5 && echo "    the daemon's limits: $(grep 'Max open files' "/proc/$e2e_daemon_pid/limits")"

# --- 6. profile ---------------------------------------------------------------
# ctx PID: "CPU_TICKS CONTEXT_SWITCHES" (voluntary and not) summed over the process's threads.
ctx() {
	local t ticks=0 sw=0 a b
	for t in /proc/"$1"/task/*; do
		read -r a b <<<"$(awk '{ print $14 + $15 }' "$t/stat") $(awk '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 } END { print v + n }' "$t/status")"
		ticks=$((ticks + a)) sw=$((sw + b))
	done
	echo "$ticks $sw"
}
# prof_pass DAEMON: each P of BENCH_PROF_PROCS, each side alone, with the counters.
prof_pass() {
	local dn=$1 p side dc0 dv0 bc0 bv0 dc1 dv1 bc1 bv1 n ops spid
	for p in $BENCH_PROF_PROCS; do
		for side in bridge direct; do
			read -r dc0 dv0 <<<"$(ctx "$e2e_daemon_pid")"
			read -r bc0 bv0 <<<"$(ctx "${e2e_pid[be]}")"
			timeout 600 "$e2e_build/vub_ctlbench" --backend "$sockb" --procs "$p" --side "$side" -r 1 -n 400 \
				>"$e2e_dir/prof.log" 2>&1 || fail "vub_ctlbench --procs $p --side $side"
			read -r dc1 dv1 <<<"$(ctx "$e2e_daemon_pid")"
			read -r bc1 bv1 <<<"$(ctx "${e2e_pid[be]}")"
			n=$(awk '$1 == "conc" { print $7 }' "$e2e_dir/prof.log")
			ops=$(awk '$1 == "conc" { print $4 }' "$e2e_dir/prof.log")
			[ -n "$n" ] || continue
			printf 'prof\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$side" "$ops" \
				"$(awk -v a=$((dc1 - dc0)) -v n="$n" 'BEGIN { printf "%.0f", a * 10000 / n }')" \
				"$(awk -v a=$((dv1 - dv0)) -v n="$n" 'BEGIN { printf "%.2f", a / n }')" \
				"$(awk -v a=$((bc1 - bc0)) -v n="$n" 'BEGIN { printf "%.0f", a * 10000 / n }')" \
				"$(awk -v a=$((bv1 - bv0)) -v n="$n" 'BEGIN { printf "%.2f", a / n }')" \
				"$dn" "$(awk '$1 == "conc" { print $6 }' "$e2e_dir/prof.log")" >>"$runs"
			echo "    $dn, P=$p $side: $ops ops/s; per request: daemon $(((dc1 - dc0) * 10000 / n)) us CPU, $(((dv1 - dv0) * 100 / n))/100 context switches; back-end $(((bc1 - bc0) * 10000 / n)) us CPU, $(((bv1 - bv0) * 100 / n))/100 context switches"
		done
	done
	command -v strace >/dev/null || return 0
	for p in $BENCH_PROF_PROCS; do
		strace -c -f -q -p "$e2e_daemon_pid" -o "$e2e_dir/strace.txt" &
		spid=$!
		sleep 1
		timeout 600 "$e2e_build/vub_ctlbench" --backend "$sockb" --procs "$p" --side bridge -r 1 -n 400 \
			>"$e2e_dir/prof.log" 2>&1
		kill -INT "$spid"
		wait "$spid"
		n=$(awk '$1 == "conc" { print $7 }' "$e2e_dir/prof.log")
		echo "    $dn: the daemon's system calls per request (strace -c, P=$p, $n requests; strace slows it: counts only):"
		awk -v n="${n:-1}" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "      %-20s %6.2f\n", $NF, $4 / n }' \
			"$e2e_dir/strace.txt" | sort -k2 -gr | head -12
		awk -v n="${n:-1}" -v p="$p" -v d="$dn" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
			printf "sys\t%s\t%s\t%.2f\t%s\n", p, $NF, $4 / n, d }' "$e2e_dir/strace.txt" >>"$runs"
	done
}
if want prof; then
	echo "== 6. profile: SET_VRING_CALL, each side alone; per request: CPU and context switches of the daemon and the back-end"
	prof_pass "${e2e_build##*/}/vhost-user-bridged"
	perf=$(command -v perf)	# Debian's linux-perf (6.1 on the host) runs on the 6.12 guest
	if [ -n "$perf" ] && "$perf" record -e cpu-clock -o "$e2e_dir/perf.probe" -p "$e2e_daemon_pid" -- sleep 0.1 >/dev/null 2>&1; then
		p=${BENCH_PROF_PROCS##* }
		"$perf" record -e cpu-clock -F 2000 -g -o "$e2e_dir/perf.data" -p "$e2e_daemon_pid" >/dev/null 2>&1 &
		spid=$!
		sleep 1
		timeout 600 "$e2e_build/vub_ctlbench" --backend "$sockb" --procs "$p" --side bridge -r 1 -n 400 >/dev/null 2>&1
		kill -INT "$spid"
		wait "$spid"
		echo "    perf record of the daemon (cpu-clock, P=$p): top symbols, self time"
		"$perf" report -i "$e2e_dir/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null |
			awk '/^ +[0-9.]+%/ { print "      " $0; if (++k == 15) exit }'
	else
		echo "    perf: not usable in this VM (${perf:-no perf}): the counters above stand in for it"
	fi
	# Other daemon builds (e.g. the branch point's), profiled in the same boot for a fair comparison.
	for dbin in $BENCH_PROF_DAEMONS; do
		[ -x "$dbin" ] || { echo "    no $dbin"; continue; }
		kill -TERM "$e2e_daemon_pid"
		wait "$e2e_daemon_pid"
		start_daemon "$dbin" || { fail "$dbin did not attach"; break; }
		prof_pass "$(basename "$(dirname "$dbin")")/${dbin##*/}"
	done
fi

# --- the table ----------------------------------------------------------------
# pair KEY_A KEY_B: "A | B | A/B" for the packets/s (field 5) of two alternated sample
# series, each as median (min..max); the ratio is of the samples taken side by side.
pair() {
	local am al ah bm bl bh rm rl rh
	read -r am al ah <<<"$(col "$1" 5 | mmm)"
	read -r bm bl bh <<<"$(col "$2" 5 | mmm)"
	col "$1" 5 >"$e2e_dir/a"
	col "$2" 5 >"$e2e_dir/b"
	read -r rm rl rh <<<"$(paste "$e2e_dir/a" "$e2e_dir/b" | awk '$2 > 0 { printf "%.3f\n", $1 / $2 }' | mmm)"
	echo "$am ($al..$ah) | $bm ($bl..$bh) | $rm ($rl..$rh)"
}

report() {
	[ "$reported" = 0 ] && [ -n "$e2e_dir" ] || return 0
	reported=1
	local md=$out/bench.md size am al ah bm bl bh cpu io
	{
		echo "#### 1. Data path: packets/s each way, median (min..max) of $BENCH_REPS runs of $BENCH_SECS s"
		echo
		echo "| frame | (a) bridge | (b) native vhost-user | a/b median (min..max) | bridged CPU during (a) | ioctls during (a) |"
		echo "|---|---|---|---|---|---|"
		for size in $BENCH_SIZES; do
			cpu=$(col "data\t$size\tb" 6 | awk '{ s += $1 } END { print s + 0 }')
			io=$(col "data\t$size\tb" 7 | awk '{ s += $1 } END { print s + 0 }')
			echo "| $size B | $(pair "data\t$size\tb" "data\t$size\tn") | $((cpu * 10)) ms in $((BENCH_REPS * BENCH_SECS)) s | $io |"
		done
		echo
		if want anon; then
			echo "#### 1m. Data path with mirrored memory: packets/s each way, median (min..max) of $BENCH_REPS runs of $BENCH_SECS s"
			echo
			echo "| frame | (a) bridge, private anonymous memory, mirrored | (b) bridge, memfd memory | a/b median (min..max) |"
			echo "|---|---|---|---|"
			for size in $BENCH_SIZES; do
				echo "| $size B | $(pair "datam\t$size\ta" "datam\t$size\tb") |"
			done
			echo
		fi
		echo "#### 2. Per-ioctl cost, us: median / p99 (bridge: /dev/vhost-user-bridge; direct: the daemon's vu_frontend calls on its own connection)"
		echo
		echo "| operation | bridge | direct | ratio of medians | ratio of p99 |"
		echo "|---|---|---|---|---|"
		# The front-end only caches these until a ring starts: the direct side sends
		# nothing, and GET_FEATURES is compared with the native message instead.
		awk -F'\t' '$1 == "ctl" { m[$2] = $3; p[$2] = $4; dm[$2] = $6; dp[$2] = $7; order[++n] = $2 }
		function ratio(a, b) { return a != "-" && b != "-" && b > 0 ? sprintf("%.2f", a / b) : "n/a" }
		END { for (i = 1; i <= n; i++) { o = order[i]
			if (o == "GET_FEATURES_message") continue
			if (o ~ /^(GET_FEATURES|SET_VRING_NUM|SET_VRING_BASE|SET_VRING_ADDR|SET_VRING_KICK)$/)
				r = q = "(direct: no message)"
			else { r = ratio(m[o], dm[o]); q = ratio(p[o], dp[o]) }
			printf "| %s | %s / %s | %s / %s | %s | %s |\n", o, m[o], p[o], dm[o], dp[o], r, q
			if (o == "GET_FEATURES")
				printf "| GET_FEATURES vs a native VHOST_USER_GET_FEATURES | %s / %s | %s / %s | %s | %s |\n",
					m[o], p[o], dm["GET_FEATURES_message"], dp["GET_FEATURES_message"],
					ratio(m[o], dm["GET_FEATURES_message"]), ratio(p[o], dp["GET_FEATURES_message"]) } }' "$runs"
		echo "| channel alone (vub_bench GET_FEATURES, test daemon) | ${ch_med:--} / ${ch_p99:--} | unix socket ${un_med:--} / ${un_p99:--} | $(div "${ch_med:-0}" "${un_med:-0}") | |"
		echo
		echo "#### 3. Bring-up: VMM (DPDK virtio-user testpmd) launch to its port started, s, median (min..max) of $((BENCH_BRINGUP + 1))"
		echo
		read -r am al ah <<<"$(col "bringup\tb" 3 | mmm)"
		read -r bm bl bh <<<"$(col "bringup\tn" 3 | mmm)"
		echo "| (a) bridge | (b) native | a/b (medians) |"
		echo "|---|---|---|"
		echo "| $am ($al..$ah) | $bm ($bl..$bh) | $(div "$am" "$bm") |"
		echo
		echo "#### 3b. Bring-up of unmodified QEMU 7.2 (nested, iPXE guest): launch to its first packet at testpmd, s, median (min..max) of $BENCH_QEMU_REPS"
		echo
		read -r am al ah <<<"$(col "qemu\tb" 3 | mmm)"
		read -r bm bl bh <<<"$(col "qemu\tn" 3 | mmm)"
		echo "| (a) bridge (vhostfd on /dev/vhost-user-bridge) | (b) native (-netdev vhost-user) | a/b (medians) |"
		echo "|---|---|---|"
		echo "| $am ($al..$ah) | $bm ($bl..$bh) | $(div "$am" "$bm") |"
		echo
		echo "#### 3c. Large memory tables: SET_MEM_TABLE, us, median / p99 (memory never touched; the back-end without mlockall)"
		echo
		echo "| layout (regions x size / files) | bridge | direct | ratio of medians | ratio of p99 |"
		echo "|---|---|---|---|---|"
		awk -F'\t' '$1 == "memt" { k = $2; if ($3 == "bridge") { bm[k] = $4; bp[k] = $5 } else { dm[k] = $4; dp[k] = $5 }
			if (!seen[k]++) order[++n] = k }
		function ratio(a, b) { return a != "-" && b != "-" && b > 0 ? sprintf("%.2f", a / b) : "n/a" }
		END { for (i = 1; i <= n; i++) { k = order[i]
			printf "| %s | %s / %s | %s / %s | %s | %s |\n", k, bm[k], bp[k], dm[k], dp[k], ratio(bm[k], dm[k]), ratio(bp[k], dp[k]) } }' "$runs"
		echo
		echo "#### 4. Concurrency: P processes, 400 SET_VRING_CALL in all (at least 20 each; one message each way), 2 rounds alternated"
		echo
		echo "| P | bridge ops/s | direct ops/s | ratio | bridge median / p99 us | direct median / p99 us | p99 ratio |"
		echo "|---|---|---|---|---|---|---|"
		awk -F'\t' '$1 == "conc" { k = $2 SUBSEP $3; if (!(k in ops) || $4 > ops[k]) { ops[k] = $4; med[k] = $5; p99[k] = $6 }
			if (!seen[$2]++) order[++np] = $2 }
		END { for (i = 1; i <= np; i++) { p = order[i]; b = p SUBSEP "bridge"; d = p SUBSEP "direct"
			printf "| %s | %s | %s | %s | %s / %s | %s / %s | %s |\n", p, ops[b], ops[d],
				(ops[d] > 0 ? sprintf("%.2f", ops[b] / ops[d]) : "n/a"), med[b], p99[b], med[d], p99[d],
				(p99[d] > 0 ? sprintf("%.2f", p99[b] / p99[d]) : "n/a") } }' "$runs"
		echo
		echo "(best round of each; ratio: bridge / direct)"
		echo
		echo "#### 5. Scale: N devices set up and started at once on one daemon (16 VMM processes)"
		echo
		echo "| N | bridge: up | set-up s (devices/s) | slab KiB/device | bridged RSS KiB/device | bridged fds/device | direct: up | set-up s | slab KiB/device |"
		echo "|---|---|---|---|---|---|---|---|---|"
		awk -F'\t' '$1 == "scale" { k = $2 SUBSEP $3; ok[k] = $4; s[k] = $5; slab[k] = $6; rss[k] = $7; fds[k] = $8
			if (!seen[$2]++) order[++np] = $2 }
		function per(v, n) { return n > 0 && v != "-" ? sprintf("%.1f", v / n) : "-" }
		END { for (i = 1; i <= np; i++) { n = order[i]; b = n SUBSEP "bridge"; d = n SUBSEP "direct"
			printf "| %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |\n", n, ok[b], s[b],
				(s[b] > 0 ? sprintf("%.0f", ok[b] / s[b]) : "-"), per(slab[b] / 1024, ok[b]),
				per(rss[b], ok[b]), per(fds[b], ok[b]), ok[d], s[d], per(slab[d] / 1024, ok[d]) } }' "$runs"
		echo
		echo "(slab: every cache of /proc/slabinfo, the whole system: the back-end's and the VMMs' kernel objects too)"
		echo
		echo "#### 6. Profile: 400 SET_VRING_CALL by P processes, each side alone; per request"
		echo
		echo "| daemon | P | side | ops/s | p99 us | daemon CPU us | daemon context switches | back-end CPU us | back-end context switches |"
		echo "|---|---|---|---|---|---|---|---|---|"
		awk -F'\t' '$1 == "prof" { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $9, $2, $3, $4, $10, $5, $6, $7, $8 }' "$runs"
		echo
		echo "The daemon's system calls per request through the bridge (strace -c; the most frequent):"
		echo
		echo "| daemon | P | system calls per request |"
		echo "|---|---|---|"
		awk -F'\t' '$1 == "sys" { k = $5 " | " $2; l[k] = l[k] (l[k] ? ", " : "") $3 " " $4; if (!seen[k]++) order[++n] = k }
			END { for (i = 1; i <= n; i++) printf "| %s | %s |\n", order[i], l[order[i]] }' "$runs"
	} >"$md"

	# JSON: every sample, and the summary table's source
	jq -R -s --arg kernel "$(uname -r)" --arg cpus "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		--argjson reps "$BENCH_REPS" --argjson secs "$BENCH_SECS" \
		--argjson ch "[${ch_med:-null}, ${ch_p99:-null}, ${un_med:-null}, ${un_p99:-null}]" '
		split("\n") | map(select(length > 0) | split("\t")) as $r | {
		kernel: $kernel, cpus: ($cpus | tonumber), loadavg_at_end: $load, reps: $reps, seconds: $secs,
		channel_us: { bridge_median: $ch[0], bridge_p99: $ch[1], unix_median: $ch[2], unix_p99: $ch[3] },
		datapath: [ $r[] | select(.[0] == "data") | { frame: (.[1] | tonumber),
			path: (if .[2] == "b" then "bridge" else "native" end), run: (.[3] | tonumber),
			pps_each_way: (.[4] | tonumber), bridged_cpu_ticks: (.[5] | tonumber),
			ioctls: (.[6] | tonumber), rx_tx_pps: .[7] } ],
		ioctl_us: [ $r[] | select(.[0] == "ctl") | { op: .[1],
			bridge_median: (.[2] | tonumber? // null), bridge_p99: (.[3] | tonumber? // null), bridge_n: (.[4] | tonumber),
			direct_median: (.[5] | tonumber? // null), direct_p99: (.[6] | tonumber? // null), direct_n: (.[7] | tonumber) } ],
		bringup_s: [ $r[] | select(.[0] == "bringup") | { path: (if .[1] == "b" then "bridge" else "native" end),
			seconds: (.[2] | tonumber) } ],
		concurrency: [ $r[] | select(.[0] == "conc") | { procs: (.[1] | tonumber), side: .[2],
			ops_per_s: (.[3] | tonumber), median_us: (.[4] | tonumber), p99_us: (.[5] | tonumber),
			n: (.[6] | tonumber) } ],
		scale: [ $r[] | select(.[0] == "scale") | { devices: (.[1] | tonumber), side: .[2], up: (.[3] | tonumber),
			seconds: (.[4] | tonumber), slab_bytes: (.[5] | tonumber),
			bridged_rss_kb: (.[6] | tonumber? // null), bridged_fds: (.[7] | tonumber? // null) } ],
		qemu_bringup_s: [ $r[] | select(.[0] == "qemu") | { path: (if .[1] == "b" then "bridge" else "native" end),
			seconds: (.[2] | tonumber) } ],
		memtable_us: [ $r[] | select(.[0] == "memt") | { layout: .[1], side: .[2],
			median: (.[3] | tonumber? // null), p99: (.[4] | tonumber? // null), n: (.[5] | tonumber) } ],
		profile: [ $r[] | select(.[0] == "prof") | { procs: (.[1] | tonumber), side: .[2],
			ops_per_s: (.[3] | tonumber? // null), daemon_cpu_us: (.[4] | tonumber), daemon_switches: (.[5] | tonumber),
			backend_cpu_us: (.[6] | tonumber), backend_switches: (.[7] | tonumber), daemon: .[8],
			p99_us: (.[9] | tonumber? // null) } ],
		daemon_syscalls_per_request: [ $r[] | select(.[0] == "sys") | { procs: (.[1] | tonumber), syscall: .[2],
			per_request: (.[3] | tonumber), daemon: .[4] } ]
		}' "$runs" >"$out/bench.json" || fail "bench.json"
	echo "== results ($out/bench.md, bench.json; load average $(cut -d' ' -f1-3 /proc/loadavg))"
	cat "$md"
}
report
exit "$failed"
