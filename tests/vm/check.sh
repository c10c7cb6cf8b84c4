#!/bin/bash
# `make check`: run every stage, even after one fails, then summarise.
# Stage logs: build/check/<stage>.log.  The last line adds up test results: the TAP
# points of each VM run (tests/vm/run.sh writes them to build/vm-<series>/result),
# the "N passed, N failed" (or the kselftest harness's "# Totals: ...") closing lines
# that a host stage's test runners print, and one point for a stage that prints none.
# Exits non-zero if any stage failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
mk=${MAKE:-make}
logs=$top/build/check
mkdir -p "$logs"

stages=(deps all check-unit lint "module-check KVER=6.1" "module-check KVER=6.12"
	"check-vm KVER=6.1" "check-vm KVER=6.12")
passed=0 failed=0 skipped=0 any_failed=0
summary=()
for s in "${stages[@]}"; do
	name=${s/ KVER=/-}
	echo "=== make $s"
	res=
	case $s in check-vm*) res=$top/build/vm-${s#*KVER=}/result; rm -f "$res" "${res%/*}/failures" ;; esac
	t0=$SECONDS
	rc=0
	# shellcheck disable=SC2086 # $s is a target plus variable assignments
	$mk --no-print-directory $s 2>&1 | tee "$logs/$name.log" || rc=$?
	secs=$((SECONDS - t0))
	verdict=ok
	[ "$rc" = 0 ] || { verdict=FAIL; any_failed=1; }
	detail=
	case $s in
	check-vm*)
		p=0 f=0 k=0
		[ ! -e "$res" ] || read -r p f k <"$res"	# none: the VM never ran
		[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
		detail="($p passed, $f failed, $k skipped)"
		;;
	*)
		# Test runners' own closing lines ("N passed, N failed[, N skipped]", the kselftest
		# harness's "# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N"), else 1 point.
		read -r p f k < <(awk '/^([[:alnum:]_-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ {
			sub(/^[^ ]+: /, ""); n++; p += $1; f += $3; k += $5 }
			/^# Totals: pass:[0-9]+ fail:[0-9]+ xfail:[0-9]+ xpass:[0-9]+ skip:[0-9]+ error:[0-9]+$/ {
			for (i = 3; i <= NF; i++) { split($i, kv, ":"); t[kv[1]] = kv[2] }
			n++; p += t["pass"] + t["xfail"]; f += t["fail"] + t["xpass"] + t["error"]; k += t["skip"] }
			END { print (n ? p : -1) + 0, f + 0, k + 0 }' "$logs/$name.log")
		if [ "$p" = -1 ]; then
			p=0 f=0 k=0
			if [ "$rc" = 0 ]; then p=1; else f=1; fi
		else
			detail="($p passed, $f failed, $k skipped)"
			[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
		fi
		;;
	esac
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
	summary+=("$(printf '  %-22s %-4s %5ss %s' "$name" "$verdict" "$secs" "$detail")")
done

echo "=== check summary (logs in build/check/)"
printf '%s\n' "${summary[@]}"
for s in "${stages[@]}"; do
	f=$top/build/vm-${s#*KVER=}/failures
	case $s in check-vm*) [ ! -s "$f" ] || { echo "=== failed in make $s"; cat "$f"; } ;; esac
done
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$any_failed" = 0 ]
