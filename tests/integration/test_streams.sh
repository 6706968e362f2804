#!/bin/sh
# test_streams.sh - memory bounded by tcp.max_streams, not by traffic.
#
# pcapgen streams: F Modbus/TCP connections, all opened before any of them
# sends its request (one request and one response each), then all closed;
# --half-open adds SYN-only attempts interleaved with the opens.
#
#   fit:    F = 1000 through --max-streams 1000: the table holds them all,
#           nothing is evicted (no "too many streams" warning, no mid-stream
#           pickup), every request and response is dissected.
#   flood:  F = 4000 and 4000 half-open attempts through the same table.
#           libnids keeps about as many streams as --max-streams (it
#           rounds: C = M plus at most a few) and pushes the oldest out when
#           a new one comes (NIDS_WARN_TCP_TOOMUCH when that one was past
#           its SYN, silently when it was half-open).  The opens evict
#           F - C established streams; every request then comes for a
#           stream no longer held (the requests come in opening order, and
#           each pickup pushes out the oldest held stream, one whose request
#           is still to come), so each of the F requests is picked up mid-
#           stream and evicts one more: 2F - C warnings, F pickups, and all
#           2F PDUs still dissected.  The table ends holding the last C
#           pickups, so every one of the 4000 half-open attempts was pushed
#           out: tcp.half_open_evicted (libnids itself says nothing).
#   rss:    peak RSS of the flood stays under the fit run's: fixed cost
#           (the same table on an empty capture) + 1.25 x what the fit run
#           added for its 1000 streams.  Unbounded, the flood's 4000
#           established streams would cost four times that.  Skipped under
#           the sanitizers (shadow memory and quarantine) and without
#           python3 (exact peak RSS of a child: getrusage).
#
# Not a timing test: counts and memory only.
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml
M=1000

"$GEN" streams "$T/fit.pcap" --flows 1000 2>/dev/null
"$GEN" streams "$T/flood.pcap" --flows 4000 --half-open 4000 2>/dev/null
"$GEN" streams "$T/empty.pcap" --flows 0 2>/dev/null

# run NAME CAPTURE: the sensor with a table of M streams; stats JSON in
# $T/NAME.stats, peak RSS (KiB) in $T/NAME.rss when python3 is there
run() {
	n=$1 cap=$2
	set -- "$BIN/mimamorid" -q -r "$cap" --zones "$ZONES" --db "$T/$n.db" \
		--sensor "test-$n" --max-streams $M --stats-json
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[3:], stdout=open(sys.argv[1], "w"),
                     stderr=open(sys.argv[2], "w"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$T/$n.stats" "$T/$n.err" "$@" >"$T/$n.rss"
	else
		"$@" >"$T/$n.stats" 2>"$T/$n.err"
	fi
	echo $? >"$T/$n.rc"
}
stat() { # NAME PATH: one value from the stats JSON ("tcp.midstream"), 0 when absent
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d.get(k, 0) if isinstance(d, dict) else 0
print(d)' "$T/$1.stats" "$2" 2>/dev/null
}
run empty "$T/empty.pcap"
run fit "$T/fit.pcap"
run flood "$T/flood.pcap"
for n in empty fit flood; do
	expect_eq "streams_${n}_exit_status" "$(cat "$T/$n.rc")" 0
done

# ---- fit: nothing evicted ----
expect_eq streams_fit_handshakes "$(stat fit tcp.streams)" 1000
expect_eq streams_fit_no_eviction "$(stat fit libnids_warnings.tcp_too_many_streams)" 0
expect_eq streams_fit_no_pickup "$(stat fit tcp.midstream)" 0
expect_eq streams_fit_no_half_open_evicted "$(stat fit tcp.half_open_evicted)" 0
expect_eq streams_fit_pdus "$(stat fit pdus.modbus)" 2000

# ---- flood: evicted and counted ----
F=4000
tm=$(stat flood libnids_warnings.tcp_too_many_streams)
if [ -n "$tm" ] && [ "$tm" -le $((2 * F - M)) ] && [ "$tm" -ge $((2 * F - M - 8)) ]; then
	pass streams_flood_evictions_counted
else
	fail streams_flood_evictions_counted "tcp_too_many_streams $tm, want 2F - C = $((2 * F - M - 8))..$((2 * F - M))"
fi
expect_eq streams_flood_handshakes "$(stat flood tcp.streams)" $F
expect_eq streams_flood_half_open_evicted "$(stat flood tcp.half_open_evicted)" 4000
expect_eq streams_flood_pickups "$(stat flood tcp.midstream)" $F
expect_eq streams_flood_pdus "$(stat flood pdus.modbus)" $((2 * F))
# 9 packets a connection: SYN, SYN-ACK, ACK; request, response, ACK; FIN,
# FIN, ACK; and one per half-open attempt
expect_eq streams_flood_packets "$(stat flood packets)" $((F * 9 + 4000))

# ---- rss: bounded by the table, not by the traffic ----
if [ "${MM_SANITIZE:-}" = 1 ]; then
	skip streams_rss_bounded "sanitized build: RSS is shadow memory and quarantine"
elif ! [ -s "$T/fit.rss" ] || ! [ -s "$T/flood.rss" ] || ! [ -s "$T/empty.rss" ]; then
	skip streams_rss_bounded "python3 is not installed (peak RSS of a child)"
else
	r0=$(cat "$T/empty.rss") r1=$(cat "$T/fit.rss") r2=$(cat "$T/flood.rss")
	echo "streams: peak RSS empty $r0 KiB, 1000 streams $r1 KiB, flood $r2 KiB (table of $M)"
	added=$((r1 - r0))
	bound=$((r0 + added * 5 / 4))
	unbounded=$((r0 + added * F / 1000))
	# the fit run's streams must weigh something, or the bound proves nothing
	if [ $added -lt 4096 ]; then
		fail streams_rss_bounded "1000 streams added only $added KiB over $r0 KiB: nothing to bound"
	elif [ "$r2" -le $bound ]; then
		pass streams_rss_bounded
	else
		fail streams_rss_bounded "flood peak $r2 KiB > bound $bound KiB (fixed $r0 + 1.25 x $added; unbounded would be ~$unbounded)"
	fi
fi
[ -z "$FAILED" ]
