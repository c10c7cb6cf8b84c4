#!/bin/bash
# End to end with unmodified QEMU 7.2 as the VMM (nested, TCG, inside the test VM):
#
#   QEMU -netdev tap,vhost=on,vhostfd=20 20<>DEVICE     guest: SeaBIOS + the iPXE ROM of
#        -device virtio-net-pci, memfd share=on RAM     virtio-net doing DHCP (-boot n)
#
# Two runs, the same QEMU command line, only DEVICE differs:
#   vhost-net  DEVICE=/dev/vhost-net: the kernel's vhost-net, the packets go to the tap.
#              The compatibility baseline: proves the harness and QEMU's vhost path.
#   bridge     DEVICE=/dev/vhost-user-bridge, vhost-user-bridged --backend SOCK and
#              unmodified dpdk-testpmd (vhost PMD, macswap) listening on SOCK: the
#              packets must reach testpmd and come back, the tap must see none.
#
# Each run: iPXE opens the NIC (DRIVER_OK: QEMU starts vhost) and sends DHCP discovers
# and IPv6 router solicitations, about 10 packets in 12 s of real time, then gives up and
# resets the NIC.  When its "Configuring" line appears, QEMU is paused over QMP (vhost
# stops: SET_BACKEND -1, GET_VRING_BASE) and the guest's own ring indices are read
# (x-query-virtio-queue-status): the TX ring's used index is exactly how many packets the
# guest sent, the RX ring's how many it received.  They must equal the tap's counters
# (vhost-net) or testpmd's RX and TX counters (bridge).  Then QEMU resumes (vhost starts
# again: QEMU's whole start sequence without SET_OWNER) and must report vhost-started,
# more packets must flow, iPXE resets the NIC (vhost stops), QEMU quits over QMP with
# status 0, and its stderr must hold no vhost error and no "falling back on userspace
# virtio" (QEMU silently moves the data to the tap when vhost fails to start).  The
# bridge run also needs the tap to see nothing, testpmd's RX == TX with nothing dropped,
# testpmd to quit, and the daemon to exit 0 on SIGTERM with no failed ioctl in its log.
#
# QEMU runs under strace -f -tt -T -e trace=ioctl: the vhost ioctl sequence and the
# slowest ioctls are printed, and every log (serial console, QEMU's stderr, QMP, strace,
# testpmd, the daemon) is kept in $VUB_OUT/qemu-e2e/ (build/vm-KREL/qemu-e2e/).
#
# In guest.sh: exit 0 pass, 1 fail, 4 skip (the last line says why: only when the
# daemon has no working --backend).  Other tests source this file for its functions
# (32-iotlb.sh: the same runs with a vIOMMU); set before qe_main, the variables below
# change the machine, the NIC, testpmd's vhost port and where the logs are kept.  Also a guest script of its own, which loads the
# modules, unloads them and prints the VUB_GUEST_DONE marker:
#   VUB_GUEST=$PWD/tests/vm/guest.d/30-e2e-qemu.sh make check-vm KVER=6.12
set -u
qe_self=$(readlink -f "$0")
# The repo, from this file's place (a sourcing script may live elsewhere: tests/vm/libvirt.sh)
qe_top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
qe_build=${VUB_BUILD:-$qe_top/build}
qe_qemu=${QEMU:-qemu-system-x86_64}
qe_runs="vhost-net bridge"
qe_strace=1
qe_tap=tapq0
qe_vfd=20	# the vhostfd= number (also literal in qe_run's redirection)
qe_nic=/machine/peripheral/nic0/virtio-backend
# shellcheck disable=SC2054 # commas: QEMU's option syntax
qe_machine=(-machine pc,graphics=off,memory-backend=mem)	# and devices before the NIC
qe_ram=128M		# -m (31-migrate.sh: a size that is not a multiple of 256 KiB)
# Guest RAM: a shared memfd (27-anon-ram.sh sets none, and a machine without memory-backend)
qe_mem=(-object memory-backend-memfd,id=mem,size=128M,share=on)
qe_mem_what="memfd share=on"
qe_nic_opts=		# more virtio-net-pci properties (",iommu_platform=on")
qe_vhost_opts=		# more net_vhost devargs for testpmd (",iommu-support=1")
qe_keep_dir=qemu-e2e	# under $VUB_OUT
# 1: testpmd may drop echoes on TX (with an IOTLB, DPDK drops a packet whose guest buffer
# has no translation yet instead of waiting for it); the sourcing test accounts for them
qe_tx_drops_ok=0
qe_tp_txdrop=0		# testpmd's TX drops in the bridge run, for the sourcing test
# QEMU 7.2 on vhost trouble (hw/net/virtio-net.c, hw/virtio/vhost*.c, net/tap.c)
qe_bad='vhost|falling back|userspace virtio|Assertion|[Ee]rror'

