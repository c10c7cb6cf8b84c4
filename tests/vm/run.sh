#!/bin/bash
# Boot one Debian kernel under QEMU TCG and run the project's tests in it.
#   tests/vm/run.sh 6.1|6.12|debug|kasan [--bench|--deb]
# debug: Debian's 6.12 source with KASAN, UBSAN, lockdep, kmemleak, debugobjects, built
# once by tests/vm/build-debug-kernel.sh (tests/vm/debug.config); slower, larger timeouts.
# kasan: the same without lockdep (for the mirrored-memory tests 27-29, which skip on lockdep).
# Results: build/vm-KREL/ (also reachable as build/vm-6.1, build/vm-6.12; -bench appended
# for --bench): test.log (the guest's TAP), dmesg.txt, console.log, rc, result
# ("passed failed skipped"), failures (each failed test with its last lines of output).
# On 6.12 (or with VUB_TESTS naming "systemd") a second boot runs the systemd stage, with
# systemd as PID 1 (tests/vm/systemd-guest.sh); its files are in systemd/ there, and its
# points are added to result and failures.  A third (or VUB_TESTS naming "deb"), the package
# stage, again with systemd as PID 1, installs the Debian packages of make deb with dpkg and
# purges them (tests/vm/deb-guest.sh; the host's part, make deb, lintian and the VM's module
# tree: tests/vm/deb-root.sh); its files are in deb/.
# --deb (make check-deb): the package stage alone; results in build/vm-KREL-deb/.
# How it works: Documentation/vm-runner.rst.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tests/vm
series=${1:?usage: run.sh 6.1|6.12|debug|kasan [--bench|--deb]}
mode='test'
case ${2:-} in
'') ;;
--bench) mode=bench ;;
--deb) mode=deb ;;
*) echo "usage: run.sh 6.1|6.12|debug|kasan [--bench|--deb]" >&2; exit 2 ;;
esac
CACHE=${VUB_CACHE:-/var/cache/vhost-user-bridge}
vm_timeout=${VUB_VM_TIMEOUT:-4800}	# whole boot, seconds: a hang detector (each test has its own)
test_timeout=${VUB_TEST_TIMEOUT:-600}	# each test program inside the guest, seconds
mem=2G
append=
debug=; case $series in debug|kasan) debug=1 ;; esac
if [ -n "$debug" ]; then
	# KASAN, lockdep and kmemleak make the kernel side several times slower; KASAN's
	# shadow takes an eighth of RAM and its quarantine more.  no_hash_pointers: reports
	# show real addresses, to compare with the module's load address.
	vm_timeout=${VUB_VM_TIMEOUT:-10800}
	test_timeout=${VUB_TEST_TIMEOUT:-3600}
	# A daemon request (DPDK mapping the VMM's memory) can take more than 25 s here:
	# the module waits 120 s and the test daemons 100 s (guest.sh, e2e-virtio-user.sh).
	export VUB_REQ_TIMEOUT_MS=${VUB_REQ_TIMEOUT_MS:-120000}
	mem=3G
	append=" no_hash_pointers"
fi
# VUB_GUEST=/abs/script.sh runs that instead of tests/vm/guest.sh (boot-path experiments).
guest=${VUB_GUEST:-$vm/guest.sh}
# Kernel log lines that fail a run, wherever they come from.
# ("BUG kmalloc-64 (Tainted: ...)" is SLUB's own report; UBSAN's has no other keyword.
# lockdep's reports are "WARNING: possible circular locking ..." and the like; the bare word
# would match the debug kernel's boot banner "RCU lockdep checking is enabled".)
bad='WARNING:|BUG:|BUG [^ ]+ \(|Oops|Call Trace|KASAN|UBSAN|lockdep is turned off|possible circular|hung_task|INFO: task'
initrd_modules="virtio_pci 9pnet_virtio 9p pvpanic_mmio"
# The systemd stage's root is an overlay (not built into the debug kernel: no systemd stage there).
[ -n "$debug" ] || initrd_modules+=" overlay"
[ $mode != deb ] || [ -z "$debug" ] || { echo "run.sh: --deb needs overlayfs, which the $series kernel lacks" >&2; exit 2; }

k=$("$vm/fetch-kernel.sh" "$series")
read -r krel _ image modroot <<<"$k"
"$vm/build-module.sh" "$series"
sfx=; [ $mode = test ] || sfx=-$mode
out=$top/build/vm-$krel$sfx
ln -sfn "vm-$krel$sfx" "$top/build/vm-$series$sfx"

