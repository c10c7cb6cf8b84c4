#!/bin/bash
# make deb: build vhost-user-bridge-dkms and vhost-user-bridged (.deb) into OUTDIR.
#   build-deb.sh OUTDIR
# dpkg-buildpackage and debhelper want debian/ at the top of the source tree, which stays
# as it is here (tools/packaging/debian/), so the packages are built in a copy of the tree
# (without build/ and .git) under OUTDIR/deb/, with tools/packaging/debian as its debian/
# and a debian/changelog written from the one version in the tree, dkms.conf's
# PACKAGE_VERSION.  dpkg-buildpackage's own output (.buildinfo, .changes) stays in
# OUTDIR/deb/ with the .debs (and the daemon's -dbgsym); the two .debs are copied to OUTDIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:?usage: build-deb.sh OUTDIR}" && cd "$1" && pwd)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/tools/packaging/dkms.conf")
[ -n "$version" ] || { echo "build-deb.sh: no PACKAGE_VERSION in tools/packaging/dkms.conf" >&2; exit 1; }
work=$out/deb
src=$work/vhost-user-bridge-$version
rm -rf "$work" "$out"/vhost-user-bridge-dkms_*.deb "$out"/vhost-user-bridged_*.deb
mkdir -p "$src"
tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
cp -r "$top/tools/packaging/debian" "$src/debian"

# The changelog's date: the last commit's, so that a rebuild of the same tree is the same.
date=$(git -C "$top" log -1 --format=%cD 2>/dev/null || date -R)
desc=$(git -C "$top" describe --always --dirty 2>/dev/null || echo "a source tree without git")
maint=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
cat >"$src/debian/changelog" <<EOF
vhost-user-bridge ($version) unstable; urgency=medium

  * Built by make deb from $desc.

 -- $maint  $date
EOF

(cd "$src" && dpkg-buildpackage -b -us -uc)
cp "$work"/vhost-user-bridge-dkms_"$version"_all.deb "$work"/vhost-user-bridged_"$version"_*.deb "$out/"
ls -l "$out"/vhost-user-bridge-dkms_"$version"_all.deb "$out"/vhost-user-bridged_"$version"_*.deb
