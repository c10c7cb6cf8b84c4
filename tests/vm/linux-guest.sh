#!/bin/bash
# A nested Linux guest doing TCP with its default offloads, through three vhost paths,
# with one queue pair and with four.
#
# Unmodified QEMU 7.2 (nested TCG, inside the test VM) boots the kernel under test with a
# busybox initramfs built here (tests/vm/linux-guest-init, build/vub_nettool, virtio_net
# and its dependencies from $VUB_MODROOT), memfd share=on RAM (QEMU's default RAM with
# LG_ANON=1, below), one vCPU (-smp 4 made the boot crawl and trip the soft-lockup
# watchdog under nested TCG on one CPU) and one
# virtio-net NIC per path, so that one boot (70-150 s under nested TCG) serves all six:
#
#   path  QEMU netdev                                      the guest's peer (the test VM)
#   1 vhost-net  tap,ifname=vubl1,vhost=on,vhostfd=N       tap vubl1, 10.77.1.1
#                N<>/dev/vhost-net (the reference)
#   2 vhost-user vhost-user,chardev=SOCK2 (the second      testpmd lg1 port 0 (vhost PMD on
#                reference; vectors=0: QEMU 7.2 with       SOCK2) <-io-> port 1 (virtio-user,
#                vhost-user and MSI-X crashes under TCG    vhost-kernel mode) = tap vubl2,
#                when Linux's virtio-net driver starts)    10.77.2.1
#   3 bridge     tap,ifname=vublq3,vhost=on,vhostfd=M      testpmd lg1 port 2 (vhost PMD on
#                M<>/dev/vhost-user-bridge,                SOCK3, which vhost-user-bridged
#                vhost-user-bridged --backend SOCK3        --backend uses) <-io-> port 3 =
#                                                          tap vubl3, 10.77.3.1
#   4, 5, 6      the same with queues=4 (LG_QUEUES): QEMU -netdev tap,queues=4,fds=a:b:c:d,
#                vhostfds=e:f:g:h (the tap's queues opened by vub_nettool tap-exec, each
#                vhost fd on /dev/vhost-net for 4, on /dev/vhost-user-bridge-lg6 for 6, an
#                instance bound to SOCK6 with vubctl) and virtio-net-pci mq=on,vectors=10;
#                -netdev vhost-user,queues=4 and vectors=0 for 5; testpmd lg4 (queues=4
#                on every port) for 5 and 6, taps vubl4 (QEMU's, multi_queue), vubl5, vubl6.
#
# Two testpmds (testpmd's queue count is the same for all its ports), io forwarding,
# paired ports, each port's pair a DPDK virtio-user with path=/dev/vhost-net: a kernel tap
# with virtio-net headers, so the test VM's own kernel is the guest's TCP and UDP peer, as
# it is on paths 1 and 4.  Not net_tap: with the vhost PMD's tso=1 (needed for the guest
# to see HOST_TSO) net_tap drops the large frames; virtio-user does not, and without
# tso=1 the vhost PMD completes the guest's partial checksums in software before io
# forwarding hands the packets on, which is what a vhost-user switch does.  Only the
# testpmd of the path the guest is on forwards (the other is stopped): both share one
# CPU with the peer's kernel, and a forwarding testpmd polls without pause.
#
# On each path the guest, with its default offloads (printed: the negotiated virtio
# features and the netdev's ethtool -k state), sets N combined channels (ethtool -L) for
# N pairs, pings with 1400 bytes and with 4000 bytes (fragmented), sends 20 UDP datagrams
# of 1400 bytes to an echo server, and runs vub_nettool tcp-echo: N parallel TCP flows
# (flow k on queue pair k: XPS by CPU picks tx queue k for its SYN, the host's tap sends
# the flow back on the queue it came from, XPS by receive queue keeps it there) that receive 16 MiB
# of random data in all from the peer's vub_nettool tcp-serve, hash it (sha256), and
# send it back.  The guest's hash of what it received and the peer's hash of what came
# back must equal sha256sum's hash of the data.  Throughput: peer -> guest by the guest's
# clock (first connect to last EOF), guest -> peer by the peer's (first byte back to
# last EOF).  With N > 1 on paths 5 and 6 the guest's per-queue packet counters (ethtool -S)
# must be non-zero on every rx and tx queue, and so must testpmd's per-queue counters of
# its vhost-user port.  On path 4 they are only printed: there the host's multiqueue tap
# picks a flow's receive queue (tun's flow table), and in 10 of the 11 runs seen one of
# the 4 flows did not stay on its queue pair (0-20 packets there; cause not found; the
# even run had LG_PATHS="4 5", all the others included path 6); that path is vhost-net's
# reference, not the bridge.  The peer's /proc/net/snmp (Tcp and Udp InCsumErrors) is
# read before and after each path.
#
# Part of `make check` (tests/vm/guest.d/60-linux-guest.sh, in the 6.12 VM); alone:
# `make check-linux-guest`, which makes it the whole guest script of a 6.12 VM.  On 6.1
# it is skipped unless LG_FORCE=1: its xz-compressed bzImage alone takes minutes to unpack
# under nested TCG.  LG_PATHS picks paths (default "1 2 3 4 5 6"; "1 2 3" with
# LG_QUEUES=1), LG_QUEUES the pairs of 4-6, LG_BYTES the TCP bytes each way per path,
# LG_PANIC=P crashes the guest's kernel (sysrq c) as path P begins on the first boot (a
# test of the one retry a panic gets, below).  LG_VIOMMU=1 gives the guest a vIOMMU that
# it uses (q35, -device intel-iommu,intremap=off, every NIC iommu_platform=on,ats=on,
# the guest booted with intel_iommu=on, testpmd's vhost ports iommu-support=1): the
# guest's DMA addresses are then real I/O virtual addresses, which each vhost back-end
# learns through the IOTLB (QEMU answers its misses and sends the guest's unmaps as
# invalidations); slow, use it with few paths and bytes (LG_PATHS="1 3" LG_QUEUES=1).
# LG_ANON=1 gives the guest QEMU's default RAM (plain -m 256M: private anonymous, no
# memory backend), which no vhost-user back-end can map: paths 2 and 5 (native vhost-user)
# are refused, LG_PATHS defaults to "1 3" ("1 3 4 6" with LG_QUEUES > 1), and each bridge
# path opens an instance added with --mem mirror (lg3 on SOCK3, lg6 on SOCK6), whose
# back-end (testpmd) gets mirrors of QEMU's pages (Documentation/design.rst, "Mirrored
# memory").  Every check above holds, and while the guest is on a bridge path its
# testpmd must map a [vub-mirror] file and QEMU no memfd (/proc/PID/maps).  Skipped on a
# lockdep kernel, as 27-anon-ram.sh is.
# Exit 0 pass, 1 fail, 4 skip (last line: why).
# Logs: $VUB_OUT/linux-guest/ (build/vm-KREL/linux-guest/).
set -u
lg_self=$(readlink -f "$0")
lg_top=$(cd "$(dirname "$lg_self")/../.." && pwd)
lg_build=${VUB_BUILD:-$lg_top/build}
lg_qemu=${QEMU:-qemu-system-x86_64}
lg_mq=${LG_QUEUES:-4}
lg_anon=${LG_ANON:-0}	# 1: QEMU's default RAM, the bridge paths on mirror instances
if [ "$lg_anon" = 1 ]; then
	if [ "$lg_mq" -gt 1 ]; then lg_paths=${LG_PATHS:-1 3 4 6}; else lg_paths=${LG_PATHS:-1 3}; fi
