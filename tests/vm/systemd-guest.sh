#!/bin/bash
# The systemd stage (tests/vm/run.sh; VUB_TESTS word "systemd"): runs as vub-test.service
# under systemd as PID 1 in the root tests/vm/systemd-setup.sh prepared.  TAP on stdout
# (the results dir's test.log).  With --exit (the unit's ExecStopPost): end the VM with the
# test's exit status through isa-debug-exit.
set -uo pipefail
# shellcheck source=/dev/null
. /run/out/env
if [ "${1:-}" = --exit ]; then
	rc=$(cat "$VUB_OUT/rc" 2>/dev/null) || { rc=99; echo "$rc" >"$VUB_OUT/rc"; }
	sync
	[ "$rc" -le 100 ] || rc=100
	# shellcheck disable=SC2059 # the format is the byte to write
	printf "\\$(printf %03o $((32 + rc)))" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	exit 1
fi
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

# shellcheck source=e2e-virtio-user.sh
. "$(dirname "$0")/e2e-virtio-user.sh"	# testpmd helpers: tp_start, tp_stats, ...
trap e2e_cleanup EXIT
U=vhost-user-bridged
sbin=/usr/local/sbin	# make install's PREFIX (tests/vm/install.sh)
prop() { systemctl show -p "$1" --value "${2:-$U}"; }
attached_pid() {	# the daemon the kernel has attached, or nothing
	"$sbin/vubctl" -j bridge | jq -r 'select(.attached) | .pid'
}
journal() { journalctl -b --no-pager -q "$@"; }
# The daemon's own lines (not systemd's about the unit) as "PRIORITY MESSAGE".
daemon_lines() { journal -u $U -o json "$@" | jq -r 'select(.SYSLOG_IDENTIFIER == "vhost-user-bridged") | "\(.PRIORITY) \(.MESSAGE)"'; }
# systemd's record of the notifications it got from the daemon (PID 1 logs them at debug level).
notified() { journal _PID=1 -u $U | grep -o "Got notification message from PID [0-9]* (.*)"; }
wait_for() {	# SECONDS COMMAND...: until COMMAND succeeds
	local i
	for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done
	return 1
}

echo "TAP version 13"
echo "# kernel $(uname -r), $(nproc) cpus, systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') as PID 1"
[ "$(readlink /proc/1/exe)" = "$(readlink -f /lib/systemd/systemd)" ]
point $? "systemd is PID 1"
state=$(systemctl is-system-running --wait)
echo "# system $state; $(systemd-analyze time | head -1)"
systemctl --failed --no-legend | diag
[ "$(prop ActiveState vub-test.target)" = active ]
point $? "booted into vub-test.target"

# make install's files at work from boot: modules-load.d loaded the module, udev applied the rule.
st=$(stat -c '%n %U:%G %a' /dev/vhost-user-bridge /dev/vhost-user-bridge-control 2>&1)
echo "$st" | diag
journal -u systemd-modules-load | grep vhost_user_bridge | diag
grep -q '^vhost_user_bridge ' /proc/modules &&
	[ "$st" = "/dev/vhost-user-bridge root:kvm 660"$'\n'"/dev/vhost-user-bridge-control root:root 600" ]
point $? "at boot, systemd-modules-load loaded vhost_user_bridge and udev gave its nodes root:kvm 0660 and root:root 0600"
modprobe -a tun vhost_net
[ -c /dev/net/tun ]
point $? "modprobe tun vhost_net (the VMM's tap)"

# The back-end, then the service configured for it as the admin guide says.
e2e_dir=$(mktemp -d /run/vub-sd.XXXXXX)
sock=$e2e_dir/backend.sock
tp_start be 0 1 256 --vdev "net_vhost0,iface=$sock,queues=1,client=0" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=8192 --nb-cores=1
tp_wait be 'testpmd> ' 1 90 && tp_cmd be start && [ -S "$sock" ]
point $? "back-end: dpdk-testpmd with the vhost-user PMD on $sock"
cat >/etc/default/vhost-user-bridged <<EOT
VUB_BACKEND=$sock
VUB_OPTS="--verbose --timeout $e2e_daemon_ms"
EOT
systemd-analyze log-level debug	# PID 1 logs each notification it receives
t=$SECONDS
systemctl start $U
rc=$?
t=$((SECONDS - t))
systemd-analyze log-level info
pid=$(prop MainPID) apid=$(attached_pid)
echo "# systemctl start: $rc after $t s; MainPID $pid, attached: ${apid:-none}; $(prop ActiveState)/$(prop SubState), status \"$(prop StatusText)\""
[ $rc = 0 ] && [ "$pid" -gt 0 ] && [ "$apid" = "$pid" ] && [ "$(prop SubState)" = running ]
point $? "systemctl start returns with the daemon (MainPID) attached to the kernel"
notified | diag
notified | grep -q "from PID $pid (READY=1, STATUS=attached, back-end $sock)"
point $? "READY=1 came from the daemon, with its status"

