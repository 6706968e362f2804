#!/bin/sh
# bench/bench.sh - how fast is the sensor, against what can't be beaten?
#
# `make bench` builds bin/* and build/bench/*, then runs this.  It generates
# one large synthetic plant capture (build/tools/pcapgen bench: ~1,000,000
# packets of Modbus/TCP, S7comm, BACnet/IP and ~20 % IT background, some
# streams mid-stream, PDUs pipelined and split) into a cache directory,
# reused while the generator binary and the packet count are unchanged, and
# runs alternating rounds of every row below on it.
#
# Rows (wall time of the whole program reading the file, page cache warm):
#   pcapread        the bare libpcap read loop (bench/pcapread.c).  The floor:
#                   nothing that reads this file can be faster.  Every other
#                   row is reported as a ratio to its median.
#   nidsonly        libnids alone, set up as the sensor sets it up
#                   (bench/nidsonly.c): IP defragmentation + TCP reassembly,
#                   bytes summed.  The reassembly floor.
#   mimamorid       bin/mimamorid -r FILE --zones etc/zones.yaml --db TMP.db:
#                   the full pipeline (link layer, libnids, flow table,
#                   dissectors, zone policy, alerts over inproc ZeroMQ into
#                   the embedded SQLite store).  A fresh database per run.
#   mimamorid+logs  the same with --log-dir TMPDIR: every transaction log on
#                   (one JSON line per PDU, EVE alerts, stats).
#   tcpdump         tcpdump -nr FILE > /dev/null: a well-known C dissector
#                   printing one line per packet, for scale.
#   tshark          tshark -r FILE > /dev/null (one round only: slow).
#   ndpiReader      ndpiReader -i FILE (nDPI 4.2, Debian libndpi-bin; installed
#                   by make bench): flow classification, one thread (its -n
#                   is ignored for a file).  Its report goes to a file, never
#                   the terminal; the bench checks that it read every packet
#                   ("IP packets: N of N packets total").
#
# Peers (reported, never enforced): mimamorid at least 6 x faster than
# ndpiReader and 100 x faster than tshark (peer median / mimamorid median).
#
# Targets (reported, never enforced: timing is not a test):
#   mimamorid       median <= 3.0 x pcapread median
#   mimamorid+logs  median <= 6.0 x pcapread median
#   mimamorid       peak RSS <= 64 MiB (both rows)
#
# The alert store (build/bench/store_ingest, once per run, after the rows
# above; see that file): a plain batched SQLite insert loop of N alert rows
# into the store's schema, then the same N alerts through the sensor's
# link into a real bin/mimamori-store over tcp://127.0.0.1, acknowledged;
# and the wall time of `mimamori alerts --db FILE --zone seigyo_line1
# --since 24h` over a store of 1,000,000 alerts (made once a day into
# $MM_BENCH_DIR/store).  Targets: store ingest >= 0.5 x the plain loop's
# rate; that query < 50 ms (median).  STORE_ALERTS (default 100000) and
# QUERY_ROWS (default 1000000) change the sizes; STORE_BENCH=0 skips it.
#
# Fails (exit 1) only when a program crashed (killed by a signal), when
# pcapread or nidsonly failed, or when mimamorid exited non-zero.  Until
# bin/mimamorid exists its rows are reported as missing.
#
# Environment: ROUNDS (default 5), PACKETS (default 1000000), SENSOR_ARGS
# (more mimamorid options for both sensor rows, e.g. --config FILE),
# MM_BENCH_DIR (cache, default /tmp/mimamori-bench), BENCH_JSON (summary,
# default $MM_BENCH_DIR/last.json), B and BIN (build directories).
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
BIN=${BIN:-bin}
ROUNDS=${ROUNDS:-5}
PACKETS=${PACKETS:-1000000}
CACHE=${MM_BENCH_DIR:-/tmp/mimamori-bench}
JSON=${BENCH_JSON:-$CACHE/last.json}
ZONES=${ZONES:-etc/zones.yaml}
GEN=$B/tools/pcapgen
PCAP=$CACHE/bench.pcap

