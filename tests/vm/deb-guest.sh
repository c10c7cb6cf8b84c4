#!/bin/bash
# make check-deb (tests/vm/run.sh --deb): the Debian packages of make deb on a machine booted
# with systemd as PID 1, as an administrator installs them.  Runs as vub-test.service in the
# root tests/vm/systemd-setup.sh prepared, with what tests/vm/deb-root.sh staged on the host:
# the packages (lintian clean), the kernel's headers, a module tree with the few modules the
# VM loads.  TAP on stdout (the results dir's test.log); the unit's ExecStopPost
# (systemd-guest.sh --exit) ends the VM with the exit status.
#   dpkg -i both: DKMS builds the module for the running kernel, the postinst starts the
#   unit, which loads it (the loaded module is DKMS's file: GNU build ID), udev applies the
#   rule, the daemon attaches and serves a VMM's VHOST_GET_FEATURES through the back-end of
#   /etc/default/vhost-user-bridged (dpdk-testpmd listening there); modprobe loads DKMS's
#   file again after an rmmod; dpkg --purge both: the daemon stopped, the module unloads,
#   nothing of the packages is left (their dpkg -L, DKMS's tree and module, the unit and its
#   links), and the overlay's upper layer shows no other change to the machine.
set -uo pipefail
# shellcheck source=/dev/null
. /run/out/env
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=build-id.sh
. "$(dirname "$0")/build-id.sh"
# shellcheck source=e2e-virtio-user.sh
. "$(dirname "$0")/e2e-virtio-user.sh"	# testpmd helpers: tp_start, tp_wait, ...
trap e2e_cleanup EXIT
U=vhost-user-bridged
krel=$(uname -r)
w=/run/deb-test	# our notes (not in the overlay: /run is a tmpfs of its own)
mkdir -p "$w"
prop() { systemctl show -p "$1" --value "${2:-$U}"; }
attached_pid() { "$1" -j bridge 2>/dev/null | jq -r 'select(.attached) | .pid'; }	# VUBCTL
loaded() { [ -d /sys/module/vhost_user_bridge ]; }
unload() { wait_for 10 eval 'rmmod vhost_user_bridge 2>/dev/null' || rmmod vhost_user_bridge; }	# a moment after its users
wait_for() {	# SECONDS COMMAND...: until COMMAND succeeds
	local i
	for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done
	return 1
}
why() { echo "# not so: $*"; return 1; }	# in a chain of checks: say which one failed

echo "TAP version 13"
echo "# kernel $krel, $(nproc) cpus, systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') as PID 1"
state=$(systemctl is-system-running --wait)
echo "# system $state; $(systemd-analyze time | head -1)"
systemctl --failed --no-legend | diag
[ "$(readlink /proc/1/exe)" = "$(readlink -f /lib/systemd/systemd)" ] && [ "$(prop ActiveState vub-test.target)" = active ]
point $? "systemd is PID 1, booted into vub-test.target"

