# shellcheck shell=bash
# End to end through /dev/vhost-user-bridge with unmodified DPDK on both sides:
#
#   dpdk-testpmd "VMM"                 vhost-user-bridged           dpdk-testpmd "back-end"
#   net_virtio_user0,path=/dev/vhost-user-bridge  --backend SOCK    net_vhost0,iface=SOCK
#   (virtio-user picks its vhost-kernel back-end for a misc char device: vhost ioctls)
#
# The VMM forwards in io mode and starts with a few bursts (start tx_first), the
# back-end echoes in io mode, so packets bounce between the two testpmds for
# E2E_SECONDS.  Then the VMM stops sending and drains what is still coming back
# (rxonly), and both print their port counters: VMM TX-packets must equal the
# back-end's RX-packets, the back-end's TX-packets the VMM's RX-packets, and
# both directions must carry at least E2E_MIN packets.
#
# Offloads: the VMM asks for checksum offload both ways and LRO (testpmd
# --rx-offloads/--tx-offloads), so virtio-user acks CSUM, GUEST_CSUM and
# GUEST_TSO4/6 and sets its tap's offloads (TUNSETOFFLOAD) just before
# VHOST_NET_SET_BACKEND, as QEMU does for a Linux guest.  Its VHOST_SET_FEATURES
# has no offload bit (vhost-net knows none): the daemon must learn them from the
# tap, and the back-end's own log ("negotiated Virtio features") must show CSUM
# and GUEST_CSUM.  testpmd's vhost PMD hides HOST_TSO4/6 (no tso=1), so the
# daemon must report those as missing (with HOST_ECN, and HOST_USO where the
# kernel's tap can do USO: 6.2 and later).
#
# With E2E_QUEUES=N (N > 1) both sides have N queue pairs (virtio-user
# queues=N: N vhost devices on one multiqueue tap, which the daemon puts on
# one vhost-user connection as rings 0..2N-1; the back-end's port has
# queues=N) and the counters must match exactly on every queue, each queue
# carrying at least E2E_MIN_Q packets each way.
#
# With E2E_RESTART=1 the back-end is SIGKILLed in the middle of the traffic and
# started again on the same socket; the daemon must notice, reconnect and
# replay the device with no action by the VMM, and traffic must resume.  The
# new back-end's counters then start from zero: every packet it sent must reach
# the VMM (VMM RX since the restart == its TX, exactly), and it must have
# received what the VMM sent since, plus at most one ring of packets that were
# in flight at the kill (taken by the old back-end but not marked used, or
# queued while no back-end ran).
#
# Sourced by tests/vm/guest.d/20-e2e-virtio-user.sh (a test) and
# tests/vm/demo-guest.sh (make demo); runs in the test VM as root with the
# module loaded.  The caller may define say() (plain words) and detail()
# (details) before calling e2e_main; e2e_main returns 0 (pass), 1 (fail) or
# 4 (skip, the reason in $e2e_why).  Measured numbers are left in E2E_*.

E2E_SECONDS=${E2E_SECONDS:-6}	# traffic time
E2E_MIN=${E2E_MIN:-10000}	# packets each way, at least
E2E_BURSTS=${E2E_BURSTS:-4}	# bursts of 32 packets bouncing between the two
E2E_QUEUES=${E2E_QUEUES:-1}	# queue pairs on both sides
E2E_MIN_Q=${E2E_MIN_Q:-1000}	# packets each way on every queue, at least (E2E_QUEUES > 1)
E2E_VMM_MEM=${E2E_VMM_MEM:-64}	# MiB of VMM memory
# A mounted hugetlbfs: the VMM's memory is 2 MiB hugepages there, as DPDK is
# usually run, instead of --no-huge's memfd.  Each memseg list then reaches
# SET_MEM_TABLE as one region: the hugepages in a much larger PROT_NONE
# reservation, which the kernel leaves out of what the back-end gets.
E2E_HUGE_DIR=${E2E_HUGE_DIR:-}
E2E_RESTART=${E2E_RESTART:-0}
# A library the VMM runs with (LD_PRELOAD), e.g. build/libvub_nomemfd.so: no memfd, so
# DPDK's --no-huge memory is private anonymous memory (tests/vm/guest.d/29-...).
E2E_VMM_PRELOAD=${E2E_VMM_PRELOAD:-}
E2E_RING=256			# virtio-user's ring size: packets in flight at most

declare -F say >/dev/null || say() { echo "$*"; }
declare -F detail >/dev/null || detail() { echo "    $*"; }