case $ROUNDS in '' | *[!0-9]* | 0) echo "bench: ROUNDS must be a positive number" >&2; exit 2 ;; esac

for p in "$GEN" "$B/bench/pcapread" "$B/bench/nidsonly"; do
	if [ ! -x "$p" ]; then
		echo "bench: $p is missing (run: make bench)" >&2
		exit 2
	fi
done
mkdir -p "$CACHE" || exit 2
work=$(mktemp -d /tmp/mm-bench.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT INT TERM

# --- the capture, generated once --------------------------------------
stamp="$(cksum <"$GEN" | cut -d' ' -f1) $PACKETS"
if [ -f "$PCAP" ] && [ -f "$PCAP.stamp" ] && [ "$(cat "$PCAP.stamp")" = "$stamp" ]; then
	echo "bench: reusing $PCAP"
else
	echo "bench: generating $PCAP ($PACKETS packets)"
	rm -f "$PCAP" "$PCAP.stamp"
	if ! "$GEN" bench "$PCAP.tmp" --packets "$PACKETS"; then
		echo "bench: pcapgen failed" >&2
		exit 1
	fi
	mv "$PCAP.tmp" "$PCAP" && echo "$stamp" >"$PCAP.stamp"
fi
cat "$PCAP" >/dev/null # warm the page cache: every row reads from memory

# --- measuring ----------------------------------------------------------
TIME=
[ -x /usr/bin/time ] && TIME=/usr/bin/time
have_ns=0
case $(date +%N 2>/dev/null) in [0-9]*) have_ns=1 ;; esac
now() { if [ $have_ns = 1 ]; then date +%s%N; else echo "$(date +%s)000000000"; fi; }
[ -n "$TIME" ] || echo "bench: /usr/bin/time not installed (package 'time'): no peak RSS"
[ $have_ns = 1 ] || echo "bench: date has no %N: times are in whole seconds"

FAILED=0
# run ROW STRICT CMD...: one timed run; appends "seconds rss_kib" to
# $work/ROW.runs.  STRICT=1: a non-zero exit fails the benchmark.
run() {
	row=$1 strict=$2
	shift 2
	t0=$(now)
	if [ -n "$TIME" ]; then
		$TIME -f 'MMRSS %M' -o "$work/$row.time" "$@" >"$work/$row.out" 2>"$work/$row.err"
	else
		"$@" >"$work/$row.out" 2>"$work/$row.err"
	fi
	rc=$?
	t1=$(now)
	rss=$(sed -n 's/^MMRSS //p' "$work/$row.time" 2>/dev/null | tail -1)
	sig=$(sed -n 's/^Command terminated by signal //p' "$work/$row.time" 2>/dev/null)
	secs=$(echo "$t0 $t1" | awk '{ printf "%.4f", ($2 - $1) / 1e9 }')
	if [ -n "$sig" ] || [ $rc -gt 128 ]; then
		echo "bench: $row CRASHED (signal ${sig:-$((rc - 128))}): $*" >&2
		tail -5 "$work/$row.err" >&2
		echo crashed >"$work/$row.status"
		FAILED=1
		return 1
	fi
	if [ $rc -ne 0 ]; then
		echo "bench: $row exited with status $rc: $*" >&2
		tail -5 "$work/$row.err" >&2
		echo "exit $rc" >"$work/$row.status"
		[ "$strict" = 1 ] && FAILED=1
		return 1
	fi
	echo "$secs ${rss:--}" >>"$work/$row.runs"
	[ -f "$work/$row.status" ] || echo ok >"$work/$row.status"
	return 0
}

ROWS="pcapread nidsonly"
HAVE_D=0
if [ -x "$BIN/mimamorid" ]; then
	HAVE_D=1
	ROWS="$ROWS mimamorid mimamorid+logs"
	[ -f "$ZONES" ] || echo "bench: $ZONES is missing: mimamorid will refuse to start" >&2
else
	echo "bench: $BIN/mimamorid is missing: only the floors run"