say() { echo "$*"; }
detail() { echo "    $*"; }
# testpmd helpers (tp_start, tp_cmd, tp_wait, tp_stats, tp_stop, tp_quit), shared with
# the DPDK virtio-user end-to-end test.
# shellcheck source-path=SCRIPTDIR source=../e2e-virtio-user.sh
. "$qe_top/tests/vm/e2e-virtio-user.sh"

qe_now() { local u; read -r u _ </proc/uptime; echo "$u"; }
qe_since() { awk -v a="$1" -v b="$(qe_now)" 'BEGIN { printf "%.1f", b - a }'; }

qe_dir=
qe_pid=		# strace (or QEMU itself): its exit status is QEMU's
qe_cat=		# the reader of QMP's output pipe
qe_qin=		# our end of QMP's input pipe
qe_id=0
qe_ans=
qe_seq= qe_seq_ref=
qe_why=

# End strace (if any) and QEMU, its child.
qe_kill() {
	local kids=
	[ -n "$qe_pid" ] || return 0
	read -r kids <"/proc/$qe_pid/task/$qe_pid/children" 2>/dev/null
	# shellcheck disable=SC2086 # kids: pids
	kill -KILL "$qe_pid" $kids 2>/dev/null
	wait "$qe_pid" 2>/dev/null
	qe_pid=
}

qe_cleanup() {
	qe_kill
	[ -z "$qe_cat" ] || { kill "$qe_cat" 2>/dev/null; wait "$qe_cat" 2>/dev/null; }
	qe_pid= qe_cat=
	[ -z "$qe_qin" ] || exec {qe_qin}>&-
	qe_qin=
	ip link del "$qe_tap" 2>/dev/null
	e2e_cleanup	# testpmd, the daemon, e2e_dir
	e2e_pid=() e2e_daemon_pid= e2e_dir=
}

qe_fail() {
	qe_why=$1
	say "FAIL: $qe_why"
	return 1
}

# Keep what a run left for the host: $VUB_OUT/qemu-e2e/RUN.* (QEMU's serial console,
# stderr, QMP log, strace; testpmd's and the daemon's logs).
qe_keep() {
	local run=$1 dst=${VUB_OUT:-}/$qe_keep_dir f
	[ -n "${VUB_OUT:-}" ] || return 0
	mkdir -p "$dst"
	for f in "$qe_dir/$run".*; do
		[ -f "$f" ] && cp "$f" "$dst/"
	done
	for f in "${e2e_dir:-/nonexistent}"/*.log; do
		[ -f "$f" ] && cp "$f" "$dst/$run.${f##*/}"
	done
	return 0
}

# qmp RUN COMMAND [ARGUMENTS-JSON]: send, wait up to 60 s for the answer (same id)
# and leave it in qe_ans (not printed: an id taken in a subshell would be reused).
# Fails on an error answer.
qmp() {
	local log=$qe_dir/$1.qmp.log id i
	id=$((++qe_id))
	qe_ans=
	printf '{"execute": "%s"%s, "id": %d}\n' "$2" "${3:+, \"arguments\": $3}" "$id" >&"$qe_qin"
	for ((i = 0; i < 600; i++)); do
		qe_ans=$(grep -F "\"id\": $id}" "$log")
		if [ -n "$qe_ans" ]; then
			case $qe_ans in *'"error"'*) return 1 ;; esac
			return 0
		fi
		kill -0 "$qe_pid" 2>/dev/null || break
		sleep 0.1
	done
	qe_ans="no QMP answer to $2"
	return 1
}

