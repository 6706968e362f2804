#!/bin/sh
# test_fastpath.sh - the in-order fast path around libnids (daemon/tcpfast.c)
# changes nothing but speed.
#
# Each capture runs twice, with tcp.fast_path off (libnids sees every TCP
# packet) and on (the default), and everything the sensor produced must be
# the same: every transaction log and eve.json line (as sorted sets: the
# order of what ends with the capture follows libnids' randomly keyed
# stream table), the alerts in the store (all columns but the aggregated
# alert's source port, which is also the table order's), the assets, the
# learned baseline and the exit stats (but tcp.fast_path, the count of
# segments the fast path took).  And the fast path must really take
# segments: tcp.fast_path is 0 when it is off and above 0 on a capture of
# established Modbus/S7 connections when on.
#
# Captures: pcapgen's lost segment (gap), mid-stream pickup, the exercise
# kit's mid-stream STOP with lost segments, a 30,000-packet bench capture
# (PDUs split across segments, several PDUs a segment, mid-stream starts,
# closes), a table of streams with half-open floods, the bundled captures,
# and every ../shared/pcaps capture with Modbus, S7comm or BACnet in its
# inventory.
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml
printf 'tcp:\n  fast_path: false\n' >"$T/off.yaml"
printf 'tcp:\n  fast_path: true\n' >"$T/on.yaml"

# run MODE CAPTURE: everything the sensor produced, normalised, in $T/MODE
run() {
	m=$1 cap=$2 d=$T/$1
	rm -rf "$d" && mkdir -p "$d"
	"$BIN/mimamorid" -q -r "$cap" --config "$T/$m.yaml" --zones "$ZONES" \
		--db "$d/x.db" --log-dir "$d/logs" --sensor fastpath \
		--stats-json >"$d/stats.json" 2>"$d/err"
	echo $? >"$d/rc"
	for f in "$d"/logs/*; do
		case $f in */stats.jsonl) continue ;; esac
		[ -f "$f" ] && sort "$f" >"$d/log.$(basename "$f")"
	done
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d.get("tcp", {}).pop("fast_path", 0), file=open(sys.argv[2], "w"))
print(json.dumps(d, sort_keys=True, indent=1))' "$d/stats.json" "$d/fast" \
		>"$d/stats.norm" 2>>"$d/err"
	sql "$d/x.db" "select ts, first_ts, last_ts, count, sensor, signature,
		signature_id, severity, app_proto, src_ip, dest_ip, dest_port,
		src_zone, dest_zone from alerts order by 1, 2, 3, 7, 10, 11, 12" \
		>"$d/alerts" 2>>"$d/err"
	sql "$d/x.db" "select * from assets order by 1, 2, 3" >"$d/assets" 2>>"$d/err"
	sql "$d/x.db" "select * from baseline order by 1, 2, 3" >"$d/baseline" 2>>"$d/err"
}

# same NAME CAPTURE [MIN_FAST]: both runs produce the same; the fast run
# took at least MIN_FAST segments (default 0)
same() {
	n=$1 cap=$2 min=${3:-0}
	run off "$cap"
	run on "$cap"
	why=""
	for f in rc stats.norm alerts assets baseline; do
		cmp -s "$T/off/$f" "$T/on/$f" || why="$why $f differs;"
	done
	for f in "$T"/off/log.*; do
		[ -f "$f" ] || continue
		cmp -s "$f" "$T/on/$(basename "$f")" || why="$why $(basename "$f") differs;"
	done
	[ "$(cat "$T/off/rc")" = 0 ] || why="$why exit status $(cat "$T/off/rc");"
	[ "$(cat "$T/off/fast" 2>/dev/null)" = 0 ] ||
		why="$why fast_path $(cat "$T/off/fast" 2>/dev/null) with the fast path off;"
	fast=$(cat "$T/on/fast" 2>/dev/null)
	[ "${fast:-0}" -ge "$min" ] 2>/dev/null ||
		why="$why fast path took ${fast:-no} segments, want at least $min;"
	if [ -z "$why" ]; then
		pass "fastpath_$n"
	else
		cp -r "$T/off" "$T/$n.off" && cp -r "$T/on" "$T/$n.on"
		fail "fastpath_$n" "$why (outputs kept in $T/$n.off and $T/$n.on)"
		trap - EXIT
	fi
}

if ! command -v python3 >/dev/null 2>&1 || ! command -v sqlite3 >/dev/null 2>&1; then
	skip fastpath "python3 and sqlite3 are needed to compare the outputs"
	exit 0
fi

"$GEN" gap "$T/gap.pcap" 2>/dev/null
"$GEN" midstream "$T/midstream.pcap" 2>/dev/null
"$GEN" sc-midstream-stop "$T/midstream-stop.pcap" 2>/dev/null
"$GEN" bench "$T/bench.pcap" --packets 30000 2>/dev/null
"$GEN" streams "$T/streams.pcap" --flows 300 --half-open 300 2>/dev/null
same gap "$T/gap.pcap"
same midstream "$T/midstream.pcap" 1
same midstream_stop "$T/midstream-stop.pcap" 1
same bench "$T/bench.pcap" 10000
same streams "$T/streams.pcap"
same demo "$ROOT/pcaps/demo-plant.pcap" 1
same libmodbus "$ROOT/pcaps/modbus-libmodbus.pcap" 1
same s7_session "$ROOT/pcaps/s7comm/s7-session.pcap" 1

if ! have_shared; then
	skip fastpath_shared "../shared/pcaps is not there (a fresh clone without shared/)"
	exit 0
fi
# inventory columns 7-9: modbus_pdus, s7comm_pdus, bacnet_apdus
awk -F'\t' 'NR > 1 && ($7 > 0 || $8 > 0 || $9 > 0) { print $1 }' \
	"$PCAPS/INVENTORY.tsv" >"$T/shared.list"
[ -s "$T/shared.list" ] || fail fastpath_shared "no capture with Modbus, S7comm or BACnet in $PCAPS/INVENTORY.tsv"
while read -r f; do
	same "shared_$(echo "$f" | tr '/.-' '___')" "$PCAPS/$f"
done <"$T/shared.list"
