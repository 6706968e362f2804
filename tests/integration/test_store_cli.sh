#!/bin/sh
# The store as its own process and the CLI over what it stored:
# bin/mimamori-store on a loopback tcp port, fed by build/tools/mm-send
# (the sensor's reliable link), then bin/mimamori alerts/zones/sensors/
# assets, as tables and as JSON, with their filters and error paths.
. "$(dirname "$0")/lib.sh"

STORE=$BIN/mimamori-store
CLI=$BIN/mimamori
SEND=$ROOT/$B/tools/mm-send
for p in "$STORE" "$CLI" "$SEND"; do
	if [ ! -x "$p" ]; then
		fail build "$p missing (make all tests-build)"
		exit 1
	fi
done

T=$(tmpdir)
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

have_py() { command -v python3 >/dev/null 2>&1; }

# start_store DB [PORT]: a store on a free loopback port (or on PORT);
# sets SPID and EP
start_store() {
	port=${2:-$(( ($$ % 20000) + 30000 ))}
	for try in 1 2 3 4 5 6 7 8; do
		EP="tcp://127.0.0.1:$port"
		: >"$T/store.log" # exists before the child opens it
		"$STORE" --listen "$EP" --db "$1" --aggregate 2 --batch 50 \
			2>"$T/store.log" &
		SPID=$!
		i=0
		while [ $i -lt 50 ]; do
			grep -q "listening on" "$T/store.log" && return 0
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=""
		port=$((port + 7 + try))
	done
	return 1
}

stop_store() {
	kill -TERM "$SPID"
	wait "$SPID"
	rc=$?
	SPID=""
	return $rc
}

# ---- the store program's own error paths ----
"$STORE" -h >"$T/out" 2>&1 && grep -q "usage: mimamori-store" "$T/out" &&
	pass store_help || fail store_help "-h did not print usage"
"$STORE" --listen tcp://127.0.0.1:1 >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--db FILE is required" "$T/out" &&
	pass store_missing_db || fail store_missing_db "$(cat "$T/out")"
"$STORE" --listen tcp://0.0.0.0:17659 --db "$T/x.db" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "CurveZMQ" "$T/out" && [ ! -e "$T/x.db" ] &&
	pass store_refuses_public_tcp || fail store_refuses_public_tcp "$(cat "$T/out")"
"$STORE" --listen tcp://127.0.0.1:17659 --db "$T/no/such/dir.db" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "$T/no/such/dir.db" "$T/out" &&
	pass store_bad_db_path || fail store_bad_db_path "$(cat "$T/out")"
"$STORE" --listen tcp://127.0.0.1:17659 --db "$T/x.db" --aggregate soon >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--aggregate" "$T/out" &&
	pass store_bad_option || fail store_bad_option "$(cat "$T/out")"

# ---- a store fed over the link ----
DB=$T/store.db
if ! start_store "$DB"; then
	fail store_start "no free port or it did not start: $(cat "$T/store.log")"
	exit 1
fi
grep -q "listening on tcp://127.0.0.1:" "$T/store.log" &&
	pass store_says_endpoint || fail store_says_endpoint "$(cat "$T/store.log")"

A='"event_type":"alert","proto":"TCP"'
{
	# printf: dash's echo would turn the JSON's \n escapes into newlines
	printf '%s\n' 'hello {"sensor":"box1","site":"第1工場","version":"0.9","zones_file":"/etc/mimamori/zones.yaml","zones_yaml":"zones:\n  - { id: seisan_kanri, name: 生産管理・監視, archetype: seisan_kanri, strength: medium, networks: [10.3.0.0/24] }\n  - { id: joho, archetype: joho, strength: minimum, networks: [10.1.0.0/16] }\n  - { id: seigyo_line9, name: 制御系 ライン9, archetype: seigyo, strength: high, networks: [10.10.9.0/24] }\n"}'
	# a polling loop violating a conduit every 100 ms: one row, count 6
	for i in 0 1 2 3 4 5; do
		echo '{"timestamp":"2015-10-22T10:00:01.'$i'00000Z",'"$A"',"src_ip":"10.3.0.30","src_port":50123,"dest_ip":"10.10.2.10","dest_port":502,"app_proto":"modbus","src_zone":"seisan_kanri","dest_zone":"制御系ライン2","alert":{"signature":"zone.op_not_allowed","category":"Policy Violation","severity":2}}'
	done
	echo '{"timestamp":"2015-10-22T11:00:00.000000Z",'"$A"',"src_ip":"192.168.9.9","src_port":40000,"dest_ip":"10.10.2.10","dest_port":102,"app_proto":"s7comm","src_zone":null,"dest_zone":"制御系ライン2","alert":{"signature":"s7comm.plc_stop","category":"Attempted Administrator Privilege Gain","severity":1}}'
	echo '{"timestamp":"2015-10-23T01:00:00.000000Z","event_type":"alert","proto":"UDP","src_ip":"10.1.0.5","dest_ip":"10.10.1.1","app_proto":"bacnet","src_zone":"joho","dest_zone":"setsubi","alert":{"signature":"zone.no_conduit","category":"Policy, \"no\" conduit","severity":3}}'
	echo '{"this is": not json'
	echo 'stats {"capture":{"packets":123456,"drops":3},"flows":77}'
	echo 'asset {"ip":"10.10.2.10","mac":"00:11:22:33:44:55","zone":"制御系ライン2","vendor":"Acme","model":"PLC-9"}'
} >"$T/records"
"$SEND" --connect "$EP" --sensor box1 --timeout 5000 <"$T/records" 2>"$T/send.log"
[ $? -eq 0 ] && grep -q "12 acked, 0 dropped, 0 left" "$T/send.log" &&
	pass link_all_acked || fail link_all_acked "$(cat "$T/send.log")"