# --- The host's part (tests/vm/deb-root.sh) and this machine ---------------------------------
mapfile -t debs <"$VUB_OUT/debs"
[ ${#debs[@]} = 2 ] && [ -f "${debs[0]}" ] && [ -f "${debs[1]}" ] && [ -e "$VUB_OUT/lintian.log" ]
st=$?
diag <"$VUB_OUT/lintian.log"
point $st "make deb on the host: ${debs[*]##*/}; lintian --pedantic: no error, no warning"

# The host is a Docker container whose policy-rc.d forbids starting services (exit 101); this
# machine is not, and a package's postinst is to start its unit here.
f=/usr/sbin/policy-rc.d
[ ! -e $f ] || { echo "# removed the host's $f: $(grep -v '^#' $f | paste -sd ' ')"; rm -f $f; }
# man-db's trigger (after dpkg -i and after the purge) rebuilds the index of all the host's
# man pages, over 9p: 3 minutes each under TCG.  Off, as man-db/auto-update=false does it (the
# pages themselves are checked on the host: check-unit's groff -ww).
f=/var/lib/man-db/auto-update
[ ! -e $f ] || { echo "# removed $f: no man-db index rebuild"; rm -f $f; }
# tests/vm/init's binds: the overlay's upper layer (only read here) and the host root as it
# is, for what the machine changed (the last check).
mount -o remount,bind,ro /run/vub-upper && [ -d /run/vub-lower/usr ]
st=$?
m=/lib/modules/$krel
nmod=$(find "$m" -name '*.ko*' | wc -l)
echo "# $m: $nmod modules ($(find "$m" -name '*.ko*' -printf '%f ' | sed 's/\.ko[^ ]*//g')), build -> $(readlink "$m/build")"
{ [ $st = 0 ] || why "no read-only /run/vub-upper or no /run/vub-lower (tests/vm/init)"; } &&
	{ [ -e "$m/build/.config" ] && [ -d "$m/build/include" ] || why "no headers at $m/build"; } &&
	{ [ -e "$m/modules.dep" ] && [ "$nmod" -lt 50 ] || why "not the small depmod'ed tree of tests/vm/deb-root.sh"; } &&
	{ ! modinfo vhost_user_bridge >/dev/null 2>&1 && ! loaded || why "a vhost_user_bridge module is there already"; } &&
	{ ! dpkg -s vhost-user-bridge-dkms vhost-user-bridged >/dev/null 2>&1 || why "a package is installed already"; }
point $? "before: the kernel's headers and a module tree of $nmod, no vhost_user_bridge, neither package installed"

# What the machine changed, from the overlay's upper layer (tests/vm/init: /run/vub-upper):
# each path's type, mode, link target, contents, as the merged root (or ROOT) shows it.
# Not counted: dpkg's, apt's and debconf's own state and logs, the man-db index, temporary
# files, and DKMS's machine key (/var/lib/dkms/mok.*, made by its first build and kept).
noise='^(var/lib/dpkg|var/lib/apt|var/log|var/cache/(apt|man|debconf|ldconfig)|tmp|var/tmp)(/|$)|^var/lib/dkms/mok\.(key|pub)$'
upper_paths() { (cd /run/vub-upper && find . -mindepth 1 | sed 's|^\./||' | grep -Ev "$noise" | sort); }
sig() {	# ROOT LIST: for each path of LIST, "PATH<TAB>what ROOT/PATH is" (type, mode, link, md5)
	local root=$1 list=$2
	sed "s|^|$root/|" "$list" | tr '\n' '\0' >$w/nul
	# A few processes for all the paths: each fork costs under TCG.
	{
		xargs -0 -r sh -c 'find "$@" -maxdepth 0 -printf "%p\t%y %m %l\n"' sh <$w/nul
		xargs -0 -r sh -c 'find "$@" -maxdepth 0 -type f -exec md5sum {} +' sh <$w/nul |
			sed 's/^\([0-9a-f]*\)  \(.*\)$/\2\tmd5 \1/'
	} 2>/dev/null | awk -F'\t' -v n=$((${#root} + 2)) 'FILENAME == ARGV[1] { want[FNR] = $0; next }
		{ p = substr($1, n); s[p] = s[p] " " $2 }
		END { for (i = 1; i in want; i++) print want[i] "\t" (want[i] in s ? s[want[i]] : "none") }' "$list" -
}
upper_paths >$w/paths0
sig "" $w/paths0 >$w/sig0

# --- Install -------------------------------------------------------------------------------
# The back-end that /etc/default/vhost-user-bridged names, started now: it comes up (a minute
# under TCG) while DKMS builds.
be_sock=$(dpkg-deb --fsys-tarfile "${debs[1]}" | tar -xOf - ./etc/default/vhost-user-bridged | sed -n 's/^VUB_BACKEND=//p')
be_sock=${be_sock:-/run/vhost-user-bridge/backend.sock}
echo "# back-end: dpdk-testpmd on $be_sock, the package's VUB_BACKEND"
mkdir -p "${be_sock%/*}"
e2e_dir=$(mktemp -d /run/vub-deb.XXXXXX)
tp_start be 0 1 256 --vdev "net_vhost0,iface=$be_sock,queues=1,client=0" -- \
	-i --forward-mode=io --port-topology=loop --total-num-mbufs=8192 --nb-cores=1

# The packages' paths, and which of them this machine has before dpkg -i (the purge is to
# leave exactly those).
for d in "${debs[@]}"; do dpkg-deb -c "$d"; done | awk '{ p = substr($6, 2); sub(/\/$/, "", p); print p == "" ? "/" : p }' |
	sort -u | while IFS= read -r p; do
		if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
	done >$w/had

stamp() { local u l; while IFS= read -r l; do read -r u _ </proc/uptime; echo "[$u] $l"; done; }	# uptime of each line
t=$SECONDS
DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" 2>&1 | stamp >"$VUB_OUT/dpkg-install.log"
st=${PIPESTATUS[0]}
t=$((SECONDS - t))
grep -E '^\[[0-9.]*\] (Setting up|Building|Module build|It is likely|Signing|Running|Error|Created symlink|Processing)|vhost_user_bridge' \
	"$VUB_OUT/dpkg-install.log" | diag
[ "$st" = 0 ] || tail -30 "$VUB_OUT/dpkg-install.log" | diag
point "$st" "dpkg -i ${debs[*]##*/} ($t s; log: dpkg-install.log)"

version=$(dpkg-deb -f "${debs[0]}" Version)
ko=$(find "$m/updates/dkms" -name 'vhost_user_bridge.ko*' 2>/dev/null | head -1)
dstat=$(dkms status -m vhost-user-bridge -v "$version" -k "$krel" 2>/dev/null)
echo "# dkms status: $dstat; module: ${ko:-none}"
# kbuild's output, which DKMS keeps (moved from its build directory) after a build
cp "/var/lib/dkms/vhost-user-bridge/$version/$krel/$(uname -m)/log/make.log" "$VUB_OUT/dkms-make.log"
[ -n "$ko" ] && grep -q ": installed" <<<"$dstat" &&
	modinfo -F vermagic "$ko" | grep -q "^$krel " && [ "$(modinfo -n vhost_user_bridge)" = "$ko" ]
point $? "DKMS built vhost-user-bridge/$version for $krel: ${ko#"$m"/}, its vermagic, depmod's choice for vhost_user_bridge"

# The postinst enabled and started the unit, whose ExecStartPre loaded DKMS's module.
pid=$(prop MainPID)
apid=$(attached_pid /usr/sbin/vubctl)
echo "# $U: $(systemctl is-enabled $U 2>&1), $(prop ActiveState)/$(prop SubState), MainPID $pid, attached: ${apid:-none}; module: $(grep '^vhost_user_bridge ' /proc/modules)"
{ systemctl status --no-pager -n 5 $U; journalctl -b --no-pager -q -u $U -o cat | tail -5; } 2>&1 | diag
{ [ "$(systemctl is-enabled $U)" = enabled ] || why "$U is not enabled"; } &&
	{ [ "$(prop SubState)" = running ] || why "$U is not running"; } &&
	{ [ "$pid" -gt 0 ] && [ "$apid" = "$pid" ] || why "its MainPID is not the attached daemon"; } &&
	{ loaded || why "the module is not loaded"; } &&
	{ same_build_id "$ko" || why "the loaded module's build ID is not that of $ko"; }
point $? "the postinst enabled and started $U: attached (vubctl bridge), the loaded module is DKMS's (GNU build ID)"

st=$(stat -c '%n %U:%G %a' /dev/vhost-user-bridge /dev/vhost-user-bridge-control 2>&1)
echo "$st" | diag
[ "$st" = "/dev/vhost-user-bridge root:kvm 660"$'\n'"/dev/vhost-user-bridge-control root:root 600" ]
point $? "udev applied the package's rule: root:kvm 0660 for VMMs, root:root 0600 for the daemon"

tp_wait be 'testpmd> ' 1 180 && tp_cmd be start && [ -S "$be_sock" ] &&
	out=$("$VUB_BUILD/vub_ioctl" get-features 2>&1)
st=$?
echo "# back-end: ${e2e_why:-dpdk-testpmd on $be_sock}; vub_ioctl: ${out:-}"
[ $st = 0 ] && [[ $out == "VHOST_GET_FEATURES: ok "* ]]
point $? "the packaged daemon serves: a VMM's VHOST_GET_FEATURES answered through the back-end of /etc/default/$U"

# modprobe, as the unit's ExecStartPre and modules-load.d do it, loads DKMS's file.
systemctl stop $U && unload && ! loaded
st=$?
modprobe vhost_user_bridge 2>&1 | diag
[ $st = 0 ] && loaded && same_build_id "$ko" && wait_for 10 test -c /dev/vhost-user-bridge
point $? "systemctl stop, rmmod; modprobe vhost_user_bridge loads ${ko#"$m"/} again (GNU build ID)"
systemctl start $U && apid=$(attached_pid /usr/sbin/vubctl) && [ -n "$apid" ] && [ "$apid" = "$(prop MainPID)" ]
point $? "systemctl start $U: attached again (pid ${apid:-none})"
tp_quit be

# --- Purge ---------------------------------------------------------------------------------
pkgs=()
for d in "${debs[@]}"; do pkgs+=("$(dpkg-deb -f "$d" Package)"); done
dpkg -L "${pkgs[@]}" | sort -u >$w/files
echo "# dpkg -L: $(wc -l <$w/files) paths"
pid=$(prop MainPID)
t=$SECONDS
DEBIAN_FRONTEND=noninteractive dpkg --purge "${pkgs[@]}" 2>&1 | stamp >"$VUB_OUT/dpkg-purge.log"
st=${PIPESTATUS[0]}
t=$((SECONDS - t))
grep -E '^\[[0-9.]*\] (Deleting|Removing|Purging|Error|Removed|depmod|Processing)|vhost_user_bridge' "$VUB_OUT/dpkg-purge.log" | diag
[ "$st" = 0 ] || tail -30 "$VUB_OUT/dpkg-purge.log" | diag
point "$st" "dpkg --purge ${pkgs[*]} ($t s; log: dpkg-purge.log)"

echo "# $U: LoadState $(prop LoadState), ActiveState $(prop ActiveState); attached: $(attached_pid "$VUB_BUILD/vubctl")"
{ [ "$(prop LoadState)" = not-found ] || why "systemd still knows $U"; } &&
	{ ! kill -0 "$pid" 2>/dev/null || why "the daemon $pid still runs"; } &&
	{ [ -z "$(attached_pid "$VUB_BUILD/vubctl")" ] || why "a daemon is still attached"; } &&
	{ unload || why "rmmod failed"; }
point $? "the purge stopped the daemon and systemd forgot the unit; rmmod vhost_user_bridge (no leaked reference)"

left=()
# Each path of dpkg -L is there after the purge if and only if it was before dpkg -i
# (/usr/sbin, /lib/systemd/system and the like are other packages' too).
while IFS= read -r p; do
	[ "$p" != /. ] || p=/
	if [ -e "$p" ] || [ -L "$p" ]; then grep -qxF -- "$p" $w/had || left+=("$p")
	elif grep -qxF -- "$p" $w/had; then left+=("$p (removed: it was there before dpkg -i)"); fi
done <$w/files
for p in /var/lib/dkms/vhost-user-bridge /usr/src/vhost-user-bridge-*; do
	[ ! -e "$p" ] || left+=("$p")
done
while IFS= read -r p; do left+=("$p"); done < <(find "$m" /etc/systemd /lib/systemd/system /var/lib/systemd \
	/etc/default /etc/modprobe.d /lib/udev/rules.d /etc/udev /usr/lib/modules-load.d -xdev \
	\( -name '*vhost-user-bridge*' -o -name '*vhost_user_bridge*' \) 2>/dev/null)
modprobe -n vhost_user_bridge >/dev/null 2>&1 && left+=("modprobe -n still finds vhost_user_bridge")
[ ${#left[@]} = 0 ] || printf '%s\n' "${left[@]}" | sort -u | head -40 | diag "# left: "
[ ${#left[@]} = 0 ]
point $? "nothing left: no path of dpkg -L, DKMS tree, /usr/src/vhost-user-bridge-*, module, unit or its links"

# Everything else: each path the overlay's upper layer holds now or held before dpkg -i, as it
# is now against as it was (or as the host has it, for a path the overlay took on since).
upper_paths >$w/paths1
sig "" $w/paths1 >$w/sig1
comm -3 $w/paths0 $w/paths1 | sed 's/^\t//' >$w/new
sig /run/vub-lower $w/new >$w/siglower
awk -F'\t' 'FILENAME == ARGV[1] { b[$1] = $2; next } FILENAME == ARGV[2] { a[$1] = $2; next }
	{ l[$1] = $2 }
	END {
		for (p in b) seen[p]; for (p in a) seen[p]
		for (p in seen) {
			x = (p in b) ? b[p] : l[p]; y = (p in a) ? a[p] : l[p]
			if (x != y) print "/" p ": " x " -> " y
		}
	}' $w/sig0 $w/sig1 $w/siglower | sort >$w/changed
echo "# upper layer: $(wc -l <$w/paths0) paths before dpkg -i, $(wc -l <$w/paths1) after the purge; new: $(paste -sd ' ' $w/new)"
head -40 $w/changed | diag
[ ! -s $w/changed ]
point $? "the machine is as it was before dpkg -i (the overlay's upper layer: no other path changed)"

dmesg_point
tap_end
echo $((failed != 0)) >"$VUB_OUT/rc"
