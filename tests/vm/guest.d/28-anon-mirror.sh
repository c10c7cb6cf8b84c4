#!/bin/bash
# Mirrors of private anonymous guest RAM, content checked both ways: build/vub_anonmem is
# a VMM with anonymous RAM and its own test back-end, which maps the files the bridge
# hands it (tests/selftests/vub_anonmem.c: plain content, MADV_DONTNEED of pages in use,
# fork + COW, MADV_COLLAPSE, munmap and new memory in its place).  Policies:
#   1. default node, mem_mirror=0 (the module's default): SET_MEM_TABLE fails with
#      EOPNOTSUPP and the kernel log says why and what to change;
#   2. default node, mem_mirror=1: mirrored, every check passes;
#   3. an instance added with --mem mirror while mem_mirror=0: mirrored;
#   4. an instance added with --mem refuse while mem_mirror=1: EOPNOTSUPP;
#      vubctl instance show reports each instance's policy.
# The parameter is put back at the end.  Exit 0 pass, 1 fail, 4 skip.
set -u
top=$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)
build=${VUB_BUILD:-$top/build}
tool=$build/vub_anonmem
param=/sys/module/vhost_user_bridge/parameters/mem_mirror
fails=0

# A lockdep kernel reports the back-end's invalidation nested in the VMM's as recursive
# locking of its one mmu_notifier map (design.rst, "Mirrored memory"), and turns lockdep
# off for every later test: run on KVER=kasan, the same debug kernel without lockdep.
[ -e /proc/lockdep ] && { echo "lockdep kernel: mirrors nest mmu notifier invalidations, which lockdep reports (design.rst); make check-vm KVER=kasan runs it"; exit 4; }
[ -x "$tool" ] && [ -x "$build/vubctl" ] || { echo "no $tool or $build/vubctl (make)"; exit 4; }
[ -w "$param" ] || { echo "FAIL: no $param"; exit 1; }
read -r old <"$param"
cleanup() {
	"$build/vubctl" instance del t28m >/dev/null 2>&1
	"$build/vubctl" instance del t28r >/dev/null 2>&1
	echo "$old" >"$param"
}
trap cleanup EXIT

# run NAME ARGS...: vub_anonmem ARGS, its output indented; counts a failure.
run() {
	local name=$1 rc
	shift
	echo "# $name: vub_anonmem $*"
	"$tool" "$@" 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || { echo "FAIL: $name (exit $rc)"; fails=$((fails + 1)); }
}

echo 0 >"$param"
mark=$(dmesg | wc -l)
run "refused by default" --expect refuse
dmesg | tail -n +"$((mark + 1))" | grep -m1 'vub_anonmem.*not a shared file mapping.*mem_mirror=1' ||
	{ echo "FAIL: no kernel log line for the refusal"; fails=$((fails + 1)); }

echo 1 >"$param"
run "mirrored (mem_mirror=1)" --expect mirror

echo 0 >"$param"
"$build/vubctl" instance add t28m --socket /run/vub-t28m.sock --mem mirror &&
	"$build/vubctl" instance add t28r --socket /run/vub-t28r.sock --mem refuse ||
	{ echo "FAIL: vubctl instance add --mem"; exit 1; }
"$build/vubctl" instance show t28m | sed 's/^/    /'
"$build/vubctl" instance show t28m | grep -q ' mem mirror ' &&
	"$build/vubctl" instance show t28r | grep -q ' mem refuse ' ||
	{ echo "FAIL: vubctl instance show does not report the policies"; fails=$((fails + 1)); }
run "instance --mem mirror (mem_mirror=0)" --dev /dev/vhost-user-bridge-t28m --expect mirror
echo 1 >"$param"
run "instance --mem refuse (mem_mirror=1)" --dev /dev/vhost-user-bridge-t28r --expect refuse

[ "$fails" = 0 ] || { echo "FAIL: $fails"; exit 1; }
echo "PASS"
