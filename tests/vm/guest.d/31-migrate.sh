#!/bin/bash
# Live migration of a running guest with unmodified QEMU 7.2 at both ends (nested, TCG,
# inside the test VM), the iPXE guest of 30-e2e-qemu.sh (whose functions this sources):
#
#   source  QEMU -netdev tap,vhost=on,vhostfd=20 20<>SRC   (tap tapm0)  -- migrate unix: -->
#   dest    QEMU ... 20<>DST -incoming unix:... -S          (tap tapm1)
#
# Two runs, each a whole migration:
#   vhost-net  SRC = DST = /dev/vhost-net: the reference; frames sent into tapm0 (AF_PACKET,
#              1000/s) reach the guest.
#   bridge     SRC /dev/vhost-user-bridge (the daemon's --backend, testpmd port 0), DST
#              /dev/vhost-user-bridge-vubmig (instance vubmig, testpmd port 1): each QEMU's
#              device has its own vhost-user connection and the two overlap (the
#              destination's is set up when it starts, the source's ends when it quits), so
#              they go to two ports of one unmodified dpdk-testpmd (vhost PMD; DPDK's vhost
#              PMD port serves one connection's rings at a time).  testpmd forwards in
#              flowgen mode: it fills every receive buffer the guest posts, and counts
#              (and drops) what the guest sends.
#
# The guest keeps its NIC open: the test enters iPXE's shell (Ctrl-B, QMP send-key) and
# types "ifopen net0"; iPXE then polls the NIC and posts receive buffers for as long as the
# shell waits, and the back-end keeps filling them.  The source migrates with max-bandwidth
# 1 MiB/s and a downtime limit of 1 ms, so that it stops the guest only when a sync finds no
# dirty page; if a poll sees the first pass over (dirty-sync-count 2) and MIG_TRAFFIC more
# packets delivered, the limits are lifted.  The migration must reach "completed" with at
# least MIG_TRAFFIC packets written into the guest while it ran (how many after the first
# pass is shown when a poll saw it: a loaded host often converges between two polls).
# Then, both QEMUs stopped (the source "postmigrate", the destination "paused": -S):
# - the guest's RAM (each QEMU's memfd) must be the same at both ends, byte for byte;
# - the source's rings (x-query-virtio-queue-status) must account for every packet its
#   back-end counted (RX ring used index == packets it sent to the guest, TX ring's ==
#   packets it received), and the destination's rings must be where the source's stopped.
# The source quits (the bridge: the daemon releases its device), the destination resumes
# (vhost-started), the test types "dhcp" (the guest sends), and once its back-end has
# carried packets both ways it is stopped again: its rings must have moved on by exactly
# what its back-end counted (the bridge: less the one RARP DPDK made for SEND_RARP, which
# testpmd counts as received).  Both QEMUs quit with status 0, their stderr free of vhost
# errors; the source QEMU issued VHOST_SET_LOG_BASE (strace).  The bridge run also needs
# VHOST_USER_SET_LOG_BASE in testpmd's log, nothing on the taps but the destination's
# self-announce (announce-rounds RARPs QEMU writes into tapm1 when it resumes), that
# announce carried to the back-end: the daemon's "forwarded the VMM's RARP for MAC
# 52:54:00:12:34:56 to the back-end (SEND_RARP)" and testpmd's "read message
# VHOST_USER_SEND_RARP", testpmd to quit, the daemon to exit 0 on SIGTERM with no failed
# request.  Logs: $VUB_OUT/migrate/qemu-e2e/.
#
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
# VUB_TEST_TIMEOUT=1500
set -u
mg_runs=${MIG_RUNS:-"vhost-net bridge"}
MIG_TRAFFIC=${MIG_TRAFFIC:-10}	# packets into the guest after the first pass, at least
# shellcheck source-path=SCRIPTDIR source=30-e2e-qemu.sh
. "$(dirname "$0")/30-e2e-qemu.sh"
# The guest's RAM: not a multiple of 256 KiB (64 pages), by default 128 MiB less 8 KiB.
# QEMU 7.2 (before 9.0's "physmem: Fix migration dirty bitmap coherency with TCG memory
# access") syncs a RAM block of whole 64-page words with a fast path that clears the
# migration's dirty bits without resetting the TCG TLB: the guest CPU's later stores
# through a TLB entry already marked dirty are not logged, so now and then a page the
# guest itself wrote (iPXE's receive buffers, freed and allocated as packets arrive) is
# not sent again, through vhost-net as much as through the bridge.  A block of another
# length takes the per-page path, which resets the TLB.  MIG_RAM=128M shows the bug.
qe_ram=${MIG_RAM:-131064K}
qe_mem=(-object "memory-backend-memfd,id=mem,size=$qe_ram,share=on")
mg_inst=vubmig
mg_flood=
mg_announce=0	# frames QEMU wrote into the destination's tap when the migration ended
declare -A mg_pid mg_qin mg_cat