elif [ "$lg_mq" -gt 1 ]; then lg_paths=${LG_PATHS:-1 2 3 4 5 6}; else lg_paths=${LG_PATHS:-1 2 3}; fi
lg_bytes=${LG_BYTES:-16777216}
lg_viommu=${LG_VIOMMU:-0}
lg_nicopt=	# with LG_VIOMMU=1: the NICs' vIOMMU properties
[ "$lg_viommu" = 1 ] && lg_nicopt=,iommu_platform=on,ats=on,disable-legacy=on
# Seconds for the nested guest, boot to poweroff: what the test's time limit leaves.
lg_budget=${LG_BUDGET:-$((${VUB_TEST_TIMEOUT:-600} - 150))}
lg_kinds=([1]=vhost-net [2]=vhost-user [3]=bridge)
lg_dir=
lg_log=		# the guest's console and QEMU's output: $VUB_OUT/linux-guest, live
lg_qpid=
lg_peer=()
lg_why=
lg_fwd=		# the testpmd that forwards now
lg_inst=	# the vubctl instances: lg6 (path 6), lg3 (path 3 with LG_ANON=1)

say() { echo "$*"; }
detail() { echo "    $*"; }
# testpmd helpers (tp_start, tp_cmd, tp_wait, tp_stop, tp_quit, e2e_cleanup).
# shellcheck source-path=SCRIPTDIR source=e2e-virtio-user.sh
. "$lg_top/tests/vm/e2e-virtio-user.sh"

lg_now() { local u; read -r u _ </proc/uptime; echo "$u"; }
lg_since() { awk -v a="$1" -v b="$(lg_now)" 'BEGIN { printf "%.1f", b - a }'; }
lg_has() { case " $lg_paths " in *" $1 "*) return 0 ;; esac; return 1; }
# Path P: its kind (1 vhost-net, 2 vhost-user, 3 bridge), queue pairs, name, testpmd.
lg_kind() { echo $((($1 - 1) % 3 + 1)); }
lg_pq() { if [ "$1" -le 3 ]; then echo 1; else echo "$lg_mq"; fi; }
lg_name() { local q; q=$(lg_pq "$1"); echo "${lg_kinds[$(lg_kind "$1")]}$([ "$q" -gt 1 ] && echo " x$q")"; }
lg_tp() { echo "lg$(lg_pq "$1")"; }
# A bridge path's vubctl instance: lg6 for path 6, lg3 for path 3 with LG_ANON=1 (its
# --mem mirror); none (the default node, the daemon's --backend) for path 3 otherwise.
lg_instname() { [ "$1" = 3 ] && [ "$lg_anon" != 1 ] || echo "lg$1"; }

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
	for p in $lg_inst; do "$lg_build/vubctl" instance del "$p" --force >/dev/null 2>&1; done
	lg_inst=
	for p in 1 4 q3 q6; do ip link del "vubl$p" 2>/dev/null; done
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