out=$("$VUB_BUILD/vub_ioctl" get-features 2>&1)
echo "# vub_ioctl: $out"
[[ $out == "VHOST_GET_FEATURES: ok "* ]]
point $? "a VMM's VHOST_GET_FEATURES is served through the back-end"

# A real VMM: DPDK virtio-user on /dev/vhost-user-bridge, packets counted by both testpmds.
traffic() {	# WHAT: start the VMM's forwarding, 3 s of it, stop; both sides counted
	local -a v b
	tp_cmd vmm "start tx_first $E2E_BURSTS"
	sleep 3
	tp_stop vmm && read -r -a v <<<"$(tp_stats vmm)" && read -r -a b <<<"$(tp_stats be)"
	echo "# $1: VMM rx ${v[0]:-?} tx ${v[2]:-?}, back-end rx ${b[0]:-?} tx ${b[2]:-?}"
	[ "${v[0]:-0}" -gt "${rx_last:-0}" ] && [ "${b[0]:-0}" -ge 1000 ] && rx_last=${v[0]}
}
fds0=$(find /proc/"$pid"/fd -mindepth 1 | wc -l)
tp_start vmm 1 0 64 --vdev "net_virtio_user0,path=/dev/vhost-user-bridge,queues=1" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=4096 --nb-cores=1
tp_wait vmm 'testpmd> ' 1 120 && tp_wait be 'Port 0: link state change event' 1 30 && traffic "first run"
point $? "a VMM (DPDK virtio-user) is served: packets bounce between it and the back-end"
fds1=$(find /proc/"$pid"/fd -mindepth 1 | wc -l)

# The limits: 1024 devices at what one costs the daemon here.
per=$((fds1 - fds0))
read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' /proc/"$pid"/limits)
echo "# LimitNOFILE $(prop LimitNOFILE) (soft $(prop LimitNOFILESoft)); daemon: open files soft $soft hard $hard; $fds0 fds, $fds1 with the VMM's device ($per per device)"
echo "# daemon's $(tr '\0' '\n' </proc/"$pid"/environ | grep ^JOURNAL_STREAM=), stderr $(stat -L -c '%d:%i' /proc/"$pid"/fd/2) ($(readlink /proc/"$pid"/fd/2))"
echo "# LimitMEMLOCK $(prop LimitMEMLOCK), TasksMax $(prop TasksMax); daemon: $(grep -E '^(Threads|VmLck)' /proc/"$pid"/status | tr -s '\t ' ' ' | paste -sd ';')"
[ "$per" -ge 1 ] && [ "$soft" = "$hard" ] && [ "$soft" -ge $((fds0 + 1024 * per)) ] &&
	[ "$(prop LimitNOFILE)" = "$hard" ]
point $? "the unit's LimitNOFILE holds 1024 devices ($per fds each) and the daemon took it all"

# A crash: Restart=on-failure brings it back, and the new daemon takes the VMM's device over.
kill -SEGV "$pid"
restarted() { p=$(prop MainPID); [ "$p" -gt 0 ] && [ "$p" != "$pid" ] && [ "$(prop SubState)" = running ] && [ "$(attached_pid)" = "$p" ]; }
wait_for 30 restarted
rc=$?
echo "# after SIGSEGV: MainPID $p, NRestarts $(prop NRestarts), $(prop ActiveState)/$(prop SubState)"
journal -u $U | grep -E 'SEGV|Scheduled restart' | diag
[ $rc = 0 ] && [ "$(prop NRestarts)" = 1 ]
point $? "SIGSEGV: systemd restarts the daemon (Restart=on-failure) and it attaches again"
daemon_lines _PID="$p" | grep -E 'restored' | diag
# The VMM's device lives on (restored from the fd store; its data path never involved the
# daemon), and a new device is served by the new daemon through the back-end.
logged() { daemon_lines _PID="$p" | grep -q '^[0-7] .*: VHOST_GET_FEATURES .* -> 0$'; }	# journald reads it a little later
traffic "after the restart" && out=$("$VUB_BUILD/vub_ioctl" get-features 2>&1) &&
	[[ $out == "VHOST_GET_FEATURES: ok "* ]] && { logged || { sleep 2 && logged; } || { sleep 5 && logged; }; }
