#!/bin/sh
# The learned baseline end to end (issue 6): pcaps/baseline/capture.pcap
# (pcapgen baseline-plant; the story, T and the expected alerts in
# pcaps/baseline/README.md) cut at T = 08:15:00 with editcap; the sensor
# learns on part 1 and detects on part 2 under etc/zones.yaml with one
# sensor name.  Checks:
#   - the committed capture is what the generator writes (bit for bit);
#   - exactly the expected baseline.*, asset.new and learned-rate
#     modbus.write_flood rows, and no other alert but the policy's one
#     zone.op_not_allowed (SCADA's write); the fixed write_flood is quiet;
#   - a second detect run over part 2 adds no row (each key alerts once);
#   - mimamori baseline list: the learned keys and the new ones;
#   - zones matrix (table and --json): the zone pairs, operation counts
#     counted by tshark in the capture, allowed/VIOLATION from the
#     conduits of etc/zones.yaml;
#   - baseline prune --status new; approve --all, then part 2 again
#     raises nothing;
#   - detect without learning raises no baseline alert;
#   - the same learn and detect through a separate mimamori-store over
#     tcp:// (the obs records on the real ZeroMQ link).
. "$(dirname "$0")/lib.sh"
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml
CAP=$ROOT/pcaps/baseline/capture.pcap
CUT=2026-04-01T08:15:00Z
SENSOR=plant-a
for tool in editcap sqlite3 python3; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip baseline "$tool is not installed (make deps)"
		exit 0
	fi
done
T=$(tmpdir)
# same NAME GOT WANT WHY: pass when GOT is WANT, else fail saying WHY
same() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "$4"
	fi
}
SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- capture
if "$GEN" baseline-plant "$T/gen.pcap" 2>"$T/gen.err" &&
	cmp -s "$T/gen.pcap" "$CAP"; then
	pass baseline_capture_reproducible
else
	fail baseline_capture_reproducible "pcapgen baseline-plant does not write the committed $CAP ($(cat "$T/gen.err")): run sh pcaps/baseline/make.sh"
fi
editcap -B "$CUT" "$CAP" "$T/p1.pcap" && editcap -A "$CUT" "$CAP" "$T/p2.pcap"
n1=$(capinfos -Mc "$T/p1.pcap" 2>/dev/null | awk '/Number of packets/ { print $NF }')
n2=$(capinfos -Mc "$T/p2.pcap" 2>/dev/null | awk '/Number of packets/ { print $NF }')
# the README's numbers: the cut at 08:15:00 falls in a quiet moment
same baseline_cut "$n1/$n2" 9902/3938 \
	"part 1 $n1 packets (want 9902), part 2 $n2 (want 3938)"

# run NAME PCAP DB [ARGS...]: the sensor over one part
run() {
	name=$1 pcap=$2 db=$3
	shift 3
	if "$BIN/mimamorid" -q -r "$pcap" --zones "$ZONES" --sensor "$SENSOR" \
		--log-dir "$T/logs-$name" --db "$db" "$@" >"$T/$name.out" \
		2>"$T/$name.err"; then
		return 0
	fi
	fail "baseline_run_$name" "mimamorid status $?: $(head -c 300 "$T/$name.err")"
	return 1
}

# the alerts: signature|src|dest|src zone|dest zone|count|basis
alerts() {
	sqlite3 "$1" "SELECT signature, src_ip, dest_ip, ifnull(src_zone,'-'),
		ifnull(dest_zone,'-'), count,
		ifnull(json_extract(eve, '\$.alert.metadata.basis'), '-')
		FROM alerts ORDER BY 1, 2, 3, 7"
}

# what part 2 must raise after learning on part 1 (README.md's table)
cat >"$T/want" <<'W'
asset.new|10.10.1.77|10.10.1.77|seigyo_line1|seigyo_line1|1|-
baseline.new_function|10.3.0.10|10.10.1.10|seisan_kanri|seigyo_line1|1|-
baseline.new_talker|10.10.1.77|10.10.1.10|seigyo_line1|seigyo_line1|1|-
baseline.new_talker|10.3.0.20|10.10.1.10|seisan_kanri|seigyo_line1|1|-
baseline.new_target|10.10.1.20|10.10.1.10|seigyo_line1|seigyo_line1|1|-
modbus.write_flood|10.10.1.20|10.10.1.10|seigyo_line1|seigyo_line1|1|learned_rate
zone.op_not_allowed|10.3.0.10|10.10.1.10|seisan_kanri|seigyo_line1|1|-
W