# lg_tap NAME QUEUES [IP]: a tap the test VM's kernel owns (multi_queue for QUEUES > 1), up, no IPv6.
lg_tap() {
	local mq=
	[ "$2" -gt 1 ] && mq=multi_queue
	ip tuntap add dev "$1" mode tap $mq || return 1
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1"
	[ -z "${3:-}" ] || ip addr add "$3/24" dev "$1" || return 1
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

# lg_testpmd NAME QUEUES PATH...: start testpmd with a vhost-user port (SOCKP) and a
# virtio-user (vhost-kernel) port (tap vublP) for each path; its port 2i is path i's
# vhost-user port.  lg_testpmd_up NAME QUEUES PATH...: wait for it, address its taps.
lg_testpmd() {
	local name=$1 q=$2 p vdev=() mb=$((8192 + 2048 * $2 * ($# - 2)))
	shift 2
	for p in "$@"; do
		vdev+=(--vdev "net_vhost$p,iface=$lg_dir/vu$p.sock,queues=$q,client=0$([ "$lg_viommu" = 1 ] && echo ,iommu-support=1)"
			--vdev "net_virtio_user$p,path=/dev/vhost-net,iface=vubl$p,queues=$q,queue_size=1024")
	done
	rm -rf "/run/dpdk/vub-e2e-$name"
	# Both lcores on CPU 0 (QEMU gets CPU 1); --no-mlockall: no locking of the guest's
	# RAM when it is mapped; vhost config logs show the features each connection negotiated.
	tp_start "$name" 0 0 $((mb / 200 + 64)) "${vdev[@]}" --log-level=lib.vhost.config:info -- \
		-i --forward-mode=io --port-topology=paired --total-num-mbufs="$mb" --nb-cores=1 \
		--rxq="$q" --txq="$q" --no-mlockall
}

lg_testpmd_up() {
	local name=$1 q=$2 p
	shift 2
	tp_wait "$name" 'testpmd> ' 1 180 || { lg_fail "testpmd $name: $e2e_why"; return; }
	for p in "$@"; do
		lg_ifaddr "vubl$p" "10.77.$p.1" || { lg_fail "testpmd's virtio-user made no tap vubl$p"; return; }
		[ -S "$lg_dir/vu$p.sock" ] || { lg_fail "testpmd $name: no $lg_dir/vu$p.sock"; return; }
	done
	detail "testpmd $name up after $(lg_since "$lg_t0") s, $q queue(s) per port: $(for p in "$@"; do printf 'vhost-user vu%s.sock <-io-> tap vubl%s 10.77.%s.1; ' "$p" "$p" "$p"; done)"
}

# lg_backend: the taps, the testpmds of paths 2, 3, 5, 6, the bridge daemon (--backend
# SOCK3) and instance lg6 (SOCK6).
lg_backend() {
	local p q qs i up on=()
	for p in $lg_paths; do
		q=$(lg_pq "$p")
		case $(lg_kind "$p") in
		1) lg_tap "vubl$p" "$q" "10.77.$p.1" || { lg_fail "cannot create tap vubl$p"; return; } ;;
		3) lg_tap "vublq$p" "$q" || { lg_fail "cannot create tap vublq$p"; return; } ;;
		esac
	done
	e2e_dir=$lg_dir/tp
	mkdir -p "$e2e_dir"
	lg_t0=$(lg_now)
	qs=1
	[ "$lg_mq" = 1 ] || qs="1 $lg_mq"
	for up in '' _up; do	# both start, then both are waited for
		for q in $qs; do
			on=()
			for p in $lg_paths; do
				[ "$(lg_kind "$p")" != 1 ] && [ "$(lg_pq "$p")" = "$q" ] && on+=("$p")
			done
			[ ${#on[@]} = 0 ] || "lg_testpmd$up" "lg$q" "$q" "${on[@]}" || return
		done
	done
	lg_has 3 || lg_has 6 || return 0
	# The daemon's own back-end is path 3's; path 6 has an instance of its own.
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
	for p in $lg_paths; do
		i=$(lg_instname "$p")
		{ [ "$(lg_kind "$p")" = 3 ] && [ -n "$i" ]; } || continue
		"$lg_build/vubctl" instance add "$i" --socket "$lg_dir/vu$p.sock" ${lg_mem:+--mem "$lg_mem"} >/dev/null ||
			{ lg_fail "vubctl instance add $i failed"; return; }
		lg_inst="$lg_inst $i"
		[ -c "/dev/vhost-user-bridge-$i" ] || { lg_fail "no /dev/vhost-user-bridge-$i after vubctl instance add"; return; }
		[ -z "$lg_mem" ] || "$lg_build/vubctl" instance show "$i" | grep -q " mem $lg_mem " ||
			{ lg_fail "vubctl instance show $i: not mem $lg_mem"; return; }
		detail "vubctl instance add $i --socket $lg_dir/vu$p.sock${lg_mem:+ --mem $lg_mem}: /dev/vhost-user-bridge-$i"
	done
}

# Serve each path: its slices of the data over TCP (tcp-serve), a UDP echo.
lg_serve() {
	local p
	head -c "$lg_bytes" /dev/urandom >"$lg_dir/data" || return 1
	lg_sum=$(sha256sum <"$lg_dir/data" | cut -d' ' -f1)
	for p in $lg_paths; do
		"$lg_build/vub_nettool" tcp-serve "10.77.$p.1" "50${p}1" "$lg_dir/data" "$(lg_pq "$p")" 3600 \
			>"$lg_dir/srv.$p" 2>&1 &
		lg_peer+=($!)
		"$lg_build/vub_nettool" udp-echo "10.77.$p.1" "50${p}3" 3600 >/dev/null 2>&1 &
		lg_peer+=($!)
	done
	sleep 1
	for p in "${lg_peer[@]}"; do
		kill -0 "$p" 2>/dev/null || { cat "$lg_dir"/srv.* 2>/dev/null | head -5; return 1; }
	done
	detail "peer: $lg_bytes random bytes, sha256 $lg_sum, served on ports 50P1 (TCP: to the guest and back), 50P3 (UDP echo)"
}

# The guest's "VUBL P KEY ..." line for KEY (the last one), without the prefix.
lg_line() { tr -d '\r' <"$lg_log/guest.serial" | grep "^VUBL $1 $2" | tail -1 | cut -d' ' -f4-; }

# lg_qemu_exec: in a subshell: open the vhost fds, then become QEMU with one NIC per path
# (through vub_nettool tap-exec, which opens the queues of the multiqueue taps on fds 40-47).
lg_qemu_exec() {
	local p q fd i dev t vf tf nd=() pre=() tapfd=40
	for p in $lg_paths; do
		q=$(lg_pq "$p")
		case $(lg_kind "$p") in
		1|3)
			if [ "$(lg_kind "$p")" = 1 ]; then dev=/dev/vhost-net; t=vubl$p
			else dev=/dev/vhost-user-bridge; t=vublq$p; fi
			[ "$(lg_kind "$p")" = 3 ] && [ -n "$(lg_instname "$p")" ] && dev=/dev/vhost-user-bridge-$(lg_instname "$p")
			if [ "$q" = 1 ]; then
				exec {fd}<>"$dev" || exit 1
				nd+=(-netdev "tap,id=n$p,ifname=$t,script=no,downscript=no,vhost=on,vhostfd=$fd"
					-device "virtio-net-pci,netdev=n$p,mac=52:54:00:77:0$p:02$lg_nicopt")
			else
				# QEMU 7.2 takes vhostfds= only with fds=.
				vf='' tf=''
				for ((i = 0; i < q; i++)); do
					exec {fd}<>"$dev" || exit 1
					vf=$vf${vf:+:}$fd
					tf=$tf${tf:+,}$tapfd
					tapfd=$((tapfd + 1))
				done
				pre+=("$lg_build/vub_nettool" tap-exec "$t" "$tf")
				nd+=(-netdev "tap,id=n$p,fds=${tf//,/:},vhost=on,vhostfds=$vf"
					-device "virtio-net-pci,netdev=n$p,mac=52:54:00:77:0$p:02,mq=on,vectors=$((2 * q + 2))$lg_nicopt")
			fi ;;
		2)	nd+=(-chardev "socket,id=c$p,path=$lg_dir/vu$p.sock" -netdev "vhost-user,id=n$p,chardev=c$p,queues=$q"
				-device "virtio-net-pci,netdev=n$p,mac=52:54:00:77:0$p:02,vectors=0$([ "$q" -gt 1 ] && echo ,mq=on)$lg_nicopt") ;;
		esac
	done
	echo "$lg_qemu -smp $lg_smp -m 256M ($([ "$lg_anon" = 1 ] && echo "default RAM" || echo "memfd share=on")) -kernel vmlinuz-$VUB_KREL ${nd[*]}" >"$lg_dir/qemu.cmd"
	# shellcheck disable=SC2054 # commas: QEMU's option syntax
	local mem=(-object memory-backend-memfd,id=mem,size=256M,share=on) mb=,memory-backend=mem iommu=
	[ "$lg_anon" = 1 ] && mem=() mb=	# QEMU's default RAM: private anonymous
	local machine=(-machine "pc$mb")
	# shellcheck disable=SC2054 # commas: QEMU's option syntax
	[ "$lg_viommu" = 1 ] && machine=(-machine "q35$mb"
		-device intel-iommu,intremap=off,device-iotlb=on) iommu=" intel_iommu=on"
	exec $lg_cpu "${pre[@]}" "$lg_qemu" -accel tcg -cpu qemu64 -smp "$lg_smp" -m 256M \
		-nodefaults -no-user-config -display none -no-reboot \
		"${machine[@]}" "${mem[@]}" \
		-kernel "$VUB_MODROOT/boot/vmlinuz-$VUB_KREL" -initrd "$lg_dir/initrd.cpio" \
		-append "console=ttyS0 quiet panic=-1 apparmor=0$iommu vubl_paths=$lg_cmdpaths vubl_bytes=$lg_bytes$([ "$lg_attempt" = 1 ] && echo "${LG_PANIC:+ vubl_panic=$LG_PANIC}")" \
		-serial "file:$lg_log/guest.serial" "${nd[@]}" \
		</dev/null >"$lg_log/qemu.log" 2>&1
}

# lg_forward P: only the testpmd of path P forwards (none for vhost-net).
lg_forward() {
	local want=
	[ "$(lg_kind "$1")" = 1 ] || want=$(lg_tp "$1")
	[ "$want" != "$lg_fwd" ] || return 0
	[ -z "$lg_fwd" ] || tp_stop "$lg_fwd" || detail "testpmd $lg_fwd: $e2e_why"
	[ -z "$want" ] || tp_cmd "$want" start
	lg_fwd=$want
}

# lg_boot: the guest, until it powers off; the peer's counters as each path begins and ends.
lg_boot() {
	local t0 i p con seen=" "
	local -a snmp
	[ -e "$lg_dir/initrd.cpio" ] || lg_initrd || { lg_fail "cannot build the guest's initramfs"; return; }
	lg_cpu=
	[ "$(nproc)" -ge 2 ] && lg_cpu="taskset -c 1"
	lg_smp=${LG_SMP:-1}
	lg_cmdpaths=$(for p in $lg_paths; do printf '%s:%s,' "$p" "$(lg_pq "$p")"; done)
	lg_cmdpaths=${lg_cmdpaths%,}
	t0=$(lg_now)
	: >"$lg_log/guest.serial"
	lg_attempt=$((${lg_attempt:-0} + 1))
	(lg_qemu_exec) &
	lg_qpid=$!
	sleep 1
	detail "$(cat "$lg_dir/qemu.cmd" 2>/dev/null)"
	# Follow the console: the right testpmd forwarding, the peer's checksum counters as
	# each path begins and ends.
	for ((;;)); do
		IFS= read -r -d '' con <"$lg_log/guest.serial"
		for p in 0 $lg_paths; do
			case $seen in *" $p.b "*) ;; *)
				if [[ $con == *"VUBL $p begin"* || $con == *"VUBL $p up"* ]]; then
					[ "$p" = 0 ] || lg_forward "$p"
					read -r -a snmp <<<"$(lg_snmp)"
					lg_snmp0[p]="${snmp[*]}"
					seen="$seen$p.b "
					[ "$p" = 0 ] && detail "the guest's init runs after $(lg_since "$t0") s (guest uptime $(lg_line 0 up))"
				fi ;;
			esac
			# testpmd's per-queue counters while the guest is still connected
			# (after it quits, the vhost PMD has none to show).
			case $seen in *" $p.q "*) ;; *)
				if [[ $con == *"VUBL $p qstats"* ]]; then
					seen="$seen$p.q "
					[ "$p" = 0 ] || [ "$(lg_kind "$p")" != 3 ] || lg_mirr[p]=$(lg_maps "$p")
					[ "$p" = 0 ] || [ "$(lg_kind "$p")" = 1 ] || [ "$(lg_pq "$p")" = 1 ] ||
						lg_tpq[p]=$(lg_tp_qstats "$p")
				fi ;;
			esac
			case $seen in *" $p.e "*) ;; *)
				if [[ $con == *"VUBL $p end"* ]]; then
					lg_snmp1[p]=$(lg_snmp)
					seen="$seen$p.e "
					detail "path $p ($(lg_name "$p")) done after $(lg_since "$t0") s"
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
		# Nested TCG (QEMU's TCG inside a TCG VM) has crashed Debian's kernel with
		# impossible register state: before init (apparmor_init, entropy) and once in
		# net_rx_action with EFLAGS c244e483 (reserved bits set, which no CPU pushes).
		# So a panic gets one more boot (lg_main, on a clean slate), which runs every
		# path again; the first console is kept and the path it was on is named.
		if [ "$lg_attempt" = 1 ]; then
			mv "$lg_log/guest.serial" "$lg_log/guest.serial.crash"
			i=$(tr -d '\r' <"$lg_log/guest.serial.crash" | grep -o '^VUBL [1-9]' | tail -1)
			if [ -n "$i" ]; then i="on path ${i#VUBL }"; else i="before its first path"; fi
			say "WARNING: the nested guest's kernel panicked $(lg_since "$t0") s after QEMU started, $i ($(grep -m1 -o 'RIP: 0010:[^ ]*' "$lg_log/guest.serial.crash"); console: guest.serial.crash): booting once more"
			return 3
		fi
		lg_fail "the nested guest's kernel panicked again, $(lg_since "$t0") s after QEMU started"
		return
	fi
	[[ $con == *"VUBL 0 done"* ]] || { lg_fail "the guest did not finish within $lg_budget s"; return; }
	detail "QEMU ran $lg_boot_s s: the guest's init at $(lg_line 0 up), done at $(lg_line 0 'done') s of its uptime"
	if grep -qE 'vhost|[Ee]rror|Assertion' "$lg_log/qemu.log"; then
		sed 's/^/    qemu: /' "$lg_log/qemu.log" | head -10
	fi
	return 0
}