# jnum JSON KEY: the number after "KEY": in JSON.
jnum() { grep -o "\"$2\": [0-9]*" <<<"$1" | head -1 | grep -o '[0-9]*$'; }

# ring RUN Q: ring_used, ring_avail: used index and last avail index of virtqueue Q
# (0 RX, 1 TX), QEMU paused.
ring() {
	ring_used= ring_avail=
	qmp "$1" x-query-virtio-queue-status "{\"path\": \"$qe_nic\", \"queue\": $2}" || return 1
	ring_used=$(jnum "$qe_ans" used-idx)
	ring_avail=$(jnum "$qe_ans" last-avail-idx)
}

tapstat() { local n; read -r n <"/sys/class/net/$qe_tap/statistics/$1"; echo "$n"; }

# serial_wait RUN TEXT TIMEOUT_S: until the guest's serial console shows TEXT.
# (Builtins only: every fork is slow in a TCG guest that runs a TCG guest.)
serial_wait() {
	local i con
	for ((i = 0; i < $3 * 5; i++)); do
		IFS= read -r -d '' con <"$qe_dir/$1.serial"
		[[ $con == *"$2"* ]] && return 0
		kill -0 "$qe_pid" 2>/dev/null || { qe_why="QEMU exited before \"$2\" appeared on the guest's console"; return 1; }
		sleep 0.2
	done
	qe_why="no \"$2\" on the guest's console within $3 s"
	return 1
}

# The vhost ioctls QEMU issued on fd $qe_vfd (strace -f -tt -T), one per line:
# "NAME RESULT SECONDS", RESULT 0, a number or an errno name.  strace splits a call
# that another thread interrupts into "<unfinished ...>" and "<... ioctl resumed>".
ioctls() {
	awk -v fd="$qe_vfd" '
		function emit(pid, rest,   r, t) {
			t = rest; sub(/.*</, "", t); sub(/>.*/, "", t)
			r = rest; sub(/.*\) += /, "", r); sub(/ <[0-9.]*>$/, "", r)
			if (r ~ /^-1 E/) { split(r, e, " "); r = e[2] } else sub(/ .*/, "", r)
			print name[pid], r, t
			delete name[pid]
		}
		{ pid = $1 }
		index($0, "ioctl(" fd ", ") {
			s = $0; sub(/.*ioctl\([0-9]+, /, "", s); nm = s; sub(/[,) ].*/, "", nm)
			name[pid] = nm
			if (s !~ /<unfinished/) emit(pid, s)
			next
		}
		/<\.\.\. ioctl resumed>/ && (pid in name) { emit(pid, $0) }' "$qe_dir/$1.strace"
}

# The sequence on one line, consecutive repeats folded ("NAMExN"), failures as NAME=ERR.
ioctl_seq() {
	[ -s "$qe_dir/$1.strace" ] || { echo "(not traced)"; return; }
	ioctls "$1" | awk '{ x = $1 ($2 == "0" ? "" : "=" $2); sub(/^VHOST_/, "", x) }
		x == p { n++; next }
		{ fold(); p = x; n = 1 }
		END { fold(); print out }
		function fold() { if (p != "") { out = out sep p (n > 1 ? "x" n : ""); sep = " " } }'
}

# The slowest three, and the total time spent in them.
ioctl_slow() {
	[ -s "$qe_dir/$1.strace" ] || return
	ioctls "$1" | awk '{ sum += $3; n++ } END { printf "%d ioctls, %.3f s in all; slowest:", n, sum }'
	ioctls "$1" | sort -k3,3gr | head -3 | awk '{ printf " %s %.0f ms", $1, $3 * 1000 }'
	echo
}

# qe_tap_add: tap $qe_tap, new.  It exists before QEMU (which attaches to it) so that
# it is up, without IPv6, when the guest starts: its counters are then exactly the
# guest's packets.
qe_tap_add() {
	ip link del "$qe_tap" 2>/dev/null
	ip tuntap add dev "$qe_tap" mode tap || { qe_fail "ip tuntap add $qe_tap"; return; }
	sysctl -qw "net.ipv6.conf.$qe_tap.disable_ipv6=1"
	ip link set "$qe_tap" up || { qe_fail "ip link set $qe_tap up"; return; }
}