if stop_store; then pass store_sigterm_exit0; else fail store_sigterm_exit0 "status $rc"; fi
grep -q "stopping: 11 stored, 0 duplicates, 1 bad records" "$T/store.log" &&
	pass store_counts || fail store_counts "$(tail -3 "$T/store.log")"

# ---- mimamori alerts ----
"$CLI" alerts --db "$DB" >"$T/alerts" 2>&1
[ $? -eq 0 ] && [ "$(grep -c -- ' -> ' "$T/alerts")" -eq 3 ] &&
	pass alerts_table_rows || fail alerts_table_rows "$(cat "$T/alerts")"
grep -q "^TIME (UTC) .*SIGNATURE.*SOURCE.*DESTINATION.*PROTO.*COUNT" "$T/alerts" &&
	pass alerts_table_header || fail alerts_table_header "$(head -1 "$T/alerts")"
grep "zone.op_not_allowed" "$T/alerts" | grep -q "10.3.0.30:50123 (seisan_kanri)  ->  10.10.2.10:502 (制御系ライン2)  modbus  *6  10:00:01" &&
	pass alerts_aggregated_row || fail alerts_aggregated_row "$(grep op_not_allowed "$T/alerts")"
grep "s7comm.plc_stop" "$T/alerts" | grep -q "192.168.9.9:40000 (-)" &&
	pass alerts_unknown_zone_dash || fail alerts_unknown_zone_dash "$(grep plc_stop "$T/alerts")"
# rows in time order, oldest first
[ "$(sed -n '2p' "$T/alerts" | cut -c1-19)" = "2015-10-22 10:00:01" ] &&
	[ "$(sed -n '4p' "$T/alerts" | cut -c1-19)" = "2015-10-23 01:00:00" ] &&
	pass alerts_time_order || fail alerts_time_order "$(cat "$T/alerts")"

if have_py; then
	# every row's "->" starts at the same display column (CJK = 2)
	python3 - "$T/alerts" <<'EOF' && pass alerts_aligned_cjk || fail alerts_aligned_cjk "columns differ"
import sys, unicodedata
cols = set()
for line in open(sys.argv[1], encoding="utf-8").read().splitlines()[1:]:
    i = line.find(" -> ")
    w = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[:i])
    cols.add(w)
sys.exit(0 if len(cols) == 1 else 1)
EOF
else
	skip alerts_aligned_cjk "python3 not installed"
fi

"$CLI" alerts --db "$DB" --json >"$T/alerts.json" 2>&1
[ $? -eq 0 ] && [ "$(wc -l <"$T/alerts.json")" -eq 3 ] &&
	grep -q '"signature":"zone.op_not_allowed".*"count":6,"first_ts":"2015-10-22T10:00:01.000000Z","last_ts":"2015-10-22T10:00:01.500000Z"' "$T/alerts.json" &&
	pass alerts_json || fail alerts_json "$(cat "$T/alerts.json")"
if have_py; then
	python3 -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(l); assert o["event_type"] == "alert" and "count" in o' "$T/alerts.json" &&
		pass alerts_json_valid || fail alerts_json_valid "not JSON lines"
else
	skip alerts_json_valid "python3 not installed"
fi

n=$("$CLI" alerts --db "$DB" --zone 制御系ライン2 | grep -c -- ' -> ')
[ "$n" -eq 2 ] && pass alerts_zone_either_side || fail alerts_zone_either_side "$n rows"
n=$("$CLI" alerts --db "$DB" --zone seisan_kanri | grep -c -- ' -> ')
[ "$n" -eq 1 ] && pass alerts_zone_source || fail alerts_zone_source "$n rows"
n=$("$CLI" alerts --db "$DB" --zone - --json | grep -c plc_stop)
[ "$n" -eq 1 ] && pass alerts_zone_none || fail alerts_zone_none "$n rows"
n=$("$CLI" alerts --db "$DB" --min-severity 2 | grep -c -- ' -> ')
[ "$n" -eq 2 ] && pass alerts_min_severity || fail alerts_min_severity "$n rows"
n=$("$CLI" alerts --db "$DB" --since 2015-10-22T10:30:00 --json | wc -l)
[ "$n" -eq 2 ] && pass alerts_since_date || fail alerts_since_date "$n rows"
# relative to now: 2015 is long gone
"$CLI" alerts --db "$DB" --since 24h >"$T/out" 2>&1
[ $? -eq 0 ] && grep -q "no alerts match" "$T/out" &&
	pass alerts_since_relative || fail alerts_since_relative "$(cat "$T/out")"
