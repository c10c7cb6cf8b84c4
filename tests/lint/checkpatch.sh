#!/bin/bash
# Run the kernel's checkpatch.pl (from Debian's linux-source-6.1, cached outside
# the repo) over kmod/ and the uapi header.  Fails on any error or warning.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
cp_dir=$CACHE/checkpatch
"$top/tests/ksource.sh" linux-source-6.1 "$cp_dir" \
	scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch >/dev/null
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