# qe_start RUN DEVICE CPUS [QEMU-ARGS...]: launch QEMU (under strace if qe_strace=1) on
# tap $qe_tap with its vhost fd opened on DEVICE, its QMP on pipes (qe_qin, qe_cat),
# its pid in qe_pid; QEMU-ARGS are added to the command line.
qe_start() {
	local run=$1 dev=$2 cpus=$3
	local -a pre=()
	shift 3
	mkfifo "$qe_dir/$run.qmp.in" "$qe_dir/$run.qmp.out"
	exec {qe_qin}<>"$qe_dir/$run.qmp.in"
	cat <>"$qe_dir/$run.qmp.out" >"$qe_dir/$run.qmp.log" &
	qe_cat=$!
	[ "$qe_strace" = 1 ] && pre=(strace -f -tt -T --seccomp-bpf -e trace=ioctl -e signal=none -o "$qe_dir/$run.strace")
	[ -n "$cpus" ] && pre=(taskset -c "$cpus" "${pre[@]}")
	detail "$qe_qemu -netdev tap,ifname=$qe_tap,vhost=on,vhostfd=$qe_vfd $qe_vfd<>$dev ... (-m $qe_ram $qe_mem_what, -boot n)"
	"${pre[@]}" "$qe_qemu" -accel tcg -smp 1 -m "$qe_ram" \
		-nodefaults -no-user-config -display none \
		"${qe_machine[@]}" "${qe_mem[@]}" \
		-netdev "tap,id=n0,ifname=$qe_tap,script=no,downscript=no,vhost=on,vhostfd=$qe_vfd" \
		-device "virtio-net-pci,netdev=n0,id=nic0,mac=52:54:00:12:34:56$qe_nic_opts" \
		-boot n -serial "file:$qe_dir/$run.serial" \
		-chardev "pipe,id=qmp,path=$qe_dir/$run.qmp" -mon chardev=qmp,mode=control "$@" \
		20<>"$dev" </dev/null >"$qe_dir/$run.stdout" 2>"$qe_dir/$run.stderr" &
	qe_pid=$!
}