e2e_why=
e2e_dir=
e2e_daemon_pid=
declare -A e2e_pid e2e_fd e2e_log

e2e_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
e2e_build=${VUB_BUILD:-$e2e_top/build}
e2e_testpmd=${DPDK_TESTPMD:-/usr/bin/dpdk-testpmd}
# The test daemons' request deadline: 5 s below the module's (req_timeout_ms, 30 s; more on
# the debug kernel, tests/vm/run.sh), which under TCG DPDK's mapping of the memory needs.
e2e_daemon_ms=$((${VUB_REQ_TIMEOUT_MS:-30000} - 5000))

# tun/tap interfaces (DPDK's vhost-kernel mode makes one per queue pair).
e2e_taps() {
	local d t=
	for d in /sys/class/net/*; do
		[ -e "$d/tun_flags" ] && t="$t${t:+ }${d##*/}"
	done
	echo "${t:-no tap}"
}

e2e_now() { local u; read -r u _ </proc/uptime; echo "$u"; }
e2e_since() { awk -v a="$1" -v b="$(e2e_now)" 'BEGIN { printf "%.1f", b - a }'; }

# tp_start NAME CPU_MAIN CPU_FWD MEM_MB EAL-ARGS... -- APP-ARGS...: testpmd,
# interactive, stdin from a FIFO we hold open, stdout line-buffered into
# $e2e_dir/NAME.log.
tp_start() {
	local name=$1 main=$2 fwd=$3 mem=$4 fd
	local -a memopt=(--no-huge) pre=()
	shift 4
	[ "$name" = vmm ] && [ -n "$E2E_HUGE_DIR" ] &&
		memopt=(--huge-dir "$E2E_HUGE_DIR" --single-file-segments)
	[ "$name" = vmm ] && [ -n "$E2E_VMM_PRELOAD" ] && pre=(env "LD_PRELOAD=$E2E_VMM_PRELOAD")
	[ -p "$e2e_dir/$name.in" ] || mkfifo "$e2e_dir/$name.in"
	exec {fd}<>"$e2e_dir/$name.in"
	e2e_fd[$name]=$fd
	e2e_log[$name]=$e2e_dir/$name.log
	setsid "${pre[@]}" stdbuf -oL "$e2e_testpmd" --lcores="0@$main,1@$fwd" "${memopt[@]}" --no-pci -m "$mem" \
		--file-prefix="vub-e2e-$name" --log-level=lib.eal:error "$@" \
		<"$e2e_dir/$name.in" >"${e2e_log[$name]}" 2>&1 &
	e2e_pid[$name]=$!
}

tp_cmd() { echo "$2" >&"${e2e_fd[$1]}"; }

# tp_stop NAME: stop forwarding and wait for testpmd's "Done." after its statistics.
tp_stop() {
	local n
	n=$(grep -cF 'Done.' "${e2e_log[$1]}")
	tp_cmd "$1" stop
	tp_wait "$1" 'Done.' $((n + 1)) 30
}

# tp_wait NAME TEXT COUNT TIMEOUT_S: until TEXT occurs COUNT times in NAME's log.
tp_wait() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(grep -cF -- "$2" "${e2e_log[$1]}" 2>/dev/null)" -ge "$3" ] && return 0
		kill -0 "${e2e_pid[$1]}" 2>/dev/null || { e2e_why="$1: testpmd exited"; return 1; }
		sleep 0.1
	done
	e2e_why="$1: no \"$2\" (x$3) in its log within $4 s"
	return 1
}

# tp_stats NAME [PORT]: "RX-packets RX-bytes TX-packets TX-bytes" of port PORT (0),
# from a fresh "show port stats all".
tp_stats() {
	local p=${2:-0} n m
	n=$(grep -c "NIC statistics for port $p " "${e2e_log[$1]}")
	m=$(grep -c 'Tx-pps:' "${e2e_log[$1]}")
	tp_cmd "$1" "show port stats all"
	tp_wait "$1" "NIC statistics for port $p " $((n + 1)) 20 || return 1
	tp_wait "$1" 'Tx-pps:' $((m + p + 1)) 10 || return 1	# ports 0..p printed
	awk -v n=$((n + 1)) -v p="for port $p " '
		/NIC statistics for port / { p0 = index($0, p) > 0; k += p0 }
		k == n && p0 && /RX-packets:/ { rxp = $2; rxb = $6 }
		k == n && p0 && /TX-packets:/ { txp = $2; txb = $6 }
		END { print rxp + 0, rxb + 0, txp + 0, txb + 0 }' "${e2e_log[$1]}"
}

