#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Short libFuzzer run of fuzz_vu_codec for check-frontend, with TAP output.
# Usage: fuzz-check.sh BUILD_DIR SRC_DIR SECONDS
out=$1; src=$2; secs=${3:-20}
bin=$out/fuzz_vu_codec
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP fuzz_vu_codec not built (no clang with libFuzzer)"
	exit 77
fi
mkdir -p "$out/fuzz-corpus" "$out/fuzz-artifacts"
rc=0
# 1: every seed and regression input, once.
if "$bin" -runs=0 "$src/fuzz/seeds" "$src/fuzz/regressions" \
	> "$out/fuzz-regress.log" 2>&1; then
	echo "ok 1 - fuzz_vu_codec: seeds and regression inputs run clean"
else
	rc=1
	echo "not ok 1 - fuzz_vu_codec: a seed or regression input fails"
	tail -30 "$out/fuzz-regress.log" | sed 's/^/# /'
fi
# 2: a short fuzzing run; new inputs go to the build directory only.
if "$bin" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$out/fuzz-artifacts/" \
	"$out/fuzz-corpus" "$src/fuzz/seeds" "$src/fuzz/regressions" \
	> "$out/fuzz-run.log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz-run.log")
	echo "ok 2 - fuzz_vu_codec: $runs runs in ${secs} s, no crash"
else
	rc=1
	echo "not ok 2 - fuzz_vu_codec found a crash (kept in $out/fuzz-artifacts/):"
	grep -E "ERROR|SUMMARY|artifact" "$out/fuzz-run.log" | head -5 | sed 's/^/# /'
	echo "# reproduce: $bin <artifact>; once fixed, add it to tests/unit/fuzz/regressions/"
fi
echo "1..2"
exit $rc
