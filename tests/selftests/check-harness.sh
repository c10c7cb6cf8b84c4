#!/bin/bash
# check-harness.sh HARNESS_DEMO: the harness prints the TAP it should, and
# exits 1 because tests failed.
set -u
out=$("$1" 2>/dev/null)
rc=$?
fail=0
expect() {	# a line that must appear, exactly
	grep -qxF -- "$1" <<<"$out" || { echo "check-harness: missing line: $1"; fail=1; }
}
expect "TAP version 13"
expect "1..8"
expect "ok 1 passes"
expect "# still running after EXPECT"
expect "not ok 2 expect_fails_but_continues"
expect "not ok 3 assert_stops"
expect "ok 4 skips # SKIP no widget here"
expect "# times_out: TIMEOUT after 1 s"
expect "not ok 5 times_out"
expect "# crashes: killed by signal 6 (Aborted)"
expect "not ok 6 crashes"
expect "not ok 7 memeq_fails"
expect "ok 8 leaves_orphan_behind"
expect "# 2 passed, 5 failed, 1 skipped"
expect "2 passed, 5 failed"
if grep -q "not reached" <<<"$out"; then echo "check-harness: ASSERT did not stop the test"; fail=1; fi
grep -q "abcd.*differ at byte 2 of 4" <<<"$out" ||
	{ echo "check-harness: ASSERT_MEMEQ did not show the difference"; fail=1; }
[ $rc = 1 ] || { echo "check-harness: exit status $rc, expected 1"; fail=1; }
[ "$("$1" -l | wc -l)" = 8 ] || { echo "check-harness: -l does not list 8 tests"; fail=1; }
one=$("$1" skips)
grep -qxF "1..1" <<<"$one" && grep -qxF "ok 1 skips # SKIP no widget here" <<<"$one" ||
	{ echo "check-harness: running one named test failed"; fail=1; }
if [ $fail = 0 ]; then echo "check-harness: ok"; else echo "$out"; fi
exit $fail
