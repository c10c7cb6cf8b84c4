#!/bin/bash
# Host checks of the packaging (check-unit, through tests/unit/admin.mk), TAP:
#   - the man pages format without a warning (groff -ww);
#   - the systemd unit, as make install writes it, passes systemd-analyze verify;
#   - DKMS: make install-dkms, then dkms add/build/install/remove against the cached
#     Debian 6.1 and 6.12 headers (--kernelsourcedir), in private dkms, source and
#     install trees; the module it installs has the kernel's vermagic and its parameters.
# The DKMS build runs here rather than in the test VM: under TCG it takes 5 minutes.
# Exit 0 if every point passed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

point() {	# STATUS DESCRIPTION [SKIP-REASON]
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"
	elif [ "$1" = skip ]; then echo "ok $n - $2 # SKIP $3"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { sed 's/^/# /'; }

for m in "$top"/Documentation/man/*.[1-8]; do
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$m" 2>&1)
	[ -z "$out" ] || echo "$out" | diag
	point $([ -z "$out" ]; echo $?) "man page ${m##*/}: groff -ww clean"
done

sed "s|@SBINDIR@|$top/build|g; s|@SYSCONFDIR@|/etc|g" "$top/tools/packaging/vhost-user-bridged.service.in" \
	>"$tmp/vhost-user-bridged.service"
if ! command -v systemd-analyze >/dev/null; then
	point skip "systemd unit verifies" "no systemd-analyze"
elif [ ! -x "$top/build/vhost-user-bridged" ]; then
	point 1 "systemd unit verifies (no build/vhost-user-bridged: make all)"
else
	out=$(systemd-analyze verify --man=no "$tmp/vhost-user-bridged.service" 2>&1)
	rc=$?
	[ -z "$out" ] || echo "$out" | diag
	point $((rc != 0 || ${#out} != 0)) "systemd unit verifies (systemd-analyze verify)"
fi

# DKMS, as an administrator runs it, but in private trees: nothing outside $tmp changes.
# sign_file: dkms would otherwise create a MOK key in /var/lib/dkms to sign with.
dkms_check() {
	local series=$1 krel kdir d o rc ko
	read -r krel kdir _ _ < <("$top/tests/vm/fetch-kernel.sh" "$series") || {
		point 1 "dkms $series: no cached kernel (tests/vm/fetch-kernel.sh $series)"
		return
	}
	d=$tmp/dkms-$series
	mkdir -p "$d/dkms" "$d/root/lib/modules/$krel"
	o=(-m vhost-user-bridge -v "$version" -k "$krel" --kernelsourcedir "$kdir"
		--sourcetree "$d/src/usr/src" --dkmstree "$d/dkms" --installtree "$d/root/lib/modules"
		--no-depmod)
	rc=0
	{
		make -s -C "$top" install-dkms DESTDIR="$d/src" &&
		sign_file=/nonexistent dkms add "${o[@]}" &&
		sign_file=/nonexistent dkms build "${o[@]}" &&
		sign_file=/nonexistent dkms install "${o[@]}"
	} >"$d/log" 2>&1 || rc=$?
	ko=$(find "$d/root/lib/modules/$krel/updates/dkms" -name 'vhost_user_bridge.ko*' 2>/dev/null | head -1)
	if [ "$rc" != 0 ] || [ -z "$ko" ]; then
		diag <"$d/log"
		cat "$d/dkms/vhost-user-bridge/$version/build/make.log" 2>/dev/null | tail -20 | diag
		point 1 "dkms add/build/install vhost-user-bridge/$version for $krel"
		return
	fi
	point 0 "dkms add/build/install vhost-user-bridge/$version for $krel: ${ko#"$d/root"}"
	modinfo "$ko" >"$d/modinfo"
	grep -q "^vermagic: *$krel " "$d/modinfo" && grep -q '^parm: *req_timeout_ms:' "$d/modinfo" &&
		grep -q '^parm: *max_mem_regions:' "$d/modinfo"
	rc=$?
	[ $rc = 0 ] || diag <"$d/modinfo"
	point $rc "dkms module for $krel: vermagic $krel, parameters req_timeout_ms and max_mem_regions described"
	sign_file=/nonexistent dkms remove "${o[@]}" >>"$d/log" 2>&1 &&
		[ ! -e "$ko" ] && [ ! -e "$d/dkms/vhost-user-bridge/$version" ]
	rc=$?
	[ $rc = 0 ] || tail -20 "$d/log" | diag
	point $rc "dkms remove for $krel: module and dkms tree entry gone"
}
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/tools/packaging/dkms.conf")
if ! command -v dkms >/dev/null; then
	point 1 "dkms (not installed: make deps)"
else
	dkms_check 6.1
	dkms_check 6.12
fi

echo "1..$n"
[ $failed = 0 ]