# busybox + the modules that mount 9p, built once per kernel and /init version.
mkinitrd() {
	local key f t ko n
	key=$({ cat "$vm/init"; echo "$initrd_modules"; } | sha256sum | cut -c1-16)
	f=$CACHE/initrd/$krel-$key.cpio
	if [ -e "$f" ]; then echo "$f"; return; fi
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,dev,proc,sys,host,out,lib/modules}
	: >"$t/lib/modules/load.list"	# stays empty when all of them are built in (debug)
	cp /bin/busybox "$t/bin/"
	install -m 755 "$vm/init" "$t/init"
	# --show-depends lists each module's chain in load order ("builtin x" when built in).
	for m in $initrd_modules; do
		modprobe -d "$modroot" -S "$krel" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$t/ko.list"
	while read -r ko; do
		n=${ko##*/}; n=${n%.xz}; n=${n%.ko}
		case $ko in
		*.xz) xz -dc "$ko" ;;	# 6.12 ships .ko.xz; busybox insmod wants plain ELF
		*) cat "$ko" ;;
		esac >"$t/lib/modules/$n.ko"
		echo "$n" >>"$t/lib/modules/load.list"
	done <"$t/ko.list"
	rm "$t/ko.list"
	mkdir -p "$CACHE/initrd"
	(cd "$t" && find . | cpio -o -H newc --quiet) >"$f.$$"
	mv "$f.$$" "$f"
	echo "run.sh: built $f: $(tr '\n' ' ' <"$t/lib/modules/load.list")" >&2
	rm -rf "$t"
	echo "$f"
}
initrd=$(mkinitrd)

