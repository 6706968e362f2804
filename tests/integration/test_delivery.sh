#!/bin/sh
# Delivery, many sensors, keys, live feeds: real processes (bin/mimamorid,
# bin/mimamori-store, build/tools/mm-send, bin/mimamori), real sockets,
# real SQLite files, the store killed with SIGKILL.
#
#   1. a sensor replays a capture that raises 100,000 alerts while the
#      store is killed twice and restarted: every alert stored exactly once
#      (the sensor's own count of alerts raised against the store's rows);
#   2. the store down, then up: the sensor's backlog drains, nothing lost;
#   3. a low spool bound: the excess is counted and reported, the rest
#      arrives (mm-send: exactly which records; mimamorid: its counters);
#   4. a sensor restarted with a disk spool: what it could not deliver in
#      its first run arrives from its second;
#   5. two sensors with different zone files and sites into one store:
#      queries by site and zone return each one's rows;
#   6. CurveZMQ: a sensor whose key is not on the allow-list is refused,
#      the refusal logged with its key, nothing of it stored; an allowed
#      one is stored with its key's name;
#   7. sensor.silent when a sensor goes quiet, sensor.returned when back;
#   8. mimamori tail on the store's PUB socket, filtered by zone and
#      severity; syslog forwarding (CEF over UDP) to a listener;
#   9. the store's start: a file that is not a database, a database
#      another program keeps locked, a second store on one file.
# Every wait is bounded.
. "$(dirname "$0")/lib.sh"

STORE=$BIN/mimamori-store
CLI=$BIN/mimamori
SENSOR=$BIN/mimamorid
SEND=$ROOT/$B/tools/mm-send
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml
for p in "$STORE" "$CLI" "$SENSOR" "$SEND" "$GEN"; do
	if [ ! -x "$p" ]; then
		fail build "$p missing (make all tests-build)"
		exit 1
	fi
done
have_py() { command -v python3 >/dev/null 2>&1; }
have_sqlite() { command -v sqlite3 >/dev/null 2>&1; }

T=$(tmpdir)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# one number from the store (the CLI's own reader would do, but counting
# 100,000 rows through it is slow): sqlite3 when installed, else python
q() { # DB SQL
	if have_sqlite; then
		sqlite3 -readonly "$1" "$2" 2>/dev/null
	else
		python3 -c 'import sqlite3,sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print("|".join(str(x) for x in c.execute(sys.argv[2]).fetchone()))' "$1" "$2"
	fi
}

# start_store NAME DB PORT [ARGS...]: a store on 127.0.0.1:PORT (or the
# next free one); sets SPID_<NAME> and EP_<NAME>; its log is $T/NAME.log
start_store() {
	name=$1 db=$2 port=$3
	shift 3
	for try in 1 2 3 4 5 6; do
		# each start its own log; the earlier ones kept in NAME.all
		[ -f "$T/$name.log" ] && cat "$T/$name.log" >>"$T/$name.all"
		: >"$T/$name.log"
		"$STORE" --listen "tcp://127.0.0.1:$port" --db "$db" "$@" \
			2>>"$T/$name.log" &
		pid=$!
		i=0
		while [ $i -lt 100 ]; do
			if grep -q "listening on" "$T/$name.log"; then
				PIDS="$PIDS $pid"
				eval "SPID_$name=$pid EP_$name=tcp://127.0.0.1:$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
			i=$((i + 1))
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		# the port of a store killed a moment ago: wait for it, then
		# try the next one (a fixed port only when the caller must)
		[ -n "$KEEP_PORT" ] && { sleep 0.3; continue; }
		port=$((port + 11 + try))
	done
	return 1
}

stop_store() { # NAME
	eval "pid=\$SPID_$1"
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "SPID_$1="
}

# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS
wait_for() {
	n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# wait_pid SECONDS PID: the process's exit status, 124 after SECONDS
wait_pid() {
	n=$(($1 * 20))
	while kill -0 "$2" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.05
		n=$((n - 1))
	done
	if kill -0 "$2" 2>/dev/null; then
		kill -9 "$2" 2>/dev/null
		wait "$2" 2>/dev/null
		return 124
	fi
	wait "$2"
}

json_get() { # FILE PATH (a.b.c) from a one-line JSON object
	python3 -c 'import json,sys
o = json.loads(open(sys.argv[1]).readline())
for k in sys.argv[2].split("."): o = o[k]
print(o)' "$1" "$2" 2>/dev/null
}

BASE=$(( ($$ % 15000) + 40000 ))

if ! have_py; then
	skip delivery "python3 is needed to read the sensor's JSON statistics"
	exit 0
fi

# ---------------------------------------------------------------------------
# 1. 100,000 alerts, the store killed twice
"$GEN" violations "$T/v100k.pcap" --requests 100000 2>/dev/null
cat >"$T/sensor.yaml" <<EOF
link:
  spool_max: 300000            # the whole run fits while the store is down
  resend_ms: 300
  flush_timeout_ms: 90000
EOF
DB1=$T/crash.db
if start_store s1 "$DB1" $BASE --aggregate 0; then
	port1=${EP_s1##*:}
	"$SENSOR" -q -r "$T/v100k.pcap" --zones "$ZONES" --store "$EP_s1" \
		--sensor replay --config "$T/sensor.yaml" \
		--stats-json >"$T/s1.stats" 2>"$T/s1.err" &
	SEN=$!
	PIDS="$PIDS $SEN"
	rows() { r=$(q "$DB1" "SELECT count(*) FROM alerts" 2>/dev/null); echo "${r:-0}"; }
	more_than() { [ "$(rows)" -gt "$1" ]; }
	kills=0
	for round in 1 2; do
		# let some land (a few thousand more than last time), then kill
		before=$(rows)
		wait_for 30 more_than $((before + 3000))
		kill -9 "$SPID_s1" 2>/dev/null && kills=$((kills + 1))
		wait "$SPID_s1" 2>/dev/null
		sleep 0.2
		KEEP_PORT=1 start_store s1 "$DB1" "$port1" --aggregate 0 ||
			fail store_sigkill_restart "port $port1: $(cat "$T/s1.log")"
	done
	wait_pid 120 "$SEN"
	src=$?
	stop_store s1
	cat "$T/s1.log" >>"$T/s1.all"
	raised=$(json_get "$T/s1.stats" alerts.raised)
	dropped=$(json_get "$T/s1.stats" link.dropped)
	backlog=$(json_get "$T/s1.stats" link.backlog)
	got=$(q "$DB1" "SELECT count(*) FROM alerts WHERE sensor = 'replay'")
	distinct=$(q "$DB1" "SELECT count(DISTINCT seq) FROM alerts WHERE sensor = 'replay'")
	echo "delivery: $kills SIGKILLs; sensor exit $src, raised $raised, link dropped $dropped backlog $backlog; store rows $got, distinct seqs $distinct; last store: $(grep stopping "$T/s1.log")"
	if [ "$src" -eq 0 ] && [ "$kills" -eq 2 ] && [ "${raised:-0}" -ge 100000 ] &&
		[ "$got" = "$raised" ] && [ "$distinct" = "$raised" ] &&
		[ "$dropped" = 0 ] && [ "$backlog" = 0 ]; then
		pass delivery_100k_two_sigkills_exactly_once
	else
		fail delivery_100k_two_sigkills_exactly_once \
			"exit $src kills $kills raised $raised rows $got distinct $distinct dropped $dropped backlog $backlog: $(tail -3 "$T/s1.err")"
	fi
	# three lives of the store, the last one stopped cleanly
	[ "$(grep -c "listening on" "$T/s1.all")" -eq 3 ] && grep -q "stopping:" "$T/s1.log" &&
		pass delivery_store_restarted_cleanly ||
		fail delivery_store_restarted_cleanly "$(cat "$T/s1.all")"
else
	fail delivery_100k_two_sigkills_exactly_once "store did not start: $(cat "$T/s1.log")"
fi

# ---------------------------------------------------------------------------
# 2. the store down, then up: the backlog drains
"$GEN" violations "$T/v5k.pcap" --requests 5000 2>/dev/null
DB2=$T/late.db
port2=$((BASE + 100))
"$SENSOR" -q -r "$T/v5k.pcap" --zones "$ZONES" --store "tcp://127.0.0.1:$port2" \
	--sensor late --config "$T/sensor.yaml" --aggregate 0 \
	--stats-json >"$T/s2.stats" 2>"$T/s2.err" &
SEN=$!
PIDS="$PIDS $SEN"
sleep 1.5 # the capture is read, its alerts wait in the spool
if kill -0 "$SEN" 2>/dev/null && KEEP_PORT=1 start_store s2 "$DB2" $port2 --aggregate 0; then
	wait_pid 60 "$SEN"
	src=$?
	raised=$(json_get "$T/s2.stats" alerts.raised)
	got=$(q "$DB2" "SELECT count(*) FROM alerts")
	bl=$(json_get "$T/s2.stats" link.backlog)
	[ "$src" -eq 0 ] && [ "$raised" = 5000 ] && [ "$got" = 5000 ] && [ "$bl" = 0 ] &&
		pass delivery_store_late_backlog_drains ||
		fail delivery_store_late_backlog_drains "exit $src raised $raised stored $got backlog $bl: $(cat "$T/s2.err")"
	# its last heartbeat told the store: backlog 0
	wait_for 5 sh -c "'$CLI' sensors --db '$DB2' --json | grep -q '\"backlog\":0'" &&
		pass delivery_backlog_in_sensors || fail delivery_backlog_in_sensors "$("$CLI" sensors --db "$DB2")"
	stop_store s2
else
	fail delivery_store_late_backlog_drains "sensor gone or store not started: $(cat "$T/s2.err" "$T/s2.log")"
fi

# ---------------------------------------------------------------------------
# 3. a low spool bound: counted, reported, the rest arrives
awk 'BEGIN { for (i = 0; i < 5000; i++)
	printf "{\"timestamp\":\"2015-11-01T00:00:00Z\",\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"dest_port\":%d,\"n\":%d,\"alert\":{\"signature\":\"t.bound\",\"severity\":3}}\n", 1000 + i, i }' >"$T/bound.jsonl"
DB3=$T/bound.db
port3=$((BASE + 200))
"$SEND" --connect "tcp://127.0.0.1:$port3" --sensor bounded --spool 1000 \
	--timeout 15000 --resend 300 <"$T/bound.jsonl" 2>"$T/send3.err" &
SND=$!
PIDS="$PIDS $SND"
sleep 1
if KEEP_PORT=1 start_store s3 "$DB3" $port3 --aggregate 0; then
	wait_pid 30 "$SND"
	src=$?
	got=$(q "$DB3" "SELECT count(*) || ' ' || min(json_extract(eve, '$.n')) || ' ' || max(json_extract(eve, '$.n')) FROM alerts")
	# the oldest 1000 kept, the newest 4000 dropped and said so
	[ "$src" -eq 1 ] && grep -q "5000 queued, .* 1000 acked, 4000 dropped, 0 left" "$T/send3.err" &&
		[ "$got" = "1000 0 999" ] &&
		pass delivery_spool_bound_counted || fail delivery_spool_bound_counted "exit $src stored '$got': $(cat "$T/send3.err")"
	stop_store s3
else
	fail delivery_spool_bound_counted "store did not start"
fi
# the same with the sensor: its statistics say what it lost
cat >"$T/small.yaml" <<EOF
link:
  spool_max: 500
  resend_ms: 300
  flush_timeout_ms: 30000
EOF
DB3b=$T/bound2.db
port3b=$((BASE + 250))
"$SENSOR" -q -r "$T/v5k.pcap" --zones "$ZONES" --store "tcp://127.0.0.1:$port3b" \
	--sensor small --config "$T/small.yaml" --stats-json \
	>"$T/s3.stats" 2>"$T/s3.err" &
SEN=$!
PIDS="$PIDS $SEN"
sleep 1.5
if KEEP_PORT=1 start_store s3b "$DB3b" $port3b --aggregate 0; then
	wait_pid 60 "$SEN"
	src=$?
	qd=$(json_get "$T/s3.stats" link.queued)
	ak=$(json_get "$T/s3.stats" link.acknowledged)
	dr=$(json_get "$T/s3.stats" link.dropped)
	bl=$(json_get "$T/s3.stats" link.backlog)
	got=$(q "$DB3b" "SELECT count(*) FROM alerts")
	[ "$src" -eq 0 ] && [ "$dr" -gt 4000 ] && [ "$((ak + dr + bl))" = "$qd" ] &&
		[ "$got" -gt 0 ] && [ "$got" -le 500 ] &&
		pass delivery_sensor_spool_bound_reported ||
		fail delivery_sensor_spool_bound_reported "exit $src queued $qd acked $ak dropped $dr backlog $bl stored $got"
	stop_store s3b
else
	fail delivery_sensor_spool_bound_reported "store did not start"
fi

# ---------------------------------------------------------------------------
# 4. a sensor restart with a disk spool loses nothing
"$GEN" violations "$T/v4.pcap" --requests 4 2>/dev/null
cat >"$T/short.yaml" <<EOF
link:
  spool_max: 100000
  resend_ms: 300
  flush_timeout_ms: 500         # the first run gives up quickly
EOF
DB4=$T/restart.db
port4=$((BASE + 300))
"$SENSOR" -q -r "$T/v5k.pcap" --zones "$ZONES" --store "tcp://127.0.0.1:$port4" \
	--sensor restarted --config "$T/short.yaml" --aggregate 0 \
	--spool-dir "$T/spool4" --stats-json >"$T/s4a.stats" 2>"$T/s4a.err"
src1=$?
left=$(json_get "$T/s4a.stats" link.backlog)
mode=$(stat -c %a "$T/spool4" 2>/dev/null)
files=$(find "$T/spool4" -type f ! -perm 600 | wc -l)
[ "$src1" -eq 3 ] && [ "$left" -ge 5000 ] && grep -q "kept in $T/spool4" "$T/s4a.err" &&
	[ "$mode" = 700 ] && [ "$files" -eq 0 ] &&
	pass delivery_disk_spool_kept || fail delivery_disk_spool_kept "exit $src1 backlog $left mode $mode files not 0600: $files: $(cat "$T/s4a.err")"
if KEEP_PORT=1 start_store s4 "$DB4" $port4 --aggregate 0; then
	sed 's/flush_timeout_ms: 500 .*/flush_timeout_ms: 30000/' "$T/short.yaml" >"$T/long.yaml"
	"$SENSOR" -q -r "$T/v4.pcap" --zones "$ZONES" --store "$EP_s4" \
		--sensor restarted --config "$T/long.yaml" \
		--spool-dir "$T/spool4" --stats-json >"$T/s4b.stats" 2>"$T/s4b.err"
	src2=$?
	got=$(q "$DB4" "SELECT count(*) || ' ' || count(DISTINCT seq) FROM alerts WHERE sensor = 'restarted'")
	rec=$(json_get "$T/s4b.stats" link.queued)
	[ "$src2" -eq 0 ] && [ "$got" = "5004 5004" ] &&
		pass delivery_disk_spool_restart_nothing_lost ||
		fail delivery_disk_spool_restart_nothing_lost "exit $src2, stored '$got' (queued $rec): $(cat "$T/s4b.err")"
	stop_store s4
else
	fail delivery_disk_spool_restart_nothing_lost "store did not start"
fi

# ---------------------------------------------------------------------------
# 5. two sensors, two sites, two zone files, one store
cat >"$T/zones-a.yaml" <<EOF
site: A工場
zones:
  - { id: jimusho, name: 事務所, archetype: joho, strength: minimum, networks: [10.1.0.0/16] }
  - { id: seigyo, name: 制御系 A, archetype: seigyo, strength: high, networks: [10.10.0.0/16] }
EOF
cat >"$T/zones-b.yaml" <<EOF
site: B工場
zones:
  - { id: office, archetype: joho, strength: minimum, networks: [10.1.5.0/24] }
  - { id: seigyo, name: 制御系 B, archetype: seigyo, strength: medium, networks: [10.10.2.0/24] }
EOF
"$GEN" violations "$T/v1k.pcap" --requests 1000 2>/dev/null
DB5=$T/sites.db
if start_store s5 "$DB5" $((BASE + 400)); then
	"$SENSOR" -q -r "$T/v1k.pcap" --zones "$T/zones-a.yaml" --store "$EP_s5" \
		--sensor line-a 2>"$T/s5a.err"
	ra=$?
	"$SENSOR" -q -r "$T/v1k.pcap" --zones "$T/zones-b.yaml" --store "$EP_s5" \
		--sensor line-b 2>"$T/s5b.err"
	rb=$?
	stop_store s5
	a=$("$CLI" alerts --db "$DB5" --site A工場 --json | python3 -c 'import json,sys
rows = [json.loads(l) for l in sys.stdin]
print(len(rows), sum(r["count"] for r in rows), sorted({(r["sensor"], r["src_zone"], r["dest_zone"]) for r in rows}))')
	b=$("$CLI" alerts --db "$DB5" --site B工場 --zone seigyo --json | python3 -c 'import json,sys
rows = [json.loads(l) for l in sys.stdin]
print(len(rows), sum(r["count"] for r in rows), sorted({(r["sensor"], r["src_zone"], r["dest_zone"]) for r in rows}))')
	none=$("$CLI" alerts --db "$DB5" --site A工場 --zone office --json | wc -l)
	[ $ra -eq 0 ] && [ $rb -eq 0 ] &&
		[ "$a" = "1 1000 [('line-a', 'jimusho', 'seigyo')]" ] &&
		[ "$b" = "1 1000 [('line-b', 'office', 'seigyo')]" ] && [ "$none" -eq 0 ] &&
		pass sites_queries_by_site_and_zone || fail sites_queries_by_site_and_zone "A: $a / B: $b / none $none"
	"$CLI" zones --db "$DB5" >"$T/zones5" 2>&1
	grep -Eq "^A工場 +seigyo +制御系 A +high 高 +1 +0 +1 +0 +0 +1 +1000$" "$T/zones5" &&
		grep -Eq "^B工場 +seigyo +制御系 B +medium 中 +1 +0 +0 +1 +0 +1 +1000$" "$T/zones5" &&
		grep -Eq "^B工場 +office " "$T/zones5" && ! grep -Eq "^A工場 +office" "$T/zones5" &&
		pass sites_zones_per_site || fail sites_zones_per_site "$(cat "$T/zones5")"
	"$CLI" sensors --db "$DB5" --site B工場 --json >"$T/sensors5" 2>&1
	[ "$(wc -l <"$T/sensors5")" -eq 1 ] && grep -q '"sensor":"line-b","site":"B工場"' "$T/sensors5" &&
		pass sites_sensors || fail sites_sensors "$(cat "$T/sensors5")"
else
	fail sites_queries_by_site_and_zone "store did not start"
fi

# ---------------------------------------------------------------------------
# 6. CurveZMQ: an unknown key is refused, logged, never stored
"$CLI" keygen --out "$T/keys" --name store >/dev/null &&
	"$CLI" keygen --out "$T/allowed" --name line-a >/dev/null &&
	"$CLI" keygen --out "$T/other" --name intruder >/dev/null
DB6=$T/curve.db
port6=$((BASE + 500))
: >"$T/s6.log"
"$STORE" --listen "tcp://0.0.0.0:$port6" --db "$DB6" --curve-secret "$T/keys/store.key" \
	--allow "$T/allowed" 2>"$T/s6.log" &
S6=$!
PIDS="$PIDS $S6"
if wait_for 5 grep -q "CurveZMQ on (1 sensor keys allowed)" "$T/s6.log"; then
	"$SENSOR" -q -r "$T/v4.pcap" --zones "$ZONES" --store "tcp://127.0.0.1:$port6" \
		--sensor intruder --curve-secret "$T/other/intruder.key" \
		--store-public "$T/keys/store.pub" --config "$T/short.yaml" \
		--stats-json >"$T/s6x.stats" 2>"$T/s6x.err"
	rx=$?
	key=$(grep -v '^#' "$T/other/intruder.pub")
	# (-F: a Z85 key holds regex characters)
	wait_for 5 grep -qF "refused a connection from 127.0.0.1: CurveZMQ public key $key is not on the allow-list" "$T/s6.log"
	logged=$?
	"$SENSOR" -q -r "$T/v4.pcap" --zones "$ZONES" --store "tcp://127.0.0.1:$port6" \
		--sensor line-a --curve-secret "$T/allowed/line-a.key" \
		--store-public "$T/keys/store.pub" --config "$T/long.yaml" \
		2>"$T/s6a.err"
	ra=$?
	kill -TERM $S6
	wait_pid 10 $S6
	x=$(q "$DB6" "SELECT count(*) FROM sensors WHERE sensor = 'intruder'")
	xa=$(q "$DB6" "SELECT count(*) FROM alerts WHERE sensor = 'intruder'")
	[ "$rx" -eq 3 ] && [ "$logged" -eq 0 ] && [ "$x" = 0 ] && [ "$xa" = 0 ] &&
		pass curve_unknown_key_refused_logged_not_stored ||
		fail curve_unknown_key_refused_logged_not_stored "sensor exit $rx, logged $logged, rows $x/$xa: $(cat "$T/s6.log")"
	k=$(q "$DB6" "SELECT key || ' ' || (SELECT sum(count) FROM alerts WHERE sensor = 'line-a') FROM sensors WHERE sensor = 'line-a'")
	[ "$ra" -eq 0 ] && [ "$k" = "line-a 4" ] &&
		pass curve_allowed_key_stored || fail curve_allowed_key_stored "exit $ra, '$k': $(cat "$T/s6a.err")"
	# a sensor without keys gets nowhere either
	echo '{"timestamp":"2015-11-01T00:00:00Z","alert":{"signature":"t.plain"}}' >"$T/one.jsonl"
	"$STORE" --listen "tcp://0.0.0.0:$port6" --db "$DB6" --curve-secret "$T/keys/store.key" \
		--allow "$T/allowed" 2>"$T/s6b.log" &
	S6=$!
	PIDS="$PIDS $S6"
	wait_for 5 grep -q "listening" "$T/s6b.log"
	"$SEND" --connect "tcp://127.0.0.1:$port6" --sensor plain --timeout 700 <"$T/one.jsonl" 2>/dev/null
	rp=$?
	kill -TERM $S6
	wait_pid 10 $S6
	[ "$rp" -eq 1 ] && [ "$(q "$DB6" "SELECT count(*) FROM alerts WHERE sensor = 'plain'")" = 0 ] &&
		pass curve_plaintext_refused || fail curve_plaintext_refused "mm-send exit $rp"
else
	fail curve_unknown_key_refused_logged_not_stored "store did not start: $(cat "$T/s6.log")"
fi
# with keys the store may listen beyond loopback; the allow-list is a must
"$STORE" --listen "tcp://0.0.0.0:$port6" --db "$T/x.db" --curve-secret "$T/keys/store.key" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q -- "--allow" "$T/out" && pass curve_needs_allow_list ||
	fail curve_needs_allow_list "$(cat "$T/out")"

# ---------------------------------------------------------------------------
# 7. sensor.silent and sensor.returned
DB7=$T/silent.db
if start_store s7 "$DB7" $((BASE + 600)) --silent-after 2; then
	echo 'hello {"site":"第3工場","version":"t"}' >"$T/hello.jsonl"
	"$SEND" --connect "$EP_s7" --sensor quiet --timeout 5000 <"$T/hello.jsonl" 2>/dev/null
	silent() { "$CLI" alerts --db "$DB7" --signature sensor.silent --json 2>/dev/null | grep -q '"sensor":"quiet","site":"第3工場"'; }
	if wait_for 10 silent; then
		pass sensor_silent_alert
	else
		fail sensor_silent_alert "$("$CLI" alerts --db "$DB7")"
	fi
	"$CLI" sensors --db "$DB7" | grep "^quiet" | grep -q "SILENT since" &&
		pass sensor_silent_in_sensors || fail sensor_silent_in_sensors "$("$CLI" sensors --db "$DB7")"
	sleep 1 # still silent: no second alert for the same silence
	"$SEND" --connect "$EP_s7" --sensor quiet --timeout 5000 <"$T/one.jsonl" 2>/dev/null
	stop_store s7
	n_s=$("$CLI" alerts --db "$DB7" --signature 'sensor.silent' --json | wc -l)
	n_r=$("$CLI" alerts --db "$DB7" --signature 'sensor.returned' --json | wc -l)
	[ "$n_s" -eq 1 ] && [ "$n_r" -eq 1 ] &&
		"$CLI" sensors --db "$DB7" | grep "^quiet" | grep -q " ok " &&
		pass sensor_returned_clears || fail sensor_returned_clears "silent $n_s returned $n_r: $("$CLI" sensors --db "$DB7")"
else
	fail sensor_silent_alert "store did not start"
fi

# ---------------------------------------------------------------------------
# 8. tail on the PUB socket; syslog (CEF over UDP)
DB8=$T/live.db
pub=$((BASE + 710))
cat >"$T/udp.py" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(15)
out = open(sys.argv[2], "w")
try:
    for _ in range(int(sys.argv[3])):
        out.write(s.recv(65536).decode("utf-8", "replace") + "\n")
        out.flush()
except socket.timeout:
    pass
PYEOF
python3 "$T/udp.py" "$T/udp.port" "$T/udp.out" 5 &
UDP=$!
PIDS="$PIDS $UDP"
wait_for 5 test -s "$T/udp.port"
if start_store s8 "$DB8" $((BASE + 700)) --publish "tcp://127.0.0.1:$pub" \
	--syslog "udp://127.0.0.1:$(cat "$T/udp.port")" --syslog-format cef --aggregate 0; then
	"$CLI" tail --connect "tcp://127.0.0.1:$pub" --zone seigyo_line2 --min-severity 2 \
		--count 3 --json >"$T/tail.out" 2>"$T/tail.err" &
	TAIL=$!
	PIDS="$PIDS $TAIL"
	sleep 0.5 # a subscriber joins before the first message
	A='"timestamp":"2015-11-01T00:00:00Z","app_proto":"modbus"'
	cat >"$T/live.jsonl" <<EOF
{$A,"src_ip":"10.0.0.1","dest_zone":"seigyo_line2","alert":{"signature":"t.live","severity":1}}
{$A,"src_ip":"10.0.0.3","dest_zone":"seigyo_line2","alert":{"signature":"t.live","severity":3}}
{$A,"src_ip":"10.0.0.5","dest_zone":"joho","alert":{"signature":"t.live","severity":1}}
{$A,"src_ip":"10.0.0.2","dest_zone":"seigyo_line2","alert":{"signature":"t.live","severity":2}}
{$A,"src_ip":"10.0.0.9","src_zone":"seigyo_line2","alert":{"signature":"t.live","severity":1}}
EOF
	"$SEND" --connect "$EP_s8" --sensor live --timeout 5000 <"$T/live.jsonl" 2>/dev/null
	wait_pid 15 $TAIL
	rt=$?
	# severity 1 seigyo_line2, severity 2 seigyo_line2, severity 1 from
	# seigyo_line2; not severity 3, not the joho one
	sevs=$(python3 -c 'import json,sys
print(",".join(str(json.loads(l)["alert"]["severity"]) + json.loads(l)["src_ip"][-1] for l in open(sys.argv[1])))' "$T/tail.out")
	[ "$rt" -eq 0 ] && [ "$sevs" = "11,22,19" ] && pass tail_live_filtered ||
		fail tail_live_filtered "exit $rt got '$sevs': $(cat "$T/tail.out" "$T/tail.err")"
	wait_pid 20 $UDP
	stop_store s8
	n=$(grep -c "CEF:0|mimamori|mimamori|1|" "$T/udp.out")
	[ "$n" -eq 5 ] && grep -q "^<130>1 2015-11-01T00:00:00.000000Z [^ ]* mimamori-store [0-9]* alert - CEF:0|mimamori|mimamori|1|t.live|t.live|10|.*src=10.0.0.1 " "$T/udp.out" &&
		grep -q "^<132>1 .*|t.live|t.live|5|.*src=10.0.0.3 " "$T/udp.out" &&
		pass syslog_cef_udp || fail syslog_cef_udp "$n messages: $(cat "$T/udp.out")"
else
	fail tail_live_filtered "store did not start"
fi

# ---------------------------------------------------------------------------
# 9. the store's start: clear errors, private files
echo "this is not a database, only a text long enough to look like a file" >"$T/text.db"
"$STORE" --listen "tcp://127.0.0.1:$((BASE + 800))" --db "$T/text.db" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "text.db.*not a database" "$T/out" && pass store_refuses_not_a_database ||
	fail store_refuses_not_a_database "$(cat "$T/out")"
DB9=$T/locked.db
if start_store s9 "$DB9" $((BASE + 810)); then
	pass store_new_db_starts
	"$STORE" --listen "tcp://127.0.0.1:$((BASE + 820))" --db "$DB9" >"$T/out" 2>&1
	[ $? -eq 1 ] && grep -q "in use by another mimamori-store" "$T/out" &&
		pass store_second_on_same_file_refused || fail store_second_on_same_file_refused "$(cat "$T/out")"
	stop_store s9
	m=$(stat -c %a "$DB9")
	[ "$m" = 600 ] && pass store_db_mode_0600 || fail store_db_mode_0600 "mode $m"
	# another program holding the write lock
	python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE"); open(sys.argv[2], "w").write("x"); time.sleep(8)' "$DB9" "$T/locked" &
LOCK=$!
PIDS="$PIDS $LOCK"
	wait_for 5 test -s "$T/locked"
	"$STORE" --listen "tcp://127.0.0.1:$((BASE + 830))" --db "$DB9" >"$T/out" 2>&1
	rl=$?
	kill $LOCK 2>/dev/null
	[ $rl -eq 1 ] && grep -q "locked by another program" "$T/out" &&
		pass store_locked_db_clear_error || fail store_locked_db_clear_error "$(cat "$T/out")"
else
	fail store_new_db_starts "$(cat "$T/s9.log")"
fi
exit 0
