#!/bin/sh
# bench/streams.sh - memory is bounded by configuration, not by traffic.
#
# `make bench-streams`.  build/tools/pcapgen streams writes FLOWS Modbus/TCP
# connections that are all open at once (handshake, one request and its
# response each, then all closed) with a flood of HALF_OPEN SYN-only
# connection attempts (spoofed 10.99.x.x sources, to port 502) interleaved
# with the opens.  bin/mimamorid -r reads it once per table size in
# MAX_STREAMS (--max-streams, the settings file's tcp.max_streams), and
# once more per size on an empty capture (the fixed cost of that size:
# libnids preallocates its stream pool).
#
# Per size: peak RSS (GNU time %M, else VmHWM sampled from /proc), the
# fixed RSS, the concurrent streams the table held (at most the size: all
# FLOWS are open at once), RSS per concurrent stream ((peak - fixed) /
# held), and the counters of what was evicted: libnids' "too many streams"
# warnings (an established stream pushed out of a full table), the
# half-open streams pushed out (tcp.half_open_evicted, see below), streams
# picked up again mid-stream when an evicted stream's next segment came,
# and PDUs.
#
# Then the bound: from the sizes where nothing was evicted (FLOWS fit),
# cost = the largest RSS per stream measured, and for every size
#   bound(M) = fixed(M) + M x cost x 1.25
# and the verdict says whether the runs whose traffic exceeded the table
# (FLOWS + HALF_OPEN > M) stayed under it: evicting and counting, not
# growing.
#
# libnids (tcp.c add_new_tcp) evicts the oldest stream when its table is
# full, calls the stream's handlers with NIDS_TIMED_OUT and reports
# NIDS_WARN_TCP_TOOMUCH only when that stream's client had got past
# SYN_SENT; the sensor counts the half-open ones itself (reasm.c).
#
# Environment: FLOWS (default 200000), HALF_OPEN (default 200000),
# MAX_STREAMS (default "50000 100000 200000 400000"), MM_BENCH_DIR
# (default /tmp/mimamori-bench: the capture is kept there),
# STREAMS_JSON (default $MM_BENCH_DIR/streams.json).
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
BIN=${BIN:-bin}
CACHE=${MM_BENCH_DIR:-/tmp/mimamori-bench}
JSON=${STREAMS_JSON:-$CACHE/streams.json}
FLOWS=${FLOWS:-200000}
HALF_OPEN=${HALF_OPEN:-200000}
MAX_STREAMS=${MAX_STREAMS:-50000 100000 200000 400000}
ZONES=${ZONES:-etc/zones.yaml}
GEN=$B/tools/pcapgen

die() { echo "bench-streams: $*" >&2; exit 2; }
for p in "$GEN" "$BIN/mimamorid"; do
	[ -x "$p" ] || die "$p is missing (make)"
done
mkdir -p "$CACHE" || exit 2
work=$(mktemp -d /tmp/mm-streams.XXXXXX) || exit 2
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP

PCAP=$CACHE/streams-$FLOWS-$HALF_OPEN.pcap
stamp="$(cksum <"$GEN" | cut -d' ' -f1)"
if ! [ -f "$PCAP" ] || [ "$(cat "$PCAP.stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "bench-streams: generating $PCAP"
	"$GEN" streams "$PCAP.tmp" --flows "$FLOWS" --half-open "$HALF_OPEN" &&
		mv "$PCAP.tmp" "$PCAP" && echo "$stamp" >"$PCAP.stamp" || die "pcapgen failed"
fi
EMPTY=$work/empty.pcap
"$GEN" streams "$EMPTY" --flows 0 --half-open 0 2>/dev/null || die "pcapgen failed"

# peak RSS of one run, KiB: GNU time when installed, else VmHWM sampled
# every 20 ms (a lower bound by at most the last 20 ms of the run)
run_rss() { # OUT_JSON CMD...
	o=$1
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f 'MMRSS %M' -o "$o.time" "$@" >"$o" 2>"$o.err"
		rc=$?
		sed -n 's/^MMRSS //p' "$o.time"
	else
		"$@" >"$o" 2>"$o.err" &
		pid=$! hwm=0
		while v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null) &&
			[ -n "$v" ]; do
			hwm=$v
			sleep 0.02
		done
		wait $pid
		rc=$?
		echo "$hwm"
	fi
	[ $rc = 0 ] || { echo "bench-streams: $* exited $rc" >&2; tail -3 "$o.err" >&2; }
	return $rc
}
jv() { # FILE KEY...: a number from the sensor's stats JSON
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    d = d.get(k, 0) if isinstance(d, dict) else 0
print(d)' "$@" 2>/dev/null || echo "?"
}
sensor() { # MAX PCAP OUT
	rm -rf "$work/db" && mkdir -p "$work/db" && chmod 755 "$work/db"
	run_rss "$3" "$BIN/mimamorid" -r "$2" --zones "$ZONES" --db "$work/db/s.db" \
		--max-streams "$1" --stats-json -q
}

