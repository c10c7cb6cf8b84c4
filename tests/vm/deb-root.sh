#!/bin/bash
# tests/vm/deb-root.sh OUTDIR KREL MODROOT MODULE...: the host's part of make check-deb
# (tests/vm/run.sh --deb), before the VM boots with systemd as PID 1 (tests/vm/deb-guest.sh).
#  1. make deb: tools/packaging/build-deb.sh builds build/vhost-user-bridge-dkms_V_all.deb and
#     build/vhost-user-bridged_V_ARCH.deb; lintian --pedantic must find no error or warning
#     (its output: OUTDIR/lintian.log).  Their paths go to OUTDIR/debs, one a line.
#  2. OUTDIR/root, which tests/vm/systemd-setup.sh copies into the VM's root: the kernel's
#     headers where Debian's linux-headers-KREL puts them (/usr/src/linux-headers-KREL and its
#     -common, symlinks to the cached kernel MODROOT; /lib/modules/KREL/build as the package
#     has it) for DKMS, and a /lib/modules/KREL with only the modules the VM loads: those
#     vhost_user_bridge depends on (as the kernel's build of it says) and the MODULEs (with
#     theirs), plus the kernel's modules.order and modules.builtin*, depmod'ed here.  With the
#     whole tree (4230 .ko.xz over 9p) each depmod of DKMS's install and purge took 4 to 5
#     minutes under TCG; with these few it takes a moment.
set -euo pipefail
out=${1:?usage: deb-root.sh OUTDIR KREL MODROOT MODULE...} krel=${2:?} modroot=${3:?}
shift 3
top=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/tools/packaging/dkms.conf")
[ -n "$version" ] || { echo "deb-root.sh: no PACKAGE_VERSION in tools/packaging/dkms.conf" >&2; exit 1; }
for c in dpkg-buildpackage dh_dkms lintian depmod; do
	command -v $c >/dev/null || { echo "deb-root.sh: no $c (make deps)" >&2; exit 1; }
done

# 1. The packages, as make deb builds them, and lintian.
t=$SECONDS
"$top/tools/packaging/build-deb.sh" "$top/build"
debs=("$top/build/vhost-user-bridge-dkms_${version}_all.deb"
	"$top/build/vhost-user-bridged_${version}_$(dpkg --print-architecture).deb")
ls "${debs[@]}" >/dev/null
echo "deb-root.sh: make deb (tools/packaging/build-deb.sh) in $((SECONDS - t)) s"
t=$SECONDS
rc=0
lintian --info --pedantic --fail-on error,warning "$top"/build/deb/*.changes >"$out/lintian.log" 2>&1 || rc=$?
sed -i '/^running with root privileges/d' "$out/lintian.log"
cat "$out/lintian.log"
[ $rc = 0 ] || { echo "deb-root.sh: lintian --pedantic: an error or a warning (exit $rc)" >&2; exit 1; }
echo "deb-root.sh: lintian --pedantic clean in $((SECONDS - t)) s"
printf '%s\n' "${debs[@]}" >"$out/debs"

# 2. The VM's kernel headers and module tree.
m=$modroot/lib/modules/$krel
hdr=$modroot/usr/src/linux-headers-$krel
[ -e "$hdr/include" ] && [ -L "$m/build" ] || { echo "deb-root.sh: no headers for $krel in $modroot" >&2; exit 1; }
root=$out/root
mkdir -p "$root/usr/src" "$root/lib/modules/$krel"
ln -sfn "$hdr" "$root/usr/src/linux-headers-$krel"
common=$(readlink "$m/source")	# /usr/src/linux-headers-KREL-common (the headers' Makefile names it in MODROOT)
ln -sfn "$modroot$common" "$root$common"
cp -P "$m/build" "$m/source" "$root/lib/modules/$krel/"
cp "$m"/modules.order "$m"/modules.builtin "$m"/modules.builtin.modinfo "$root/lib/modules/$krel/"
ko=$top/build/kmod-$krel/vhost_user_bridge.ko
deps=$(modinfo -F depends "$ko") || { echo "deb-root.sh: no $ko (tests/vm/build-module.sh)" >&2; exit 1; }
for mod in ${deps//,/ } "$@"; do
	modprobe -d "$modroot" -S "$krel" --show-depends "$mod"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
	rel=${f#"$m"/}
	mkdir -p "$root/lib/modules/$krel/${rel%/*}"
	cp "$f" "$root/lib/modules/$krel/$rel"
	echo "deb-root.sh: module $rel"
done
depmod -b "$root" "$krel"
echo "deb-root.sh: /lib/modules/$krel: $(find "$root/lib/modules/$krel" -name '*.ko*' | wc -l) modules (vhost_user_bridge depends on: ${deps:-nothing})"