# lg_maps P: while the guest is on bridge path P, "M F": mappings of mirrors of guest
# memory ([vub-mirror]) in its testpmd, memfd mappings in QEMU.
lg_maps() {
	echo "$(grep -c 'vub-mirror' "/proc/${e2e_pid[$(lg_tp "$1")]:-0}/maps" 2>/dev/null) $(grep -c '/memfd:' "/proc/$lg_qpid/maps" 2>/dev/null)"
}

# lg_tp_qstats P: testpmd's "rx tx" good packets of each queue of path P's vhost-user port
# ("rx0 tx0 rx1 tx1 ..."), from a fresh "show port xstats"; only while QEMU is connected.
lg_tp_qstats() {
	local p=$1 tp port=0 x n q i
	tp=$(lg_tp "$p")
	q=$(lg_pq "$p")
	for x in $lg_paths; do
		[ "$x" = "$p" ] && break
		[ "$(lg_kind "$x")" != 1 ] && [ "$(lg_pq "$x")" = "$q" ] && port=$((port + 2))
	done
	n=$(grep -c "NIC extended statistics for port $port" "${e2e_log[$tp]}")
	i=$(grep -c "Infos for port $port" "${e2e_log[$tp]}")
	tp_cmd "$tp" "show port xstats $port"
	tp_cmd "$tp" "show port info $port"	# its output tells that the xstats are complete
	tp_wait "$tp" "Infos for port $port" $((i + 1)) 30 || return 1
	awk -v n=$((n + 1)) -v q="$q" -v port="$port" '
		$0 ~ "NIC extended statistics for port " port "$" || $0 ~ "NIC extended statistics for port " port " " { k++ }
		k == n && match($1, /^(rx|tx)_q[0-9]+_good_packets:$/) { v[$1] = $2 }
		END { for (i = 0; i < q; i++)
			printf "%d %d ", v["rx_q" i "_good_packets:"], v["tx_q" i "_good_packets:"]
		      print "" }' "${e2e_log[$tp]}"
}