# check_alerts NAME DB: exactly $T/want
check_alerts() {
	alerts "$2" >"$T/$1.alerts"
	if cmp -s "$T/want" "$T/$1.alerts"; then
		pass "$1"
	else
		fail "$1" "$(diff "$T/want" "$T/$1.alerts" | grep '^[<>]' | tr '\n' ' ')"
	fi
}

# ---------------------------------------------------------------- learn, detect
D=$T/d.db
run learn "$T/p1.pcap" "$D" --learn &&
	run detect "$T/p2.pcap" "$D" --stats-json &&
	check_alerts baseline_detect_alerts "$D"

# the sensor's own detectors stay quiet: 15 writes/s is far below the
# fixed modbus.write_flood (daemon/detect_cfg.c: 100 writes to one target
# in each of 5 seconds running); only the learned rate catches it
got=$(python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read())["detectors"]
print(d["raised"], d["by_detector"]["modbus.write_flood"])' "$T/detect.out" 2>&1)
same baseline_fixed_flood_quiet "$got" "0 0" \
	"the sensor's detectors raised (total, modbus.write_flood): $got"

# the details that make each alert the story's
got=$(sqlite3 "$D" "SELECT
	json_extract(eve, '\$.alert.metadata.baseline.mac') || ' ' ||
	json_extract(eve, '\$.asset.mac_vendor') FROM alerts
	WHERE signature = 'asset.new'")
same baseline_asset_new_mac "$got" "10:c5:95:0a:01:4d Lenovo" \
	"want the laptop's MAC 10:c5:95:0a:01:4d (IEEE: Lenovo), got '$got'"
got=$(sqlite3 "$D" "SELECT json_extract(eve, '\$.alert.metadata.baseline.function')
	|| ' ' || json_extract(eve, '\$.alert.metadata.baseline.addr') FROM alerts
	WHERE signature IN ('baseline.new_function', 'baseline.new_target')
	ORDER BY signature")
same baseline_function_and_target "$got" "6 50
6 120" "want FC 6 holding 50 (new function), FC 6 holding 120 (new target), got '$got'"
got=$(sqlite3 "$D" "SELECT
	json_extract(eve, '\$.alert.metadata.learned_peak_per_s') || ' ' ||
	json_extract(eve, '\$.alert.metadata.peak_per_s') || ' ' ||
	json_extract(eve, '\$.alert.metadata.baseline.addr') FROM alerts
	WHERE signature = 'modbus.write_flood'")
same baseline_learned_flood_rate "$got" "1.0 15.0 100" \
	"want learned peak 1/s, peak 15/s on holding 100, got '$got'"
# dated by the burst (08:18:00-08:18:20), not by the report that told it
got=$(sqlite3 "$D" "SELECT first_ts FROM alerts
	WHERE signature = 'modbus.write_flood'")
case $got in
2026-04-01T08:18:[01]*) pass baseline_learned_flood_time ;;
*) fail baseline_learned_flood_time "want a time within the burst, 08:18:00-08:18:20, got '$got'" ;;
esac

# ---------------------------------------------------------------- baseline list
# status|what|src|dest|proto|function|unit|space|addr|count|mac: the
# story's keys.  Spaces: Modbus' data model prefixes (0 coils, 3 input
# registers, 4 holding registers), S7 area 0x84 (DB, unit = DB number),
# BACnet object type (0 analog input, 2 analog value; addr = instance)
cat >"$T/want-list" <<'W'
learned|mac|10.10.1.10|-|-|-|-|-|-|-|00:80:f4:0a:01:0a
learned|mac|10.10.1.20|-|-|-|-|-|-|-|02:00:0a:0a:01:14
learned|mac|10.10.2.10|-|-|-|-|-|-|-|00:1b:1b:0a:02:0a
learned|mac|10.3.0.10|-|-|-|-|-|-|-|02:00:0a:03:00:0a
learned|mac|10.3.0.20|-|-|-|-|-|-|-|02:00:0a:03:00:14
learned|mac|10.30.0.10|-|-|-|-|-|-|-|00:50:db:1e:00:0a
learned|mac|10.30.0.20|-|-|-|-|-|-|-|02:00:0a:1e:00:14
learned|op|10.10.1.20|10.10.1.10|modbus|3|1|4|0|10|-
learned|op|10.10.1.20|10.10.1.10|modbus|6|1|4|100|1|-
learned|op|10.3.0.10|10.10.1.10|modbus|1|1|0|0|16|-
learned|op|10.3.0.10|10.10.1.10|modbus|3|1|4|0|20|-
learned|op|10.3.0.10|10.10.2.10|s7comm|4|1|132|0|16|-
learned|op|10.3.0.10|10.30.0.10|bacnet|12|0|0|1|1|-
learned|op|10.3.0.10|10.30.0.10|bacnet|12|0|0|2|1|-
learned|op|10.3.0.10|10.30.0.10|bacnet|12|0|2|3|1|-
learned|op|10.3.0.10|10.30.0.20|modbus|4|1|3|0|12|-
learned|op|10.3.0.20|10.30.0.20|modbus|4|1|3|0|12|-
new|mac|10.10.1.77|-|-|-|-|-|-|-|10:c5:95:0a:01:4d
new|op|10.10.1.20|10.10.1.10|modbus|6|1|4|120|1|-
new|op|10.10.1.77|10.10.1.10|modbus|3|1|4|0|20|-
new|op|10.3.0.10|10.10.1.10|modbus|6|1|4|50|1|-
new|op|10.3.0.20|10.10.1.10|modbus|3|1|4|0|20|-
W
# list_rows DB: the CLI's JSON lines as the rows above, sorted
list_rows() {
	"$BIN/mimamori" baseline list --db "$1" --sensor "$SENSOR" --json |
		python3 -c 'import json, sys
for l in sys.stdin:
    d = json.loads(l)
    f = [d["status"], d["what"], d["src_ip"]] + [
        "-" if d.get(k) is None else str(d[k]) for k in
        ("dest_ip", "proto", "function", "unit", "space", "addr", "count",
         "mac")]
    print("|".join(f))' | LC_ALL=C sort
}
LC_ALL=C sort "$T/want-list" >"$T/want-list.s"
list_rows "$D" >"$T/list"
if cmp -s "$T/want-list.s" "$T/list"; then
	pass baseline_list
else
	fail baseline_list "$(diff "$T/want-list.s" "$T/list" | grep '^[<>]' | tr '\n' ' ')"
fi
# the table names the learned and the new ones too
"$BIN/mimamori" baseline list --db "$D" >"$T/list.txt" 2>&1
if [ "$(grep -c ' learned ' "$T/list.txt")" = 17 ] &&
	[ "$(grep -c ' new ' "$T/list.txt")" = 5 ] &&
	grep -q '10:c5:95:0a:01:4d Lenovo' "$T/list.txt"; then
	pass baseline_list_table
else
	fail baseline_list_table "want 17 learned and 5 new rows, the laptop's MAC with its vendor: $(head -c 300 "$T/list.txt")"
fi

# ---------------------------------------------------------------- zone matrix
# operations per zone pair, protocol and class, counted by tshark in the
# whole capture (learn + detect): Modbus requests (to port 502; FC 1-4
# read, 5/6/15/16 write), S7 jobs read var, BACnet confirmed ReadProperty.
# Zones: etc/zones.yaml's networks.  Marks from its conduits:
# seisan_kanri -> seigyo_line1/2: modbus and s7comm read, discover;
# seisan_kanri -> setsubi: modbus read, bacnet read and discover; inside
# seigyo_line1 everything (intra_zone: allow).  So the only VIOLATION is
# seisan_kanri -> seigyo_line1 modbus write.
if have_tshark; then
	{
		tshark -n -r "$CAP" -Y 'mbtcp && tcp.dstport == 502' -T fields \
			-e ip.src -e ip.dst -e modbus.func_code 2>/dev/null |
			awk '{ print $1, $2, "modbus", ($3 <= 4 ? "read" : "write") }'
		tshark -n -r "$CAP" -Y 's7comm.header.rosctr == 1 && s7comm.param.func == 0x04' \
			-T fields -e ip.src -e ip.dst 2>/dev/null |
			awk '{ print $1, $2, "s7comm", "read" }'
		tshark -n -r "$CAP" -Y 'bacapp.type == 0 && bacapp.confirmed_service == 12' \
			-T fields -e ip.src -e ip.dst 2>/dev/null |
			awk '{ print $1, $2, "bacnet", "read" }'
	} | awk 'function zone(ip) {
			if (ip ~ /^10\.3\.0\./) return "seisan_kanri"
			if (ip ~ /^10\.10\.1\./) return "seigyo_line1"
			if (ip ~ /^10\.10\.2\./) return "seigyo_line2"
			if (ip ~ /^10\.30\.0\./) return "setsubi"
			return "-" }
		{ n[zone($1) "|" zone($2) "|" $3 "|" $4]++ }
		END { for (k in n) {
			s = (k == "seisan_kanri|seigyo_line1|modbus|write") ? "violation" : "allowed"
			print k "|" n[k] "|" s } }' | LC_ALL=C sort >"$T/want-matrix"
	"$BIN/mimamori" zones matrix --db "$D" --sensor "$SENSOR" --zones "$ZONES" \
		--json >"$T/matrix.json" 2>"$T/matrix.err"
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("status") == "no_traffic":
        continue
    print("|".join(str(d.get(k)) for k in
          ("src_zone", "dest_zone", "proto", "op", "operations", "status")))' \
		"$T/matrix.json" | LC_ALL=C sort >"$T/matrix"
	if [ -s "$T/want-matrix" ] && cmp -s "$T/want-matrix" "$T/matrix"; then
		pass baseline_zone_matrix_json
	else
		fail baseline_zone_matrix_json "$(diff "$T/want-matrix" "$T/matrix" | grep '^[<>]' | tr '\n' ' ') $(head -c 200 "$T/matrix.err")"
	fi
	# the table: one row per pair and class, the write marked
	"$BIN/mimamori" zones matrix --db "$D" --sensor "$SENSOR" --zones "$ZONES" \
		>"$T/matrix.txt" 2>&1
	ok=1
	while IFS='|' read -r fz tz p o n s; do
		case $s in violation) m=VIOLATION ;; *) m=allowed ;; esac
		grep -Eq "^$fz +-> +$tz +$p +$o +$n +[0-9]+ +$m" "$T/matrix.txt" || {
			ok=
			echo "  want: $fz -> $tz $p $o $n $m" >&2
		}
	done <"$T/want-matrix"
	# and the conduits that carried nothing: hozen's, for one
	grep -q 'hozen -> seigyo_line1' "$T/matrix.txt" || ok=
	if [ -n "$ok" ]; then
		pass baseline_zone_matrix_table
	else
		fail baseline_zone_matrix_table "$(head -c 600 "$T/matrix.txt")"
	fi
	# an hour with nothing observed
	"$BIN/mimamori" zones matrix --db "$D" --since 2026-04-01T09:00:00 \
		--json >"$T/matrix-later.json" 2>&1
	if ! grep -q '"operations":[1-9]' "$T/matrix-later.json"; then
		pass baseline_zone_matrix_since
	else
		fail baseline_zone_matrix_since "flows after 09:00, the capture ends at 08:20: $(head -c 200 "$T/matrix-later.json")"
	fi
