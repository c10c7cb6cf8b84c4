#!/bin/bash
# Fetch one Debian kernel (image + headers) into the cache, outside the repo.
#   fetch-kernel.sh 6.1|6.12   -> prints "KREL KDIR IMAGE MODROOT"
# KREL: uname -r of the kernel; KDIR: kbuild dir for M= builds; IMAGE: bzImage;
# MODROOT: root whose lib/modules/KREL holds the depmod'ed module tree.
set -euo pipefail
series=${1:?usage: fetch-kernel.sh 6.1|6.12}
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
case $series in
6.1)  meta=linux-image-amd64 ;;
6.12) meta=linux-image-6.12-amd64 ;;
*) echo "fetch-kernel.sh: unknown kernel series '$series' (6.1 or 6.12)" >&2; exit 2 ;;
esac
krel=$(apt-cache depends "$meta" | awk '/Depends: linux-image-6/ { sub("linux-image-", "", $2); print $2; exit }')
[ -n "$krel" ] || { echo "fetch-kernel.sh: apt knows no $meta (apt-get update?)" >&2; exit 1; }
ver=${krel%-amd64}
root=$CACHE/kernels/$krel
if [ ! -e "$root/.done" ]; then
	rm -rf "$root" && mkdir -p "$root/debs"
	common=$(apt-cache depends "linux-headers-$krel" | awk '/Depends: linux-headers-.*-common/ { print $2; exit }')
	kbuild=$(apt-cache depends "linux-headers-$krel" | awk '/Depends: linux-kbuild-/ { print $2; exit }')
	(cd "$root/debs" && apt-get download -q "linux-image-$krel" "linux-headers-$krel" "$common" "$kbuild" >&2)
	for d in "$root"/debs/*.deb; do dpkg -x "$d" "$root"; done
	# The headers' Makefile includes the -common tree by absolute path.
	sed -i "s|^include /usr/src|include $root/usr/src|" "$root/usr/src/linux-headers-$krel/Makefile"
	depmod -b "$root" "$krel"
	rm -rf "$root/debs"
	touch "$root/.done"
fi
echo "$krel $root/usr/src/linux-headers-$krel $root/boot/vmlinuz-$krel $root"
