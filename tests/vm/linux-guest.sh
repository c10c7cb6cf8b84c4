#!/bin/bash
# A nested Linux guest doing TCP with its default offloads, through three vhost paths.
#
# Unmodified QEMU 7.2 (nested TCG, inside the test VM) boots the kernel under test with a
# busybox initramfs built here (tests/vm/linux-guest-init, build/vub_nettool, virtio_net
# and its dependencies from $VUB_MODROOT), memfd share=on RAM and one virtio-net NIC per
# path, so that one boot (70-110 s under nested TCG) serves all three:
#
#   path  QEMU netdev                                      the guest's peer (the test VM)
#   1 vhost-net  tap,ifname=vubla,vhost=on,vhostfd=N       tap vubla, 10.77.1.1
#                N<>/dev/vhost-net (the reference)
#   2 vhost-user vhost-user,chardev=SOCK2 (the second      testpmd port 0 (vhost PMD on SOCK2)
#                reference; vectors=0: QEMU 7.2 with       <-io-> port 1 (virtio-user, vhost-
#                vhost-user and MSI-X crashes under TCG    kernel mode) = tap vublb, 10.77.2.1
#                when Linux's virtio-net driver starts)
#   3 bridge     tap,ifname=vublq,vhost=on,vhostfd=M       testpmd port 2 (vhost PMD on SOCK3,
#                M<>/dev/vhost-user-bridge,                which vhost-user-bridged --backend
#                vhost-user-bridged --backend SOCK3        uses) <-io-> port 3 = tap vublc, 10.77.3.1
#
# One unmodified dpdk-testpmd (io forwarding, paired ports) is the back-end of paths 2
# and 3.  Its second port of each pair is DPDK virtio-user with path=/dev/vhost-net: a
# kernel tap with virtio-net headers, so the test VM's own kernel is the guest's TCP and
# UDP peer, as it is on path 1.  Not net_tap: with the vhost PMD's tso=1 (needed for the
# guest to see HOST_TSO) net_tap drops the large frames; virtio-user does not, and without
# tso=1 the vhost PMD completes the guest's partial checksums in software before io
# forwarding hands the packets on, which is what a vhost-user switch does.
#
# On each path the guest, with its default offloads (printed: the negotiated virtio
# features and the netdev's ethtool -k state), pings with 1400 bytes and with 4000 bytes
# (fragmented), sends 20 UDP datagrams of 1400 bytes to an echo server, receives 16 MiB
# of random data over TCP (busybox nc) and sends the same bytes back.  Both ends hash
# them (sha256sum): the guest's hash of what it received and the peer's hash of what came
# back must equal the hash of what the peer sent.  Throughput is measured by the peer,
# from accept to close.  The peer's /proc/net/snmp (Tcp and Udp InCsumErrors) is read
# before and after each path.
#
# LG_QUEUES=N (default 1) gives every NIC N queue pairs (tap multi_queue and vhostfds,
# testpmd queues=N, the guest sets N combined channels; never run yet).  LG_PATHS picks paths (default
# "1 2 3").  LG_BYTES: TCP bytes each way (16 MiB).  On 6.1 the test is skipped unless
# LG_FORCE=1: its xz-compressed bzImage alone takes minutes to unpack under nested TCG.
#
# Not yet in `make check` (too slow: see README); run it with `make check-linux-guest`,
# which makes it the whole guest script of a 6.12 VM.  Exit 0 pass, 1 fail, 4 skip
# (last line: why; a failure of that target).
# Logs: $VUB_OUT/linux-guest/ (build/vm-KREL/linux-guest/).
set -u
lg_self=$(readlink -f "$0")
lg_top=$(cd "$(dirname "$lg_self")/../.." && pwd)
lg_build=${VUB_BUILD:-$lg_top/build}
lg_qemu=${QEMU:-qemu-system-x86_64}
lg_q=${LG_QUEUES:-1}
lg_paths=${LG_PATHS:-1 2 3}
lg_bytes=${LG_BYTES:-16777216}
# Seconds for the nested guest, boot to poweroff: what guest.sh's time limit leaves.
lg_budget=${LG_BUDGET:-$((${VUB_TEST_TIMEOUT:-600} - 150))}
lg_name=([1]=vhost-net [2]=vhost-user [3]=bridge)
lg_dir=
lg_log=		# the guest's console and QEMU's output: $VUB_OUT/linux-guest, live
lg_qpid=
lg_peer=()
lg_why=