fi
HAVE_TCPDUMP=0 HAVE_TSHARK=0 HAVE_NDPI=0
command -v tcpdump >/dev/null 2>&1 && HAVE_TCPDUMP=1 && ROWS="$ROWS tcpdump"
command -v ndpiReader >/dev/null 2>&1 && HAVE_NDPI=1 && ROWS="$ROWS ndpiReader"
command -v tshark >/dev/null 2>&1 && HAVE_TSHARK=1 && ROWS="$ROWS tshark"

i=1
while [ $i -le "$ROUNDS" ]; do
	echo "bench: round $i/$ROUNDS"
	run pcapread 1 "$B/bench/pcapread" "$PCAP"
	run nidsonly 1 "$B/bench/nidsonly" "$PCAP"
	if [ $HAVE_D = 1 ]; then
		rm -rf "$work/db" "$work/logs"
		# the sensor creates the log folder itself: started as root it
		# drops privileges, and a folder root made would not be writable
		mkdir -p "$work/db"
		# shellcheck disable=SC2086 # SENSOR_ARGS: words on purpose
		run mimamorid 1 "$BIN/mimamorid" -r "$PCAP" --zones "$ZONES" \
			--db "$work/db/bench.db" $SENSOR_ARGS
		rm -rf "$work/db" && mkdir -p "$work/db"
		# shellcheck disable=SC2086
		run mimamorid+logs 1 "$BIN/mimamorid" -r "$PCAP" --zones "$ZONES" \
			--db "$work/db/bench.db" --log-dir "$work/logs" $SENSOR_ARGS
		if [ $i = 1 ] && [ -s "$work/mimamorid+logs.runs" ]; then
			du -sk "$work/logs" | cut -f1 >"$work/logs.kib"
		fi
	fi
	[ $HAVE_TCPDUMP = 1 ] && run tcpdump 0 tcpdump -nr "$PCAP"
	# its report (memory, packet counts, protocols) to a file: read below
	[ $HAVE_NDPI = 1 ] && run ndpiReader 0 ndpiReader -i "$PCAP" &&
		cp "$work/ndpiReader.out" "$work/ndpiReader.report"
	[ $HAVE_TSHARK = 1 ] && [ $i = 1 ] && run tshark 0 tshark -r "$PCAP"
	i=$((i + 1))
done

# --- summary --------------------------------------------------------------
median() { # column $1 of $2
	[ -s "$2" ] || { echo -; return; }
	awk -v c="$1" '{ print $c }' "$2" | grep -v '^-$' | sort -n | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "-"; exit }
		      if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maxcol() {
	[ -s "$2" ] || { echo -; return; }
	awk -v c="$1" '$c != "-" && $c > m { m = $c } END { print (m == "" ? "-" : m) }' "$2"
}

q() { if [ "$1" = - ]; then echo null; else echo "$1"; fi; } # JSON number or null