# at FUNC RUN ARGS...: FUNC (qmp, ring, serial_wait) on QEMU RUN (its pid and QMP pipe).
at() {
	local qe_pid=${mg_pid[$2]} qe_qin=${mg_qin[$2]}
	"$@"
}

# mg_start RUN DEVICE TAP [QEMU-ARGS...]: QEMU RUN on a new TAP, vhost fd on DEVICE.
mg_start() {
	local run=$1 dev=$2 qe_tap=$3 qe_pid qe_qin qe_cat
	shift 3
	rm -f "$qe_dir/$run".*
	: >"$qe_dir/$run.qmp.log"
	qe_tap_add || return 1
	qe_start "$run" "$dev" "$mg_cpu" "$@"
	mg_pid[$run]=$qe_pid mg_qin[$run]=$qe_qin mg_cat[$run]=$qe_cat
	at qmp "$run" qmp_capabilities || qe_fail "$run: QMP did not answer: $(tail -3 "$qe_dir/$run.stderr" | tr '\n' ' ')"
}

# mg_quit RUN: QMP quit, QEMU must exit with status 0.
mg_quit() {
	local run=$1 rc
	at qmp "$run" quit
	wait "${mg_pid[$run]}"
	rc=$?
	mg_end "$run"
	[ "$rc" = 0 ] || { qe_fail "$run: QEMU exited with status $rc after QMP quit"; return; }
	grep -q '"reason": "host-qmp-quit"' "$qe_dir/$run.qmp.log" || qe_fail "$run: QEMU did not report a QMP quit"
}

# mg_end RUN: kill what is left of QEMU RUN, its QMP reader and pipe.
mg_end() {
	local qe_pid=${mg_pid[$1]:-} fd=${mg_qin[$1]:-}
	kill -0 "$qe_pid" 2>/dev/null || qe_pid=	# reaped already (mg_quit)
	qe_kill
	[ -z "${mg_cat[$1]:-}" ] || { kill "${mg_cat[$1]}" 2>/dev/null; wait "${mg_cat[$1]}" 2>/dev/null; }
	[ -z "$fd" ] || exec {fd}>&-
	unset "mg_pid[$1]" "mg_qin[$1]" "mg_cat[$1]"
}

mg_cleanup() {
	local r
	[ -z "$mg_flood" ] || { kill "$mg_flood" 2>/dev/null; wait "$mg_flood" 2>/dev/null; }
	mg_flood=
	for r in "${!mg_pid[@]}"; do mg_end "$r"; done
	ip link del tapm0 2>/dev/null
	ip link del tapm1 2>/dev/null
	"$qe_build/vubctl" instance del "$mg_inst" --force >/dev/null 2>&1
	qe_cleanup
}

