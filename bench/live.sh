#!/bin/sh
# bench/live.sh - the highest live packet rate the sensor takes cleanly.
#
# `make bench-live` (as root).  In a network namespace of its own it makes
# a veth pair (mmtx <-> mmrx, no addresses, no routes, forwarding off: the
# replayed packets go nowhere but to the sensor), runs bin/mimamorid -i mmrx
# there, replays a cut of the bench capture into mmtx with tcpreplay at each
# rate of RATES, stops the sensor with SIGTERM and reads its --stats-json.
# A fresh sensor per rate: every replay is the same capture from its start.
#
# A rate is clean when the sensor saw every packet tcpreplay sent, the
# kernel dropped none (pcap_stats ps_drop: the TPACKET_V3 ring was full)
# and libnids warnings and stream gaps are the same as when the sensor
# reads the cut from the file (-r): lost packets show up as gaps, and as
# libnids warnings when they were handshake packets.
#
# The sensor runs as it does in production: started as root, it drops to
# the mimamori (or nobody) user under its seccomp filter after opening the
# capture; no --user root, no --no-seccomp.
#
# Rows: rate asked (pps, or "top" = tcpreplay --topspeed), what tcpreplay
# achieved (its own "Rated:" line: packets/s and Mbit/s), packets the
# sensor saw, kernel drops, packets lost before the socket (sent - seen -
# kernel drops: the veth's backlog queue, netdev_max_backlog), libnids
# warnings, gaps; and whether the rate was clean.
#
# Environment:
#   RATES      pps to try, "top" for --topspeed (default
#              "20000 50000 100000 200000 400000 top")
#   PACKETS    the bench capture's size (default 1000000, as make bench)
#   CUT        replay only its first CUT packets (default: all of it).  A
#              replay shorter than the ring holds measures the ring, not
#              the sensor: 1,000,000 packets are ~190 MiB of frames
#   BUFFERS    capture buffers to try, MiB (--buffer-mb; default "64")
#   SENSOR_ARGS extra options for mimamorid (e.g. --config FILE)
#   MM_BENCH_DIR  the bench cache (default /tmp/mimamori-bench): the
#              capture bench.sh made there (bench.pcap) when it has
#              PACKETS packets, else the same made there as live.pcap
#   LIVE_JSON  the summary (default $MM_BENCH_DIR/live.json)
#
# The machine's cores are shared: tcpreplay, the kernel's veth path (in
# tcpreplay's system time) and the sensor compete for them.  The table
# prints the CPU time each used (user+system seconds) so that a limit
# reached because tcpreplay took a core is visible as such.
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
BIN=${BIN:-bin}
CACHE=${MM_BENCH_DIR:-/tmp/mimamori-bench}
JSON=${LIVE_JSON:-$CACHE/live.json}
RATES=${RATES:-20000 50000 100000 200000 400000 top}
PACKETS=${PACKETS:-1000000}
CUT=${CUT:-}
BUFFERS=${BUFFERS:-64}
ZONES=${ZONES:-etc/zones.yaml}
NS=mm-live-$$

die() { echo "bench-live: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, veth, capture)"
for c in ip tcpreplay tcpdump; do
	command -v $c >/dev/null 2>&1 || die "$c is missing (run: make bench-live, which installs it)"
done
[ -x "$BIN/mimamorid" ] || die "$BIN/mimamorid is missing (make)"
case $PACKETS in '' | *[!0-9]* | 0) die "PACKETS must be a positive number" ;; esac
case $CUT in *[!0-9]* | 0) die "CUT must be a positive number" ;; esac

