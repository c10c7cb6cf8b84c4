#!/bin/bash
# Build Debian's 6.12 kernel source with KASAN, UBSAN, lockdep, kmemleak and debugobjects
# (tests/vm/debug.config) for `make check-vm KVER=debug`; cached outside the repo.
#   build-debug-kernel.sh [debug]   -> prints "KREL KDIR IMAGE MODROOT" like fetch-kernel.sh
#   build-debug-kernel.sh kasan     -> the same kernel without lockdep (no PROVE_LOCKING and
#                                      its LOCKDEP_* sizes), for the mirrored-memory tests that a
#                                      lockdep kernel cannot run (Documentation/design.rst,
#                                      "Mirrored memory"); KREL ends in -vubkasan
# The source is the linux-source-6.12 package (apt-get download, never installed), unpacked
# once per version into $CACHE/debug-6.12/src/VERSION/.  The build lives in
# $CACHE/debug-6.12/VERSION-KEY/ (KEY: a hash of debug.config, $recipe below and the compiler),
# so it is rebuilt only when one of those changes: build/ (O=, the kbuild dir for modules),
# root/lib/modules/KREL (modules_install; root/usr/src/linux-headers-KREL points to build/,
# as Debian's headers package does, for tests/vm/guest.d/40-admin.sh), build.log, .done.
# The build is niced (nice -n 19, -j$(nproc)); it took about 30 minutes on 2 busy cores.
# Offline, the newest cached build of the same key is used.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tests/vm
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
base=$CACHE/debug-6.12
frag=$vm/debug.config
pkg=linux-source-6.12
flavour=${1:-debug}
mkdir -p "$base/src"
case $flavour in
debug) ;;
kasan)
	# debug.config with lockdep's lines turned off, written where the key and the check
	# below read it.
	frag=$base/kasan.config.$$
	trap 'rm -f "$frag"' EXIT
	sed -e '/^CONFIG_\(PROVE_\|LOCKDEP_\)/d' -e 's/^CONFIG_LOCALVERSION="-vubdebug"/CONFIG_LOCALVERSION="-vubkasan"/' \
		"$vm/debug.config" >"$frag"
	printf '%s\n' '# CONFIG_PROVE_LOCKING is not set' '# CONFIG_LOCKDEP is not set' >>"$frag"
	;;
*) echo "usage: build-debug-kernel.sh [debug|kasan]" >&2; exit 2 ;;
esac
exec 9>"$base/.lock"	# one builder at a time; the others wait and then reuse its build
flock 9

recipe=1	# bump when the build steps below change what gets built
key=$({ cat "$frag"; echo "recipe $recipe"; gcc --version | head -1; } | sha256sum | cut -c1-12)
ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
if [ -z "$ver" ] || [ "$ver" = '(none)' ]; then
	# Offline or unknown to apt: the newest finished build of this configuration.
	d=$(cd "$base" && for d in *-"$key"; do [ -e "$d/.done" ] && echo "$d"; done | sort -V | tail -1)
	[ -n "$d" ] || { echo "build-debug-kernel.sh: apt knows no $pkg and nothing is cached for key $key" >&2; exit 1; }
	ver=${d%-"$key"}
	echo "build-debug-kernel.sh: apt knows no $pkg; using cached $ver" >&2
fi
out=$base/$ver-$key
b=$out/build
if [ ! -e "$out/.done" ]; then
	src=$base/src/$ver/$pkg
	if [ ! -e "$src/.done" ]; then
		echo "build-debug-kernel.sh: fetching $pkg $ver" >&2
		rm -rf "$base/src/$ver" && mkdir -p "$base/src/$ver/deb"
		(cd "$base/src/$ver/deb" && apt-get download -q "$pkg=$ver" >&2)
		dpkg -x "$base/src/$ver"/deb/*.deb "$base/src/$ver/deb/x"
		nice -n 19 tar -xJf "$base/src/$ver"/deb/x/usr/src/$pkg.tar.xz -C "$base/src/$ver"
		rm -rf "$base/src/$ver/deb"
		touch "$src/.done"
	fi
	echo "build-debug-kernel.sh: building $pkg $ver, $flavour (key $key) in $out;" \
		"log: $out/build.log (about 30 min on 2 cores)" >&2
	rm -rf "$out" && mkdir -p "$b"
	t0=$SECONDS
	unset MAKEFLAGS MFLAGS MAKELEVEL
	mk() { nice -n 19 make -C "$src" O="$b" -j"$(nproc)" "$@"; }
	{
		mk x86_64_defconfig
		KCONFIG_CONFIG=$b/.config "$src/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "$frag"
		mk olddefconfig
	} >"$out/build.log" 2>&1 || { tail -30 "$out/build.log" >&2; exit 1; }
	# Every line of the fragment must hold in the result: Kconfig drops a value whose
	# dependencies are missing without failing.
	lost=$(grep -E '^(CONFIG_|# CONFIG_.* is not set)' "$frag" | while read -r l; do
		case $l in
		'# '*) s=${l#\# }; s=${s%% *}; ! grep -q "^$s=" "$b/.config" || echo "$l (is $(grep "^$s=" "$b/.config"))" ;;
		*) grep -qxF "$l" "$b/.config" || echo "$l (is $(grep -E "^(# )?${l%%=*}[= ]" "$b/.config" || echo absent))" ;;
		esac
	done)
	if [ -n "$lost" ]; then
		echo "build-debug-kernel.sh: $flavour config lines not in the final .config:" >&2
		echo "$lost" >&2
		exit 1
	fi
	mk bzImage modules >>"$out/build.log" 2>&1 || { tail -40 "$out/build.log" >&2; exit 1; }
	mk INSTALL_MOD_PATH="$out/root" modules_install >>"$out/build.log" 2>&1 ||
		{ tail -20 "$out/build.log" >&2; exit 1; }
	krel=$(cat "$b/include/config/kernel.release")
	mkdir -p "$out/root/usr/src"
	ln -sfn "$b" "$out/root/usr/src/linux-headers-$krel"
	echo "build-debug-kernel.sh: built $krel in $((SECONDS - t0)) s" | tee -a "$out/build.log" >&2
	touch "$out/.done"
fi
krel=$(cat "$b/include/config/kernel.release")
echo "$krel $b $b/arch/x86/boot/bzImage $out/root"
