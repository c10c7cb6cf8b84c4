#!/bin/bash
# Host checks of the packaging (check-unit, through tests/unit/admin.mk), TAP:
#   - the man pages format without a warning (groff -ww);
#   - the systemd unit, as make install writes it, passes systemd-analyze verify;
#   - the Debian packages (tools/packaging/build-deb.sh, as make deb): lintian clean (no
#     error or warning), their file lists (what they must hold, nothing else), and
#     tests/packaging/deb-install.sh in a throwaway root: dpkg -i, DKMS building the
#     module for the cached Debian 6.1 and 6.12 kernels (vermagic, parameters), purge,
#     nothing left behind.
# DKMS runs here rather than in the test VM: under TCG it takes 5 minutes.
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

# The Debian packages (make deb), built into $tmp/deb.
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/tools/packaging/dkms.conf")
d=$tmp/deb
dkms_deb=$d/vhost-user-bridge-dkms_${version}_all.deb
daemon_deb=$d/vhost-user-bridged_${version}_$(dpkg --print-architecture).deb

# contents DEB REQUIRED PREFIX...: REQUIRED (a regex of the required paths, one per line)
# must each match a path of DEB, and every path must be below one of PREFIX.
contents() {
	local deb=$1 req=$2 p r rc=0
	shift 2
	dpkg-deb -c "$deb" | awk '{ print substr($6, 2) }' | grep -v '/$' >"$tmp/list"
	while read -r r; do
		grep -qx "$r" "$tmp/list" || { echo "missing: $r"; rc=1; }
	done <<<"$req"
	while read -r p; do
		for r in "$@"; do [[ $p != "$r"* ]] || continue 2; done
		echo "unexpected: $p"; rc=1
	done <"$tmp/list"
	return $rc
}

deb_check() {
	local out rc
	if ! "$top/tools/packaging/build-deb.sh" "$d" >"$tmp/build-deb.log" 2>&1 || [ ! -f "$dkms_deb" ] ||
		[ ! -f "$daemon_deb" ]; then
		tail -30 "$tmp/build-deb.log" | diag
		point 1 "make deb (tools/packaging/build-deb.sh) builds both packages"
		return
	fi
	point 0 "make deb (tools/packaging/build-deb.sh): ${dkms_deb##*/}, ${daemon_deb##*/}"

	# Every tag is shown; an error or a warning fails.
	out=$(lintian --info --pedantic --fail-on error,warning "$d"/deb/*.changes 2>&1)
	rc=$?
	out=$(grep -v '^running with root privileges' <<<"$out")
	[ -z "$out" ] || diag <<<"$out"
	point $rc "lintian --pedantic: no error, no warning"

	# What make install-dkms installs, exactly, and the udev rule and modules-load.d file.
	local req
	make -s -C "$top" install-dkms DESTDIR="$tmp/ref" >/dev/null 2>&1
	req=$(cd "$tmp/ref" && find . -type f | sed 's|^\.||')
	req+="
/lib/udev/rules.d/60-vhost-user-bridge.rules
/usr/lib/modules-load.d/vhost-user-bridge.conf
/usr/share/doc/vhost-user-bridge-dkms/copyright"
	out=$(contents "$dkms_deb" "$req" "/usr/src/vhost-user-bridge-$version/" /lib/udev/rules.d/ \
		/usr/lib/modules-load.d/ /usr/share/doc/vhost-user-bridge-dkms/)
	rc=$?
	[ -z "$out" ] || diag <<<"$out"
	point $rc "${dkms_deb##*/}: the module source as make install-dkms installs it, udev rule, modules-load.d; nothing else"

	out=$(contents "$daemon_deb" "/usr/sbin/vhost-user-bridged
/usr/sbin/vubctl
/usr/share/man/man8/vhost-user-bridged.8.gz
/usr/share/man/man8/vubctl.8.gz
/usr/share/man/man4/vhost_user_bridge.4.gz
/lib/systemd/system/vhost-user-bridged.*service
/etc/default/vhost-user-bridged
/usr/share/doc/vhost-user-bridged/copyright" /usr/sbin/ /usr/share/man/ /lib/systemd/system/ /etc/default/ \
		/usr/share/doc/vhost-user-bridged/)
	rc=$?
	dpkg-deb -I "$daemon_deb" conffiles | grep -qx /etc/default/vhost-user-bridged ||
		{ out+=$'\n'"/etc/default/vhost-user-bridged is not a conffile"; rc=1; }
	dpkg-deb --fsys-tarfile "$daemon_deb" | tar -xOf - --wildcards './lib/systemd/system/*.service' |
		grep -q '^ExecStart=/usr/sbin/vhost-user-bridged ' ||
		{ out+=$'\n'"the unit does not start /usr/sbin/vhost-user-bridged"; rc=1; }
	[ -z "$out" ] || diag <<<"$out"
	point $rc "${daemon_deb##*/}: daemon, vubctl, man pages, unit (ExecStart in /usr/sbin), /etc/default conffile; nothing else"

	# Install, DKMS for the cached 6.1 and 6.12, purge: in a throwaway root (the host's under
	# an overlay), since DKMS in the test VM would take 5 minutes under TCG.
	while IFS= read -r out; do
		case $out in
		"ok - "*" # SKIP "*) out=${out#ok - }; point skip "deb-install: ${out%% # SKIP *}" "${out#* # SKIP }" ;;
		"ok - "*) point 0 "deb-install: ${out#ok - }" ;;
		"not ok - "*) point 1 "deb-install: ${out#not ok - }" ;;
		1..*) ;;
		*) echo "$out" ;;
		esac
	done < <("$top/tests/packaging/deb-install.sh" --overlay --kernel 6.1 --kernel 6.12 "$dkms_deb" "$daemon_deb" 2>&1 ||
		echo "not ok - deb-install.sh exited with status $?")
}
for c in dpkg-buildpackage dh_dkms lintian dkms; do
	command -v $c >/dev/null || { point 1 "Debian packages: no $c (make deps)"; c=; break; }
done
[ -z "$c" ] || deb_check

echo "1..$n"
[ $failed = 0 ]
