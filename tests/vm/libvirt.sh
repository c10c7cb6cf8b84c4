#!/bin/bash
# A libvirt-managed QEMU on the bridge (issue 15): Debian 12's libvirt 9.0, unpatched, starts
# unmodified QEMU 7.2 from the admin guide's recipe (Documentation/admin-guide.rst, libvirt):
#
#   <domain type='kvm'> <memoryBacking> memfd, shared
#     <interface type='ethernet'> <target dev='vub0'/> <model type='virtio'/>
#       <driver name='vhost'/> <backend vhost='/dev/vhost-user-bridge'/>
#
# libvirtd (root) opens /dev/vhost-user-bridge itself and passes QEMU the descriptor
# (-netdev tap,...,vhost=on,vhostfd=N); QEMU runs as libvirt-qemu, which cannot open the
# node (root 0600 here).  The guest is the iPXE ROM of guest.d/30-e2e-qemu.sh (whose
# functions this sources: testpmd and the daemon, their checks at the end), booting
# from the network: its DHCP and router solicitations go through the bridge to unmodified
# dpdk-testpmd (vhost PMD, macswap), which echoes them.
#
# libvirt opens a vhost device only for type='kvm' (with type='qemu' it opens none), so the
# test VM loads kvm_amd (QEMU's TCG CPU offers SVM) and the domain runs under nested KVM on
# TCG; no /dev/kvm is a SKIP with the reason.  No systemd in the test VM: libvirtd is
# started by hand, on writable overlays of /etc and /var (the host root is read-only), with
# a libvirt-qemu user (group kvm), qemu.conf "namespaces = [ ]", no cgroups, no security
# driver, QEMU's output in a file (no virtlogd), and the UNIX socket without polkit.
#
# Checks: QEMU runs as libvirt-qemu with an fd on /dev/vhost-user-bridge, vhostfd on its
# command line; the guest (iPXE's autoboot, its console on the serial port by <bios
# useserial='yes'/>) opens the NIC (vhost starts), sends its DHCP and resets the NIC (vhost
# stops) within a second or two under nested KVM; the domain is then suspended, and the
# guest's used ring indices (read from its RAM with the monitor's xp, where the back-end
# wrote them and where x-query-virtio-queue-status reads them for an open NIC) and the
# back-end's answer to QEMU's GET_VRING_BASE must equal testpmd's counters (TX ring used
# index = last avail = testpmd RX, RX ring's = testpmd TX), the tap vub0 must have
# received nothing; then virsh destroy, the daemon releases the device,
# testpmd echoed every packet without a drop and quits, the daemon exits 0 on SIGTERM, its
# log names QEMU's pid as the device's VMM and shows QEMU's vhost ioctls, none failed, and
# QEMU's log has no vhost error.  Logs: $VUB_OUT/libvirt/ (build/vm-KREL/libvirt/).
#
# Run by check-vm on both kernels (guest.d/33-libvirt.sh), or as the whole guest script of a
# 6.12 VM: make check-libvirt.
# Exit 0 pass, 1 fail, 4 skip (the last line says why).
set -u
lv_self=$(readlink -f "$0")
lv_top=$(cd "$(dirname "$lv_self")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=guest.d/30-e2e-qemu.sh
. "$lv_top/tests/vm/guest.d/30-e2e-qemu.sh"
qe_keep_dir=libvirt
lv_dom=vub-lv
lv_tap=vub0
lv_user=libvirt-qemu
lv_rt=/run/vub-lv		# libvirtd's config copies, logs, the domain's XML
lv_pid=			# libvirtd
lv_vin='' lv_vsh=''	# a virsh shell: our end of its input pipe, its pid
lv_tails=		# live copies of logs into $VUB_OUT
lv_mounts=		# the overlays lv_setup mounted
lv_kvm=			# 1: kvm_amd was not loaded before (lv_missing loads it)
lv_skip=		# why the test cannot run here
lv_boot_s=${LV_BOOT_TIMEOUT:-1200}	# the domain's resume to vhost's stop (iPXE's DHCP done), at most
export LIBVIRT_DEFAULT_URI=qemu:///system

lv_cleanup() {
	[ -z "$lv_vin" ] || exec {lv_vin}>&-
	[ -z "$lv_vsh" ] || { kill "$lv_vsh" 2>/dev/null; wait "$lv_vsh" 2>/dev/null; }
	lv_vin='' lv_vsh=''
	# shellcheck disable=SC2086 # pids
	[ -z "$lv_tails" ] || { kill $lv_tails 2>/dev/null; wait $lv_tails 2>/dev/null; }
	lv_tails=
	virsh destroy "$lv_dom" >/dev/null 2>&1
	qe_pid=	# libvirt's QEMU, gone with the domain
	if [ -n "$lv_pid" ]; then
		kill -TERM "$lv_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$lv_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$lv_pid" 2>/dev/null
		wait "$lv_pid" 2>/dev/null
		lv_pid=
	fi
	qe_cleanup
	# The machine as the next test in guest.d expects it: no overlays, no /dev/kvm.
	for d in $lv_mounts; do umount "$d" 2>/dev/null || umount -l "$d"; done
	lv_mounts=
	[ -z "$lv_kvm" ] || [ ! -e /sys/module/kvm_amd ] || modprobe -r kvm_amd
	lv_kvm=
}

# lv_keep: libvirt's and QEMU's logs, the domain's XML, next to testpmd's and the daemon's.
lv_keep() {
	local dst=${VUB_OUT:-}/$qe_keep_dir f
	[ -n "${VUB_OUT:-}" ] || return 0
	mkdir -p "$dst"
	for f in "$lv_rt"/*.log "$lv_rt"/*.xml "$lv_rt"/*.conf /var/log/libvirt/qemu/"$lv_dom".log; do
		[ -f "$f" ] && cp "$f" "$dst/"
	done
	qe_keep libvirt
}

# Why the test cannot run here, or nothing.  Loads kvm_amd for /dev/kvm.
lv_missing() {
	local b m
	for b in libvirtd virsh useradd groupadd setpriv "$qe_qemu"; do
		command -v "$b" >/dev/null || { echo "no $b (make deps: libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients)"; return; }
	done
	m=$(bridge_missing)
	[ -z "$m" ] || { echo "$m"; return; }
	[ -x "$e2e_testpmd" ] || { echo "no $e2e_testpmd (make deps)"; return; }
	if [ ! -c /dev/kvm ]; then
		grep -qw svm /proc/cpuinfo || { echo "no /dev/kvm: the test VM's CPU has no SVM (run.sh's -cpu; VUB_CPU)"; return; }
		m=$(modprobe kvm_amd 2>&1)
		[ -c /dev/kvm ] || { echo "no /dev/kvm: modprobe kvm_amd: ${m:-loaded} $(dmesg | grep -iE 'kvm|svm' | tail -3 | tr '\n' ' ')"; return; }
	fi
}

# Writable /etc and /var (overlays on the read-only host root), libvirt's user and config.
lv_setup() {
	local d
	for d in etc var; do
		mkdir -p "$lv_rt/ov-$d/u" "$lv_rt/ov-$d/w"
		mountpoint -q "/$d" && grep -q " /$d overlay " /proc/mounts && continue
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$lv_rt/ov-$d/u,workdir=$lv_rt/ov-$d/w" "/$d" ||
			{ qe_fail "cannot mount a writable overlay on /$d"; return; }
		lv_mounts="/$d $lv_mounts"
	done
	# As libvirt-daemon-system makes them: user libvirt-qemu in group kvm, and a group
	# libvirt-qemu (Debian's build names it for swtpm).
	getent group "$lv_user" >/dev/null || groupadd --system "$lv_user" || { qe_fail "groupadd $lv_user"; return; }
	getent passwd "$lv_user" >/dev/null ||
		useradd --system --gid kvm --home-dir /var/lib/libvirt --no-create-home \
			--shell /usr/sbin/nologin "$lv_user" || { qe_fail "useradd $lv_user"; return; }
	# As Debian's udev rule has it: QEMU (group kvm) opens /dev/kvm.
	chgrp kvm /dev/kvm && chmod 0660 /dev/kvm || { qe_fail "chgrp kvm /dev/kvm"; return; }
	mkdir -p /etc/libvirt
	cat >/etc/libvirt/qemu.conf <<-EOF
		user = "$lv_user"
		group = "kvm"
		namespaces = [ ]
		cgroup_controllers = [ ]
		security_driver = "none"
		stdio_handler = "file"
		remember_owner = 0
	EOF
	cat >/etc/libvirt/libvirtd.conf <<-EOF
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		log_outputs = "3:file:$lv_rt/libvirtd.log"
	EOF
	cp /etc/libvirt/qemu.conf "$lv_rt/qemu.conf"
	cp /etc/libvirt/libvirtd.conf "$lv_rt/libvirtd.conf"
	detail "overlays on /etc and /var; user $(id "$lv_user"); /dev/kvm $(stat -c '%U:%G %a' /dev/kvm)"
	detail "qemu.conf: $(grep -v '^$' /etc/libvirt/qemu.conf | paste -sd ';' | sed 's/;/; /g')"
}

lv_start_libvirtd() {
	local t0 i
	t0=$(qe_now)
	setsid libvirtd >"$lv_rt/libvirtd.stderr.log" 2>&1 </dev/null &
	lv_pid=$!
	for ((i = 0; i < 600; i++)); do
		virsh uri >/dev/null 2>&1 && break
		kill -0 "$lv_pid" 2>/dev/null || { qe_fail "libvirtd exited: $(tail -3 "$lv_rt/libvirtd.stderr.log" | tr '\n' ' ')"; return; }
		sleep 0.5
	done
	virsh uri >/dev/null 2>&1 || { qe_fail "libvirtd did not answer within 300 s"; return; }
	detail "libvirtd $(libvirtd --version | grep -o '[0-9.]*$') (pid $lv_pid) answers after $(qe_since "$t0") s; $(virsh version 2>/dev/null | grep -i 'hypervisor' | tr -s ' ')"
}

lv_domain_xml() {
	local cpus=
	[ "$(nproc)" -ge 2 ] && cpus=" cpuset='1'"	# testpmd polls on CPU 0
	cat <<-EOF
		<domain type='kvm'>
		  <name>$lv_dom</name>
		  <memory unit='MiB'>128</memory>
		  <vcpu placement='static'$cpus>1</vcpu>
		  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
		  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><bios useserial='yes'/></os>
		  <on_reboot>destroy</on_reboot>
		  <devices>
		    <emulator>$(command -v "$qe_qemu")</emulator>
		    <interface type='ethernet'>
		      <mac address='52:54:00:12:34:56'/>
		      <target dev='$lv_tap'/>
		      <model type='virtio'/>
		      <driver name='vhost'/>
		      <backend vhost='/dev/vhost-user-bridge'/>
		    </interface>
		    <serial type='file'><source path='$qe_dir/libvirt.serial'/></serial>
		    <controller type='usb' model='none'/>
		    <memballoon model='none'/>
		  </devices>
		</domain>
	EOF
}

lv_main() {
	local sock t0 missing qpid uid i j n fdl seq errs vmm
	local -a lv_used
	local -a s f
	[ "$(id -u)" = 0 ] || { qe_fail "needs root"; return; }
	[ -e /sys/module/kvm_amd ] || lv_kvm=1
	missing=$(lv_missing)
	if [ -n "$missing" ]; then lv_skip=$missing; return 4; fi
	[ -c /dev/vhost-user-bridge ] || { qe_fail "no /dev/vhost-user-bridge (module not loaded)"; return; }
	qe_dir=$(mktemp -d /run/vub-qemu.XXXXXX)
	sock=$qe_dir/backend.sock
	mkdir -p "$lv_rt"
	say "libvirt: $(dpkg-query -W -f '${Package} ${Version}' libvirt-daemon 2>/dev/null), QEMU $("$qe_qemu" --version | head -1 | grep -o '[0-9][0-9.]*' | head -1), /dev/kvm from kvm_amd (nested KVM on TCG)"
	lv_setup || return 1
	qe_backend_start "$sock" 0 || return 1
	lv_start_libvirtd || return 1

	lv_domain_xml >"$lv_rt/$lv_dom.xml"
	t0=$(qe_now)
	# Paused (QEMU -S): under nested KVM the guest would be through iPXE's Ctrl-B prompt
	# before the checks below are done.
	virsh create --paused "$lv_rt/$lv_dom.xml" >"$lv_rt/virsh-create.log" 2>&1 ||
		{ qe_fail "virsh create: $(tr '\n' ' ' <"$lv_rt/virsh-create.log")"; return; }
	read -r qpid <"/run/libvirt/qemu/$lv_dom.pid" 2>/dev/null
	[ -n "$qpid" ] && [ -d "/proc/$qpid" ] || { qe_fail "no QEMU pid from libvirt"; return; }
	qe_pid=$qpid	# for 30-e2e-qemu.sh's helpers
	detail "virsh create --paused: QEMU pid $qpid after $(qe_since "$t0") s"
	virsh dumpxml "$lv_dom" >"$lv_rt/$lv_dom.live.xml" 2>&1

	# QEMU as libvirt-qemu, with libvirt's descriptor on the bridge.
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$qpid/status")
	[ "$uid" = "$(id -u "$lv_user")" ] || { qe_fail "QEMU runs as uid $uid, not $lv_user"; return; }
	fdl=
	for i in /proc/"$qpid"/fd/*; do
		[ "$(readlink "$i")" = /dev/vhost-user-bridge ] && fdl+=" ${i##*/}"
	done
	[ -n "$fdl" ] || { qe_fail "QEMU has no fd on /dev/vhost-user-bridge"; return; }
	# libvirt 9.0 gives -netdev as JSON: {"type":"tap","fd":"N","vhost":true,"vhostfd":"M",...}
	j=$(tr '\0' '\n' <"/proc/$qpid/cmdline" | grep -m1 -- 'vhostfd')
	[ -n "$j" ] || { qe_fail "QEMU's command line has no vhostfd"; return; }
	detail "QEMU runs as $lv_user (uid $uid), fd$fdl on /dev/vhost-user-bridge; -netdev $j"
	j=$(setpriv --reuid="$lv_user" --regid=kvm --init-groups bash -c ': 3<>/dev/vhost-user-bridge' 2>&1) &&
		{ qe_fail "$lv_user can open /dev/vhost-user-bridge itself: the test would not show that libvirt opened it"; return; }
	case $j in *'Permission denied'*) ;; *) qe_fail "setpriv as $lv_user: $j"; return ;; esac
	detail "$lv_user cannot open /dev/vhost-user-bridge ($(stat -c '%U:%G %a' /dev/vhost-user-bridge)): libvirtd opened it"

	# iPXE's autoboot opens the NIC (vhost starts), sends its DHCP (about 10 packets) and
	# resets the NIC (vhost stops: GET_VRING_BASE through the bridge), all within a second
	# or two of real time under nested KVM: too soon to pause the guest with the NIC open,
	# and too soon for its Ctrl-B prompt (tried).  So the domain is suspended right after
	# vhost stopped (SeaBIOS then waits before it reboots): the guest's used rings are
	# still in its RAM, where the back-end wrote them and where x-query-virtio-queue-status
	# reads them for an open NIC; the virtio reset only cleared QEMU's copy.  They are read
	# with the monitor's xp at the guest-physical addresses QEMU gave in
	# VHOST_SET_VRING_ADDR (log_guest_addr, the used ring's; the idx is at offset 2).
	# A virsh shell, already connected, suspends (a virsh started then takes seconds).
	mkfifo "$lv_rt/virsh.in"
	exec {lv_vin}<>"$lv_rt/virsh.in"
	stdbuf -oL virsh <&"$lv_vin" >"$lv_rt/virsh-shell.log" 2>&1 &
	lv_vsh=$!
	# Live copies for the host (build/vm-6.12/libvirt.*.live), to see where a run hangs.
	if [ -n "${VUB_OUT:-}" ]; then
		tail -n +1 -F "$qe_dir/libvirt.serial" >"$VUB_OUT/libvirt.serial.live" 2>/dev/null &
		lv_tails+=" $!"
		tail -n +1 -F "$e2e_dir/bridged.log" >"$VUB_OUT/libvirt.bridged.live" 2>/dev/null &
		lv_tails+=" $!"
	fi
	echo "resume $lv_dom" >&"$lv_vin"
	for ((i = 0; ; i++)); do
		IFS= read -r -d '' j <"$e2e_dir/bridged.log"
		[[ $j == *"VHOST_GET_VRING_BASE {index=1 "* ]] && break
		kill -0 "$qpid" 2>/dev/null || { qe_fail "QEMU exited before vhost stopped"; return; }
		[ $((i / 5)) -lt "$lv_boot_s" ] || { qe_fail "vhost did not start and stop within $lv_boot_s s"; return; }
		sleep 0.2
	done
	echo "suspend $lv_dom" >&"$lv_vin"
	for ((i = 0; i < 300; i++)); do
		IFS= read -r -d '' j <"$lv_rt/virsh-shell.log"
		[[ $j == *"Domain '$lv_dom' suspended"* ]] && break
		sleep 0.1
	done
	[ $i -lt 300 ] || { qe_fail "virsh suspend did not finish within 30 s: $(tail -2 "$lv_rt/virsh-shell.log" | tr '\n' ' ')"; return; }
	echo quit >&"$lv_vin"
	exec {lv_vin}>&-
	wait "$lv_vsh"
	lv_vin='' lv_vsh=''
	detail "vhost started and stopped (iPXE's DHCP), domain suspended $(qe_since "$t0") s after QEMU started"
	grep -q " pid $qpid seq [0-9]*: VHOST_NET_SET_BACKEND {index=1 fd=[0-9]" "$e2e_dir/bridged.log" ||
		{ qe_fail "no VHOST_NET_SET_BACKEND with the tap from QEMU in the daemon's log"; return; }
	# The used rings' guest-physical addresses, and their idx from the guest's RAM.
	for n in 0 1; do
		j=$(grep -o " pid $qpid seq [0-9]*: VHOST_SET_VRING_ADDR {index=$n .* log=0x[0-9a-f]*" "$e2e_dir/bridged.log" | tail -1 | grep -o '0x[0-9a-f]*$')
		[[ $j =~ ^0x[0-9a-f]+$ ]] || { qe_fail "no VHOST_SET_VRING_ADDR of ring $n in the daemon's log"; return; }
		qe_ans=$(virsh qemu-monitor-command "$lv_dom" --hmp "xp /1hx $((j + 2))" 2>&1) ||
			{ qe_fail "xp: $qe_ans"; return; }
		# "000000000007f81002: 0x000a" (with a CR)
		i=$(tr -d '\r' <<<"$qe_ans" | grep -o '0x[0-9a-f]*[[:space:]]*$' | tail -1 | tr -d '[:space:]')
		[[ $i =~ ^0x[0-9a-f]+$ ]] || { qe_fail "xp of ring $n's used idx: $qe_ans"; return; }
		lv_used[n]=$((i))
		detail "ring $n: used ring at guest-physical $j, used idx ${lv_used[n]} (xp: $(tr -d '\r\n' <<<"$qe_ans"))"
	done
	qe_rx=${lv_used[0]} qe_tx=${lv_used[1]}
	# What the back-end answered to QEMU's GET_VRING_BASE for the TX ring (its last avail).
	j=$(grep -o 'vring base idx:1 file:[0-9]*' "${e2e_log[qbe]}" | tail -1 | grep -o '[0-9]*$')
	[ -n "$j" ] || { qe_fail "no GET_VRING_BASE answer for ring 1 in testpmd's log"; return; }
	qe_tap_rx0=$(cat "/sys/class/net/$lv_tap/statistics/rx_packets" 2>/dev/null)
	[ -n "$qe_tap_rx0" ] || { qe_fail "no tap $lv_tap"; return; }
	detail "the guest had sent $qe_tx packets (TX ring used index; back-end's last avail $j) and received $qe_rx (RX ring used index); tap $lv_tap rx_packets $qe_tap_rx0"
	[ "$qe_tx" -gt 0 ] || { qe_fail "the guest's TX ring is empty"; return; }
	[ "$j" = "$qe_tx" ] || { qe_fail "TX ring: the back-end's last avail index $j != used index $qe_tx"; return; }
	bridge_hook || return 1
	say "ok rings: guest TX $qe_tx = testpmd RX $qe_tp_rx0, testpmd TX $qe_tp_tx0 = guest RX $qe_rx with the domain suspended; tap $lv_tap 0"

	virsh destroy "$lv_dom" >/dev/null || { qe_fail "virsh destroy failed"; return; }
	qe_pid=
	detail "virsh destroy: QEMU gone"
	qe_backend_end || return 1
	s=("${qe_tp_end[@]}") f=("${qe_tp_fwd[@]}")
	[ "${s[0]}" = "${s[2]}" ] && [ "${f[0]}" = "${f[2]}" ] && [ "${f[1]}" = 0 ] && [ "${f[3]}" = 0 ] ||
		{ qe_fail "testpmd did not echo every packet: RX ${s[0]} TX ${s[2]}, forwarded RX ${f[0]} TX ${f[2]}, dropped ${f[1]}/${f[3]}"; return; }

	# The daemon's log: the device opened by libvirtd, QEMU's vhost ioctls, none failed.
	errs=$(grep -c ' -> E[A-Z]*' "$e2e_dir/bridged.log")
	if [ "$errs" != 0 ]; then
		grep ' -> E[A-Z]*' "$e2e_dir/bridged.log" | head -10 | sed 's/^/    bridged: /'
		qe_fail "$errs ioctls failed in the daemon"
		return
	fi
	vmm=$(grep -m1 -o 'new device of VMM pid [0-9]*' "$e2e_dir/bridged.log" | grep -o '[0-9]*$')
	[ "$vmm" = "$qpid" ] || { qe_fail "the daemon's device belongs to pid ${vmm:-none}, not QEMU's $qpid"; return; }
	seq=$(grep " pid $qpid seq " "$e2e_dir/bridged.log" | grep -o 'VHOST_[A-Z_]*' | awk '
		$1 == p { n++; next } { fold(); p = $1; n = 1 } END { fold(); print out }
		function fold() { if (p != "") { sub(/^VHOST_/, "", p); out = out sep p (n > 1 ? "x" n : ""); sep = " " } }')
	for i in VHOST_SET_OWNER VHOST_SET_MEM_TABLE VHOST_NET_SET_BACKEND VHOST_GET_VRING_BASE; do
		grep -q " pid $qpid seq [0-9]*: $i .* -> 0" "$e2e_dir/bridged.log" ||
			{ qe_fail "the daemon's log has no $i from QEMU (pid $qpid)"; return; }
	done
	detail "the daemon's device of VMM pid $vmm (QEMU), its vhost ioctls: $seq"
	# QEMU's own output (libvirt's log, without the command line libvirt writes first)
	j=$(grep -vE '^-|\\$|^LC_ALL=' "/var/log/libvirt/qemu/$lv_dom.log" 2>/dev/null | grep -iE 'falling back|userspace virtio|Assertion|vhost.*(fail|error)')
	[ -z "$j" ] || { head -10 <<<"$j" | sed 's/^/    qemu: /'; qe_fail "QEMU's log reports vhost trouble"; return; }
	say "ok libvirt: QEMU as $lv_user on libvirtd's /dev/vhost-user-bridge fd; testpmd RX ${s[0]} = TX ${s[2]}, nothing dropped; no failed ioctl"
}