else
	skip baseline_zone_matrix "tshark is not installed (the expected counts come from its decode)"
fi

# ---------------------------------------------------------------- once
rows() { sqlite3 "$1" "SELECT count(*) FROM alerts"; }
brows() { sqlite3 "$1" "SELECT count(*) || ' ' || sum(count) FROM alerts
	WHERE signature LIKE 'baseline.%' OR signature = 'asset.new'"; }
before=$(rows "$D") bbefore=$(brows "$D")
if run detect2 "$T/p2.pcap" "$D"; then
	if [ "$(rows "$D")" = "$before" ] && [ "$(brows "$D")" = "$bbefore" ] &&
		[ "$bbefore" = "5 5" ]; then
		pass baseline_each_key_once
	else
		fail baseline_each_key_once "after a second detect run: $(rows "$D") rows (were $before), baseline rows and counts $(brows "$D") (were $bbefore, want 5 5)"
	fi
fi

# ---------------------------------------------------------------- prune
cp "$D" "$T/pruned.db"
"$BIN/mimamori" baseline prune --db "$T/pruned.db" --status new >"$T/prune.out" 2>&1
st=$(sqlite3 "$T/pruned.db" "SELECT status || ' ' || count(*) FROM baseline
	GROUP BY status ORDER BY status" | tr '\n' ',')
same baseline_prune_new "$st" "learned 17," \
	"want only the 17 learned rows left, got $st ($(head -c 200 "$T/prune.out"))"

# ---------------------------------------------------------------- approve
if "$BIN/mimamori" baseline approve --db "$D" --all >"$T/approve.out" 2>&1; then
	st=$(sqlite3 "$D" "SELECT status || ' ' || count(*) FROM baseline
		GROUP BY status ORDER BY status" | tr '\n' ',')
	same baseline_approve_all "$st" "approved 5,learned 17," \
		"want 5 approved and 17 learned rows, got $st"
else
	fail baseline_approve_all "$(head -c 300 "$T/approve.out")"
fi
# part 2 again: nothing new (the flood is the same episode: its row may
# count the repeat, no row is added)
before=$(rows "$D") bbefore=$(brows "$D")
if run detect3 "$T/p2.pcap" "$D"; then
	new=$(sqlite3 "$D" "SELECT count(*) FROM baseline WHERE status = 'new'")
	if [ "$(rows "$D")" = "$before" ] && [ "$(brows "$D")" = "$bbefore" ] &&
		[ "$new" = 0 ]; then
		pass baseline_approved_quiet
	else
		fail baseline_approved_quiet "after approve --all: $(rows "$D") alert rows (were $before), baseline rows $(brows "$D") (were $bbefore), $new new keys"
	fi
fi

# ---------------------------------------------------------------- unlearned
D0=$T/unlearned.db
if run unlearned "$T/p2.pcap" "$D0"; then
	got=$(alerts "$D0" | grep -E '^(baseline\.|asset\.new)|learned_rate$' | tr '\n' ' ')
	pol=$(alerts "$D0" | grep -c '^zone.op_not_allowed')
	if [ -z "$got" ] && [ "$pol" = 1 ]; then
		pass baseline_none_without_learning
	else
		fail baseline_none_without_learning "a sensor that never learned: '$got', policy rows $pol (want 1)"
	fi
fi

# ---------------------------------------------------------------- remote store
port=$((20000 + $$ % 20000))
RD=$T/remote.db
started=
for try in 1 2 3 4 5; do
	: >"$T/store.log"
	"$BIN/mimamori-store" --listen "tcp://127.0.0.1:$port" --db "$RD" \
		2>"$T/store.log" &
	SPID=$!
	i=0
	while [ $i -lt 50 ] && ! grep -q 'listening on' "$T/store.log"; do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if grep -q 'listening on' "$T/store.log"; then
		started=1
		break
	fi
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
	port=$((port + 1))
done
if [ -z "$started" ]; then
	fail baseline_remote_store "mimamori-store did not start: $(head -c 300 "$T/store.log")"
else
	EP=tcp://127.0.0.1:$port
	if run rlearn "$T/p1.pcap" "$RD" --learn --store "$EP" &&
		run rdetect "$T/p2.pcap" "$RD" --store "$EP"; then
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=
		check_alerts baseline_remote_store "$RD"
		learned=$(sqlite3 "$RD" "SELECT count(*) FROM baseline WHERE status = 'learned'")
		same baseline_remote_store_learned "$learned" 17 \
			"want the 17 learned keys in the remote store, got $learned"
	fi
fi