say() { echo "$*"; }
detail() { echo "    $*"; }
# testpmd helpers (tp_start, tp_cmd, tp_wait, tp_quit, e2e_cleanup).
# shellcheck source-path=SCRIPTDIR source=../e2e-virtio-user.sh
. "$lg_top/tests/vm/e2e-virtio-user.sh"

lg_now() { local u; read -r u _ </proc/uptime; echo "$u"; }
lg_since() { awk -v a="$1" -v b="$(lg_now)" 'BEGIN { printf "%.1f", b - a }'; }

lg_cleanup() {
	local p
	if [ -n "$lg_qpid" ]; then
		kill -KILL "$lg_qpid" 2>/dev/null
		wait "$lg_qpid" 2>/dev/null
	fi
	for p in "${lg_peer[@]}"; do kill "$p" 2>/dev/null; done
	lg_qpid='' lg_peer=()
	e2e_cleanup
	e2e_pid=() e2e_daemon_pid='' e2e_dir=''
	for p in vubla vublq; do ip link del "$p" 2>/dev/null; done
	[ -z "$lg_dir" ] || rm -rf "$lg_dir"
	lg_dir=
}

lg_fail() { lg_why=$1; say "FAIL: $lg_why"; return 1; }

# The guest's initramfs: busybox, /init, vub_nettool, virtio_net with its dependencies
# (in load order, decompressed: busybox insmod takes plain ELF only).
lg_initrd() {
	local t=$lg_dir/initrd ko n
	mkdir -p "$t"/{bin,dev,proc,sys,tmp,lib/modules}
	cp /bin/busybox "$t/bin/" || return 1
	strip -o "$t/bin/vub_nettool" "$lg_build/vub_nettool" || return 1
	install -m 755 "$lg_top/tests/vm/linux-guest-init" "$t/init" || return 1
	modprobe -a -S "$VUB_KREL" --show-depends virtio_pci virtio_net >"$lg_dir/ko.list" || return 1
	while read -r _ ko _; do
		n=${ko##*/}; n=${n%.xz}; n=${n%.ko}
		grep -qx "$n" "$t/lib/modules/load.list" 2>/dev/null && continue
		case $ko in
		*.xz) xz -dc "$ko" ;;
		*) cat "$ko" ;;
		esac >"$t/lib/modules/$n.ko" || return 1
		echo "$n" >>"$t/lib/modules/load.list"
	done <<<"$(awk '$1 == "insmod"' "$lg_dir/ko.list")"
	(cd "$t" && find . | cpio -o -H newc --quiet) >"$lg_dir/initrd.cpio" || return 1
	detail "initramfs $(du -k "$lg_dir/initrd.cpio" | cut -f1) KiB: busybox, vub_nettool, $(tr '\n' ' ' <"$t/lib/modules/load.list")"
}

# The peer's checksum counters: "TCP_INCSUMERRORS UDP_INCSUMERRORS".
lg_snmp() {
	awk '/^Tcp:/ { t++ } t == 2 && /^Tcp:/ { tc = $NF; t++ }
		/^Udp:/ { u++ } u == 2 && /^Udp:/ { uc = $8; u++ } END { print tc + 0, uc + 0 }' /proc/net/snmp
}

# lg_tap NAME [IP]: a tap the test VM's kernel owns (multi_queue for N > 1), up, no IPv6.
lg_tap() {
	local mq=
	[ "$lg_q" -gt 1 ] && mq=multi_queue
	ip tuntap add dev "$1" mode tap $mq || return 1
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1"
	[ -z "${2:-}" ] || ip addr add "$2/24" dev "$1" || return 1
	ip link set "$1" up
}

# lg_ifaddr NAME IP: address a tap testpmd's virtio-user made, once it exists.
lg_ifaddr() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "/sys/class/net/$1" ] && break
		sleep 0.2
	done
	[ -e "/sys/class/net/$1" ] || return 1
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1"
	ip addr add "$2/24" dev "$1" && ip link set "$1" up
}