boot() {
	local g=$guest	# the boot's test; under systemd, run by tests/vm/systemd-setup.sh's unit
	case $kind in systemd) g=$vm/systemd-guest.sh ;; deb) g=$vm/deb-guest.sh ;; esac
	rm -rf "$out"
	mkdir -p "$out"
	printf 'export %s=%q\n' VUB_TOP "$top" VUB_BUILD "$top/build" VUB_KREL "$krel" \
		VUB_MODROOT "$modroot" VUB_KMOD "$top/build/kmod-$krel/vhost_user_bridge.ko" \
		VUB_MODE "$mode" VUB_GUEST "$g" VUB_OUT /run/out \
		VUB_TEST_TIMEOUT "$test_timeout" VUB_DMESG_BAD "$bad" \
		VUB_TESTS "${VUB_TESTS:-}" VUB_FUZZ_SECS "${VUB_FUZZ_SECS:-10}" \
		VUB_REQ_TIMEOUT_MS "${VUB_REQ_TIMEOUT_MS:-30000}" >"$out/env"
	# tests/vm/linux-guest.sh's knobs (LG_PATHS, LG_QUEUES, LG_BYTES, LG_PANIC, ...),
	# tests/vm/bench.sh's (BENCH_SECTIONS, BENCH_REPS, BENCH_SCALE, ...) and
	# tests/vm/guest.d/31-migrate.sh's (MIG_RUNS, MIG_TRAFFIC, MIG_RAM) and tests/vm/libvirt.sh's
	# (LV_BOOT_TIMEOUT)
	while read -r v; do printf 'export %s=%q\n' "$v" "${!v}"; done < <(compgen -e | grep -E '^(LG|LV|BENCH|MIG)_') >>"$out/env"
	echo "$modroot" >"$out/modroot"	# for tests/vm/init's modprobe -d
	echo "$kind" >"$out/boot"	# "systemd", "deb": tests/vm/init boots systemd (tests/vm/systemd-setup.sh)
	for p in "$top" "$modroot" "${g%/*}"; do
		case $p in /tmp/*) echo "$p" ;; esac
	done >"$out/keep"	# see the guest's /tmp in tests/vm/init
	: >"$out/test.log"
	qrc=0
	if [ "$kind" = systemd ] && ! "$vm/install.sh" "$out/root" "$krel" "$modroot" >"$out/install.log" 2>&1; then
		{ echo "tests/vm/install.sh failed:"; tail -20 "$out/install.log"; } >>"$out/init-errors"
		return
	fi
	# make deb, lintian, the VM's headers and its few modules: autofs4, configfs and
	# binfmt_misc are what systemd loads at boot (PID 1, sys-kernel-config.mount,
	# proc-sys-fs-binfmt_misc.mount: without it the boot waited 40 s and failed that unit),
	# the initramfs's are loaded.
	if [ "$kind" = deb ]; then
		echo "== vm $krel: make deb, lintian, the VM's module tree (tests/vm/deb-root.sh; log: ${out#"$top"/}/install.log)"
		# shellcheck disable=SC2086 # a list of module names
		if ! "$vm/deb-root.sh" "$out" "$krel" "$modroot" $initrd_modules autofs4 configfs binfmt_misc >"$out/install.log" 2>&1; then
			{ echo "tests/vm/deb-root.sh failed:"; tail -30 "$out/install.log"; } >>"$out/init-errors"
			return
		fi
		grep -E '^deb-root.sh: (make deb|lintian) ' "$out/install.log"
	fi
	# -cpu max without QEMU 7.2's new AVX emulation and friends, a suspect (not proven)
	# in the nested Linux guest's panics with impossible CPU states
	# (Documentation/vm-runner.rst, "The outer VM's CPU").
	local cpu=${VUB_CPU:-max,avx=off,avx2=off,fma=off,f16c=off,vaes=off,bmi1=off,bmi2=off,adx=off,la57=off}
	timeout -k 10 "$vm_timeout" "${hide[@]}" qemu-system-x86_64 -accel tcg -cpu "$cpu" -smp 2 -m "$mem" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial file:"$out/console.log" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-device pvpanic -action panic=exit-failure \
		-kernel "$image" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 oops=panic slub_nomerge$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$out",mount_tag=out,security_model=none \
		</dev/null >"$out/qemu.log" 2>&1 &
	qpid=$!
	tail -n +1 -s 0.2 -F --pid=$qpid "$out/test.log" 2>/dev/null || true	# the guest's TAP, live
	wait $qpid || qrc=$?
	qpid=
}
# The guest sees the host's root, but must not depend on what the host happens to have:
# a fresh machine has no /lib/modules, so QEMU runs in a mount namespace where that
# path is absent (an overlay whiteout) and the guest checks it (tests/vm/guest.sh).
hide=()
libdir=$(realpath /lib)
if [ -e "$libdir/modules" ]; then
	# shellcheck disable=SC2016 # expanded by the namespace's bash
	hide=(unshare --mount --propagation private bash -euc '
		t=$(mktemp -d); mount -t tmpfs tmpfs "$t"; mkdir "$t/u" "$t/w"; mknod "$t/u/modules" c 0 0
		mount -t overlay overlay -o "lowerdir=$0,upperdir=$t/u,workdir=$t/w" "$0"; exec "$@"' "$libdir")
fi
qpid=
# timeout(1) puts QEMU in its own process group: end it when we are interrupted.
trap '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null' EXIT

# A crash (not a hang) before the guest script finished, whose report does not name the
# module: a TCG or boot hiccup (vm-harness.md §10), worth one more boot.
infra_crash() {
	[ ! -e "$out/rc" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ] || return 1	# finished, or a hang
	local report
	report=$(awk -v re="$bad|Kernel panic|general protection" '$0 ~ re { p = 1 } p && !/Modules linked in/' \
		"$out/console.log" 2>/dev/null)
	[ -n "$report" ] && ! grep -qE 'vhost_user_bridge|vub_' <<<"$report"
}

# One boot: KIND (guest: tests/vm/init runs $guest; systemd: tests/vm/systemd-guest.sh under
# systemd as PID 1) with its results in $out; sets qrc, grc, secs, and adds to problems,
# passed, failed, skipped.
stage() {
	local kind=$1 name=$2 p f k
	local -a probs=()
	echo "== vm $krel ($mode): booting${name:+ ($name)}"
	t0=$SECONDS
	boot
	if infra_crash; then
		echo "== vm $krel: the kernel crashed outside vhost_user_bridge before the tests ended; retrying once"
		rm -rf "$out.crash"
		mv "$out" "$out.crash"
		boot
		mv "$out.crash" "$out/crash-before-retry"
	fi
	secs=$((SECONDS - t0))

	grc=$(cat "$out/rc" 2>/dev/null || echo none)
	[ ! -s "$out/init-errors" ] || probs+=("the guest's /init:"$'\n'"$(cat "$out/init-errors")")
	[ "$qrc" = 65 ] || probs+=("qemu exit status $qrc (65: guest script exit 0; 1: kernel panic; 124: timeout after ${vm_timeout}s)")
	[ "$grc" = 0 ] || probs+=("guest script exit status $grc")
	grep -q '^# VUB_GUEST_DONE' "$out/test.log" || probs+=("the guest script did not finish (no VUB_GUEST_DONE in test.log)")
	splats=$(cat "$out/console.log" "$out/dmesg.txt" 2>/dev/null | tr -d '\r' | grep -E "$bad" | sort -u | head -20 || true)
	[ -z "$splats" ] || probs+=("kernel log matches /$bad/:"$'\n'"$splats")
	# kmemleak (debug kernel only): tests/vm/guest.sh scans and keeps what it reports.
	for f in "$out"/kmemleak-*.txt; do
		[ ! -s "$f" ] || probs+=("kmemleak: $(grep -c '^unreferenced object' "$f") unreferenced object(s) in ${f#"$top"/}:"$'\n'"$(head -40 "$f")")
	done

	# Leaf TAP results: vub_selftests' own points (indented) replace the point that wraps them;
	# the harness checks above count as one more point.
	read -r p f k < <(awk '
		/^ +(not )?ok / { sub(/^ +/, ""); inner++; tally($0); next }
		/^(not )?ok / {
			if (inner && /^not ok/ && !inner_failed) failed++	# wrapper failed, all subtests ok
			else if (!inner) tally($0)
			inner = inner_failed = 0
		}
		function tally(l) {
			if (l ~ /^not ok/) { failed++; inner_failed += inner > 0 }
			else if (l ~ /# *[Ss][Kk][Ii][Pp]/) skipped++
			else passed++
		}
		END { print passed + 0, failed + 0, skipped + 0 }' "$out/test.log")
	if [ ${#probs[@]} = 0 ]; then p=$((p + 1)); else f=$((f + 1)); fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
	# What failed, with the last lines each failed test printed: tests/vm/check.sh repeats it
	# at the end of `make check`, where a truncated CI log still shows it.
	{
		awk -v keep=40 -v pre="${name:+$name: }" '/^(not )?ok / {
			if (/^not ok/) { print pre $0; for (i = (c > keep ? c - keep : 0); i < c; i++) print "  " b[i % keep] }
			c = 0; next }
			{ b[c++ % keep] = $0 }' "$out/test.log"
		for q in "${probs[@]}"; do echo "FAIL: ${name:+$name: }$q"; done
	} >>"$res/failures"

	echo "== vm $krel ($mode${name:+, $name}): ${secs}s, qemu rc $qrc, guest rc $grc: $p passed, $f failed, $k skipped; results in ${out#"$top"/}/"
	for q in "${probs[@]}"; do echo "FAIL: $q"; done
	if [ -e "$out/crash-before-retry" ]; then echo "note: first boot crashed, see ${out#"$top"/}/crash-before-retry/console.log"; fi
	[ -s "$out/console.log" ] && [ ${#probs[@]} != 0 ] && { echo "-- console.log (last 40 lines)"; tail -40 "$out/console.log"; }
	problems+=("${probs[@]}")
}

# Which boots: the guest script's, the systemd stage and the package stage: on 6.12, or on
# any kernel when VUB_TESTS has the word "systemd" or "deb" (never with --bench, VUB_GUEST or
# the debug kernel; why: Documentation/vm-runner.rst, "The systemd stage").  VUB_TESTS with
# only those words skips the first boot.  --deb (make check-deb) is the package stage alone.
want_guest=1 want_systemd=0 want_deb=0
[ $mode != deb ] || want_guest=0
if [ $mode = test ] && [ -z "${VUB_GUEST:-}" ] && [ -z "$debug" ]; then
	read -ra words <<<"${VUB_TESTS:-}"
	if [ ${#words[@]} = 0 ]; then
		[ "$series" != 6.12 ] || want_systemd=1 want_deb=1
	else
		want_guest=0
		for w in "${words[@]}"; do
			case $w in systemd) want_systemd=1 ;; deb) want_deb=1 ;; *) want_guest=1 ;; esac
		done
	fi
fi
res=$out
problems=() passed=0 failed=0 skipped=0
rm -rf "$res"
mkdir -p "$res"
[ $want_guest = 0 ] || stage guest ''
[ $mode != deb ] || stage deb ''
[ $want_systemd = 0 ] || { out=$res/systemd; stage systemd systemd; }
[ $want_deb = 0 ] || { out=$res/deb; stage deb deb; }
out=$res
echo "$passed $failed $skipped" >"$res/result"
echo "vm-$series$sfx: $passed passed, $failed failed, $skipped skipped"
[ ${#problems[@]} = 0 ]
