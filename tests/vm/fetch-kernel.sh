#!/bin/bash
# Fetch one Debian kernel (image + headers) into the cache, outside the repo.
#   fetch-kernel.sh 6.1|6.12   -> prints "KREL KDIR IMAGE MODROOT"
#   fetch-kernel.sh debug|kasan -> the same for the debug kernel (kasan: without lockdep),
#                                 built from Debian's 6.12 source by
#                                 tests/vm/build-debug-kernel.sh (cached)
# KREL: uname -r of the kernel; KDIR: kbuild dir for M= builds; IMAGE: bzImage;
# MODROOT: root whose lib/modules/KREL holds the depmod'ed module tree.
# Nothing is installed on the host: the .debs are unpacked with dpkg -x (the 6.12
# headers Depend on the 6.12 image, so apt-get install would put it on the host).
set -euo pipefail
series=${1:?usage: fetch-kernel.sh 6.1|6.12|debug|kasan}
case $series in debug|kasan) exec "$(dirname "$0")/build-debug-kernel.sh" "$series" ;; esac
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
case $series in
6.1)  meta=linux-image-amd64 glob='6.1.0-*-amd64' ;;
6.12) meta=linux-image-6.12-amd64 glob='6.12.*-amd64' ;;
*) echo "fetch-kernel.sh: unknown kernel series '$series' (6.1, 6.12, debug or kasan)" >&2; exit 2 ;;
esac
mkdir -p "$CACHE/kernels"
exec 9>"$CACHE/.fetch.lock"	# one fetcher at a time (make -j, parallel runs)
flock 9

apt_update() { apt-get update -q -o DPkg::Lock::Timeout=600 >&2; }
# The metapackage names the current ABI, e.g. linux-image-6.1.0-56-amd64.
resolve() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-6/ { sub("linux-image-", "", $2); print $2; exit }'; }
krel=$(resolve)
if [ -z "$krel" ]; then
	apt_update || true
	krel=$(resolve)
fi
if [ -z "$krel" ]; then
	# Offline: fall back to the newest kernel of this series already in the cache.
	krel=$(cd "$CACHE/kernels" && for d in $glob; do [ -e "$d/.done" ] && echo "$d"; done | sort -V | tail -1)
	[ -n "$krel" ] || { echo "fetch-kernel.sh: apt knows no $meta and the cache has no $series kernel" >&2; exit 1; }
	echo "fetch-kernel.sh: apt knows no $meta; using cached $krel" >&2
fi
root=$CACHE/kernels/$krel
if [ ! -e "$root/.done" ]; then
	echo "fetch-kernel.sh: fetching $krel into $root" >&2
	rm -rf "$root" && mkdir -p "$root/debs"
	common=$(apt-cache depends "linux-headers-$krel" | awk '/Depends: linux-headers-.*-common/ { print $2; exit }')
	kbuild=$(apt-cache depends "linux-headers-$krel" | awk '/Depends: linux-kbuild-/ { print $2; exit }')
	get() { (cd "$root/debs" && apt-get download -q "linux-image-$krel" "linux-headers-$krel" "$common" "$kbuild" >&2); }
	get || { apt_update && get; }	# stale package lists: 404
	for d in "$root"/debs/*.deb; do dpkg -x "$d" "$root"; done
	# The headers' Makefile includes the -common tree by absolute path.
	sed -i "s|^include /usr/src|include $root/usr/src|" "$root/usr/src/linux-headers-$krel/Makefile"
	depmod -b "$root" "$krel"
	rm -rf "$root/debs"
	touch "$root/.done"
fi
echo "$krel $root/usr/src/linux-headers-$krel $root/boot/vmlinuz-$krel $root"