# tp_qstats NAME: "rx tx" good packets of every queue of port 0 ("rx0 tx0 rx1 tx1 ..."),
# from a fresh "show port xstats 0" (the "show port stats all" after it tells when it is complete).
tp_qstats() {
	local n
	n=$(grep -c 'NIC extended statistics for port 0' "${e2e_log[$1]}")
	tp_cmd "$1" "show port xstats 0"
	tp_stats "$1" >/dev/null || return 1
	awk -v n=$((n + 1)) -v q="$E2E_QUEUES" '
		/NIC extended statistics for port 0/ { k++ }
		k == n && match($1, /^(rx|tx)_q[0-9]+_good_packets:$/) { v[$1] = $2 }
		END { for (i = 0; i < q; i++)
			printf "%d %d ", v["rx_q" i "_good_packets:"], v["tx_q" i "_good_packets:"]
		      print "" }' "${e2e_log[$1]}"
}

tp_quit() {
	local name=$1 i
	[ -n "${e2e_pid[$name]:-}" ] || return 0
	tp_cmd "$name" "quit" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "${e2e_pid[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "${e2e_pid[$name]}" 2>/dev/null; then
		kill -KILL -- "-${e2e_pid[$name]}" 2>/dev/null
		wait "${e2e_pid[$name]}" 2>/dev/null
		unset "e2e_pid[$name]"
		return 1
	fi
	wait "${e2e_pid[$name]}" 2>/dev/null
	unset "e2e_pid[$name]"
	return 0
}

e2e_cleanup() {
	local name
	for name in "${!e2e_pid[@]}"; do
		kill -KILL -- "-${e2e_pid[$name]}" 2>/dev/null
		wait "${e2e_pid[$name]}" 2>/dev/null
	done
	if [ -n "$e2e_daemon_pid" ]; then
		kill -KILL "$e2e_daemon_pid" 2>/dev/null
		wait "$e2e_daemon_pid" 2>/dev/null
	fi
	rm -rf /run/dpdk/vub-e2e-*
	[ -z "$e2e_dir" ] || rm -rf "$e2e_dir"
	[ -z "${E2E_INSTANCE:-}" ] || [ ! -e "/dev/vhost-user-bridge-$E2E_INSTANCE" ] ||
		"$e2e_build/vubctl" instance del "$E2E_INSTANCE" --force 2>/dev/null
}

# On failure: the tail of every log, for the test output.
e2e_dump() {
	local f
	for f in "$e2e_dir"/*.log; do
		[ -e "$f" ] || continue
		echo "--- ${f##*/} (last 30 lines)"
		tail -n 30 "$f" | tr -d '\r' | sed 's/^/  /'
	done
}

# e2e_guest_end RC: the end of a test run as the whole guest script (VUB_GUEST=that script):
# the module unloads, the kernel log is kept and judged, and the marker run.sh waits for.
e2e_guest_end() {
	local rc=$1
	for _ in $(seq 20); do rmmod vhost_user_bridge 2>/dev/null && break; sleep 0.5; done
	grep -q '^vhost_user_bridge ' /proc/modules && { echo "FAIL: rmmod vhost_user_bridge"; rc=1; }
	dmesg >"$VUB_OUT/dmesg.txt"
	grep -E "$VUB_DMESG_BAD" "$VUB_OUT/dmesg.txt" && { echo "FAIL: kernel log"; rc=1; }
	echo "# VUB_GUEST_DONE: rc $rc"
	exit "$rc"
}

e2e_fail() {
	e2e_why=${1:-$e2e_why}
	say "FAILED: $e2e_why"
	e2e_dump
	return 1
}

# With E2E_INSTANCE=NAME the VMM uses the named instance
# /dev/vhost-user-bridge-NAME, bound to the back-end's socket with vubctl, and
# the daemon's own --backend is a socket nobody listens on: the traffic can
# only flow if the instance's socket is used.  vubctl must then show the
# device with its counters while it runs.
e2e_instance_add() {	# SOCK
	"$e2e_build/vubctl" instance add "$E2E_INSTANCE" --socket "$1" ||
		{ e2e_fail "vubctl instance add $E2E_INSTANCE failed"; return 1; }
	e2e_node=/dev/vhost-user-bridge-$E2E_INSTANCE
	[ -c "$e2e_node" ] || { e2e_fail "no $e2e_node after vubctl instance add"; return 1; }
	detail "$("$e2e_build/vubctl" instance show "$E2E_INSTANCE")"
}