npk=$(cut -d' ' -f1 "$work/pcapread.out" 2>/dev/null)
fbytes=$(wc -c <"$PCAP" | tr -d ' ')
base=$(median 1 "$work/pcapread.runs")
echo
echo "mimamori bench: $PCAP: ${npk:-?} packets, $((fbytes / 1048576)) MiB, $ROUNDS rounds (median wall time)"
printf '%-16s %5s %10s %9s %10s %11s  %s\n' row runs "median s" "x read" "kpkt/s" "peak MiB" "target"
printf '%-16s %5s %10s %9s %10s %11s  %s\n' ---------------- ----- ---------- --------- ---------- ----------- ------
json_rows=""
for row in pcapread nidsonly mimamorid mimamorid+logs tcpdump ndpiReader tshark; do
	f=$work/$row.runs
	case " $ROWS " in *" $row "*) ;; *)
		if [ "$row" = mimamorid ] || [ "$row" = mimamorid+logs ]; then
			printf '%-16s %5s %10s\n' "$row" - missing
			json_rows="$json_rows${json_rows:+,}
    {\"row\": \"$row\", \"status\": \"missing\"}"
		fi
		continue ;;
	esac
	n=0
	[ -f "$f" ] && n=$(wc -l <"$f" | tr -d ' ')
	med=$(median 1 "$f")
	rss=$(maxcol 2 "$f")
	st=$(cat "$work/$row.status" 2>/dev/null || echo "not run")
	ratio=- kpps=- mib=- target= verdict=
	if [ "$med" != - ] && [ "$base" != - ]; then
		ratio=$(echo "$med $base" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')
	fi
	if [ "$med" != - ] && [ -n "$npk" ]; then
		kpps=$(echo "$npk $med" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 / 1000 : 0) }')
	fi
	[ "$rss" != - ] && mib=$(echo "$rss" | awk '{ printf "%.1f", $1 / 1024 }')
	case $row in
	mimamorid) target="<= 3.0x, <= 64 MiB"; tx=3.0 ;;
	mimamorid+logs) target="<= 6.0x, <= 64 MiB"; tx=6.0 ;;
	*) tx= ;;
	esac
	if [ -n "$tx" ] && [ "$ratio" != - ]; then
		verdict=$(echo "$ratio $tx $mib" | awk '{ ok = ($1 <= $2) && ($3 == "-" || $3 <= 64)
			print (ok ? "met" : "NOT met") }')
		target="$target: $verdict"
	fi
	[ "$st" != ok ] && target="$target ($st)"
	printf '%-16s %5s %10s %9s %10s %11s  %s\n' "$row" "$n" "$med" "$ratio" "$kpps" "$mib" "$target"
	runs=$(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$f" 2>/dev/null)
	jt=null
	[ -n "$tx" ] && jt="{\"max_ratio\": $tx, \"max_rss_mib\": 64, \"met\": $([ "$verdict" = met ] && echo true || echo false)}"
	json_rows="$json_rows${json_rows:+,}
    {\"row\": \"$row\", \"status\": \"$st\", \"runs_s\": [${runs}], \"median_s\": $(q "$med"), \"ratio_to_pcapread\": $(q "$ratio"), \"kpkt_per_s\": $(q "$kpps"), \"peak_rss_mib\": $(q "$mib"), \"target\": $jt}"
done
# --- against the peers: how many times faster mimamorid is ------------------
peers_json=""
dmed=$(median 1 "$work/mimamorid.runs")
for peer in ndpiReader:6 tshark:100; do
	p=${peer%%:*} want=${peer#*:}
	pmed=$(median 1 "$work/$p.runs")
	[ "$pmed" = - ] && continue
	[ "$dmed" = - ] && continue
	x=$(echo "$pmed $dmed" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')
	v=$(echo "$x $want" | awk '{ print ($1 >= $2 ? "met" : "NOT met") }')
	printf '%s takes %s x the time mimamorid takes (target >= %s: %s)\n' "$p" "$x" "$want" "$v"
	# what the target asks of mimamorid, against the floors of this run:
	# a program that reads the file through libpcap takes at least the
	# pcapread row; one that reassembles every TCP packet with libnids, at
	# least the nidsonly row
	if [ "$base" != - ]; then
		need=$(echo "$pmed $want $base" | awk '{ printf "%.2f", $1 / $2 / $3 }')
		nfl=$(median 1 "$work/nidsonly.runs")
		nx=$(echo "$nfl $base" | awk '{ if ($1 == "-") print "-"; else printf "%.2f", $1 / $2 }')
		verdict=$(echo "$need $nx" | awk '{ if ($1 < 1) v = "below the bare read loop: no program reading this file through libpcap can meet it"; else if ($2 != "-" && $1 < $2) v = "below libnids alone: only packets kept away from libnids can meet it"; else v = "above both floors"; print v }')
		printf '  it asks for <= %s x read (the read floor is 1.00 x, libnids alone %s x): %s\n' "$need" "$nx" "$verdict"
	fi
	peers_json="$peers_json${peers_json:+, }{\"peer\": \"$p\", \"times_faster\": $x, \"min\": $want, \"met\": $([ "$v" = met ] && echo true || echo false)}"
done
if [ -f "$work/ndpiReader.report" ]; then
	# did nDPI read the whole file?  "IP packets: N of M packets total"
	nseen=$(sed -n 's/^[[:space:]]*IP packets:[[:space:]]*[0-9]*[[:space:]]*of \([0-9]*\) packets total.*/\1/p' \
		"$work/ndpiReader.report" | head -1)
	if [ "$nseen" != "$npk" ]; then
		echo "bench: ndpiReader read ${nseen:-?} packets of $npk: its row is not comparable" >&2
	fi
	sed -n 's/^[[:space:]]*\(Flow Memory (per flow)\|Peak Memory\):[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/ndpiReader \1: \2/p' \
		"$work/ndpiReader.report"
fi
if [ -f "$work/logs.kib" ]; then
	echo "transaction logs written per run: $(($(cat "$work/logs.kib") / 1024)) MiB"
fi

# --- the alert store ----------------------------------------------------
store_json=null
if [ "${STORE_BENCH:-1}" != 0 ] && [ -x "$B/bench/store_ingest" ] &&
	[ -x "$BIN/mimamori-store" ] && [ -x "$BIN/mimamori" ]; then
	mkdir -p "$CACHE/store"
	echo
	echo "bench: the alert store (${STORE_ALERTS:-100000} alerts; query over ${QUERY_ROWS:-1000000})"
	if "$B/bench/store_ingest" --store "$BIN/mimamori-store" --cli "$BIN/mimamori" \
		--dir "$CACHE/store" --alerts "${STORE_ALERTS:-100000}" \
		--query-rows "${QUERY_ROWS:-1000000}" >"$work/store.out" 2>"$work/store.err"; then
		sv() { sed -n "s/^$1 //p" "$work/store.out" | head -1; }
		qn() { if [ -z "$1" ]; then echo null; else q "$1"; fi; }
		pr=$(sv plain_rate) sr=$(sv store_rate) ratio=$(sv store_ratio)
		qms=$(sv query_ms_median) qmax=$(sv query_ms_max)
		iv=$(echo "$ratio" | awk '{ print ($1 >= 0.5 ? "met" : "NOT met") }')
		qv=$(echo "$qms" | awk '{ print ($1 != "" && $1 < 50 ? "met" : "NOT met") }')
		printf '%-34s %10s alerts/s\n' "plain SQLite insert loop" "$pr"
		printf '%-34s %10s alerts/s  %s x plain (target >= 0.5: %s)\n' \
			"store ingest, acknowledged" "$sr" "$ratio" "$iv"
		printf '%-34s %10s ms median, %s ms max (target < 50 ms: %s)\n' \
			"alerts --zone Z --since 24h" "$qms" "$qmax" "$qv"
		echo "  query: $(sv query_command) over $(sv query_rows) alerts"
		store_json="{\"plain_alerts_per_s\": $(qn "$pr"), \"store_alerts_per_s\": $(qn "$sr"), \"ratio\": $(qn "$ratio"), \"ingest_target\": {\"min_ratio\": 0.5, \"met\": $([ "$iv" = met ] && echo true || echo false)}, \"query_rows\": $(qn "$(sv query_rows)"), \"query_ms_median\": $(qn "$qms"), \"query_ms_max\": $(qn "$qmax"), \"query_target\": {\"max_ms\": 50, \"met\": $([ "$qv" = met ] && echo true || echo false)}}"
	else
		echo "bench: the store benchmark failed:" >&2
		tail -5 "$work/store.err" >&2
		FAILED=1
	fi
fi

mkdir -p "$(dirname "$JSON")"
cat >"$JSON" <<EOF
{
  "capture": "$PCAP",
  "packets": ${npk:-null},
  "file_bytes": $fbytes,
  "rounds": $ROUNDS,
  "generated_by": "$GEN bench --packets $PACKETS",
  "time_source": "$([ $have_ns = 1 ] && echo 'date +%s%N around each run' || echo 'date +%s')",
  "rss_source": "$([ -n "$TIME" ] && echo '/usr/bin/time %M (max RSS, KiB)' || echo none)",
  "failed": $([ $FAILED = 1 ] && echo true || echo false),
  "store": $store_json,
  "peers": [$peers_json],
  "rows": [$json_rows
  ]
}
EOF
echo "summary: $JSON"
if [ $FAILED = 1 ]; then
	echo "bench: FAILED (a program crashed or exited non-zero; see above)" >&2
	exit 1
fi
exit 0