# lg_backend: testpmd with a vhost-user port and a virtio-user (vhost-kernel) port for
# paths 2 and 3, and the bridge daemon for path 3.
lg_backend() {
	local t0 i vdev=() want=0
	e2e_dir=$lg_dir/tp
	mkdir -p "$e2e_dir"
	rm -rf /run/dpdk/vub-e2e-lg
	case " $lg_paths " in *" 2 "*) want=1 ;; esac
	case " $lg_paths " in *" 3 "*) want=1 ;; esac
	[ $want = 1 ] || return 0
	# Port order fixes the pairs (0-1, 2-3) of --port-topology=paired.
	vdev=(--vdev "net_vhost0,iface=$lg_dir/vu2.sock,queues=$lg_q,client=0"
		--vdev "net_virtio_user1,path=/dev/vhost-net,iface=vublb,queues=$lg_q,queue_size=1024")
	case " $lg_paths " in *" 3 "*)
		vdev+=(--vdev "net_vhost2,iface=$lg_dir/vu3.sock,queues=$lg_q,client=0"
			--vdev "net_virtio_user3,path=/dev/vhost-net,iface=vublc,queues=$lg_q,queue_size=1024") ;;
	esac
	t0=$(lg_now)
	# Both lcores on CPU 0 (QEMU gets CPU 1); --no-mlockall: no locking of the guest's
	# RAM when it is mapped; vhost config logs show the features each connection negotiated.
	tp_start lg 0 0 160 "${vdev[@]}" --log-level=lib.vhost.config:info -- \
		-i --forward-mode=io --port-topology=paired --total-num-mbufs=16384 --nb-cores=1 \
		--rxq="$lg_q" --txq="$lg_q" --no-mlockall
	tp_wait lg 'testpmd> ' 1 180 || { lg_fail "testpmd: $e2e_why"; return; }
	tp_cmd lg start
	lg_ifaddr vublb 10.77.2.1 || { lg_fail "testpmd's virtio-user made no tap vublb"; return; }
	case " $lg_paths " in *" 3 "*)
		lg_ifaddr vublc 10.77.3.1 || { lg_fail "testpmd's virtio-user made no tap vublc"; return; } ;;
	esac
	detail "testpmd up after $(lg_since "$t0") s: vhost-user $lg_dir/vu2.sock <-io-> tap vublb 10.77.2.1$([ -S "$lg_dir/vu3.sock" ] && echo ", vhost-user $lg_dir/vu3.sock <-io-> tap vublc 10.77.3.1")"
	case " $lg_paths " in *" 3 "*) ;; *) return 0 ;; esac
	"$lg_build/vhost-user-bridged" --verbose --timeout 25000 --backend "$lg_dir/vu3.sock" \
		>"$e2e_dir/bridged.log" 2>&1 &
	e2e_daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached: API version' "$e2e_dir/bridged.log" && break
		kill -0 "$e2e_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'attached: API version' "$e2e_dir/bridged.log" || { lg_fail "vhost-user-bridged did not attach"; return; }
	detail "vhost-user-bridged --backend $lg_dir/vu3.sock: $(grep -m1 -o 'attached: API version.*' "$e2e_dir/bridged.log")"
}

# Serve each path: the data to send, a sink for what comes back, a UDP echo.
lg_serve() {
	local p
	head -c "$lg_bytes" /dev/urandom >"$lg_dir/data" || return 1
	lg_sum=$(sha256sum <"$lg_dir/data" | cut -d' ' -f1)
	for p in $lg_paths; do
		"$lg_build/vub_nettool" tcp-send "10.77.$p.1" "50${p}1" "$lg_dir/data" 3600 >"$lg_dir/tx.$p" 2>&1 &
		lg_peer+=($!)
		"$lg_build/vub_nettool" tcp-recv "10.77.$p.1" "50${p}2" "$lg_dir/back.$p" 3600 >"$lg_dir/rx.$p" 2>&1 &
		lg_peer+=($!)
		"$lg_build/vub_nettool" udp-echo "10.77.$p.1" "50${p}3" 3600 >/dev/null 2>&1 &
		lg_peer+=($!)
	done
	sleep 1
	for p in "${lg_peer[@]}"; do
		kill -0 "$p" 2>/dev/null || { cat "$lg_dir"/tx.* "$lg_dir"/rx.* 2>/dev/null | head -5; return 1; }
	done
	detail "peer: $lg_bytes random bytes, sha256 $lg_sum, served on ports 50P1 (to the guest), 50P2 (back), 50P3 (UDP echo)"
}