e2e_instance_check() {	# while the VMM's device is up
	local j

	say "What an administrator sees: vubctl device list"
	"$e2e_build/vubctl" device list | sed 's/^/  /'
	j=$("$e2e_build/vubctl" -j device list) || { e2e_fail "vubctl device list failed"; return 1; }
	jq -e --arg n "$E2E_INSTANCE" 'map(select(.instance == $n)) | length == 1 and
		(.[0] | .state == "owned" and .backend == "connected" and .rings == 3 and .mem_regions >= 1 and
		 .ioctls >= 10 and .errors == 0 and .latency.count >= 10 and
		 .backend_features % 4 == 3 and
		 (.offloads_missing == 14336 or .offloads_missing == 72057594037942272))' <<<"$j" >/dev/null ||
		{ e2e_fail "vubctl does not show the VMM's device on instance $E2E_INSTANCE as owned, back-end connected with CSUM and GUEST_CSUM, HOST_TSO4/6 and HOST_ECN (and HOST_USO) missing, both rings attached, no errors: $j"; return 1; }
}

# The offloads the VMM agreed on with its tap reached the back-end: testpmd's
# vhost library logs what it negotiated.  Bits: CSUM 0, GUEST_CSUM 1,
# GUEST_TSO4 7, GUEST_TSO6 8.
e2e_offloads() {
	local f vmmf

	detail "the daemon read the VMM's tap: $(grep -o 'ring 0: tap .*' "$e2e_dir/bridged.log" | tail -1)"
	vmmf=$(grep -o 'VHOST_SET_FEATURES 0x[0-9a-f]*' "$e2e_dir/bridged.log" | tail -1)
	f=$(grep -o 'negotiated Virtio features: 0x[0-9a-f]*' "${e2e_log[be]}" | tail -1 | awk '{ print $NF }')
	[ -n "$f" ] || { e2e_fail "the back-end logged no negotiated Virtio features"; return 1; }
	detail "the VMM sent $vmmf (vhost-net knows no offload); the back-end negotiated $f"
	detail "$(grep -o 'back-end features 0x.*' "$e2e_dir/bridged.log" | tail -1)"
	E2E_BRIDGE_FEATURES=$f
	(( (f & 0x183) == 0x183 )) ||
		{ e2e_fail "the back-end negotiated $f: not CSUM GUEST_CSUM GUEST_TSO4 GUEST_TSO6 (0x183), which the VMM agreed on with its tap"; return 1; }
	grep -Eq 'the guest may use HOST_TSO4 HOST_TSO6 HOST_ECN( HOST_USO)?, which the back-end does not offer' "$e2e_dir/bridged.log" ||
		{ e2e_fail "the daemon did not log HOST_TSO4/6 (not offered by testpmd without tso=1) as missing"; return 1; }
}

# With E2E_NATIVE=1: the same VMM over native vhost-user (virtio-user with the
# back-end's socket as its path) to the same back-end, for comparison: the
# offloads the bridge negotiated must include every one the native path does.
e2e_native() {
	local n f off=$((0x7fc3 | 0x7 << 54))	# the virtio-net offload bits

	say "For comparison: the same VMM over native vhost-user (path=$1) to the same back-end"
	n=$(grep -c 'negotiated Virtio features' "${e2e_log[be]}")
	tp_start native 1 0 64 --vdev "net_virtio_user0,path=$1,queues=1" -- \
		-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1 \
		--rx-offloads=0x1c --tx-offloads=0xc
	tp_wait native 'testpmd> ' 1 90 || { e2e_fail; return 1; }
	tp_wait be 'negotiated Virtio features' $((n + 1)) 30 || { e2e_fail; return 1; }
	f=$(grep -o 'negotiated Virtio features: 0x[0-9a-f]*' "${e2e_log[be]}" | tail -1 | awk '{ print $NF }')
	tp_quit native || { e2e_fail "the native VMM testpmd did not quit"; return 1; }
	detail "native vhost-user: the back-end negotiated $f (offloads $(printf '%#x' $((f & off)))); through the bridge: $E2E_BRIDGE_FEATURES (offloads $(printf '%#x' $((E2E_BRIDGE_FEATURES & off))))"
	(( (f & off & ~E2E_BRIDGE_FEATURES) == 0 )) ||
		{ e2e_fail "native vhost-user negotiated offloads $(printf '%#x' $((f & off & ~E2E_BRIDGE_FEATURES))) that the bridge did not"; return 1; }
}

