#!/bin/bash
# ksource.sh PACKAGE DIR FILE...: FILEs (paths in the kernel tree) from Debian's kernel source
# package PACKAGE (linux-source-6.1, linux-source-6.12), unpacked once into DIR, a cache outside
# the repo; nothing is installed (apt-get download, dpkg -x).  Prints DIR.  DIR/VERSION names the
# package version the files came from.  Used for checkpatch (tests/lint/checkpatch.sh) and the
# kselftest harness (tests/selftests/Makefile).
set -euo pipefail
pkg=${1:?usage: ksource.sh PACKAGE DIR FILE...} dir=${2:?usage: ksource.sh PACKAGE DIR FILE...}
shift 2
have() { local f; for f in "$@"; do [ -e "$dir/$f" ] || return 1; done; }
if ! have "$@"; then
	mkdir -p "$dir"
	exec 9>"$dir.lock"	# one fetcher at a time (make -j, check-unit next to all)
	flock 9
	if ! have "$@"; then
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		get() { (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); }
		get || { apt-get update -q -o DPkg::Lock::Timeout=600 >&2 && get; } ||
			{ echo "ksource.sh: apt-get download $pkg failed" >&2; exit 1; }
		dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/x"
		echo "ksource.sh: unpacking ${*##*/} from $pkg into $dir" >&2
		tar -xJf "$tmp"/x/usr/src/"$pkg".tar.xz -C "$tmp" --wildcards --strip-components=1 \
			"${@/#/*/}"
		for f in "$@"; do
			mkdir -p "$dir/${f%/*}"
			cp -p "$tmp/$f" "$dir/$f"
		done
		dpkg-deb -f "$tmp"/"$pkg"_*.deb Version >"$dir/VERSION"
	fi
fi
echo "$dir"