# The guest's "VUBL P KEY ..." line for KEY (the last one), without the prefix.
lg_line() { tr -d '\r' <"$lg_log/guest.serial" | grep "^VUBL $1 $2" | tail -1 | cut -d' ' -f4-; }

# lg_qemu_exec: in a subshell: open the vhost fds, then become QEMU with one NIC per path.
lg_qemu_exec() {
	local p fd mq='' nd=()
	[ "$lg_q" -gt 1 ] && mq=",mq=on,vectors=$((2 * lg_q + 2))"
	for p in $lg_paths; do
		case $p in
		1)	# QEMU 7.2 takes one vhostfd for one queue pair; for more it opens
			# /dev/vhost-net itself (vhostfds= needs fds=).
			if [ "$lg_q" = 1 ]; then
				exec {fd}<>/dev/vhost-net || exit 1
				nd+=(-netdev "tap,id=n1,ifname=vubla,script=no,downscript=no,vhost=on,vhostfd=$fd")
			else
				nd+=(-netdev "tap,id=n1,ifname=vubla,script=no,downscript=no,queues=$lg_q,vhost=on")
			fi
			nd+=(-device "virtio-net-pci,netdev=n1,mac=52:54:00:77:01:02$mq") ;;
		2)	nd+=(-chardev "socket,id=c2,path=$lg_dir/vu2.sock" -netdev "vhost-user,id=n2,chardev=c2,queues=$lg_q"
				-device "virtio-net-pci,netdev=n2,mac=52:54:00:77:02:02,vectors=0${mq:+,mq=on}") ;;
		3)	exec {fd}<>/dev/vhost-user-bridge || exit 1
			nd+=(-netdev "tap,id=n3,ifname=vublq,script=no,downscript=no,vhost=on,vhostfd=$fd"
				-device "virtio-net-pci,netdev=n3,mac=52:54:00:77:03:02") ;;
		esac
	done
	echo "$lg_qemu -smp 1 -m 256M (memfd share=on) -kernel vmlinuz-$VUB_KREL ${nd[*]}" >"$lg_dir/qemu.cmd"
	exec $lg_cpu "$lg_qemu" -accel tcg -cpu qemu64 -smp 1 -m 256M \
		-nodefaults -no-user-config -display none -no-reboot \
		-machine pc,memory-backend=mem -object memory-backend-memfd,id=mem,size=256M,share=on \
		-kernel "$VUB_MODROOT/boot/vmlinuz-$VUB_KREL" -initrd "$lg_dir/initrd.cpio" \
		-append "console=ttyS0 quiet panic=-1 apparmor=0 vubl_paths=$(echo "$lg_paths" | tr ' ' ,) vubl_queues=$lg_q" \
		-serial "file:$lg_log/guest.serial" "${nd[@]}" \
		</dev/null >"$lg_log/qemu.log" 2>&1
}