"$CLI" alerts --db "$DB" --limit 1 >"$T/out" 2>&1
[ "$(grep -c -- ' -> ' "$T/out")" -eq 1 ] && grep -q "zone.no_conduit" "$T/out" &&
	grep -q "newest 1 of 3" "$T/out" &&
	pass alerts_limit_newest || fail alerts_limit_newest "$(cat "$T/out")"

# ---- error paths of the CLI ----
"$CLI" alerts --db "$T/missing.db" >"$T/out" 2>&1
[ $? -eq 1 ] && [ ! -e "$T/missing.db" ] && grep -q "missing.db" "$T/out" &&
	pass cli_missing_db_not_created || fail cli_missing_db_not_created "$(cat "$T/out")"
echo "not a database at all, just some text that is long enough" >"$T/text.db"
"$CLI" alerts --db "$T/text.db" >"$T/out" 2>&1
[ $? -eq 1 ] && pass cli_not_a_store || fail cli_not_a_store "$(cat "$T/out")"
"$CLI" alerts --db "$DB" --since yesterday >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--since" "$T/out" &&
	pass cli_bad_since || fail cli_bad_since "$(cat "$T/out")"
"$CLI" alerts --db "$DB" --min-severity high >"$T/out" 2>&1
[ $? -eq 2 ] && pass cli_bad_severity || fail cli_bad_severity "$(cat "$T/out")"
"$CLI" alerts --bogus >"$T/out" 2>&1
[ $? -eq 2 ] && pass cli_unknown_option || fail cli_unknown_option "$(cat "$T/out")"
"$CLI" frobnicate --db "$DB" >"$T/out" 2>&1
[ $? -eq 2 ] && pass cli_unknown_command || fail cli_unknown_command "$(cat "$T/out")"

# ---- mimamori zones ----
"$CLI" zones --db "$DB" >"$T/zones" 2>&1
[ $? -eq 0 ] && pass zones_runs || fail zones_runs "$(cat "$T/zones")"
# per (site, zone): name and strength from the sensor's zone file, hosts
# seen, alert rows touching the zone (either side) by severity, events
grep -Eq "^第1工場 +制御系ライン2 +- +1 +1 +1 +0 +0 +2 +7$" "$T/zones" &&
	pass zones_counts_either_side || fail zones_counts_either_side "$(cat "$T/zones")"
grep -Eq "^第1工場 +seisan_kanri +生産管理・監視 +medium 中 +1 +0 +1 +0 +0 +1 +6$" "$T/zones" &&
	grep -Eq "^第1工場 +joho +joho +minimum 最低限 +1 +0 +0 +1 +0 +1 +1$" "$T/zones" &&
	pass zones_name_strength || fail zones_name_strength "$(cat "$T/zones")"
# a zone of the file with no alert is listed too; "in no zone" last
grep -Eq "^第1工場 +seigyo_line9 +制御系 ライン9 +high 高 +0 +0 +0 +0 +0 +0 +0$" "$T/zones" &&
	[ "$(grep -c '^第1工場' "$T/zones")" -eq 6 ] &&
	grep '^第1工場' "$T/zones" | tail -1 | grep -Eq "^第1工場 +- " &&
	pass zones_all_listed || fail zones_all_listed "$(cat "$T/zones")"
"$CLI" zones --db "$DB" --json >"$T/zones.json" 2>&1
[ "$(wc -l <"$T/zones.json")" -eq 6 ] &&
	grep -q '{"site":"第1工場","zone":"seisan_kanri","name":"生産管理・監視","strength":"medium 中","hosts":1,"sev1":0,"sev2":1,"sev3":0,"sev4":0,"alerts":1,"events":6}' "$T/zones.json" &&
	grep -q '"zone":null' "$T/zones.json" &&
	pass zones_json || fail zones_json "$(cat "$T/zones.json")"
n=$("$CLI" zones --db "$DB" --since 2015-10-23 --json | grep -c '"alerts":1')
[ "$n" -eq 2 ] && pass zones_since || fail zones_since "$n zones with alerts"

# ---- mimamori sensors / assets ----
"$CLI" sensors --db "$DB" >"$T/sensors" 2>&1
grep -q "^box1 *第1工場 *0.9 " "$T/sensors" && grep -q "capture.packets=123456 capture.drops=3 flows=77" "$T/sensors" &&
	grep -q "^SENSOR .*STATUS *BACKLOG *DROPS" "$T/sensors" &&
	grep "^box1" "$T/sensors" | grep -q " ok " &&
	pass sensors_table || fail sensors_table "$(cat "$T/sensors")"
"$CLI" sensors --db "$DB" --json >"$T/sensors.json" 2>&1
grep -q '"sensor":"box1","site":"第1工場","version":"0.9"' "$T/sensors.json" &&
	grep -q '"alerts":3,"events":8,"stats":{"capture":{"packets":123456' "$T/sensors.json" &&
	pass sensors_json || fail sensors_json "$(cat "$T/sensors.json")"
"$CLI" assets --db "$DB" >"$T/assets" 2>&1
grep -q "^10.10.2.10 *00:11:22:33:44:55 *制御系ライン2 .*vendor=Acme model=PLC-9" "$T/assets" &&
	pass assets_table || fail assets_table "$(cat "$T/assets")"