work=$(mktemp -d /tmp/mm-live.XXXXXX) || exit 2
chmod 755 "$work"
SPID= TPID= RPID=
# every way out: tcpreplay and the sensor (time's children, or time
# itself) stopped, the namespace and the files gone
cleanup() {
	if [ -n "$RPID" ]; then
		pkill -TERM -P "$RPID" 2>/dev/null # time, or tcpreplay
		sleep 0.2
		kill -TERM "$RPID" 2>/dev/null
	fi
	if [ -n "$TPID" ]; then
		[ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null
		pkill -TERM -P "$TPID" 2>/dev/null
		kill -TERM "$TPID" 2>/dev/null
		wait "$TPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the capture: the bench capture, or a cut of it -----------------------
# bench.sh's own file when it has PACKETS packets from this generator (its
# stamp says so), else the same generator's output in $CACHE/live.pcap
mkdir -p "$CACHE" || exit 2
GEN=$B/tools/pcapgen
[ -x "$GEN" ] || die "$GEN is missing (make)"
stamp="$(cksum <"$GEN" | cut -d' ' -f1) $PACKETS"
SRC=$CACHE/bench.pcap
if ! [ -f "$SRC" ] || [ "$(cat "$SRC.stamp" 2>/dev/null)" != "$stamp" ]; then
	SRC=$CACHE/live.pcap
	if ! [ -f "$SRC" ] || [ "$(cat "$SRC.stamp" 2>/dev/null)" != "$stamp" ]; then
		echo "bench-live: generating $SRC ($PACKETS packets)"
		rm -f "$SRC" "$SRC.stamp"
		"$GEN" bench "$SRC.tmp" --packets "$PACKETS" >/dev/null &&
			mv "$SRC.tmp" "$SRC" && echo "$stamp" >"$SRC.stamp" || die "pcapgen failed"
	fi
fi
PCAP=$SRC
if [ -n "$CUT" ]; then
	PCAP=$work/cut.pcap
	tcpdump -r "$SRC" -c "$CUT" -w "$PCAP" 2>/dev/null || die "tcpdump could not cut $SRC"
fi
nbytes=$(wc -c <"$PCAP" | tr -d ' ')

# jv FILE KEY...: a number from the sensor's one-line stats JSON
jv() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    d = d.get(k, 0) if isinstance(d, dict) else 0
print(d)' "$@" 2>/dev/null || echo "?"
}

# the reference: the same cut read from the file
mkdir -p "$work/ref"
"$BIN/mimamorid" -r "$PCAP" --zones "$ZONES" --db "$work/ref/ref.db" \
	--stats-json -q $SENSOR_ARGS >"$work/ref.json" 2>"$work/ref.err" ||
	{ cat "$work/ref.err" >&2; die "mimamorid -r on the cut failed"; }
ref_warn=$(jv "$work/ref.json" libnids_warnings total)
ref_gaps=$(jv "$work/ref.json" tcp gaps)
ref_pk=$(jv "$work/ref.json" packets)
npk=$ref_pk
echo "bench-live: $npk packets, $((nbytes / 1048576)) MiB of $SRC; read from the file:" \
	"$ref_pk packets, $ref_warn libnids warnings, $ref_gaps gaps"

# --- the namespace --------------------------------------------------------
ip netns add "$NS" || die "ip netns add failed"
nx() { ip netns exec "$NS" "$@"; }
# no IPv6 (router solicitations, DAD) and no forwarding: the only packets
# on the pair are the replayed ones, and they go nowhere
nx sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
	net.ipv4.ip_forward=0 >/dev/null 2>&1
nx ip link add mmtx type veth peer name mmrx || die "veth failed"
nx ip link set lo up
nx ip link set mmtx up
nx ip link set mmrx up
nx ip route flush table main 2>/dev/null

# tcpreplay's numbers: "Actual: N packets (B bytes) sent in S seconds",
# "Rated: X Bps, Y Mbps, Z pps", "Failed packets: F"
tr_val() { # FILE WHAT
	case $2 in
	sent) sed -n 's/^Actual: \([0-9]*\) packets.*/\1/p' "$1" ;;
	mbps) sed -n 's/^Rated: .*, \([0-9.]*\) Mbps, .*/\1/p' "$1" ;;
	pps) sed -n 's/^Rated: .*, \([0-9.]*\) pps.*/\1/p' "$1" ;;
	failed) sed -n 's/^[[:space:]]*Failed packets:[[:space:]]*\([0-9]*\).*/\1/p' "$1" ;;
	esac | head -1
}
cpu_of() { # /usr/bin/time's "CPU u s" line: "user+system" seconds
	sed -n 's/^CPU \([0-9.]*\) \([0-9.]*\)$/\1 \2/p' "$1" | awk '{ printf "%.1f+%.1f", $1, $2 }'
}
# timed FILE CMD...: CMD with its CPU time in FILE (GNU time, when there)
timed() {
	o=$1
	shift
	if [ -x /usr/bin/time ]; then
		exec /usr/bin/time -f 'CPU %U %S' -o "$o" "$@"
	else
		exec "$@"
	fi
}

printf '%-7s %-7s %9s %8s %9s %8s %7s %6s %5s %9s %9s  %s\n' buffer rate \
	"sent pps" "Mbit/s" "seen" "k.drops" "lost" "warn" "gaps" "cpu-r" "cpu-s" verdict
