#!/bin/bash
# Install the packages of `make deb`, check what DKMS made of them, purge them, and check
# that nothing is left behind.  TAP lines without numbers ("ok - ...") and a plan at the end.
#   deb-install.sh [--overlay] [--kernel SERIES]... DKMS_DEB DAEMON_DEB
# The check runs on the root it finds, which must be one that may be changed and thrown
# away (a VM's writable overlay root); it changes the running system as dpkg does.
# --overlay: instead, run in a throwaway root: a private mount namespace (unshare) with an
#   overlay over / whose changes go to a tmpfs, chrooted into; the host is not touched.
# --kernel SERIES (6.1, 6.12): make that cached Debian kernel (tests/vm/fetch-kernel.sh)
#   look installed in the root if it is not: its module tree (an overlay whose changes
#   go to /run) as /lib/modules/KREL and its headers as /usr/src/linux-headers-KREL.
# Points: dpkg -i; for each kernel in /lib/modules with headers, the DKMS-built module in
# updates/dkms with that kernel's vermagic; modprobe/rmmod of it when the running kernel is
# one of them (SKIP otherwise); dpkg --purge; the tree before = the tree after: paths,
# types, modes, sizes, symlink targets, and the contents of /etc and of depmod's indexes.
set -uo pipefail
self=$(readlink -f "$0")
top=$(cd "$(dirname "$self")/../.." && pwd)
overlay=0 kernels=() debs=()
while [ $# -gt 0 ]; do
	case $1 in
	--overlay) overlay=1 ;;
	--kernel) kernels+=("$2"); shift ;;
	--kernel-resolved) kernels+=("$2"); shift ;;	# KREL:KDIR:MODROOT (internal)
	-*) echo "deb-install.sh: unknown option $1" >&2; exit 2 ;;
	*) debs+=("$(readlink -f "$1")") ;;
	esac
	shift