# On hugepages: the regions DPDK sent span its memseg lists, the pieces the
# back-end got only the hugepages (at least E2E_VMM_MEM MiB).
e2e_holes_check() {
	local line sz regions=0 pieces

	line=$(grep -m1 ': VHOST_SET_MEM_TABLE ' "$e2e_dir/bridged.log")
	for sz in $(grep -o ' size=0x[0-9a-f]*' <<<"$line" | cut -d= -f2); do
		regions=$((regions + sz))
	done
	pieces=$(grep -o 'pieces of [0-9]* bytes' <<<"$line" | cut -d' ' -f3)
	detail "regions: $((regions >> 20)) MiB of address space; pieces handed to the back-end: $((${pieces:-0} >> 20)) MiB"
	[ -n "$pieces" ] && [ "$pieces" -ge $((E2E_VMM_MEM << 20)) ] && [ "$pieces" -lt "$regions" ] ||
		{ e2e_fail "expected the memseg lists' reservations to be left out: $line"; return 1; }
}

# The counters agree: exactly, or after a restart as E2E_RESTART says (the
# VMM's since the restart, rx0/tx0, against the new back-end's).
e2e_settled() {
	local d=$((b[0] - (v[2] - tx0)))
	[ "${b[2]}" = $((v[0] - rx0)) ] || return 1
	[ "$E2E_RESTART" = 1 ] && [ "$d" -ge 0 ] && [ "$d" -le "$E2E_RING" ] && return 0
	[ "$d" = 0 ]
}

