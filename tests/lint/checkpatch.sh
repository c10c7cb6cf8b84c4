#!/bin/bash
# Run the kernel's checkpatch.pl (from Debian's linux-source-6.1, cached outside
# the repo) over kmod/ and the uapi header.  Fails on any error or warning.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
cp_dir=$CACHE/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q linux-source-6.1 >/dev/null 2>&1)
	dpkg -x "$tmp"/linux-source-6.1_*.deb "$tmp/x"
	tarball=$(ls "$tmp"/x/usr/src/linux-source-6.1.tar.xz)
	mkdir -p "$cp_dir"
	tar -xJf "$tarball" -C "$tmp" --wildcards --strip-components=1 \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	mkdir -p "$cp_dir/scripts"
	cp "$tmp"/scripts/{checkpatch.pl,spelling.txt,const_structs.checkpatch} "$cp_dir/scripts/"
fi
cd "$top"
run_checkpatch() {
	"$cp_dir/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG"${1:+,$1}" -f "${@:2}"
}
# vub_compat.h exists to compare kernel versions; nothing else may.
out=$(run_checkpatch "" kmod/vub_*.c kmod/vub.h uapi/linux/vhost_user_bridge.h;
      run_checkpatch LINUX_VERSION_CODE,CONSTANT_COMPARISON kmod/vub_compat.h) || true
echo "$out"
if grep -v '^total: 0 errors, 0 warnings, 0 checks' <<<"$out" | grep -q .; then
	echo "checkpatch: FAILED" >&2
	exit 1
fi
echo "checkpatch: clean"