echo "bench-streams: $PCAP: $FLOWS concurrent Modbus/TCP connections," \
	"$HALF_OPEN half-open attempts"
printf '%-11s %9s %9s %8s %10s %9s %9s %9s %9s %8s\n' max_streams "peak MiB" "fixed MiB" \
	held "KiB/stream" "too_many" "half_open" midstream handshk "modbus"
: >"$work/rows"
for m in $MAX_STREAMS; do
	fixed=$(sensor "$m" "$EMPTY" "$work/e$m.json") || die "the sensor failed on the empty capture"
	peak=$(sensor "$m" "$PCAP" "$work/s$m.json") || die "the sensor failed (max_streams $m)"
	f=$work/s$m.json
	tm=$(jv "$f" libnids_warnings tcp_too_many_streams)
	mid=$(jv "$f" tcp midstream) hs=$(jv "$f" tcp streams) pdus=$(jv "$f" pdus modbus)
	ho=$(jv "$f" tcp half_open_evicted)
	held=$FLOWS
	[ "$held" -gt "$m" ] && held=$m
	per=$(echo "$peak $fixed $held" | awk '{ printf "%.2f", ($3 > 0 ? ($1 - $2) / $3 : 0) }')
	printf '%-11s %9.1f %9.1f %8s %10s %9s %9s %9s %9s %8s\n' "$m" \
		"$(echo "$peak" | awk '{ print $1 / 1024 }')" "$(echo "$fixed" | awk '{ print $1 / 1024 }')" \
		"$held" "$per" "$tm" "$ho" "$mid" "$hs" "$pdus"
	echo "$m $peak $fixed $held $per $tm $mid $hs $pdus $ho" >>"$work/rows"
done

# the cost of one stream: measured where nothing was evicted
cost=$(awk -v n=$((FLOWS + HALF_OPEN)) '$1 >= n && $5 > c { c = $5 } END { print c + 0 }' "$work/rows")
[ "$cost" = 0 ] && cost=$(awk -v n="$FLOWS" '$1 >= n && $5 > c { c = $5 } END { print c + 0 }' "$work/rows")
echo
if [ "$cost" = 0 ]; then
	echo "bounds: no size held every stream: add one >= $FLOWS to MAX_STREAMS to measure a stream's cost"
else
	echo "a stream costs at most $cost KiB (runs that evicted nothing); bound(M) = fixed(M) + M x $cost KiB x 1.25 (allocator slack when streams churn)"
fi
json_rows=""
all_ok=true
while read -r m peak fixed held per tm mid hs pdus ho; do
	bound=- verdict=-
	if [ "$cost" != 0 ]; then
		bound=$(echo "$fixed $m $cost" | awk '{ printf "%.0f", $1 + $2 * $3 * 1.25 }')
		if [ $((FLOWS + HALF_OPEN)) -gt "$m" ]; then
			if [ "$peak" -le "$bound" ]; then verdict=under; else verdict=OVER; all_ok=false; fi
			printf 'max_streams %-8s peak %7.1f MiB, bound %7.1f MiB: %s (evicted: %s established, %s half-open)\n' \
				"$m" "$(echo "$peak" | awk '{ print $1 / 1024 }')" \
				"$(echo "$bound" | awk '{ print $1 / 1024 }')" "$verdict" "$tm" "$ho"
		fi
	fi
	json_rows="$json_rows${json_rows:+,}
    {\"max_streams\": $m, \"peak_rss_kib\": $peak, \"fixed_rss_kib\": $fixed, \"held\": $held, \"kib_per_stream\": $per, \"tcp_too_many_streams\": $tm, \"half_open_evicted\": $ho, \"midstream\": $mid, \"handshakes\": $hs, \"modbus_pdus\": $pdus, \"bound_kib\": \"$bound\", \"verdict\": \"$verdict\"}"
done <"$work/rows"

cat >"$JSON" <<EOF
{
  "capture": "$PCAP",
  "flows": $FLOWS,
  "half_open": $HALF_OPEN,
  "kib_per_stream": $cost,
  "rss_source": "$([ -x /usr/bin/time ] && echo 'GNU time %M' || echo 'VmHWM sampled')",
  "bounded": $all_ok,
  "rows": [$json_rows
  ]
}
EOF
echo "summary: $JSON"