# qe_run RUN DEVICE CPUS: one QEMU, start to quit.  Leaves the counters in
# qe_tx qe_rx (guest ring indices at the pause), qe_tap_rx0 qe_tap_tx0 (the tap
# then), qe_tap_rx qe_tap_tx (the tap at the end).
qe_run() {
	local run=$1 dev=$2 cpus=$3 t0 j rc
	qe_rx= qe_tx=
	t0=$(qe_now)
	rm -f "$qe_dir/$run".*
	qe_tap_add || return 1
	qe_start "$run" "$dev" "$cpus"

	qmp "$run" qmp_capabilities || { qe_fail "QMP did not answer: $(tail -3 "$qe_dir/$run.stderr" | tr '\n' ' ')"; return; }
	serial_wait "$run" "Configuring (net0" 240 || { qe_fail "$qe_why"; return; }
	detail "iPXE opened the NIC and is configuring it (DHCP) after $(qe_since "$t0") s"
	# iPXE's DHCP sends about 10 packets in 12 s: pause right away, so that some
	# are left for after the resume; again a little later if none was sent yet.
	for ((qe_pauses = 1; qe_pauses <= 10; qe_pauses++)); do
		qmp "$run" stop || { qe_fail "QMP stop failed"; return; }
		ring "$run" 0 && qe_rx=$ring_used
		ring "$run" 1 && qe_tx=$ring_used j=$ring_avail
		[ -n "$qe_rx" ] && [ -n "$qe_tx" ] || { qe_fail "cannot read the guest's ring indices"; return; }
		[ "$qe_tx" -gt 0 ] && break
		qmp "$run" cont || { qe_fail "QMP cont failed"; return; }
		sleep 0.5
	done
	qe_tap_rx0=$(tapstat rx_packets) qe_tap_tx0=$(tapstat tx_packets)
	detail "paused $(qe_since "$t0") s after start (pause $qe_pauses): the guest had sent $qe_tx packets (TX ring used index; back-end's last avail $j) and received $qe_rx (RX ring used index)"
	detail "tap $qe_tap then: rx_packets $qe_tap_rx0, tx_packets $qe_tap_tx0"
	[ "$qe_tx" -gt 0 ] || { qe_fail "the guest's TX ring is still empty"; return; }
	[ "$j" = "$qe_tx" ] || { qe_fail "TX ring: the back-end's last avail index $j != used index $qe_tx"; return; }
	"$qe_hook" "$run" || return 1
	qmp "$run" cont || { qe_fail "QMP cont failed"; return; }
	qmp "$run" x-query-virtio-status "{\"path\": \"$qe_nic\"}" || { qe_fail "x-query-virtio-status: $qe_ans"; return; }
	j=$qe_ans
	case $j in *'"vhost-started": true'*) ;; *) qe_fail "QEMU does not use vhost after resuming (vhost-started is not true): $(tr -d '\r' <"$qe_dir/$run.stderr" | head -3)"; return ;; esac
	case $j in *VIRTIO_CONFIG_S_DRIVER_OK*) ;; *) qe_fail "the guest has not set DRIVER_OK"; return ;; esac
	detail "resumed: vhost-started true, guest features: $(grep -o '"guest-features": {[^}]*}' <<<"$j" | grep -o 'VIRTIO_[A-Z0-9_]*' | paste -sd ' ')"
	# While vhost runs, QEMU 7.2 answers this with VHOST_GET_VRING_BASE on the running
	# ring (a vhost-user back-end stops the ring for it): the traffic that follows
	# shows that the ring still works.
	ring "$run" 1 || { qe_fail "x-query-virtio-queue-status while running: $qe_ans"; return; }

	serial_wait "$run" "No more network devices" 120 || { qe_fail "$qe_why"; return; }
	detail "iPXE gave up DHCP and reset the NIC after $(qe_since "$t0") s"
	qe_tap_rx=$(tapstat rx_packets) qe_tap_tx=$(tapstat tx_packets)
	qmp "$run" quit
	wait "$qe_pid"
	rc=$?
	qe_pid=
	kill "$qe_cat" 2>/dev/null
	wait "$qe_cat" 2>/dev/null
	qe_cat=
	exec {qe_qin}>&-
	qe_qin=
	ip link del "$qe_tap" 2>/dev/null
	[ "$rc" = 0 ] || { qe_fail "QEMU exited with status $rc after QMP quit"; return; }
	grep -q '"reason": "host-qmp-quit"' "$qe_dir/$run.qmp.log" || { qe_fail "QEMU did not report a QMP quit"; return; }
	detail "QEMU quit over QMP, status 0, $(qe_since "$t0") s after it started"
	qe_seq=$(ioctl_seq "$run")
	detail "vhost ioctls on fd $qe_vfd: $qe_seq"
	detail "$(ioctl_slow "$run")"
	if grep -qE "$qe_bad" "$qe_dir/$run.stderr"; then
		tr -d '\r' <"$qe_dir/$run.stderr" | head -10 | sed 's/^/    qemu: /'
		qe_fail "QEMU's stderr reports vhost trouble"
		return
	fi
	[ -s "$qe_dir/$run.stderr" ] && tr -d '\r' <"$qe_dir/$run.stderr" | head -5 | sed 's/^/    qemu: /'
	return 0
}

# --- vhost-net: the reference -------------------------------------------------------
ref_hook() {
	[ "$qe_tap_rx0" = "$qe_tx" ] ||
		{ qe_fail "the tap received $qe_tap_rx0 packets, the guest sent $qe_tx"; return; }
	[ "$qe_tap_tx0" = "$qe_rx" ] ||
		{ qe_fail "the tap sent $qe_tap_tx0 packets, the guest received $qe_rx"; return; }
}

