#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Run unit test binaries, relay their TAP output, print one summary line.
# Usage: run-tests.sh OUTDIR test...   (exit 77 from a test = skipped)
out=$1; shift
pass=0; fail=0; skip=0
for t in "$@"; do
	echo "# --- $t"
	"$out/$t" > "$out/$t.log" 2>&1
	rc=$?
	cat "$out/$t.log"
	p=$(grep -c '^ok ' "$out/$t.log")
	f=$(grep -c '^not ok ' "$out/$t.log")
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "# $t: SKIPPED"
	elif [ $rc -ne 0 ]; then
		[ "$f" -eq 0 ] && fail=$((fail + 1))
		echo "not ok - $t exited with status $rc"
	fi
done
if [ $skip -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ $fail -eq 0 ]
