#!/bin/bash
# bench-plot.sh BENCH.JSON OUT.png: each bridge/native ratio of a make bench run
# (tests/vm/bench.sh) as a bar, the medians' ratio, on a log scale with 1 (no
# cost) and the goals marked.  Run on the host by make bench (gnuplot).
set -euo pipefail
json=${1:?usage: bench-plot.sh BENCH.JSON OUT.png}
png=${2:?usage: bench-plot.sh BENCH.JSON OUT.png}
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
# "label ratio" (bridge / direct; for throughput direct / bridge, so that above 1
# is always the bridge's cost)
jq -r '
	def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def r(a; b): if a == null or b == null or b == 0 then empty else a / b end;
	( .datapath | group_by(.frame)[] | . as $g |
		[ "data " + (.[0].frame | tostring) + " B",
		  r([ $g[] | select(.path == "native") | .pps_each_way ] | med;
		    [ $g[] | select(.path == "bridge") | .pps_each_way ] | med) ] ),
	( .ioctl_us[] | select(.op | test("^(SET_OWNER|SET_FEATURES|SET_MEM_TABLE|SET_VRING_CALL|ring_start|ring_stop|bring-up)")) |
		[ .op, r(.bridge_median; .direct_median) ] ),
	( [ "VMM bring-up", r([ .bringup_s[] | select(.path == "bridge") | .seconds ] | med;
		[ .bringup_s[] | select(.path == "native") | .seconds ] | med) ] ),
	( [ "QEMU bring-up", r([ (.qemu_bringup_s // [])[] | select(.path == "bridge") | .seconds ] | med;
		[ (.qemu_bringup_s // [])[] | select(.path == "native") | .seconds ] | med) ] ),
	( (.memtable_us // []) | group_by(.layout)[] |
		[ "mem " + (.[0].layout | sub("/.*"; "")), r(([ .[] | select(.side == "bridge") | .median ] | first);
			([ .[] | select(.side == "direct") | .median ] | first)) ] ),
	( .concurrency | group_by(.procs)[] |
		[ "conc P=" + (.[0].procs | tostring), r([ .[] | select(.side == "direct") | .ops_per_s ] | max;
			[ .[] | select(.side == "bridge") | .ops_per_s ] | max) ] )
	| select(length == 2) | "\"\(.[0])\" \(.[1])"' "$json" >"$dat"
[ -s "$dat" ] || { echo "bench-plot.sh: no ratios in $json (sections without a comparison): no plot"; exit 0; }
title="make bench: bridge cost relative to native vhost-user ($(jq -r '"guest \(.kernel), \(.cpus) vCPUs under TCG, guest load at the end \(.loadavg_at_end)"' "$json"))"
gnuplot <<GP
set terminal pngcairo size 1200,600 font ",10" noenhanced
set output "$png"
set title "$title"
set style data histograms
set style fill solid 0.6 border -1
set boxwidth 0.7
set logscale y 2
set yrange [0.125:16]
set ylabel "bridge / native (throughput: native / bridge); above 1: the bridge costs"
set xtics rotate by -40 left
set grid ytics
set key top left
plot "$dat" using 2:xtic(1) title "ratio of medians" lc rgb "#4477aa", \
	1 with lines lc rgb "black" dt 2 title "1: no cost", \
	1.5 with lines lc rgb "#cc6677" title "goal per ioctl: 1.5", \
	1.1 with lines lc rgb "#228833" title "goal bring-up: 1.1"
GP
echo "bench-plot.sh: $png ($(wc -l <"$dat") ratios)"