qe_vhost_net() {
	say "vhost-net (reference): unmodified QEMU with vhostfd=$qe_vfd $qe_vfd<>/dev/vhost-net"
	[ -c /dev/vhost-net ] || { qe_fail "no /dev/vhost-net (modprobe vhost_net)"; return; }
	qe_hook=ref_hook
	qe_run vhost-net /dev/vhost-net "" || return 1
	[ "$qe_tap_rx" -gt "$qe_tap_rx0" ] ||
		{ qe_fail "no packet reached the tap after QEMU resumed ($qe_tap_rx)"; return; }
	qe_seq_ref=$qe_seq
	say "ok vhost-net: guest TX $qe_tx = tap rx_packets $qe_tap_rx0 at the pause; $qe_tap_rx in all after resuming (tap tx_packets $qe_tap_tx)"
}

# --- the bridge ------------------------------------------------------------------------
# Why the bridge run cannot happen, or nothing when it can.
bridge_missing() {
	local d=$qe_build/vhost-user-bridged h
	[ -x "$d" ] || { echo "no $d (make)"; return; }
	h=$("$d" --help 2>&1)
	grep -q -- '--backend PATH' <<<"$h" && ! grep -qiE 'skeleton|not (used|implemented) yet' <<<"$h" ||
		echo "vhost-user-bridged has no working --backend yet ($d --help: $(grep -m1 -- '--backend' <<<"$h" | sed 's/^ *//'))"
}