# lg_boot: the guest, until it powers off; the peer's counters as each path begins and ends.
lg_boot() {
	local t0 i p con seen=" "
	local -a snmp
	[ -e "$lg_dir/initrd.cpio" ] || lg_initrd || { lg_fail "cannot build the guest's initramfs"; return; }
	lg_cpu=
	[ "$(nproc)" -ge 2 ] && lg_cpu="taskset -c 1"
	t0=$(lg_now)
	: >"$lg_log/guest.serial"
	(lg_qemu_exec) &
	lg_qpid=$!
	lg_attempt=$((${lg_attempt:-0} + 1))
	sleep 1
	detail "$(cat "$lg_dir/qemu.cmd" 2>/dev/null)"
	# Follow the console: snapshot the peer's checksum counters as each path begins and ends.
	for ((;;)); do
		IFS= read -r -d '' con <"$lg_log/guest.serial"
		for p in 0 $lg_paths; do
			case $seen in *" $p.b "*) ;; *)
				if [[ $con == *"VUBL $p begin"* || $con == *"VUBL $p up"* ]]; then
					read -r -a snmp <<<"$(lg_snmp)"
					lg_snmp0[p]="${snmp[*]}"
					seen="$seen$p.b "
					[ "$p" = 0 ] && detail "the guest's init runs after $(lg_since "$t0") s (guest uptime $(lg_line 0 up) s)"
				fi ;;
			esac
			case $seen in *" $p.e "*) ;; *)
				if [[ $con == *"VUBL $p end"* ]]; then
					lg_snmp1[p]=$(lg_snmp)
					seen="$seen$p.e "
					detail "path $p (${lg_name[p]}) done after $(lg_since "$t0") s"
				fi ;;
			esac
		done
		[[ $con == *"VUBL 0 done"* ]] && break
		[[ $con == *"Kernel panic"* ]] && break
		kill -0 "$lg_qpid" 2>/dev/null || break
		read -r i _ </proc/uptime
		[ "${i%.*}" -lt "${t0%.*}" ] || [ $((${i%.*} - ${t0%.*})) -lt "$lg_budget" ] || break
		sleep 0.5
	done
	lg_boot_s=$(lg_since "$t0")
	for ((i = 0; i < 50; i++)); do kill -0 "$lg_qpid" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$lg_qpid" 2>/dev/null
	wait "$lg_qpid"
	lg_qpid=''
	IFS= read -r -d '' con <"$lg_log/guest.serial"
	if [[ $con == *"Kernel panic"* ]]; then
		# Before its init ran, nothing under test has run in the guest: nested TCG
		# has crashed Debian's kernel that early (apparmor_init, entropy), so boot
		# once more, keeping the first console.
		if [[ $con != *"VUBL 0 up"* ]] && [ "$lg_attempt" = 1 ]; then
			mv "$lg_log/guest.serial" "$lg_log/guest.serial.crash"
			detail "the nested guest's kernel panicked before its init, $(lg_since "$t0") s after QEMU started ($(grep -m1 -o 'RIP: .*' "$lg_log/guest.serial.crash")): booting once more"
			lg_boot
			return
		fi
		lg_fail "the nested guest's kernel panicked $(lg_since "$t0") s after QEMU started"
		return
	fi
	[[ $con == *"VUBL 0 done"* ]] || { lg_fail "the guest did not finish within $lg_budget s"; return; }
	detail "QEMU ran $lg_boot_s s: the guest's init at $(lg_line 0 up) s, done at $(lg_line 0 'done') s of its uptime"
	if grep -qE 'vhost|[Ee]rror|Assertion' "$lg_log/qemu.log"; then
		sed 's/^/    qemu: /' "$lg_log/qemu.log" | head -10
	fi
	return 0
}