rows=""
for buf in $BUFFERS; do
	best_pps="" best_mbps="" best_rate="" first_loss=""
	for rate in $RATES; do
		tag=$buf-$rate
		rm -rf "$work/db" && mkdir -p "$work/db" && chmod 755 "$work/db"
		# the sensor
		# shellcheck disable=SC2086
		(timed "$work/$tag.scpu" ip netns exec "$NS" "$BIN/mimamorid" -i mmrx \
			--zones "$ZONES" --db "$work/db/live.db" --buffer-mb "$buf" \
			--stats-json $SENSOR_ARGS >"$work/$tag.json" 2>"$work/$tag.err") &
		TPID=$!
		SPID=
		n=0
		until [ -n "$SPID" ] && grep -q "listening on" "$work/$tag.err" 2>/dev/null; do
			# the sensor: time's child (ip netns exec execs it), else time's
			# exec'd self
			SPID=$(pgrep -P "$TPID" 2>/dev/null | head -1)
			[ -x /usr/bin/time ] || SPID=$TPID
			n=$((n + 1))
			if [ $n -gt 100 ] || ! kill -0 $TPID 2>/dev/null; then
				cat "$work/$tag.err" >&2
				die "the sensor did not start"
			fi
			sleep 0.1
		done
		sleep 0.5 # past the privilege drop and the store's start
		# --pps-multi: send in groups of rate/5000 packets (one timer
		# wait per 200 us): one wait per packet falls behind past
		# ~150,000 packets/s here
		if [ "$rate" = top ]; then
			rarg=--topspeed
		else
			multi=$((rate / 5000))
			[ $multi -lt 1 ] && multi=1
			rarg="--pps=$rate --pps-multi=$multi"
		fi
		# shellcheck disable=SC2086
		# in the background: a signal to this script is handled at
		# once (wait returns), not after the replay
		(timed "$work/$tag.rcpu" ip netns exec "$NS" tcpreplay -i mmtx $rarg "$PCAP" \
			>"$work/$tag.tr" 2>&1) &
		RPID=$!
		wait $RPID
		RPID=
		sleep 1 # the ring's last block (100 ms timeout) and the queues
		kill -TERM "$SPID"
		wait $TPID
		src=$?
		SPID= TPID=
		[ $src = 0 ] || { tail -5 "$work/$tag.err" >&2; echo "bench-live: the sensor exited $src" >&2; }
		sent=$(tr_val "$work/$tag.tr" sent) pps=$(tr_val "$work/$tag.tr" pps)
		mbps=$(tr_val "$work/$tag.tr" mbps) failed=$(tr_val "$work/$tag.tr" failed)
		seen=$(jv "$work/$tag.json" packets)
		kdrop=$(jv "$work/$tag.json" kernel dropped)
		warn=$(jv "$work/$tag.json" libnids_warnings total)
		gaps=$(jv "$work/$tag.json" tcp gaps)
		lost=$(( ${sent:-0} - ${seen:-0} - ${kdrop:-0} ))
		[ $lost -lt 0 ] && lost=0
		verdict=clean
		if [ -z "$sent" ] || [ "$sent" != "$npk" ] || [ "${failed:-0}" != 0 ]; then
			verdict="replay-incomplete"
		elif [ "$seen" != "$sent" ] || [ "$kdrop" != 0 ] || [ "$warn" != "$ref_warn" ] ||
			[ "$gaps" != "$ref_gaps" ]; then
			verdict=LOSS
		fi
		[ $src = 0 ] || verdict="sensor-exit-$src"
		rcpu=$(cpu_of "$work/$tag.rcpu" 2>/dev/null) scpu=$(cpu_of "$work/$tag.scpu" 2>/dev/null)
		printf '%-7s %-7s %9.0f %8.2f %9s %8s %7s %6s %5s %9s %9s  %s\n' "${buf}M" "$rate" \
			"${pps:-0}" "${mbps:-0}" "$seen" "$kdrop" "$lost" "$warn" "$gaps" \
			"${rcpu:--}" "${scpu:--}" "$verdict"
		[ "$verdict" != clean ] && [ -z "$first_loss" ] &&
			first_loss="$rate ($(printf '%.0f' "${pps:-0}") packets/s sent)"
		if [ "$verdict" = clean ] && [ "$(echo "${pps:-0} ${best_pps:-0}" | awk '{ print ($1 > $2) }')" = 1 ]; then
			best_pps=$pps best_mbps=$mbps best_rate=$rate
		fi
		rows="$rows${rows:+,}
    {\"buffer_mb\": $buf, \"rate\": \"$rate\", \"sent\": ${sent:-null}, \"failed\": ${failed:-null}, \"pps\": ${pps:-null}, \"mbps\": ${mbps:-null}, \"seen\": $seen, \"kernel_drops\": $kdrop, \"lost_before_socket\": $lost, \"libnids_warnings\": $warn, \"gaps\": $gaps, \"cpu_tcpreplay_user_sys_s\": \"${rcpu:-}\", \"cpu_sensor_user_sys_s\": \"${scpu:-}\", \"verdict\": \"$verdict\"}"
	done
	if [ -n "$best_pps" ]; then
		echo "buffer ${buf} MiB: highest clean rate $best_rate: $(printf '%.0f' "$best_pps") packets/s, $best_mbps Mbit/s${first_loss:+; first loss at $first_loss}"
	else
		echo "buffer ${buf} MiB: no clean rate"
	fi
done
echo "cpu-r, cpu-s: CPU seconds (user+system) of tcpreplay and of the sensor; the kernel's"
echo "  receive path (veth backlog, copy into the ring) runs in softirq and is charged to"
echo "  whichever of them was on the CPU; $(nproc) cores, shared with the rest of the machine"

mkdir -p "$(dirname "$JSON")"
cat >"$JSON" <<EOF
{
  "capture": "$SRC",
  "packets": $npk,
  "bytes": $nbytes,
  "reference": {"packets": $ref_pk, "libnids_warnings": $ref_warn, "gaps": $ref_gaps},
  "cores": $(nproc),
  "rows": [$rows
  ]
}
EOF
echo "summary: $JSON"