bridge_hook() {
	local -a s
	read -r -a s <<<"$(tp_stats qbe)" && [ ${#s[@]} = 4 ] || { qe_fail "no stats from testpmd: $e2e_why"; return; }
	qe_tp_rx0=${s[0]} qe_tp_tx0=${s[2]}
	detail "testpmd then: RX-packets $qe_tp_rx0, TX-packets $qe_tp_tx0"
	[ "$qe_tp_rx0" = "$qe_tx" ] || { qe_fail "testpmd received $qe_tp_rx0 packets, the guest sent $qe_tx"; return; }
	[ "$qe_tp_tx0" = "$qe_rx" ] || { qe_fail "testpmd sent $qe_tp_tx0 packets, the guest received $qe_rx"; return; }
	[ "$qe_tap_rx0" = 0 ] || { qe_fail "the tap received $qe_tap_rx0 packets: QEMU's data did not all go through the bridge"; return; }
}

# qe_backend_start SOCK CPU: the bridge's back-end: dpdk-testpmd qbe (vhost PMD listening
# on SOCK, macswap, on CPU) and vhost-user-bridged --verbose --backend SOCK, attached;
# logs in $qe_dir/tp/ (e2e_dir).
qe_backend_start() {
	local sock=$1 cpu_tp=$2 t0 i
	e2e_dir=$qe_dir/tp
	mkdir -p "$e2e_dir"
	rm -rf /run/dpdk/vub-e2e-qbe
	t0=$(qe_now)
	# --no-mlockall: testpmd's default mlockall(MCL_FUTURE) makes it fault in and lock
	# all 128 MiB of guest RAM when it maps it at SET_MEM_TABLE, 3-8 s under TCG.
	tp_start qbe "$cpu_tp" "$cpu_tp" 64 --vdev "net_vhost0,iface=$sock,queues=1,client=0$qe_vhost_opts" -- \
		-i --forward-mode=macswap --port-topology=loop --total-num-mbufs=8192 --nb-cores=1 \
		--no-mlockall
	tp_wait qbe 'testpmd> ' 1 120 || { qe_fail "testpmd: $e2e_why"; return; }
	[ -S "$sock" ] || { qe_fail "testpmd did not create $sock"; return; }
	tp_cmd qbe start
	detail "testpmd listening on $sock after $(qe_since "$t0") s, forwarding in macswap mode"

	"$qe_build/vhost-user-bridged" --verbose --backend "$sock" >"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
		kill -0 "$e2e_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'attached: API version' "$e2e_dir/bridged.log" || { qe_fail "vhost-user-bridged did not attach"; return; }
	detail "$(grep -m1 'attached: API version' "$e2e_dir/bridged.log")"
}

# qe_backend_end, once the VMM closed its device: the daemon released it, testpmd stops
# (qe_tp_end: its RX-packets RX-bytes TX-packets TX-bytes; qe_tp_fwd: forwarded RX,
# dropped, TX, dropped) and quits, and the daemon exits 0 on SIGTERM.
qe_tp_end=() qe_tp_fwd=()
qe_backend_end() {
	local i rc
	local -a s f
	for ((i = 0; i < 100; i++)); do
		grep -q 'released after' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	grep -q 'released after' "$e2e_dir/bridged.log" || { qe_fail "the daemon did not see QEMU's device close"; return; }
	detail "$(grep -m1 -o 'dev [0-9]*: released after.*' "$e2e_dir/bridged.log")"
	tp_stop qbe || { qe_fail "testpmd stop: $e2e_why"; return; }
	read -r -a s <<<"$(tp_stats qbe)" && [ ${#s[@]} = 4 ] || { qe_fail "no stats from testpmd: $e2e_why"; return; }
	read -r -a f <<<"$(awk '/Forward statistics for port 0/ { k = 1 } k && /RX-packets:/ { r = $2; d = $4 }
		k && /TX-packets:/ { t = $2; x = $4; k = 0 } END { print r + 0, d + 0, t + 0, x + 0 }' "${e2e_log[qbe]}")"
	detail "testpmd at the end: RX-packets ${s[0]} (RX-bytes ${s[1]}), TX-packets ${s[2]} (TX-bytes ${s[3]}); forwarded: RX ${f[0]} dropped ${f[1]}, TX ${f[2]} dropped ${f[3]}"
	qe_tp_end=("${s[@]}") qe_tp_fwd=("${f[@]}")
	tp_quit qbe || { qe_fail "testpmd did not quit"; return; }
	kill -TERM "$e2e_daemon_pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$e2e_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$e2e_daemon_pid" 2>/dev/null && { qe_fail "vhost-user-bridged still runs 10 s after SIGTERM"; return; }
	wait "$e2e_daemon_pid"
	rc=$?
	e2e_daemon_pid=
	[ "$rc" = 0 ] || { qe_fail "vhost-user-bridged exited with status $rc after SIGTERM"; return; }
	detail "testpmd quit, vhost-user-bridged exited 0 on SIGTERM: $(grep -m1 -o 'stopped by signal.*' "$e2e_dir/bridged.log")"
}

qe_bridge() {
	local sock=$qe_dir/backend.sock i cpu_tp=0 cpu_q= errs
	local -a s f
	say "bridge: unmodified QEMU with vhostfd=$qe_vfd $qe_vfd<>/dev/vhost-user-bridge, vhost-user-bridged, dpdk-testpmd (vhost PMD, macswap)"
	[ -c /dev/vhost-user-bridge ] || { qe_fail "no /dev/vhost-user-bridge (module not loaded)"; return; }
	[ -x "$e2e_testpmd" ] || { qe_fail "no $e2e_testpmd (make deps)"; return; }
	# testpmd's busy forwarding lcore and its main lcore share CPU 0; QEMU gets CPU 1.
	[ "$(nproc)" -ge 2 ] && cpu_q=1
	qe_backend_start "$sock" "$cpu_tp" || return 1

	qe_hook=bridge_hook
	qe_run bridge /dev/vhost-user-bridge "$cpu_q" || return 1
	[ "$qe_tap_rx" = 0 ] || { qe_fail "the tap received $qe_tap_rx packets: QEMU's data did not all go through the bridge"; return; }

	# QEMU is gone: its device was closed, and testpmd's counters are final.
	qe_backend_end || return 1
	s=("${qe_tp_end[@]}") f=("${qe_tp_fwd[@]}")
	qe_keep bridge

	errs=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
	if [ "$errs" != 0 ]; then
		grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -10 | sed 's/^/    bridged: /'
		qe_fail "$errs ioctls failed in the daemon"
		return
	fi
	[ "${s[0]}" -gt "$qe_tp_rx0" ] || { qe_fail "no packet reached testpmd after QEMU resumed (RX ${s[0]})"; return; }
	# shellcheck disable=SC2034 # read by 32-iotlb.sh
	qe_tp_txdrop=${f[3]}
	if [ "$qe_tx_drops_ok" = 1 ]; then
		[ "${s[0]}" = $((s[2] + f[3])) ] && [ "${f[0]}" = $((f[2] + f[3])) ] && [ "${f[1]}" = 0 ] && [ "${s[2]}" -gt 0 ] ||
			{ qe_fail "testpmd did not echo or drop (TX) every packet: RX ${s[0]} TX ${s[2]}, forwarded RX ${f[0]} TX ${f[2]}, dropped ${f[1]}/${f[3]}"; return; }
	else
		[ "${s[0]}" = "${s[2]}" ] && [ "${f[0]}" = "${f[2]}" ] && [ "${f[1]}" = 0 ] && [ "${f[3]}" = 0 ] ||
			{ qe_fail "testpmd did not echo every packet: RX ${s[0]} TX ${s[2]}, forwarded RX ${f[0]} TX ${f[2]}, dropped ${f[1]}/${f[3]}"; return; }
	fi
	if [ -n "$qe_seq_ref" ]; then
		if [ "$qe_seq" = "$qe_seq_ref" ]; then
			detail "QEMU issued the same vhost ioctls, with the same results, as against vhost-net"
		else
			detail "QEMU's vhost ioctls differ from the vhost-net run's:"
			detail "  vhost-net: $qe_seq_ref"
		fi
	fi
	# What a test that sources this file checks besides (32-iotlb.sh: IOTLB messages).
	if declare -F qe_bridge_extra >/dev/null; then
		qe_bridge_extra || return 1
	fi
	i="${s[2]} echoed in all"
	[ "${f[3]}" = 0 ] || i="${s[2]} of ${s[0]} echoed in all (${f[3]} dropped)"
	say "ok bridge: guest TX $qe_tx = testpmd RX $qe_tp_rx0, testpmd TX $qe_tp_tx0 = guest RX $qe_rx at the pause; $i, tap 0"
}

qe_main() {
	local run missing t0 rc ret=0
	[ "$(id -u)" = 0 ] || { qe_fail "needs root"; return; }
	for b in "$qe_qemu" ip; do
		command -v "$b" >/dev/null || { qe_fail "no $b (make deps)"; return; }
	done
	[ "$qe_strace" = 1 ] && ! command -v strace >/dev/null && qe_strace=0
	[ -c /dev/net/tun ] || { qe_fail "no /dev/net/tun (modprobe tun)"; return; }
	qe_dir=$(mktemp -d /run/vub-qemu.XXXXXX)
	missing=$(bridge_missing)
	for run in $qe_runs; do
		[ "$run" = bridge ] && [ -n "$missing" ] && continue
		t0=$(qe_now)
		"qe_${run//-/_}"
		rc=$?
		qe_keep "$run"
		detail "$run: $(qe_since "$t0") s"
		if [ $rc != 0 ]; then
			for f in "$qe_dir/$run.serial" "$qe_dir/$run.stderr" "$qe_dir/$run.qmp.log" "${e2e_dir:-/nonexistent}"/*.log; do
				[ -s "$f" ] || continue
				echo "--- ${f##*/} (last 25 lines)"
				tail -n 25 "$f" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/^/  /' | cut -c1-240
			done
			ret=1
		fi
		qe_cleanup
	done
	[ $ret = 0 ] || { echo "FAIL"; return 1; }
	if [ -n "$missing" ]; then echo "$missing"; return 4; fi
	echo "PASS"
	return 0
}

# Sourced (27-anon-ram.sh, 31-migrate.sh, 32-iotlb.sh): only the functions.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

# Run as the whole guest script (VUB_GUEST=this file): what guest.sh would do around it.
if [ "${VUB_GUEST:-}" = "$qe_self" ] || [ "${VUB_GUEST:-}" = "$0" ]; then
	echo "# kernel $(uname -r), $(nproc) cpus: ${qe_self#"$qe_top"/} as the guest script"
		modprobe -a tun vhost_net
	insmod "$VUB_KMOD" || echo "insmod $VUB_KMOD failed"
	trap qe_cleanup EXIT
	trap 'exit 1' TERM INT HUP
	t_all=$(qe_now)
	qe_main
	rc=$?
	qe_cleanup
	echo "# $(qe_since "$t_all") s"
	e2e_guest_end "$rc"
fi
trap qe_cleanup EXIT
trap 'exit 1' TERM INT HUP
qe_main