# ---- filters ----
# rows of `alerts --json` for the filters in "$@"
rows() { "$CLI" alerts --db "$DB" --json "$@" 2>"$T/rows.err" | wc -l; }
check_rows() { # NAME WANT FILTERS...
	name=$1 want=$2
	shift 2
	n=$(rows "$@")
	[ "$n" -eq "$want" ] && [ ! -s "$T/rows.err" ] && pass "$name" ||
		fail "$name" "$n rows, want $want ($*): $(cat "$T/rows.err")"
}
check_rows filter_from_zone 1 --from-zone seisan_kanri
check_rows filter_to_zone 2 --to-zone 制御系ライン2
check_rows filter_from_no_zone 1 --from-zone -
check_rows filter_signature_wildcard 2 --signature 'zone.*'
check_rows filter_signature_suffix 1 --signature '*_stop'
check_rows filter_signature_one_char 1 --signature 'zone.no?conduit'
check_rows filter_signature_exact 1 --signature zone.op_not_allowed
check_rows filter_signature_bracket 0 --signature 'zone.[no]*'
check_rows filter_severity 1 --severity 3
check_rows filter_sensor 3 --sensor box1
check_rows filter_sensor_other 0 --sensor box9
check_rows filter_site 3 --site 第1工場
check_rows filter_site_other 0 --site 第2工場
check_rows filter_host 2 --host 10.10.2.10
check_rows filter_host_src 1 --host 10.1.0.5
check_rows filter_until 1 --until 2015-10-22T10:30:00
check_rows filter_period 1 --since 2015-10-22T10:30:00 --until 2015-10-22T12:00:00
check_rows filter_combined 1 --site 第1工場 --to-zone 制御系ライン2 --min-severity 1

# filter values full of quotes, semicolons and SQL: they match nothing
# and change nothing
inj_ok=1
for v in "' OR '1'='1" "x'); DROP TABLE alerts; --" '" OR 1=1 --' \
	"%" "*'; DELETE FROM sensors; --" "\\' UNION SELECT * FROM sensors --" \
	"1; UPDATE alerts SET severity=9"; do
	for opt in --zone --from-zone --to-zone --sensor --site --signature --host; do
		n=$(rows "$opt" "$v")
		if [ "$n" -ne 0 ] || [ -s "$T/rows.err" ]; then
			inj_ok=0
			fail sql_injection_filter "$opt \"$v\": $n rows $(cat "$T/rows.err")"
		fi
	done
	"$CLI" alerts --db "$DB" --zone "$v" >"$T/out" 2>&1
	grep -q "no alerts match" "$T/out" || { inj_ok=0; fail sql_injection_table "$(cat "$T/out")"; }
	"$CLI" zones --db "$DB" --site "$v" --json >"$T/out" 2>&1 || { inj_ok=0; fail sql_injection_zones "$(cat "$T/out")"; }
	"$CLI" export --db "$DB" --format csv --signature "$v" >"$T/out" 2>&1
	[ "$(wc -l <"$T/out")" -eq 1 ] || { inj_ok=0; fail sql_injection_export "$(cat "$T/out")"; }
done
# and the store is as it was
[ $inj_ok = 1 ] && [ "$(rows)" -eq 3 ] && [ "$("$CLI" sensors --db "$DB" --json | wc -l)" -eq 1 ] &&
	[ "$("$CLI" alerts --db "$DB" --json --severity 9 | wc -l)" -eq 0 ] &&
	pass sql_injection_no_effect || fail sql_injection_no_effect "store changed"

# ---- export ----
"$CLI" export --db "$DB" --format eve >"$T/export.eve" 2>&1
[ $? -eq 0 ] && [ "$(wc -l <"$T/export.eve")" -eq 3 ] &&
	grep -q '"count":6,"first_ts":"2015-10-22T10:00:01.000000Z","last_ts":"2015-10-22T10:00:01.500000Z","site":"第1工場"' "$T/export.eve" &&
	pass export_eve || fail export_eve "$(cat "$T/export.eve")"
"$CLI" export --db "$DB" --format csv >"$T/export.csv" 2>&1
[ $? -eq 0 ] && [ "$(wc -l <"$T/export.csv")" -eq 4 ] &&
	head -1 "$T/export.csv" | grep -q "^first_ts,last_ts,count,sensor,site,severity,signature," &&
	pass export_csv || fail export_csv "$(cat "$T/export.csv")"
if have_py; then
	python3 - "$T/export.csv" "$T/export.eve" <<'PYEOF' && pass export_parses || fail export_parses "not CSV/JSON"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
assert len(rows) == 3 and all(len(r) == 17 for r in rows)
bac = [r for r in rows if r["signature"] == "zone.no_conduit"][0]
assert bac["category"] == 'Policy, "no" conduit' and bac["site"] == "第1工場"
agg = [r for r in rows if r["signature"] == "zone.op_not_allowed"][0]
assert agg["count"] == "6" and agg["dest_zone"] == "制御系ライン2"
for l in open(sys.argv[2], encoding="utf-8"):
    o = json.loads(l); assert o["event_type"] == "alert" and o["site"] == "第1工場"
PYEOF
else
	skip export_parses "python3 not installed"