# mg_type RUN TEXT: type TEXT and Enter on QEMU RUN's keyboard (letters, digits, spaces).
mg_type() {
	local k i
	for ((i = 0; i <= ${#2}; i++)); do
		k=${2:i:1}
		case $k in " ") k=spc ;; "") k=ret ;; esac
		at qmp "$1" send-key "{\"keys\": [{\"type\": \"qcode\", \"data\": \"$k\"}]}" ||
			{ qe_fail "$1: send-key $k: $qe_ans"; return; }
	done
}

# mg_shell RUN: into iPXE's shell (Ctrl-B, until its prompt appears) and open the NIC.
mg_shell() {
	local i con
	at serial_wait "$1" "starting execution" 240 || { qe_fail "$qe_why"; return; }
	for ((i = 0; i < 600; i++)); do
		IFS= read -r -d '' con <"$qe_dir/$1.serial"
		[[ $con == *"iPXE>"* ]] && break
		at qmp "$1" send-key '{"keys": [{"type": "qcode", "data": "ctrl"}, {"type": "qcode", "data": "b"}]}' ||
			{ qe_fail "$1: send-key ctrl-b: $qe_ans"; return; }
		sleep 0.5
	done
	[[ $con == *"iPXE>"* ]] || { qe_fail "$1: no iPXE shell prompt"; return; }
	mg_type "$1" "ifopen net0" || return 1
	for ((i = 0; i < 300; i++)); do
		at qmp "$1" x-query-virtio-status "{\"path\": \"$qe_nic\"}" || { qe_fail "x-query-virtio-status: $qe_ans"; return; }
		[[ $qe_ans == *'"vhost-started": true'* ]] && return 0
		sleep 0.2
	done
	qe_fail "$1: vhost not started after ifopen"
}

# The guest's RAM of QEMU RUN (strace's child, or QEMU itself): its memfd.
mg_ram() {
	local p=${mg_pid[$1]} k='' f
	read -r k _ <"/proc/$p/task/$p/children" 2>/dev/null	# no newline: read fails
	[ -n "$k" ] && p=$k
	for f in /proc/"$p"/fd/*; do
		[[ $(readlink "$f") == /memfd:memory-backend-memfd* ]] && { echo "$f"; return; }
	done
}

# "RX TX" the back-end of QEMU RUN counted: packets it received from the guest, and
# packets it put into the guest's receive buffers (testpmd's port, or the tap).
mg_count() {
	local -a s
	case $1 in
	bridge.src) tp_stats qbe 0 ;;
	bridge.dst) tp_stats qbe 1 ;;
	*.src) echo "$(qe_tap=tapm0 tapstat rx_packets) 0 $(qe_tap=tapm0 tapstat tx_packets) 0" ;;
	*.dst) echo "$(($(qe_tap=tapm1 tapstat rx_packets) - mg_announce)) 0 $(qe_tap=tapm1 tapstat tx_packets) 0" ;;
	esac | { read -r -a s && echo "${s[0]} ${s[2]}"; }
}

# mg_rings RUN: mg_r=(RX-used TX-used TX-last-avail) of QEMU RUN's rings (QEMU stopped).
# Not in a subshell: a QMP id taken there would be reused.
mg_rings() {
	mg_r=()
	at ring "$1" 0 || return 1
	mg_r=("$ring_used")
	at ring "$1" 1 || return 1
	mg_r+=("$ring_used" "$ring_avail")
}

# mg_status RUN: query-migrate's status, dirty-sync-count, and the whole answer in qe_ans.
mg_status() {
	at qmp "$1" query-migrate || return 1
	mg_st=$(grep -o '"status": "[a-z-]*"' <<<"$qe_ans" | tail -1 | cut -d'"' -f4)
	mg_sync=$(jnum "$qe_ans" dirty-sync-count)	# none while in setup
	return 0
}

mg_secs() { qe_since "$1" | cut -d. -f1; }

# mg_migrate RUN: migrate RUN.src to RUN.dst; it must complete with MIG_TRAFFIC packets
# written into the guest by the back-end while it ran.
mg_migrate() {
	local src=$1.src t1 lifted=
	local -a c0 c1=() c
	at qmp "$src" migrate-set-parameters '{"max-bandwidth": 1048576, "downtime-limit": 1}' ||
		{ qe_fail "migrate-set-parameters: $qe_ans"; return; }
	read -r -a c0 <<<"$(mg_count "$src")"
	at qmp "$src" migrate "{\"uri\": \"unix:$qe_dir/$1.mig\"}" || { qe_fail "migrate: $qe_ans"; return; }
	t1=$(qe_now)
	while :; do
		mg_status "$src" || { qe_fail "query-migrate: $qe_ans"; return; }
		case $mg_st in setup | active) ;; *) break ;; esac	# setup: the first sync, slow under TCG
		read -r -a c <<<"$(mg_count "$src")"
		if [ "${mg_sync:-0}" -ge 2 ] && [ ${#c1[@]} = 0 ]; then
			c1=("${c[@]}")
		elif [ ${#c1[@]} = 2 ] && [ -z "$lifted" ] && [ $((c[1] - c1[1])) -ge "$MIG_TRAFFIC" ]; then
			detail "migrating, dirty log on: back-end RX/TX ${c1[*]} after the first pass, ${c[*]} $(qe_since "$t1") s after the start (dirty-sync-count $mg_sync): lifting the limits"
			at qmp "$src" migrate-set-parameters '{"max-bandwidth": 1073741824, "downtime-limit": 2000}' ||
				{ qe_fail "migrate-set-parameters: $qe_ans"; return; }
			lifted=1
		fi
		[ "$(mg_secs "$t1")" -lt 300 ] ||
			{ qe_fail "migration not completed in 300 s: back-end RX/TX ${c0[*]} at the start, ${c[*]} now, dirty-sync-count $mg_sync"; return; }
		sleep 0.2
	done
	[ "$mg_st" = completed ] || { qe_fail "migration $mg_st: $qe_ans"; return; }
	# The source is stopped: its back-end's counters are final.
	read -r -a c <<<"$(mg_count "$src")"
	detail "migration completed $(qe_since "$t1") s after it began${lifted:+ (limits lifted)}: total-time $(jnum "$qe_ans" total-time) ms, downtime $(jnum "$qe_ans" downtime) ms, $(jnum "$qe_ans" transferred) bytes, dirty-sync-count $(jnum "$qe_ans" dirty-sync-count); packets into the guest meanwhile: $((c[1] - c0[1])), after the first pass: $([ ${#c1[@]} = 2 ] && echo $((c[1] - c1[1])) || echo "not seen (it completed between two polls)")"
	[ $((c[1] - c0[1])) -ge "$MIG_TRAFFIC" ] ||
		{ qe_fail "fewer than $MIG_TRAFFIC packets reached the guest while it migrated: the dirty log was not put to the test"; return; }
}

# mg_ramdiff RUN SRC-MEMFD DST-MEMFD: the differing pages' checksums now and 2 s later at
# both ends, and the top 2 MiB of both (rings and iPXE's buffers) kept as RUN.{src,dst}.top.
mg_ramdiff() {
	local p a= b=
	for p in $(cmp -l "$2" "$3" | awk '{ p = int(($1 - 1) / 4096); if (!(p in s)) { s[p] = 1; print p } }' | head -8); do
		a="$a $(printf %#x $((p * 4096))):$(dd if="$2" bs=4096 skip="$p" count=1 status=none | md5sum | cut -c1-8)/$(dd if="$3" bs=4096 skip="$p" count=1 status=none | md5sum | cut -c1-8)"
	done
	p=$(($(stat -L -c %s "$2") / 4096 - 512))
	dd if="$2" of="$qe_dir/$1.src.top" bs=4096 skip="$p" count=512 status=none
	dd if="$3" of="$qe_dir/$1.dst.top" bs=4096 skip="$p" count=512 status=none
	sleep 2
	for p in $(cmp -l "$2" "$3" | awk '{ p = int(($1 - 1) / 4096); if (!(p in s)) { s[p] = 1; print p } }' | head -8); do
		b="$b $(printf %#x $((p * 4096))):$(dd if="$2" bs=4096 skip="$p" count=1 status=none | md5sum | cut -c1-8)/$(dd if="$3" bs=4096 skip="$p" count=1 status=none | md5sum | cut -c1-8)"
	done
	detail "differing pages (address:src/dst md5) at the comparison:$a; 2 s later:$b; back-end RX/TX $(mg_count "$1.src")"
}

# mg_run RUN SRC-DEVICE DST-DEVICE: one migration, start to quit.
mg_run() {
	local run=$1 src=$1.src dst=$1.dst t0 t1 i j q diff inj
	local -a c0 c r d
	t0=$(qe_now)
	mg_announce=0
	mg_start "$dst" "$3" tapm1 -incoming "unix:$qe_dir/$run.mig" -S || return 1
	mg_start "$src" "$2" tapm0 || return 1
	mg_shell "$src" || return 1
	"$mg_hook_open" "$src" || return 1
	t1=$(qe_now)
	while :; do
		read -r -a c0 <<<"$(mg_count "$src")"
		[ "${c0[1]:-0}" -gt 0 ] && break
		[ "$(mg_secs "$t1")" -lt 120 ] || { qe_fail "no packet reached the guest in 120 s"; return; }
		sleep 0.2
	done
	detail "iPXE's shell opened the NIC (vhost started) after $(qe_since "$t0") s; its back-end RX/TX ${c0[*]}: migrating"
	mg_migrate "$run" || return 1
	at qmp "$src" query-status || { qe_fail "source: $qe_ans"; return; }
	[[ $qe_ans == *'"status": "postmigrate"'* ]] || { qe_fail "source not postmigrate: $qe_ans"; return; }
	for ((i = 0; i < 100; i++)); do
		at qmp "$dst" query-status || { qe_fail "destination: $qe_ans"; return; }
		[[ $qe_ans == *'"status": "paused"'* ]] && break
		sleep 0.1
	done
	[[ $qe_ans == *'"status": "paused"'* ]] || { qe_fail "destination not paused after the migration: $qe_ans"; return; }

	# Both stopped.
	i=$(mg_ram "$src") j=$(mg_ram "$dst")
	[ -n "$i" ] && [ -n "$j" ] || { qe_fail "cannot find the QEMUs' memfds"; return; }
	# The differing pages: how many, and the guest-physical addresses of the first 8.
	diff=$(cmp -l "$i" "$j" | awk '{ p = int(($1 - 1) / 4096); if (!(p in s)) { s[p] = 1; n++; if (n <= 8) a = a sprintf(" %#x", p * 4096) } }
		END { printf "%d%s", n, a }')
	[ "$diff" = 0 ] || { mg_ramdiff "$1" "$i" "$j"; qe_fail "the guest's RAM differs between source and destination in ${diff%% *} pages (the first at guest-physical ${diff#* })"; return; }
	detail "guest RAM ($(stat -L -c %s "$i") bytes) the same at both ends"
	read -r -a c <<<"$(mg_count "$src")"
	mg_rings "$src" || { qe_fail "cannot read the source's rings: $qe_ans"; return; }
	r=("${mg_r[@]}")
	mg_rings "$dst" || { qe_fail "cannot read the destination's rings: $qe_ans"; return; }
	d=("${mg_r[@]}")
	detail "source's rings: RX used ${r[0]}, TX used ${r[1]} (last avail ${r[2]}), its back-end RX/TX ${c[*]}; destination's rings: RX used ${d[0]}, TX used ${d[1]} (last avail ${d[2]})"
	[ $((c[1] - r[0])) -ge 0 ] && [ $((c[1] - r[0])) -le "$mg_slack" ] && [ "${r[1]}" = "${c[0]}" ] && [ "${r[2]}" = "${r[1]}" ] ||
		{ qe_fail "the source's rings do not account for its back-end's packets"; return; }
	[ "${d[*]}" = "${r[*]}" ] || { qe_fail "the destination's rings are not where the source's stopped"; return; }

	mg_quit "$src" || return 1
	detail "source quit over QMP, status 0"
	"$mg_hook_src" "$run" || return 1
	# The destination announces the guest (announce-rounds RARPs, queued while it is
	# paused and sent when it resumes) by writing to its netdev: the tap.
	at qmp "$dst" query-migrate-parameters || { qe_fail "query-migrate-parameters: $qe_ans"; return; }
	mg_announce=$(jnum "$qe_ans" announce-rounds)
	detail "the destination QEMU's self-announce: ${mg_announce:=0} frames into its tap when it resumes"

	at qmp "$dst" cont || { qe_fail "destination: QMP cont failed"; return; }
	at qmp "$dst" x-query-virtio-status "{\"path\": \"$qe_nic\"}" || { qe_fail "x-query-virtio-status: $qe_ans"; return; }
	[[ $qe_ans == *'"vhost-started": true'* ]] || { qe_fail "the destination does not use vhost after resuming (vhost-started is not true)"; return; }
	"$mg_hook_open" "$dst" || return 1
	mg_type "$dst" "dhcp" || return 1
	t1=$(qe_now)
	while :; do
		read -r -a c <<<"$(mg_count "$dst")"
		[ "${c[0]:-0}" -ge 1 ] && [ "${c[1]:-0}" -ge 1 ] && break
		[ "$(mg_secs "$t1")" -lt 300 ] ||
			{ qe_fail "the guest on the destination did not send and receive through its back-end in 300 s (RX/TX ${c[*]})"; return; }
		sleep 0.2
	done
	at qmp "$dst" stop || { qe_fail "destination: QMP stop failed"; return; }
	read -r -a c <<<"$(mg_count "$dst")"
	mg_rings "$dst" || { qe_fail "cannot read the destination's rings: $qe_ans"; return; }
	# The back-end's RX also counts the RARPs it made for SEND_RARP (DPDK hands one to the
	# application with the guest's frames), none of which the guest sent.
	inj=$("$mg_hook_rarps") q=
	[ "$inj" = 0 ] || q=" (RX with the $inj RARP it made for SEND_RARP)"
	detail "destination resumed (vhost-started), typed dhcp, stopped $(qe_since "$t1") s later: its back-end RX/TX ${c[*]}$q; the guest sent $((mg_r[1] - r[1])) and received $((mg_r[0] - r[0])) more (rings: RX used ${mg_r[0]}, TX used ${mg_r[1]}, last avail ${mg_r[2]})"
	[ $((c[1] - mg_r[0] + r[0])) -ge 0 ] && [ $((c[1] - mg_r[0] + r[0])) -le "$mg_slack" ] && [ "$((mg_r[1] - r[1] + inj))" = "${c[0]}" ] && [ "${mg_r[2]}" = "${mg_r[1]}" ] ||
		{ qe_fail "the destination's rings do not account for its back-end's packets"; return; }
	[ -z "$mg_flood" ] || { kill "$mg_flood" 2>/dev/null; wait "$mg_flood" 2>/dev/null; }
	mg_flood=
	mg_quit "$dst" || return 1
	mg_taprx="$(qe_tap=tapm0 tapstat rx_packets) $(qe_tap=tapm1 tapstat rx_packets)"
	ip link del tapm0 2>/dev/null
	ip link del tapm1 2>/dev/null
	for q in "$src" "$dst"; do
		detail "$q vhost ioctls on fd $qe_vfd: $(ioctl_seq "$q")"
		if grep -qE "$qe_bad" "$qe_dir/$q.stderr"; then
			tr -d '\r' <"$qe_dir/$q.stderr" | head -10 | sed 's/^/    qemu: /'
			qe_fail "$q: QEMU's stderr reports vhost trouble"
			return
		fi
	done
	[ "$qe_strace" = 1 ] && ! ioctls "$src" | grep -q '^VHOST_SET_LOG_BASE 0 ' &&
		{ qe_fail "the source QEMU issued no VHOST_SET_LOG_BASE"; return; }
	return 0
}

# --- vhost-net: the reference -------------------------------------------------------
# Frames into the tap of QEMU RUN, 1000/s: vhost-net writes them into the guest.
ref_open() {
	local tap=tapm0
	[ "$1" = vhost-net.dst ] && tap=tapm1
	[ -z "$mg_flood" ] || { kill "$mg_flood" 2>/dev/null; wait "$mg_flood" 2>/dev/null; }
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
f = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes(50)
while True:
	s.send(f)
	time.sleep(0.001)' "$tap" &
	mg_flood=$!
}
ref_src() { return 0; }
ref_rarps() { echo 0; }

mg_vhost_net() {
	say "vhost-net (reference): QEMU $qe_vfd<>/dev/vhost-net migrates to QEMU $qe_vfd<>/dev/vhost-net"
	[ -c /dev/vhost-net ] || { qe_fail "no /dev/vhost-net (modprobe vhost_net)"; return; }
	command -v python3 >/dev/null || { qe_fail "no python3"; return; }
	# When vhost stops, QEMU's own tap handler reads one more frame from the tap (for the
	# stopped device, which never gets it): the tap's tx_packets may exceed the RX ring by 1.
	mg_hook_open=ref_open mg_hook_src=ref_src mg_hook_rarps=ref_rarps mg_slack=1
	mg_run vhost-net /dev/vhost-net /dev/vhost-net || return 1
	say "ok vhost-net"
}

# --- the bridge ------------------------------------------------------------------------
bridge_open() { return 0; }	# testpmd's flowgen sends all the time

# The source's device is released by the daemon.
bridge_src() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q 'released after' "$e2e_dir/bridged.log" && break
		sleep 0.1
	done
	grep -q 'released after' "$e2e_dir/bridged.log" || { qe_fail "the daemon did not see the source's device close in 30 s"; return; }
	detail "$(grep -o 'dev [0-9]*: released after.*' "$e2e_dir/bridged.log" | tail -1)"
}

# SEND_RARPs the back-end got (only the destination's port gets one): DPDK makes a RARP
# for each at its next dequeue, which testpmd counts as received.
bridge_rarps() { grep -c 'read message VHOST_USER_SEND_RARP' "${e2e_log[qbe]}"; }

mg_bridge() {
	local sa=$qe_dir/a.sock sb=$qe_dir/b.sock t0 i rc n errs
	say "bridge: QEMU $qe_vfd<>/dev/vhost-user-bridge (testpmd port 0) migrates to QEMU $qe_vfd<>/dev/vhost-user-bridge-$mg_inst (port 1)"
	[ -c /dev/vhost-user-bridge ] || { qe_fail "no /dev/vhost-user-bridge (module not loaded)"; return; }
	[ -x "$e2e_testpmd" ] || { qe_fail "no $e2e_testpmd (make deps)"; return; }
	e2e_dir=$qe_dir/tp
	mkdir -p "$e2e_dir"
	rm -rf /run/dpdk/vub-e2e-qbe
	t0=$(qe_now)
	tp_start qbe 0 0 128 --vdev "net_vhost0,iface=$sa,queues=1,client=0" \
		--vdev "net_vhost1,iface=$sb,queues=1,client=0" -- \
		-i --forward-mode=flowgen --port-topology=loop --total-num-mbufs=8192 --nb-cores=1 \
		--no-mlockall
	tp_wait qbe 'testpmd> ' 1 120 || { qe_fail "testpmd: $e2e_why"; return; }
	tp_cmd qbe start
	"$qe_build/vubctl" instance add "$mg_inst" --socket "$sb" >/dev/null || { qe_fail "vubctl instance add $mg_inst"; return; }
	"$qe_build/vhost-user-bridged" --verbose --timeout "$e2e_daemon_ms" --backend "$sa" >"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
		kill -0 "$e2e_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'attached: API version' "$e2e_dir/bridged.log" || { qe_fail "vhost-user-bridged did not attach"; return; }
	detail "testpmd (ports 0 $sa, 1 $sb, flowgen) and vhost-user-bridged up after $(qe_since "$t0") s"

	mg_hook_open=bridge_open mg_hook_src=bridge_src mg_hook_rarps=bridge_rarps mg_slack=0
	mg_run bridge /dev/vhost-user-bridge "/dev/vhost-user-bridge-$mg_inst" || return 1
	[ "$mg_taprx" = "0 $mg_announce" ] || { qe_fail "the taps received $mg_taprx packets (QEMU's self-announce: $mg_announce): QEMU's data did not all go through the bridge"; return; }
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'released after' "$e2e_dir/bridged.log")" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(grep -c 'released after' "$e2e_dir/bridged.log")" -ge 2 ] || { qe_fail "the daemon did not see the destination's device close"; return; }
	n=$(grep -c 'VHOST_USER_SET_LOG_BASE' "${e2e_log[qbe]}")
	detail "testpmd: VHOST_USER_SET_LOG_BASE x$n; the daemon: $(grep -c 'SET_LOG_BASE' "$e2e_dir/bridged.log") lines with SET_LOG_BASE"
	[ "$n" -ge 1 ] || { qe_fail "the back-end was never given the dirty log"; return; }
	# The destination's self-announce, through the daemon (vub_rarp.h) to the back-end.
	n=$(grep -c 'read message VHOST_USER_SEND_RARP' "${e2e_log[qbe]}")
	detail "testpmd: VHOST_USER_SEND_RARP x$n; the daemon: $(grep -o "dev [0-9]*: forwarded the VMM's RARP.*" "$e2e_dir/bridged.log" | head -1)"
	grep -q "forwarded the VMM's RARP for MAC 52:54:00:12:34:56 to the back-end (SEND_RARP)" "$e2e_dir/bridged.log" ||
		{ qe_fail "the daemon did not forward the destination QEMU's RARP to the back-end"; return; }
	[ "$n" -ge 1 ] || { qe_fail "the back-end never got VHOST_USER_SEND_RARP"; return; }
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
	errs=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
	if [ "$errs" != 0 ]; then
		grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -10 | sed 's/^/    bridged: /'
		qe_fail "$errs ioctls failed in the daemon"
		return
	fi
	say "ok bridge"
}

mg_main() {
	local run missing t0 rc ret=0 f n d
	local -A mg_seen
	[ "$(id -u)" = 0 ] || { qe_fail "needs root"; return; }
	for b in "$qe_qemu" ip cmp; do
		command -v "$b" >/dev/null || { qe_fail "no $b (make deps)"; return; }
	done
	[ "$qe_strace" = 1 ] && ! command -v strace >/dev/null && qe_strace=0
	[ -c /dev/net/tun ] || { qe_fail "no /dev/net/tun (modprobe tun)"; return; }
	# Both QEMUs on CPU 1; testpmd's busy lcore and its main lcore on CPU 0.
	mg_cpu=
	[ "$(nproc)" -ge 2 ] && mg_cpu=1
	qe_dir=$(mktemp -d /run/vub-mig.XXXXXX)
	missing=$(bridge_missing)
	for run in $mg_runs; do
		[ "$run" = bridge ] && [ -n "$missing" ] && continue
		t0=$(qe_now)
		"mg_${run//-/_}"
		rc=$?
		# A run named again in MIG_RUNS keeps into migrate.N/.
		n=$((${mg_seen[$run]:-0} + 1)) d=migrate
		mg_seen[$run]=$n
		[ "$n" = 1 ] || d=migrate.$n
		VUB_OUT=${VUB_OUT:+$VUB_OUT/$d} qe_keep "$run"
		detail "$run: $(qe_since "$t0") s"
		if [ $rc != 0 ]; then
			for f in "$qe_dir/$run".*.serial "$qe_dir/$run".*.stderr "$qe_dir/$run".*.qmp.log "${e2e_dir:-/nonexistent}"/*.log; do
				[ -s "$f" ] || continue
				echo "--- ${f##*/} (last 25 lines)"
				tail -n 25 "$f" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/^/  /' | cut -c1-240
			done
			ret=1
		fi
		mg_cleanup
	done
	[ $ret = 0 ] || { echo "FAIL"; return 1; }
	if [ -n "$missing" ]; then echo "$missing"; return 4; fi
	echo "PASS"
	return 0
}

trap mg_cleanup EXIT
trap 'exit 1' TERM INT HUP
mg_main