# E2E_RESTART: kill the back-end, note the VMM's counters once nothing moves,
# start a new back-end on the same socket and wait for the daemon to replay
# the device onto it.  Sets e2e_off (the VMM's "RX TX" at the restart).
e2e_restart_backend() {	# SOCK EAL/APP-ARGS...
	local sock=$1 i
	local -a v0
	shift
	say "Killing the back-end (SIGKILL) while traffic flows"
	kill -KILL "${e2e_pid[be]}"
	wait "${e2e_pid[be]}" 2>/dev/null
	unset "e2e_pid[be]"
	for ((i = 0; i < 100; i++)); do
		grep -q 'lost the connection to the back-end' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	detail "the daemon: $(grep -m1 -o 'lost the connection to the back-end.*' "$e2e_dir/bridged.log" ||
		echo 'noticed nothing')"
	sleep 2
	read -r -a v0 <<<"$(tp_stats vmm)" && [ ${#v0[@]} = 4 ] || { e2e_fail; return 1; }
	e2e_off="${v0[0]} ${v0[2]}"
	detail "VMM counters with no back-end: RX ${v0[0]} TX ${v0[2]}"
	say "Starting a new back-end on the same socket; the VMM does nothing"
	rm -f "$sock" "$e2e_dir/be.log"
	tp_start be "$@"
	tp_wait be 'testpmd> ' 1 90 || { e2e_fail; return 1; }
	tp_cmd be start
	for ((i = 0; i < 300; i++)); do
		grep -q 'reconnected to the back-end' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	grep -q 'reconnected to the back-end' "$e2e_dir/bridged.log" ||
		{ e2e_fail "the daemon did not reconnect to the new back-end within 30 s"; return 1; }
	detail "the daemon: $(grep -m1 -o 'reconnected to the back-end.*' "$e2e_dir/bridged.log")"
}

# e2e_need: root, testpmd, the daemon, the module's node and a tun device, or 4 (skip)
# with e2e_why saying which is missing.
e2e_need() {
	[ "$(id -u)" = 0 ] || { e2e_why="needs root"; return 4; }
	[ -x "$e2e_testpmd" ] || { e2e_why="no $e2e_testpmd (apt-get install dpdk-dev)"; return 4; }
	[ -x "$e2e_build/vhost-user-bridged" ] || { e2e_why="no $e2e_build/vhost-user-bridged (make)"; return 4; }
	[ -c /dev/vhost-user-bridge ] || { e2e_why="no /dev/vhost-user-bridge (module not loaded)"; return 4; }
	[ -c /dev/net/tun ] || { e2e_why="no /dev/net/tun (virtio-user's vhost-kernel mode needs a tap)"; return 4; }
}

e2e_main() {
	local sock t0 t vmm be mem n i backend qs e2e_off="0 0" rx0 tx0
	local -a v b vq bq beargs

	e2e_need || return
	e2e_dir=$(mktemp -d /run/vub-e2e.XXXXXX)
	sock=$e2e_dir/backend.sock
	backend=$sock
	e2e_node=/dev/vhost-user-bridge
	rm -rf /run/dpdk/vub-e2e-*
	t0=$(e2e_now)

	qs="--rxq=$E2E_QUEUES --txq=$E2E_QUEUES"
	say "Starting the back-end: unmodified dpdk-testpmd with DPDK's vhost-user PMD, listening on $sock ($E2E_QUEUES queue pairs)"
	# shellcheck disable=SC2206
	beargs=(0 1 256 --vdev "net_vhost0,iface=$sock,queues=$E2E_QUEUES,client=0" --
		-i --forward-mode=io --port-topology=loop --total-num-mbufs=8192 --nb-cores=1 $qs)
	tp_start be "${beargs[@]}"
	tp_wait be 'testpmd> ' 1 90 || { e2e_fail; return; }
	[ -S "$sock" ] || { e2e_fail "the back-end did not create $sock"; return; }
	tp_cmd be start
	detail "back-end up after $(e2e_since "$t0") s (DPDK start-up under TCG is slow), forwarding in io mode"

	if [ -n "${E2E_INSTANCE:-}" ]; then
		say "Binding instance $E2E_INSTANCE to $sock: vubctl instance add $E2E_INSTANCE --socket $sock"
		e2e_instance_add "$sock" || return
		backend=$e2e_dir/nobody-listens.sock
	fi
	say "Starting the bridge daemon: vhost-user-bridged --backend $backend"
	"$e2e_build/vhost-user-bridged" --verbose --timeout "$e2e_daemon_ms" --backend "$backend" \
		>"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
		kill -0 "$e2e_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'attached: API version' "$e2e_dir/bridged.log" ||
		{ e2e_fail "vhost-user-bridged did not attach to the kernel"; return; }
	detail "$(grep -m1 'attached: API version' "$e2e_dir/bridged.log")"

	say "Starting the VMM: unmodified dpdk-testpmd with net_virtio_user0,path=$e2e_node,queues=$E2E_QUEUES"
	t=$(e2e_now)
	# The back-end maps all of the guest memory (MAP_POPULATE).
	# rx: UDP/TCP checksum (GUEST_CSUM) and LRO (GUEST_TSO4/6); tx: UDP/TCP checksum (CSUM)
	# shellcheck disable=SC2086
	tp_start vmm 1 0 "$E2E_VMM_MEM" --vdev "net_virtio_user0,path=$e2e_node,queues=$E2E_QUEUES" -- \
		-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1 \
		--rx-offloads=0x1c --tx-offloads=0xc $qs
	tp_wait vmm 'testpmd> ' 1 90 || { e2e_fail; return; }
	tp_wait be 'Port 0: link state change event' 1 30 ||
		{ e2e_fail "the back-end never saw the VMM's device come up"; return; }
	detail "VMM up after $(e2e_since "$t") s.  DPDK took $e2e_node for a vhost-net device (a misc char device) and created $(e2e_taps) for it, unused for data"
	detail "the VMM's vhost ioctls, as the daemon received them: $(grep -o ': VHOST_[A-Z_]*' "$e2e_dir/bridged.log" |
		cut -c3- | uniq -c | awk '{ printf "%s%s%s", n++ ? ", " : "", $2, ($1 > 1 ? " x" $1 : "") }')"
	if [ "$E2E_QUEUES" = 1 ]; then
		detail "the daemon opened one vhost-user connection for the VMM's device: $(grep -m1 -o 'connected to the back-end.*' "$e2e_dir/bridged.log")"
	else
		detail "the VMM opened $(grep -c 'new device of VMM pid' "$e2e_dir/bridged.log") devices, one per queue pair; the daemon put them on one vhost-user connection:"
		grep -o 'pair [0-9]* of the NIC .*' "$e2e_dir/bridged.log" | sed 's/^/      /'
		detail "the back-end saw $(grep -c 'new vhost user connection' "${e2e_log[be]}") connections (one per device, before the daemon knew they are one NIC); only the NIC's started rings"
	fi
	e2e_offloads || return
	mem=$(awk '/memfd:nohuge/ && $2 ~ /s$/ { print $1, $2, $6 }' "/proc/${e2e_pid[vmm]}/maps" | head -1)
	[ -n "$mem" ] && detail "VMM memory: DPDK's --no-huge memory is a shared memfd: $mem"
	if [ -n "$E2E_HUGE_DIR" ]; then
		# the first memseg list's hugepages (one mapping each) and what follows
		# them: the rest of the list, reserved
		mem=$(awk -v d="$E2E_HUGE_DIR/" '
			index($0, d) { split($1, a, "-"); if (!n++) { s = a[1]; f = $6 }; e = a[2]; next }
			n { printf "%d mappings of %s (rw-s) at %s-%s, then %s %s %s", n, f, s, e,
				$1, $2, ($6 == "" ? "(anonymous)" : $6); exit }' "/proc/${e2e_pid[vmm]}/maps")
		[ -n "$mem" ] || { e2e_fail "the VMM has no hugepages of $E2E_HUGE_DIR mapped"; return; }
		detail "VMM memory: 2 MiB hugepages: $mem"
	fi
	detail "the kernel handed it over as: $(grep -m1 -o 'VHOST_SET_MEM_TABLE .* fds \[[0-9 ]*\] -> [A-Z0-9]*' "$e2e_dir/bridged.log")"
	if [ -n "$E2E_HUGE_DIR" ]; then
		e2e_holes_check || return
	fi

	say "Traffic: the VMM sends $E2E_BURSTS bursts of 32 packets; both sides forward every packet back, for $E2E_SECONDS s"
	tp_cmd vmm "start tx_first $E2E_BURSTS"
	sleep "$E2E_SECONDS"
	if [ "$E2E_RESTART" = 1 ]; then
		e2e_restart_backend "$sock" "${beargs[@]}" || return
		say "Traffic through the new back-end for $E2E_SECONDS s"
		sleep "$E2E_SECONDS"
	fi
	read -r rx0 tx0 <<<"$e2e_off"
	tp_stop vmm || { e2e_fail; return; }
	# What is still in flight comes back to the VMM: receive it without answering.
	tp_cmd vmm "set fwd rxonly"
	for ((n = 1; n <= 3; n++)); do
		tp_cmd vmm start
		sleep 2
		tp_stop vmm || { e2e_fail; return; }
		# (no process substitution: the VM's /dev has no /dev/fd)
		read -r -a v <<<"$(tp_stats vmm)" && [ ${#v[@]} = 4 ] || { e2e_fail; return; }
		read -r -a b <<<"$(tp_stats be)" && [ ${#b[@]} = 4 ] || { e2e_fail; return; }
		e2e_settled && break
		detail "counters not settled yet (VMM TX ${v[2]} / back-end RX ${b[0]}, back-end TX ${b[2]} / VMM RX ${v[0]}): draining again"
	done
	if [ "$E2E_QUEUES" -gt 1 ]; then
		read -r -a vq <<<"$(tp_qstats vmm)" && [ ${#vq[@]} = $((2 * E2E_QUEUES)) ] || { e2e_fail; return; }
		read -r -a bq <<<"$(tp_qstats be)" && [ ${#bq[@]} = $((2 * E2E_QUEUES)) ] || { e2e_fail; return; }
	fi
	tp_stop be || { e2e_fail; return; }
	if [ -n "${E2E_INSTANCE:-}" ]; then
		e2e_instance_check || return
	fi
	E2E_VMM_TX=${v[2]} E2E_VMM_RX=${v[0]} E2E_BE_RX=${b[0]} E2E_BE_TX=${b[2]}
	E2E_VMM_TXB=${v[3]} E2E_VMM_RXB=${v[1]} E2E_BE_RXB=${b[1]} E2E_BE_TXB=${b[3]}
	say "Counted at both ends:"
	say "  VMM      TX-packets ${v[2]}  ->  back-end RX-packets ${b[0]}"
	say "  back-end TX-packets ${b[2]}  ->  VMM      RX-packets ${v[0]}"
	detail "bytes: VMM TX ${v[3]} / back-end RX ${b[1]}, back-end TX ${b[3]} / VMM RX ${v[1]}"
	[ "$E2E_RESTART" = 1 ] &&
		say "  since the restart: VMM TX $((v[2] - tx0)) (+$((b[0] - v[2] + tx0)) queued or taken but not used at the kill) -> new back-end RX ${b[0]}; its TX ${b[2]} -> VMM RX $((v[0] - rx0))"
	E2E_QUEUE_COUNTS=
	for ((i = 0; i < E2E_QUEUES && E2E_QUEUES > 1; i++)); do
		say "  queue $i: VMM TX ${vq[2 * i + 1]} -> back-end RX ${bq[2 * i]}, back-end TX ${bq[2 * i + 1]} -> VMM RX ${vq[2 * i]}"
		E2E_QUEUE_COUNTS="$E2E_QUEUE_COUNTS${E2E_QUEUE_COUNTS:+, }q$i ${vq[2 * i + 1]}/${vq[2 * i]}"
	done
	detail "$(awk -v p="${v[2]}" -v q="${v[0]}" -v s="$E2E_SECONDS" 'BEGIN { printf "about %.0f packets/s each way under TCG", (p + q) / 2 / s }')"

	say "Shutting down: the VMM quits (its device stops and closes), then the back-end and the daemon"
	tp_quit vmm || { e2e_fail "the VMM testpmd did not quit"; return; }
	for ((i = 0; i < 50; i++)); do
		grep -q 'released after' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	grep -q 'released after' "$e2e_dir/bridged.log" || { e2e_fail "the daemon never saw the device close"; return; }
	detail "$(grep -m1 -o 'dev [0-9]*: released after.*' "$e2e_dir/bridged.log")"
	if [ "${E2E_NATIVE:-0}" = 1 ]; then
		e2e_native "$sock" || return
	fi
	tp_quit be || { e2e_fail "the back-end testpmd did not quit"; return; }
	kill -TERM "$e2e_daemon_pid"
	wait "$e2e_daemon_pid"
	i=$?
	e2e_daemon_pid=
	[ "$i" = 0 ] || { e2e_fail "vhost-user-bridged exited with status $i after SIGTERM"; return; }
	detail "$(grep -m1 -o 'stopped by signal.*' "$e2e_dir/bridged.log")"
	E2E_TIME=$(e2e_since "$t0")

	# Verdict.
	vmm=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
	if [ "$vmm" != 0 ]; then
		grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -5 | sed 's/^/  /'
		e2e_fail "$vmm ioctls failed in the daemon"
		return
	fi
	e2e_settled ||
		{ e2e_fail "counters differ: VMM TX ${v[2]} (since the restart: $((v[2] - tx0))) vs back-end RX ${b[0]}, back-end TX ${b[2]} vs VMM RX ${v[0]} (since the restart: $((v[0] - rx0)))"; return; }
	be=$((v[2] - tx0 < v[0] - rx0 ? v[2] - tx0 : v[0] - rx0))
	[ "$be" -ge "$E2E_MIN" ] || { e2e_fail "only $be packets in one direction (want >= $E2E_MIN)"; return; }
	for ((i = 0; i < E2E_QUEUES && E2E_QUEUES > 1; i++)); do
		[ "${vq[2 * i + 1]}" = "${bq[2 * i]}" ] && [ "${bq[2 * i + 1]}" = "${vq[2 * i]}" ] ||
			{ e2e_fail "queue $i: counters differ: VMM TX ${vq[2 * i + 1]} vs back-end RX ${bq[2 * i]}, back-end TX ${bq[2 * i + 1]} vs VMM RX ${vq[2 * i]}"; return; }
		[ "${vq[2 * i + 1]}" -ge "$E2E_MIN_Q" ] && [ "${vq[2 * i]}" -ge "$E2E_MIN_Q" ] ||
			{ e2e_fail "queue $i carried only ${vq[2 * i + 1]} / ${vq[2 * i]} packets (want >= $E2E_MIN_Q each way)"; return; }
	done
	if [ "$E2E_QUEUES" -gt 1 ]; then
		n=$(grep -c 'joins the NIC.s connection' "$e2e_dir/bridged.log")
		[ "$n" = $((E2E_QUEUES - 1)) ] ||
			{ e2e_fail "$n devices joined the NIC's connection, want $((E2E_QUEUES - 1))"; return; }
		# Every device connected on its own first (before its tap told which NIC
		# it is a pair of); the provisional connections never started a ring, so
		# the back-end's port kept the one device whose queues counted above.
		n=$(grep -c 'new vhost user connection' "${e2e_log[be]}")
		[ "$n" = "$E2E_QUEUES" ] ||
			{ e2e_fail "the back-end saw $n vhost-user connections, want $E2E_QUEUES (one per VMM device)"; return; }
	fi
	if [ -n "${E2E_INSTANCE:-}" ]; then
		"$e2e_build/vubctl" instance del "$E2E_INSTANCE" ||
			{ e2e_fail "vubctl instance del $E2E_INSTANCE failed once the VMM was gone"; return; }
		[ ! -e "$e2e_node" ] || { e2e_fail "$e2e_node is still there after vubctl instance del"; return; }
	fi
	say "PASS: every packet the VMM sent through $e2e_node reached testpmd, and every echo came back (${E2E_TIME} s in all)"
	return 0
}
e2e_until() {	# SECONDS COMMAND...: COMMAND every 0.1 s until it succeeds; false after SECONDS
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