done
[ ${#debs[@]} -gt 0 ] || { echo "usage: deb-install.sh [--overlay] [--kernel SERIES]... DEB..." >&2; exit 2; }

n=0 failed=0
ok() { n=$((n + 1)); echo "ok - $*"; }
bad() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
skip() { n=$((n + 1)); echo "ok - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
finish() { echo "1..$n"; [ $failed = 0 ]; exit; }

# Resolve the kernels on the host (fetch-kernel.sh may download into the cache).
resolved=()
for k in "${kernels[@]}"; do
	case $k in *:*) resolved+=("$k"); continue ;; esac
	read -r krel kdir _ modroot < <("$top/tests/vm/fetch-kernel.sh" "$k") ||
		{ bad "kernel $k: tests/vm/fetch-kernel.sh $k failed"; finish; }
	resolved+=("$krel:$kdir:$modroot")
done
kargs=()
for k in "${resolved[@]}"; do kargs+=(--kernel-resolved "$k"); done

if [ $overlay = 1 ]; then
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- bash -c '
		set -e
		t=$1; shift
		mount -t tmpfs tmpfs "$t"
		mkdir "$t/upper" "$t/work" "$t/root"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
		mount -t proc proc "$t/root/proc"
		mount --rbind /sys "$t/root/sys"
		mount --rbind /dev "$t/root/dev"
		mount -t tmpfs tmpfs "$t/root/run"
		exec chroot "$t/root" "$@"' \
		deb-install "$t" "$self" "${kargs[@]}" "${debs[@]}"
	exit
fi

# --- In the root to be changed -------------------------------------------------------------
w=/run/deb-install	# our files, and the upper layers of the kernels' module trees
rm -rf "$w" && mkdir -p "$w" || exit 1
made=()	# what we set up for the kernels, undone at the end
[ -e /lib/modules ] || made+=(/lib/modules)
for k in "${resolved[@]}"; do
	IFS=: read -r krel kdir modroot <<<"$k"
	if [ ! -e "/lib/modules/$krel/modules.dep" ]; then
		mkdir -p "/lib/modules/$krel" "$w/$krel/upper" "$w/$krel/work"
		mount -t overlay overlay -o "lowerdir=$modroot/lib/modules/$krel,upperdir=$w/$krel/upper,workdir=$w/$krel/work" \
			"/lib/modules/$krel" || { bad "kernel $krel: cannot mount its module tree"; finish; }
		made+=("/lib/modules/$krel")
	fi
	if [ ! -e "/usr/src/linux-headers-$krel" ]; then
		ln -s "$kdir" "/usr/src/linux-headers-$krel"
		made+=("/usr/src/linux-headers-$krel")
	fi
done
# shellcheck disable=SC2317 # the EXIT trap calls it
undo() {
	local i m
	for ((i = ${#made[@]} - 1; i >= 0; i--)); do
		m=${made[i]}
		if [ -L "$m" ]; then rm -f "$m"; elif [ "$m" = /lib/modules ]; then rmdir "$m"
		else umount "$m" && rmdir "$m"; fi
	done
	rm -rf "$w"
}
trap undo EXIT

# The tree a package may touch (directories without their sizes, which depend on the file
# system's history), without what dpkg and its triggers keep for themselves:
# its database and log, apt's, the man-db index (a trigger of the man pages) and debconf's
# database (dkms's postinst reads debconf).  dkms's MOK key pair in /var/lib/dkms is the
# machine's, made by the first DKMS build on it and kept for every later one.
snapshot() {
	{
	find /etc /usr /var /opt /srv /boot -xdev \( -path /var/lib/dpkg -o -path /var/log -o \
		-path /var/cache/apt -o -path /var/lib/apt -o -path /var/cache/man -o -path /var/cache/debconf -o \
		-path /var/cache/vhost-user-bridge -o -path /var/tmp -o -path /var/lib/dkms/mok.key -o \
		-path /var/lib/dkms/mok.pub \) -prune -o -printf '%y %m %s %p %l\n'
	# /lib/modules/KREL may be mounts of their own.
	for m in /lib/modules/*/; do
		[ -d "$m" ] && find "$m" -xdev -printf '%y %m %s %p %l\n'
	done
	} | sed 's/^d \([0-7]*\) [0-9]* /d \1 - /'
	find /etc /lib/modules/*/modules.* -xdev -type f -exec md5sum {} + 2>/dev/null
}
snapshot | sort >$w/before

preloaded=0
grep -q '^vhost_user_bridge ' /proc/modules && preloaded=1
pkgs=()
for d in "${debs[@]}"; do pkgs+=("$(dpkg-deb -f "$d" Package)"); done
if dpkg -i "${debs[@]}" >$w/log 2>&1; then
	ok "dpkg -i ${debs[*]##*/}"
else
	diag <$w/log
	bad "dpkg -i ${debs[*]##*/}"
fi
grep -E '^(Building|Module build|It is likely)' $w/log | diag

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' /usr/src/vhost-user-bridge-*/dkms.conf 2>/dev/null)
built=()
for m in /lib/modules/*/; do
	m=${m%/} krel=${m##*/}
	[ -e "$m/build/include" ] || continue
	ko=$(find "$m/updates/dkms" -name 'vhost_user_bridge.ko*' 2>/dev/null | head -1)
	if [ -n "$ko" ] && modinfo "$ko" >$w/modinfo 2>&1 &&
		grep -q "^vermagic: *$krel " $w/modinfo &&
		grep -q '^parm: *req_timeout_ms:' $w/modinfo &&
		dkms status -m vhost-user-bridge -v "$version" -k "$krel" 2>/dev/null | grep -q ": installed"; then
		ok "DKMS built and installed vhost-user-bridge/$version for $krel: ${ko#"$m"/} (vermagic, parameters)"
		built+=("$krel")
	else
		cat $w/modinfo "/var/lib/dkms/vhost-user-bridge/$version/build/make.log" 2>/dev/null |
			tail -20 | diag
		bad "DKMS module for $krel (dkms status: $(dkms status -m vhost-user-bridge 2>&1))"
	fi
done
[ ${#built[@]} -gt 0 ] || bad "DKMS built the module for no kernel (none in /lib/modules has headers)"

running=$(uname -r)
if [[ " ${built[*]} " != *" $running "* ]]; then
	skip "modprobe vhost_user_bridge" "the running kernel $running is not one DKMS built for"
elif [ "$preloaded" = 1 ]; then
	skip "modprobe vhost_user_bridge" "a vhost_user_bridge module was loaded before dpkg -i"
else
	# Under systemd the package's unit, started by the postinst, has loaded it already.
	path=
	grep -q '^vhost_user_bridge ' /proc/modules || modprobe vhost_user_bridge
	grep -q '^vhost_user_bridge ' /proc/modules && path=$(modinfo -n vhost_user_bridge)
	if [[ $path == /lib/modules/$running/updates/dkms/* ]] && [ -c /dev/vhost-user-bridge ]; then
		ok "modprobe vhost_user_bridge: $path, /dev/vhost-user-bridge"
	else
		bad "modprobe vhost_user_bridge (module: ${path:-none})"
	fi
	[ ! -d /run/systemd/system ] || systemctl stop 'vhost-user-bridged*.service'
	rmmod vhost_user_bridge || bad "rmmod vhost_user_bridge"
fi

if dpkg --purge "${pkgs[@]}" >$w/log 2>&1; then
	ok "dpkg --purge ${pkgs[*]}"
else
	diag <$w/log
	bad "dpkg --purge ${pkgs[*]}"
fi
snapshot | sort >$w/after
if cmp -s $w/before $w/after; then
	ok "the purge left the tree as it was before dpkg -i"
else
	diff $w/before $w/after | grep '^[<>]' | head -40 | diag
	bad "the purge left the tree changed (< before, > after)"
fi
finish