fi
n=$("$CLI" export --db "$DB" --format eve --to-zone setsubi | wc -l)
[ "$n" -eq 1 ] && pass export_filtered || fail export_filtered "$n lines"
"$CLI" export --db "$DB" >"$T/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--format" "$T/out" && pass export_needs_format ||
	fail export_needs_format "$(cat "$T/out")"

# ---- keygen ----
"$CLI" keygen --out "$T/keys" --name store >"$T/out" 2>&1
if [ $? -eq 0 ] && [ "$(stat -c %a "$T/keys")" = 700 ] &&
	[ "$(stat -c %a "$T/keys/store.key")" = 600 ] &&
	[ "$(stat -c %a "$T/keys/store.pub")" = 644 ] &&
	[ "$(grep -v '^#' "$T/keys/store.pub" | tr -d '\n' | wc -c)" -eq 40 ]; then
	pass keygen_modes
else
	fail keygen_modes "$(cat "$T/out"; ls -la "$T/keys")"
fi
cp "$T/keys/store.key" "$T/store.key.before"
"$CLI" keygen --out "$T/keys" --name store >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "never overwritten" "$T/out" && cmp -s "$T/keys/store.key" "$T/store.key.before" &&
	pass keygen_no_overwrite || fail keygen_no_overwrite "$(cat "$T/out")"