lv_run() {
	local rc t0
	t0=$(qe_now)
	lv_main
	rc=$?
	lv_keep
	if [ $rc = 1 ]; then
		for f in "$lv_rt/libvirtd.log" "/var/log/libvirt/qemu/$lv_dom.log" "$qe_dir/libvirt.serial" "${e2e_dir:-/nonexistent}"/*.log; do
			[ -s "$f" ] || continue
			echo "--- ${f##*/} (last 25 lines)"
			tail -n 25 "$f" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/^/  /' | cut -c1-240
		done
	fi
	lv_cleanup
	detail "libvirt: $(qe_since "$t0") s"
	case $rc in
	0) echo PASS ;;
	4) echo "$lv_skip" ;;	# the reason, last
	*) echo "FAIL: ${qe_why:-}"; rc=1 ;;
	esac
	return $rc
}

# Run as the whole guest script (VUB_GUEST=this file): what guest.sh would do around it.
if [ "${VUB_GUEST:-}" = "$lv_self" ] || [ "${VUB_GUEST:-}" = "$0" ]; then
	echo "# kernel $(uname -r), $(nproc) cpus: ${lv_self#"$lv_top"/} as the guest script"
	modprobe -a tun vhost_net
	insmod "$VUB_KMOD" || echo "insmod $VUB_KMOD failed"
	trap lv_cleanup EXIT
	trap 'exit 1' TERM INT HUP
	lv_run
	rc=$?
	trap - EXIT
	e2e_guest_end "$rc"
fi
trap lv_cleanup EXIT
trap 'exit 1' TERM INT HUP
lv_run