# lg_check P: the verdict of one path from the guest's lines and the peer's files.
lg_check() {
	local p=$1 n l bad=() a rx tx q i kind
	local -a x y
	n=$(lg_name "$p")
	q=$(lg_pq "$p")
	kind=$(lg_kind "$p")
	say "path $p, $n:"
	lg_tput[p]="failed / failed" lg_csum[p]='' lg_qs[p]=''
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
	# Guest: "BYTES SHA256 RX_S TX_S [errors]"; peer: "SENT BACK SHA256 BACK_S".
	read -r -a x <<<"$(lg_line "$p" tcp)"
	read -r -a y <<<"$(grep -E '^[0-9]+ [0-9]+ [0-9a-f]+ [0-9.]+$' "$lg_dir/srv.$p" 2>/dev/null)"
	rx='' tx=''
	if [ "${x[0]:-0}" = "$lg_bytes" ] && [ "${x[1]:-}" = "$lg_sum" ] && [ ${#x[@]} = 4 ]; then
		rx=$(awk -v b="${x[0]}" -v s="${x[2]}" 'BEGIN { printf "%.0f", (s > 0 ? b / s : 0) }')
		detail "TCP peer -> guest ($q flow(s)): ${x[0]} bytes, sha256 equal, ${x[2]} s: $rx bytes/s"
	else
		bad+=("TCP peer -> guest: the guest got ${x[0]:-?} bytes of $lg_bytes, sha256 ${x[1]:-?} ($([ "${x[1]:-}" = "$lg_sum" ] && echo equal || echo differs))${x[4]:+; guest: ${x[*]:4}}")
	fi
	if [ ${#y[@]} = 4 ] && [ "${y[1]}" = "$lg_bytes" ] && [ "${y[2]}" = "$lg_sum" ]; then
		tx=$(awk -v b="${y[1]}" -v s="${y[3]}" 'BEGIN { printf "%.0f", (s > 0 ? b / s : 0) }')
		detail "TCP guest -> peer ($q flow(s)): ${y[1]} bytes, sha256 equal, ${y[3]} s: $tx bytes/s"
	else
		bad+=("TCP guest -> peer: the peer got ${y[1]:-?} bytes of $lg_bytes, sha256 ${y[2]:-?}; peer: $(head -c 300 "$lg_dir/srv.$p" | tr '\n' ' ')")
	fi
	# Per-queue packets: the guest's (ethtool -S), and testpmd's on its vhost-user port.
	l=$(lg_line "$p" qstats)
	detail "guest per-queue packets: $l"
	lg_qs[p]="guest $l"
	if [ "$q" -gt 1 ]; then
		read -r -a x <<<"$l"
		if [ "${x[0]:-}" != rx ] || [ ${#x[@]} != $((2 * q + 2)) ] || [ "${x[q + 1]}" != tx ]; then
			bad+=("the guest's per-queue counters: '$l', not $q rx and $q tx queues")
		elif [ "$kind" = 1 ]; then
			detail "(not required on this path: the tap picks the queues, and one flow left its own in 10 of 11 runs seen)"
		else
			for ((i = 0; i < q; i++)); do
				[ "${x[i + 1]}" -gt 0 ] || bad+=("guest rx queue $i: no packets")
				[ "${x[q + 2 + i]}" -gt 0 ] || bad+=("guest tx queue $i: no packets")
			done
		fi
		if [ "$kind" != 1 ]; then
			read -r -a y <<<"${lg_tpq[p]:-}"
			detail "testpmd $(lg_tp "$p") vhost-user port, per queue (rx tx): ${y[*]}"
			lg_qs[p]="${lg_qs[p]}; testpmd rx/tx per queue ${y[*]}"
			for ((i = 0; i < q; i++)); do
				[ "${y[2 * i]:-0}" -gt 0 ] || bad+=("testpmd's vhost-user port rx queue $i: no packets")
				[ "${y[2 * i + 1]:-0}" -gt 0 ] || bad+=("testpmd's vhost-user port tx queue $i: no packets")
			done
		fi
	fi
	if [ "$kind" = 3 ]; then
		read -r -a y <<<"${lg_mirr[p]:-}"
		detail "while the guest was on it: testpmd $(lg_tp "$p") mapped ${y[0]:-?} mirror(s) of guest memory ([vub-mirror] in its maps), QEMU ${y[1]:-?} memfd(s)"
		if [ "$lg_anon" = 1 ]; then
			[ "${y[0]:-0}" -gt 0 ] || bad+=("testpmd $(lg_tp "$p") mapped no mirror of the guest's memory")
			[ "${y[1]:-1}" = 0 ] || bad+=("QEMU's RAM is not anonymous: ${y[1]:-?} memfd mapping(s)")
		fi
	fi
	detail "guest: $(lg_line "$p" stats | awk '{ printf "rx %s packets %s bytes, tx %s packets %s bytes", $3, $2, $11, $10 }'); guest's $(lg_line "$p" snmp)"
	read -r -a x <<<"${lg_snmp0[p]:-0 0}"
	read -r -a y <<<"${lg_snmp1[p]:-0 0}"
	lg_csum[p]="Tcp InCsumErrors +$((y[0] - x[0])), Udp InCsumErrors +$((y[1] - x[1]))"
	detail "peer (the test VM's kernel) during this path: ${lg_csum[p]}"
	lg_tput[p]="${rx:-failed} / ${tx:-failed}"
	if [ ${#bad[@]} = 0 ]; then
		lg_res[p]=ok
		say "ok $n: pings, UDP, TCP both ways sha256-equal$([ "$q" -gt 1 ] && [ "$kind" != 1 ] && echo ", packets on every queue"); throughput peer->guest ${rx} B/s, guest->peer ${tx} B/s"
		return 0
	fi
	lg_res[p]="${bad[*]}"
	for l in "${bad[@]}"; do say "  FAILED: $l"; done
	# testpmd's drops and mbuf shortages since it last started forwarding, every port.
	[ "$kind" = 1 ] || [ "$(lg_tp "$p")" != "$lg_fwd" ] || ! tp_stop "$lg_fwd" ||
		awk '/Forward statistics for port/ { port = $6 } /-dropped|-nombufs|-error/ { print "port " port ":" $0 }' \
			"${e2e_log[$lg_fwd]}" | tail -12 | tr -s ' ' | sed 's/^/    testpmd /'
	lg_fwd=
	l=/sys/class/net/vubl$p/statistics
	[ -d "$l" ] && detail "peer's tap vubl$p: rx $(cat "$l/rx_packets") packets $(cat "$l/rx_bytes") bytes, $(cat "$l/rx_dropped") dropped; tx $(cat "$l/tx_packets") packets, $(cat "$l/tx_dropped") dropped; peer's $(grep -A1 '^Ip:' /proc/net/snmp | awk 'NR == 1 { for (i = 2; i <= NF; i++) k[i] = $i } NR == 2 { for (i = 2; i <= NF; i++) if ((k[i] ~ /Discards|Errors/) && $i) printf "Ip %s %s ", k[i], $i }')"
	return 1
}

# lg_keep [SUBDIR]: the peer's and testpmds' logs into $VUB_OUT/linux-guest[/SUBDIR].
lg_keep() {
	local dst=${VUB_OUT:-}/linux-guest${1:+/$1} f
	[ -n "${VUB_OUT:-}" ] && [ -n "$lg_dir" ] || return 0
	mkdir -p "$dst"
	for f in "$lg_dir"/srv.* "$lg_dir"/qemu.cmd "$lg_dir"/tp/*.log; do
		[ -f "$f" ] && cp "$f" "$dst/"
	done
	return 0
}

lg_main() {
	local p b missing='' rc=0 t0
	declare -ga lg_res=() lg_tput=() lg_csum=() lg_qs=() lg_tpq=() lg_snmp0=() lg_snmp1=() lg_mirr=()
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 4; }
	case $VUB_KREL in 6.1.*) [ "${LG_FORCE:-0}" = 1 ] ||
		{ echo "6.1: a nested Linux guest takes minutes more to boot (xz-compressed bzImage) under nested TCG; runs on 6.12 (LG_FORCE=1 to run it here)"; return 4; } ;;
	esac
	for b in "$lg_qemu" "$e2e_testpmd" "$lg_build/vub_nettool" /bin/busybox cpio xz strip; do
		command -v "$b" >/dev/null || { echo "no $b (make deps; make)"; return 4; }
	done
	lg_mem=
	if [ "$lg_anon" = 1 ]; then
		lg_has 2 || lg_has 5 && { lg_fail "LG_ANON=1: paths 2 and 5 (native vhost-user) need shared guest memory, which QEMU's default RAM is not; leave them out of LG_PATHS (default with LG_ANON=1: \"1 3\", or \"1 3 4 6\" with LG_QUEUES>1)"; return 1; }
		# See tests/vm/guest.d/27-anon-ram.sh.
		[ -e /proc/lockdep ] && { echo "LG_ANON=1 on a lockdep kernel: mirrors nest mmu notifier invalidations, which lockdep reports (design.rst); KVER=kasan runs it"; return 4; }
		lg_mem=mirror
	fi
	[ -e "$VUB_MODROOT/boot/vmlinuz-$VUB_KREL" ] || { lg_fail "no $VUB_MODROOT/boot/vmlinuz-$VUB_KREL"; return 1; }
	{ [ -c /dev/vhost-net ] && [ -c /dev/net/tun ]; } || { lg_fail "no /dev/vhost-net or /dev/net/tun (modprobe tun vhost_net)"; return 1; }
	if lg_has 3 || lg_has 6; then
		if [ ! -c /dev/vhost-user-bridge ] || [ ! -x "$lg_build/vhost-user-bridged" ] || [ ! -x "$lg_build/vubctl" ]; then
			lg_paths=$(echo " $lg_paths " | sed 's/ 3 / /; s/ 6 / /; s/^ *//; s/ *$//')
			missing="bridge paths left out: no /dev/vhost-user-bridge or $lg_build/vhost-user-bridged"
		fi
	fi
	lg_dir=$(mktemp -d /tmp/vub-linux.XXXXXX)
	lg_log=$lg_dir
	[ -z "${VUB_OUT:-}" ] || { lg_log=$VUB_OUT/linux-guest; rm -rf "$lg_log"; mkdir -p "$lg_log"; }
	say "A Linux guest ($VUB_KREL, $([ "$lg_anon" = 1 ] && echo "QEMU's default RAM, bridge paths mirrored" || echo "memfd share=on RAM")) doing TCP with default offloads through: $(for p in $lg_paths; do printf '%s, ' "$(lg_name "$p")"; done | sed 's/, $//')"
	t0=$(lg_now)
	lg_backend || { lg_keep; e2e_dump; return 1; }
	lg_serve || { lg_fail "cannot start the peer's servers"; lg_keep; return 1; }
	lg_boot
	rc=$?
	if [ "$rc" = 3 ]; then
		# The second boot starts from nothing, as the first did: new testpmds,
		# daemon, taps and servers, none of them carrying what the killed QEMU left.
		lg_keep attempt1
		lg_cleanup
		lg_fwd=
		lg_dir=$(mktemp -d /tmp/vub-linux.XXXXXX)
		[ -n "${VUB_OUT:-}" ] || lg_log=$lg_dir
		lg_backend || { lg_keep; e2e_dump; return 1; }
		lg_serve || { lg_fail "cannot start the peer's servers"; lg_keep; return 1; }
		lg_boot
		rc=$?
	fi
	[ "$rc" = 0 ] || { lg_keep; tail -20 "$lg_log/guest.serial" 2>/dev/null | sed 's/^/    guest: /'; return 1; }
	for p in $lg_paths; do
		lg_check "$p" || rc=1
	done
	if tr -d '\r' <"$lg_log/guest.serial" | grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic' | head -5 | sed 's/^/    guest kernel: /' | grep .; then
		lg_fail "the nested guest's kernel log has a splat"
		rc=2
	fi
	if lg_has 3 || lg_has 6; then
		for p in q3 q6; do
			[ -d "/sys/class/net/vubl$p" ] && detail "tap vubl$p (QEMU's tap of a bridge path, unused for data): rx_packets $(cat "/sys/class/net/vubl$p/statistics/rx_packets")"
		done
		b=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
		[ "$b" = 0 ] || { grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -5 | sed 's/^/    bridged: /'; lg_fail "$b ioctls failed in the daemon"; rc=2; }
	fi
	say "summary ($VUB_KREL, nested guest -smp $lg_smp ran $lg_boot_s s, test $(lg_since "$t0") s): TCP bytes/s peer->guest / guest->peer"
	for p in $lg_paths; do
		say "  $(lg_name "$p"): ${lg_tput[p]} ($([ "${lg_res[p]}" = ok ] && echo pass || echo FAIL); peer ${lg_csum[p]:-})"
	done
	# Why a path failed, here too: CI shows only the tail of the output.
	for p in $lg_paths; do
		[ "${lg_res[p]}" = ok ] || say "  $(lg_name "$p") failed: $(echo "${lg_res[p]}" | cut -c1-600)"
	done
	for p in $lg_paths; do
		[ "$(lg_pq "$p")" -gt 1 ] && say "  $(lg_name "$p") per-queue packets: ${lg_qs[p]}"
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
	e2e_guest_end "$rc"
fi
trap lg_cleanup EXIT
trap 'exit 1' TERM INT HUP
lg_main