# ---- the learned baseline and the zone matrix (kind obs records) ----
# box1 learns a plant (hour 10), then detects (hour 11): each deviation
# below raises what store.h says, once; box9 never learned: nothing.
BDB=$T/baseline.db
if start_store "$BDB"; then
	M='"dest_ip":"10.10.1.10","dest_port":502,"dest_zone":"seigyo_line1","proto":"modbus"'
	H='"src_ip":"10.3.0.30","src_zone":"seisan_kanri",'"$M"
	J='"src_ip":"10.1.0.5","src_zone":"joho",'"$M"
	R='"function":3,"function_name":"read_holding_registers","unit":1,"space":4'
	W='"function":6,"function_name":"write_single_register","unit":1,"space":4,"addr":100,"count":1'
	{
		echo 'obs {"timestamp":"2015-10-22T10:00:00Z","mode":"learn","what":"op",'"$H"',"op":"read","verdict":"allowed","n":10,"interval":0,'"$R"',"addr":0,"count":100}'
		echo 'obs {"timestamp":"2015-10-22T10:00:01Z","mode":"learn","what":"op",'"$H"',"op":"write","verdict":"op_not_allowed","n":5,"interval":0,'"$W"',"peak_per_s":2}'
		echo 'obs {"timestamp":"2015-10-22T10:00:02Z","mode":"learn","what":"mac","ip":"10.10.1.10","mac":"00:1B:1B:00:00:01","mac_vendor":"Siemens","zone":"seigyo_line1","watch":true}'
		# known: counted
		echo 'obs {"timestamp":"2015-10-22T11:00:00Z","mode":"detect","what":"op",'"$H"',"op":"read","verdict":"allowed","n":600,"interval":60,'"$R"',"addr":0,"count":100}'
		# a new talker writing (severity 1); its read says nothing more
		echo 'obs {"timestamp":"2015-10-22T11:00:05Z","mode":"detect","what":"op",'"$J"',"op":"write","verdict":"no_conduit","n":3,"interval":0,"function":16,"function_name":"write_multiple_registers","unit":1,"space":4,"addr":100,"count":2,"peak_per_s":1}'
		echo 'obs {"timestamp":"2015-10-22T11:00:06Z","mode":"detect","what":"op",'"$J"',"op":"read","verdict":"no_conduit","n":2,"interval":0,'"$R"',"addr":0,"count":10}'
		# outside the learned 0-99: new_target (severity 3)
		echo 'obs {"timestamp":"2015-10-22T11:00:07Z","mode":"detect","what":"op",'"$H"',"op":"read","verdict":"allowed","n":1,"interval":0,'"$R"',"addr":500,"count":4}'
		echo 'obs {"timestamp":"2015-10-22T11:00:08Z","mode":"detect","what":"mac","ip":"10.10.1.77","mac":"aa:bb:cc:00:00:01","zone":"seigyo_line1","watch":true}'
		# 40 writes/s against 2 learned: one write_flood, the next
		# minute folded into it
		echo 'obs {"timestamp":"2015-10-22T11:00:09Z","mode":"detect","what":"op",'"$H"',"op":"write","verdict":"op_not_allowed","n":900,"interval":60,'"$W"',"peak_per_s":40}'
		echo 'obs {"timestamp":"2015-10-22T11:01:09Z","mode":"detect","what":"op",'"$H"',"op":"write","verdict":"op_not_allowed","n":900,"interval":60,'"$W"',"peak_per_s":45}'
		echo 'obs {"timestamp":"2015-10-22T11:02:00Z","mode":"detect","what":"op","src_ip":"10.3.0.30"}'
	} >"$T/obs1"
	{
		echo 'obs {"timestamp":"2015-10-22T12:00:00Z","mode":"detect","what":"op","src_ip":"10.9.9.9","dest_ip":"10.20.0.5","dest_port":47808,"src_zone":null,"dest_zone":"setsubi","proto":"bacnet","op":"read","verdict":"unknown_host","n":7,"interval":0,"function":12}'
		echo 'obs {"timestamp":"2015-10-22T12:01:00Z","mode":"detect","what":"op","src_ip":"10.9.9.9","dest_ip":"10.20.0.5","dest_port":47808,"src_zone":null,"dest_zone":"setsubi","proto":"bacnet","op":"read","verdict":"unknown_host","n":8,"interval":60,"function":12}'
	} >"$T/obs9"
	"$SEND" --connect "$EP" --sensor box1 --timeout 5000 <"$T/obs1" 2>"$T/send.log" &&
		"$SEND" --connect "$EP" --sensor box9 --timeout 5000 <"$T/obs9" 2>>"$T/send.log"
	[ $? -eq 0 ] && pass baseline_obs_acked || fail baseline_obs_acked "$(cat "$T/send.log")"

	"$CLI" alerts --db "$BDB" >"$T/balerts" 2>&1
	[ "$(grep -c -- ' -> ' "$T/balerts")" -eq 4 ] &&
		grep -Eq "^2015-10-22 11:00:05 +1 +baseline\.new_talker +10\.1\.0\.5 \(joho\) +-> +10\.10\.1\.10:502 \(seigyo_line1\) +modbus +1 +box1$" "$T/balerts" &&
		grep -Eq "^2015-10-22 11:00:07 +3 +baseline\.new_target +10\.3\.0\.30 \(seisan_kanri\) +-> +10\.10\.1\.10:502 \(seigyo_line1\) +modbus +1 +box1$" "$T/balerts" &&
		grep -Eq "^2015-10-22 11:00:08 +2 +asset\.new +10\.10\.1\.77 \(seigyo_line1\) +-> +10\.10\.1\.77 \(seigyo_line1\) +- +1 +box1$" "$T/balerts" &&
		grep -Eq "^2015-10-22 11:00:09 +2 +modbus\.write_flood +10\.3\.0\.30 \(seisan_kanri\) +-> +10\.10\.1\.10:502 \(seigyo_line1\) +modbus +2 +11:01:09 +box1$" "$T/balerts" &&
		pass baseline_alerts || fail baseline_alerts "$(cat "$T/balerts")"
	"$CLI" alerts --db "$BDB" --json --signature modbus.write_flood >"$T/out" 2>&1
	grep -q '"signature_id":2300003' "$T/out" &&
		grep -q '"basis":"learned_rate","learned_peak_per_s":2.0,"peak_per_s":40.0' "$T/out" &&
		pass baseline_flood_eve || fail baseline_flood_eve "$(cat "$T/out")"

	"$CLI" baseline list --db "$BDB" >"$T/blist" 2>&1
	[ "$(grep -c ' box1 ' "$T/blist")" -eq 7 ] &&
		grep -q "^ID  STATUS   SENSOR  SOURCE" "$T/blist" &&
		grep -Eq "^ *1 +learned +box1 +10\.3\.0\.30 \(seisan_kanri\) +-> +10\.10\.1\.10:502 \(seigyo_line1\) +modbus +read +3 read_holding_registers +unit 1 space 4 0-99 +610 +2015-10-22 10:00:00 +2015-10-22 11:00:00$" "$T/blist" &&
		grep -Eq "^ *2 +learned +box1 .* +write +6 write_single_register +unit 1 space 4 100 +1805 +2015-10-22 10:00:01 +2015-10-22 11:01:09$" "$T/blist" &&
		grep -Eq "^ *3 +learned +box1 +10\.10\.1\.10 \(seigyo_line1\) +mac +- +- +00:1b:1b:00:00:01 Siemens +1 " "$T/blist" &&
		grep -Eq "^ *5 +new +box1 +10\.1\.0\.5 \(joho\) +-> .* +read +3 read_holding_registers +unit 1 space 4 0-9 +2 " "$T/blist" &&
		grep -Eq "^ *7 +new +box1 +10\.10\.1\.77 \(seigyo_line1\) +mac +- +- +aa:bb:cc:00:00:01 +1 " "$T/blist" &&
		pass baseline_list_table || fail baseline_list_table "$(cat "$T/blist")"
	n=$("$CLI" baseline list --db "$BDB" --status new --json | wc -l)
	m=$("$CLI" baseline list --db "$BDB" --what mac --json | wc -l)
	o=$("$CLI" baseline list --db "$BDB" --sensor box9 | tr -d '\n')
	[ "$n" -eq 4 ] && [ "$m" -eq 2 ] && [ "$o" = "no baseline rows match these filters" ] &&
		pass baseline_list_filters || fail baseline_list_filters "new $n, mac $m, box9 '$o'"
	"$CLI" baseline list --db "$BDB" --json --what mac --status learned >"$T/out" 2>&1
	grep -qx '{"id":3,"sensor":"box1","what":"mac","status":"learned","src_ip":"10.10.1.10","dest_ip":null,"dest_port":null,"proto":null,"op":null,"function":null,"function_name":null,"unit":null,"space":null,"addr":null,"count":null,"mac":"00:1b:1b:00:00:01","mac_vendor":"Siemens","src_zone":"seigyo_line1","dest_zone":null,"first_ts":"2015-10-22T10:00:02.000000Z","last_ts":"2015-10-22T10:00:02.000000Z","hits":1,"peak_per_s":null}' "$T/out" &&
		pass baseline_list_json || fail baseline_list_json "$(cat "$T/out")"

	# ---- zones matrix ----
	"$CLI" zones matrix --db "$BDB" >"$T/matrix" 2>&1
	[ $? -eq 0 ] && [ "$(grep -c -- ' -> ' "$T/matrix")" -eq 5 ] &&
		grep -Eq "^joho +-> +seigyo_line1 +modbus +read +2 +1 +VIOLATION \(no conduit\)$" "$T/matrix" &&
		grep -Eq "^joho +-> +seigyo_line1 +modbus +write +3 +1 +VIOLATION \(no conduit\)$" "$T/matrix" &&
		grep -Eq "^seisan_kanri +-> +seigyo_line1 +modbus +read +611 +2 +allowed$" "$T/matrix" &&
		grep -Eq "^seisan_kanri +-> +seigyo_line1 +modbus +write +1805 +1 +VIOLATION \(op not allowed\)$" "$T/matrix" &&
		grep -- ' -> ' "$T/matrix" | tail -1 | grep -Eq "^- +-> +setsubi +bacnet +read +15 +1 +unknown host$" &&
		pass matrix_table || fail matrix_table "$(cat "$T/matrix")"
	# 11:30 is rounded down to 11:00: hour 11 and later
	"$CLI" zones matrix --db "$BDB" --since 2015-10-22T11:30:00 --sensor box1 --json >"$T/out" 2>&1
	[ "$(wc -l <"$T/out")" -eq 4 ] &&
		grep -qx '{"src_zone":"seisan_kanri","dest_zone":"seigyo_line1","proto":"modbus","op":"write","operations":1800,"keys":0,"verdicts":{"op_not_allowed":1800},"status":"violation"}' "$T/out" &&
		grep -qx '{"src_zone":"seisan_kanri","dest_zone":"seigyo_line1","proto":"modbus","op":"read","operations":601,"keys":1,"verdicts":{"allowed":601},"status":"allowed"}' "$T/out" &&
		pass matrix_since_json || fail matrix_since_json "$(cat "$T/out")"
	"$CLI" zones matrix --db "$BDB" --since 2015-10-22T11:30:00 >"$T/out" 2>&1
	grep -q "^Zone matrix since 2015-10-22T11:00 (UTC)$" "$T/out" &&
		pass matrix_since_says_hour || fail matrix_since_says_hour "$(head -2 "$T/out")"
	"$CLI" zones matrix --db "$BDB" --sensor box1 --zones "$ROOT/etc/zones.yaml" >"$T/out" 2>&1
	grep -Eq "^seisan_kanri +-> +seigyo_line1 +modbus +read +611 +2 +allowed +modbus: read, discover; s7comm: read, discover$" "$T/out" &&
		grep -Eq "^joho +-> +seigyo_line1 +modbus +write +3 +1 +VIOLATION \(no conduit\) +no conduit$" "$T/out" &&
		grep -qx "  seisan_kanri -> seigyo_line2: modbus: read, discover; s7comm: read, discover" "$T/out" &&
		grep -qx "  hozen -> setsubi: any: any" "$T/out" &&
		! grep -q "^  seisan_kanri -> seigyo_line1:" "$T/out" &&
		pass matrix_conduits || fail matrix_conduits "$(cat "$T/out")"

	# ---- approve and prune, while the store runs ----
	"$CLI" baseline approve --db "$BDB" --src 10.1.0.5 >"$T/out" 2>&1
	[ $? -eq 0 ] && [ "$(cat "$T/out")" = "approved 2 baseline rows" ] &&
		pass baseline_approve_talker || fail baseline_approve_talker "$(cat "$T/out")"
	"$CLI" baseline approve --db "$BDB" --id 7 --sensor box1 >"$T/out" 2>&1
	[ "$(cat "$T/out")" = "approved 1 baseline row" ] &&
		[ "$("$CLI" baseline list --db "$BDB" --status approved --json | wc -l)" -eq 3 ] &&
		pass baseline_approve_id || fail baseline_approve_id "$(cat "$T/out")"
	"$CLI" baseline prune --db "$BDB" --status new >"$T/out" 2>&1
	[ "$(cat "$T/out")" = "pruned 1 baseline row" ] &&
		pass baseline_prune_status || fail baseline_prune_status "$(cat "$T/out")"
	# last seen before 10:30: only the learned MAC (the others were
	# seen again in detect mode)
	"$CLI" baseline prune --db "$BDB" --before 2015-10-22T10:30:00 >"$T/out" 2>&1
	[ "$(cat "$T/out")" = "pruned 1 baseline row" ] &&
		pass baseline_prune_before || fail baseline_prune_before "$(cat "$T/out")"
	"$CLI" baseline prune --db "$BDB" --id 4 5 >"$T/out" 2>&1
	[ "$(cat "$T/out")" = "pruned 2 baseline rows" ] &&
		[ "$("$CLI" baseline list --db "$BDB" --json | sed 's/{"id":\([0-9]*\),.*/\1/' | tr '\n' ' ')" = "1 2 7 " ] &&
		pass baseline_prune_ids || fail baseline_prune_ids "$(cat "$T/out")"

	# ---- their errors: usage 2, no store 1 ----
	bad=""
	for args in "baseline" "baseline frob --db $BDB" "baseline approve --db $BDB" \
		"baseline approve --db $BDB --all --id 3" "baseline prune --db $BDB" \
		"baseline prune --db $BDB --before yesterday" "baseline list --db $BDB --status old" \
		"baseline list --db $BDB --all" "baseline approve --db $BDB --id x" \
		"zones matrix --db $BDB --since soon" "zones matrix --db $BDB --bogus" \
		"zones matrix --db $BDB extra"; do
		$CLI $args >"$T/out" 2>&1
		[ $? -eq 2 ] && [ -s "$T/out" ] || bad="$bad [$args: $(head -1 "$T/out")]"
	done
	for args in "baseline list --db $T/none.db" "zones matrix --db $T/none.db" \
		"baseline prune --db $T/none.db --status new" "zones matrix --db $BDB --zones $T/none.yaml"; do
		$CLI $args >"$T/out" 2>&1
		[ $? -eq 1 ] && grep -q "none\." "$T/out" || bad="$bad [$args: $(head -1 "$T/out")]"
	done
	[ -z "$bad" ] && [ ! -e "$T/none.db" ] && pass baseline_cli_errors || fail baseline_cli_errors "$bad"

	stop_store
	grep -q "rejected record from box1 seq [0-9]*: obs without \"dest_ip\"" "$T/store.log" &&
		grep -q "stopping: .* 1 bad records" "$T/store.log" &&
		pass baseline_bad_obs_rejected || fail baseline_bad_obs_rejected "$(cat "$T/store.log")"
	[ "$(grep -c "sensor box9 runs in detect mode but has no learned baseline" "$T/store.log")" -eq 1 ] &&
		[ "$("$CLI" alerts --db "$BDB" --sensor box9 --json | wc -l)" -eq 0 ] &&
		pass baseline_never_learned || fail baseline_never_learned "$(cat "$T/store.log")"