point $? "the restarted daemon serves: a new VMM's VHOST_GET_FEATURES ($out), and the restored VMM's packets bounce on"
pid=$p

# Only one daemon at a time: another fails, with an error in the journal.
systemd-run --quiet --wait --unit vub-second -p SyslogIdentifier=vhost-user-bridged \
	"$sbin/vhost-user-bridged" --backend "$sock" 2>&1 | diag
[ "${PIPESTATUS[0]}" != 0 ]
point $? "a second daemon (systemd-run) fails to attach while the service's is attached"

systemd-analyze log-level debug
t=$SECONDS
systemctl stop $U
rc=$?
t=$((SECONDS - t))
systemd-analyze log-level info
echo "# systemctl stop: $rc after $t s; Result $(prop Result), ExecMainCode $(prop ExecMainCode) ExecMainStatus $(prop ExecMainStatus); attached: $(attached_pid)"
notified | tail -1 | diag
[ $rc = 0 ] && [ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ] &&
	[ -z "$(attached_pid)" ] && notified | grep -q "from PID $pid (STOPPING=1)" &&
	daemon_lines _PID="$pid" | grep -q '^6 vhost-user-bridged: stopped by signal, detached$'
point $? "systemctl stop: STOPPING=1, exit 0, detached"

# The journal: each line at its priority.
jcheck() {	# WHAT COMMAND...: COMMAND must succeed, else say WHAT failed
	"${@:2}" || { echo "# not so: $1"; return 1; }
}
second=$(journal -u vub-second -o json | jq -r '"\(.PRIORITY) \(.MESSAGE)"')
echo "$second" | diag
daemon_lines | grep -E '^[0-5] |VHOST_GET_FEATURES' | head -5 | diag
journal -u $U -u vub-second -p err -o cat | diag
jcheck "attached at info (6)" grep -q '^6 vhost-user-bridged: attached: API version' < <(daemon_lines) &&
	jcheck "a --verbose request line at debug (7)" grep -q '^7 vhost-user-bridged: dev [0-9]* pid [0-9]* seq [0-9]*: VHOST_GET_FEATURES' < <(daemon_lines) &&
	jcheck "the second daemon's cannot attach at err (3)" grep -q '^3 vhost-user-bridged: cannot attach to /dev/vhost-user-bridge-control: .*another daemon is attached' <<<"$second" &&
	jcheck "journalctl -p err without the info lines" test -z "$(journal -u $U -p err -o cat | grep 'attached: API')" &&
	jcheck "no <N> prefix left in a message" test -z "$(daemon_lines | grep ' <[0-7]>')"
point $? "journal: the daemon's lines at their priorities (info, debug with --verbose, err)"
# Seen on 6.1: the daemon systemd restarted after the crash logged its --verbose lines at 6.
daemon_lines _PID="$p" | grep -q '^7 .*: VHOST_GET_FEATURES .* -> 0$'
point $? "journal: the restarted daemon's --verbose lines at debug (7) too"

# The unit loads the module itself (ExecStartPre) when it is not loaded.
tp_quit vmm
rmmod vhost_user_bridge
point $? "rmmod vhost_user_bridge once the VMM is gone (no leaked reference)"
systemctl start $U && [ "$(attached_pid)" = "$(prop MainPID)" ] && systemctl stop $U && rmmod vhost_user_bridge
point $? "systemctl start loads the module (ExecStartPre=modprobe), stop, rmmod"
tp_quit be
systemd-analyze log-level info

dmesg_point
tap_end
echo $((failed != 0)) >"$VUB_OUT/rc"
