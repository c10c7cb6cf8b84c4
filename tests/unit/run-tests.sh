#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Run unit test binaries, relay their TAP output, print one summary line.
# Usage: run-tests.sh OUTDIR test...   (exit 77 from a test = skipped)
# A test is a binary in OUTDIR, or a command line containing a '/'.
out=$1; shift
pass=0; fail=0; skip=0
for t in "$@"; do
	case "$t" in
	*/*) name=$(basename "${t%% *}"); cmd=$t ;;
	*) name=$t; cmd="$out/$t" ;;
	esac
	echo "# --- $name"
	$cmd > "$out/$name.log" 2>&1
	rc=$?
	cat "$out/$name.log"
	p=$(grep -c '^ok ' "$out/$name.log")
	f=$(grep -c '^not ok ' "$out/$name.log")
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "# $name: SKIPPED"
	elif [ $rc -ne 0 ]; then
		[ "$f" -eq 0 ] && fail=$((fail + 1))
		echo "not ok - $name exited with status $rc"
	fi
done
if [ $skip -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ $fail -eq 0 ]