else
	fail baseline_store_start "could not start: $(cat "$T/store.log")"
fi

# ---- a restarted store on the same file: adds, keeps the rest ----
if start_store "$DB"; then
	echo '{"timestamp":"2015-10-24T00:00:00Z","event_type":"alert","src_ip":"10.3.0.31","dest_ip":"10.10.2.11","dest_port":502,"src_zone":"seisan_kanri","dest_zone":"制御系ライン2","alert":{"signature":"zone.op_not_allowed","severity":2}}' |
		"$SEND" --connect "$EP" --sensor box2 --timeout 5000 2>"$T/send.log"
	src=$?
	stop_store
	n=$("$CLI" alerts --db "$DB" --json | wc -l)
	[ $src -eq 0 ] && [ "$n" -eq 4 ] && pass store_restart_same_db ||
		fail store_restart_same_db "send $src, $n alerts"
	[ "$("$CLI" sensors --db "$DB" --json | wc -l)" -eq 2 ] &&
		pass sensors_two || fail sensors_two "$("$CLI" sensors --db "$DB")"
else
	fail store_restart_same_db "could not start: $(cat "$T/store.log")"
fi
# ---- a store killed (SIGKILL) mid-stream and started again on the same
# file and port: every record stored exactly once ----
N=20000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"timestamp\":\"2015-11-01T00:00:00Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"dest_port\":%d,\"dest_zone\":\"crash\",\"alert\":{\"signature\":\"t.crash\",\"severity\":3}}\n", 1000 + i }' >"$T/many"
CDB=$T/crash.db
if start_store "$CDB"; then
	cport=${EP##*:}
	"$SEND" --connect "$EP" --sensor box3 --resend 300 --timeout 20000 \
		<"$T/many" 2>"$T/send3.log" &
	MPID=$!
	# let part of it land, then crash the store
	i=0
	while [ $i -lt 200 ] &&
		[ "$("$CLI" alerts --db "$CDB" --zone crash --limit 1 --json 2>/dev/null | wc -l)" -eq 0 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	kill -KILL "$SPID"
	wait "$SPID" 2>/dev/null
	SPID=""
	if start_store "$CDB" "$cport" && [ "${EP##*:}" = "$cport" ]; then
		wait "$MPID"
		mrc=$?
		stop_store
		# for the log: how much the crash interrupted
		echo "crash test: $(cat "$T/send3.log"); after restart: $(grep stopping "$T/store.log")"
		n=$("$CLI" alerts --db "$CDB" --zone crash --json --limit 0 | wc -l)
		d=$("$CLI" alerts --db "$CDB" --zone crash --json --limit 0 |
			sed 's/.*"dest_port":\([0-9]*\).*/\1/' | sort -u | wc -l)
		[ $mrc -eq 0 ] && [ "$n" -eq $N ] && [ "$d" -eq $N ] &&
			pass store_crash_exactly_once ||
			fail store_crash_exactly_once "mm-send $mrc, $n rows, $d distinct: $(cat "$T/send3.log")"
	else
		kill "$MPID" 2>/dev/null
		fail store_crash_exactly_once "port $cport not free again: $(cat "$T/store.log")"
	fi
else
	fail store_crash_exactly_once "could not start: $(cat "$T/store.log")"
fi
exit 0