# lg_check P: the verdict of one path from the guest's lines and the peer's files.
lg_check() {
	local p=$1 n=${lg_name[$1]} l bad=() a s rx tx
	local -a x y
	say "path $p, $n:"
	lg_tput[p]="failed / failed" lg_csum[p]=''
	l=$(lg_line "$p" begin)
	[ -n "$l" ] || { lg_res[p]="the guest never started this path"; return 1; }
	detail "guest NIC ${l%% *}: virtio features: $(lg_line "$p" virtio-features)"
	detail "netdev features: $(lg_line "$p" netdev-features)"
	while read -r l; do
		[ -z "$l" ] || { detail "guest error: $l"; bad+=("$l"); }
	done <<<"$(tr -d '\r' <"$lg_log/guest.serial" | grep "^VUBL $p error" | cut -d' ' -f4-)"
	for a in ping1400 ping4000 udp; do
		l=$(lg_line "$p" "$a")
		detail "$a: $l"
		[ "${l%% *}" = ok ] || bad+=("$a ${l:-missing}")
	done
	read -r -a x <<<"$(lg_line "$p" tcp-rx)"
	read -r -a y <<<"$(cat "$lg_dir/tx.$p" 2>/dev/null)"
	if [ "${x[0]:-0}" = "$lg_bytes" ] && [ "${x[1]:-}" = "$lg_sum" ] && [ ${#y[@]} = 2 ]; then
		rx=$(awk -v b="${y[0]}" -v s="${y[1]}" 'BEGIN { printf "%.0f", (s > 0 ? b / s : 0) }')
		detail "TCP peer -> guest: ${x[0]} bytes, sha256 equal, ${y[1]} s: $rx bytes/s"
	else
		bad+=("TCP peer -> guest: the guest got ${x[0]:-?} bytes of $lg_bytes, sha256 ${x[1]:-?} ($([ "${x[1]:-}" = "$lg_sum" ] && echo equal || echo differs)); peer: $(head -c 200 "$lg_dir/tx.$p" | tr '\n' ' ')${x[4]:+; guest nc: ${x[*]:4}}")
		rx=
	fi
	read -r -a y <<<"$(grep -E '^[0-9]+ [0-9.]+$' "$lg_dir/rx.$p" 2>/dev/null)"
	s=$(sha256sum <"$lg_dir/back.$p" 2>/dev/null | cut -d' ' -f1)
	if [ ${#y[@]} = 2 ] && [ "${y[0]}" = "$lg_bytes" ] && [ "$s" = "$lg_sum" ]; then
		tx=$(awk -v b="${y[0]}" -v s="${y[1]}" 'BEGIN { printf "%.0f", (s > 0 ? b / s : 0) }')
		detail "TCP guest -> peer: ${y[0]} bytes, sha256 equal, ${y[1]} s: $tx bytes/s"
	else
		bad+=("TCP guest -> peer: the peer got $(stat -c %s "$lg_dir/back.$p" 2>/dev/null || echo 0) bytes of $lg_bytes, sha256 ${s:-none}; $(head -c 200 "$lg_dir/rx.$p" | tr '\n' ' ')")
		tx=
	fi
	detail "guest: $(lg_line "$p" stats | awk '{ printf "rx %s packets %s bytes, tx %s packets %s bytes", $3, $2, $11, $10 }'); guest's $(lg_line "$p" snmp)"
	read -r -a x <<<"${lg_snmp0[p]:-0 0}"
	read -r -a y <<<"${lg_snmp1[p]:-0 0}"
	lg_csum[p]="Tcp InCsumErrors +$((y[0] - x[0])), Udp InCsumErrors +$((y[1] - x[1]))"
	detail "peer (the test VM's kernel) during this path: ${lg_csum[p]}"
	lg_tput[p]="${rx:-failed} / ${tx:-failed}"
	if [ ${#bad[@]} = 0 ]; then
		lg_res[p]=ok
		say "ok $n: pings, UDP, TCP both ways sha256-equal; throughput peer->guest ${rx} B/s, guest->peer ${tx} B/s"
		return 0
	fi
	lg_res[p]="${bad[*]}"
	for l in "${bad[@]}"; do say "  FAILED: $l"; done
	return 1
}

lg_keep() {
	local dst=${VUB_OUT:-}/linux-guest f
	[ -n "${VUB_OUT:-}" ] && [ -n "$lg_dir" ] || return 0
	mkdir -p "$dst"
	for f in "$lg_dir"/tx.* "$lg_dir"/rx.* "$lg_dir"/tp/*.log; do
		[ -f "$f" ] && cp "$f" "$dst/"
	done
	return 0
}

lg_main() {
	local p b missing='' rc=0 t0
	declare -ga lg_res=() lg_tput=() lg_csum=() lg_snmp0=() lg_snmp1=()
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 4; }
	case $VUB_KREL in 6.1.*) [ "${LG_FORCE:-0}" = 1 ] ||
		{ echo "6.1: a nested Linux guest takes minutes more to boot (xz-compressed bzImage) under nested TCG; runs on 6.12 (LG_FORCE=1 to run it here)"; return 4; } ;;
	esac
	for b in "$lg_qemu" "$e2e_testpmd" "$lg_build/vub_nettool" /bin/busybox cpio xz strip; do
		command -v "$b" >/dev/null || { echo "no $b (make deps; make)"; return 4; }
	done
	[ -e "$VUB_MODROOT/boot/vmlinuz-$VUB_KREL" ] || { lg_fail "no $VUB_MODROOT/boot/vmlinuz-$VUB_KREL"; return 1; }
	{ [ -c /dev/vhost-net ] && [ -c /dev/net/tun ]; } || { lg_fail "no /dev/vhost-net or /dev/net/tun (modprobe tun vhost_net)"; return 1; }
	case " $lg_paths " in *" 3 "*)
		if [ ! -c /dev/vhost-user-bridge ] || [ ! -x "$lg_build/vhost-user-bridged" ]; then
			lg_paths=$(echo " $lg_paths " | sed 's/ 3 / /; s/^ *//; s/ *$//')
			missing="bridge path left out: no /dev/vhost-user-bridge or $lg_build/vhost-user-bridged"
		fi ;;
	esac
	lg_dir=$(mktemp -d /tmp/vub-linux.XXXXXX)
	lg_log=$lg_dir
	[ -z "${VUB_OUT:-}" ] || { lg_log=$VUB_OUT/linux-guest; rm -rf "$lg_log"; mkdir -p "$lg_log"; }
	say "A Linux guest ($VUB_KREL, $lg_q queue pair(s)) doing TCP with default offloads through: $(for p in $lg_paths; do printf '%s ' "${lg_name[p]}"; done)"
	t0=$(lg_now)
	case " $lg_paths " in *" 1 "*) lg_tap vubla 10.77.1.1 || { lg_fail "cannot create tap vubla"; return 1; } ;; esac
	case " $lg_paths " in *" 3 "*) lg_tap vublq || { lg_fail "cannot create tap vublq"; return 1; } ;; esac
	lg_backend || { lg_keep; return 1; }
	lg_serve || { lg_fail "cannot start the peer's servers"; lg_keep; return 1; }
	lg_boot || { lg_keep; tail -20 "$lg_log/guest.serial" 2>/dev/null | sed 's/^/    guest: /'; return 1; }
	for p in $lg_paths; do
		lg_check "$p" || rc=1
	done
	if tr -d '\r' <"$lg_log/guest.serial" | grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic' | head -5 | sed 's/^/    guest kernel: /' | grep .; then
		lg_fail "the nested guest's kernel log has a splat"
		rc=2
	fi
	case " $lg_paths " in *" 3 "*)
		[ -d /sys/class/net/vublq ] && detail "tap vublq (QEMU's tap of the bridge path, unused for data): rx_packets $(cat /sys/class/net/vublq/statistics/rx_packets)"
		b=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
		[ "$b" = 0 ] || { grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -5 | sed 's/^/    bridged: /'; lg_fail "$b ioctls failed in the daemon"; rc=2; } ;;
	esac
	say "summary ($VUB_KREL, $lg_q queue pair(s), nested guest ran $lg_boot_s s, test $(lg_since "$t0") s): TCP bytes/s peer->guest / guest->peer"
	for p in $lg_paths; do
		say "  ${lg_name[p]}: ${lg_tput[p]} ($([ "${lg_res[p]}" = ok ] && echo pass || echo FAIL); peer ${lg_csum[p]:-})"
	done
	lg_keep
	[ $rc = 0 ] && [ -n "$missing" ] && { echo "$missing"; return 4; }
	[ $rc = 0 ] && { echo PASS; return 0; }
	echo FAIL
	return 1
}

# Run as the whole guest script (VUB_GUEST=this file): what guest.sh would do around it.
if [ "${VUB_GUEST:-}" = "$lg_self" ] || [ "${VUB_GUEST:-}" = "$0" ]; then
	echo "# kernel $(uname -r), $(nproc) cpus: ${lg_self#"$lg_top"/} as the guest script"
	modprobe -a tun vhost_net
	insmod "$VUB_KMOD" || echo "insmod $VUB_KMOD failed"
	trap lg_cleanup EXIT
	trap 'exit 1' TERM INT HUP
	lg_main
	rc=$?
	lg_cleanup
	for _ in $(seq 20); do rmmod vhost_user_bridge 2>/dev/null && break; sleep 0.5; done
	grep -q '^vhost_user_bridge ' /proc/modules && { echo "FAIL: rmmod vhost_user_bridge"; rc=1; }
	dmesg >"$VUB_OUT/dmesg.txt"
	grep -E "$VUB_DMESG_BAD" "$VUB_OUT/dmesg.txt" && { echo "FAIL: kernel log"; rc=1; }
	echo "# VUB_GUEST_DONE: rc $rc"
	exit $rc
fi
trap lg_cleanup EXIT
trap 'exit 1' TERM INT HUP
lg_main
