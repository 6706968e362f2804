#!/bin/sh
# test_logstall.sh - a disk that stops taking the logs does not stop the
# capture (daemon/logw.c).
#
# A live sensor on lo logs into a folder whose modbus.jsonl is a FIFO that
# a process holds open and never reads: once the pipe (64 KiB) and the
# sensor's log queue (log_queue_mb: 1) are full, every write would wait
# for ever.  A real libmodbus client then floods a server with single
# register writes, each outside the zone conduits, so each is an alert.
# While the log stays stalled:
#   - every write reaches the store as an alert (the capture thread kept
#     dissecting: it never waits on the log);
#   - the lines the queue could not hold are dropped and counted
#     (log_dropped in the exit statistics), not silently lost;
#   - SIGTERM ends the sensor within the flush timeout, saying how many
#     log bytes were not written, and the store has everything.
# Needs root (live capture on lo); SKIPs otherwise.
. "$(dirname "$0")/lib.sh"

N=logstall
PEER=$ROOT/$B/tests/modbus_peer
PLC=127.0.0.11
PORT=502

T=$(tmpdir)
SENSOR_PID= SRV_PID= HOLD_PID=
cleanup_on_exit SENSOR_PID SRV_PID HOLD_PID

live_ready "$N" "$BIN/mimamorid" "$PEER"
case $? in
1) exit 0 ;;
2) exit 1 ;;
esac

cat >"$T/zones.yaml" <<'EOF'
site: log stall bench
zones:
  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [127.0.0.1/32] }
  - { id: plc, archetype: seigyo, strength: high, hosts: [{ name: PLC-S, ip: 127.0.0.11 }] }
conduits:
  - { from: scada, to: plc, allow: [{ protocol: modbus, ops: [read] }] }
EOF
printf 'log_queue_mb: 1\nlink:\n  flush_timeout_ms: 3000\n' >"$T/settings.yaml"
mkdir -p "$T/logs"
mkfifo "$T/logs/modbus.jsonl"
# holds the FIFO open for reading and never reads (the open waits for the
# sensor to open its end)
sh -c 'exec 3<"$1"; exec sleep 300' sh "$T/logs/modbus.jsonl" >/dev/null 2>&1 &
HOLD_PID=$!

"$BIN/mimamorid" -i lo -f "tcp port $PORT and host $PLC" --config "$T/settings.yaml" \
	--zones "$T/zones.yaml" --db "$T/live.db" --log-dir "$T/logs" --user root \
	--sensor logstall --stats-json >"$T/stats.json" 2>"$T/sensor.err" &
SENSOR_PID=$!
if ! wait_for 15 has_line "$T/sensor.err" "listening on lo"; then
	fail "$N: sensor capturing on lo" "$(tr '\n' ' ' <"$T/sensor.err")"
	exit 1
fi
"$PEER" server $PLC $PORT >"$T/server.out" 2>&1 &
SRV_PID=$!
if ! wait_for 5 has_line "$T/server.out" "^ready"; then
	fail "$N: libmodbus server on $PLC:$PORT" "$(tr '\n' ' ' <"$T/server.out")"
	exit 1
fi

# 4 seconds of 1500 writes a second: ~12,000 log lines, ~3 MiB of log
"$PEER" client $PLC $PORT flood --rate 1500 --seconds 4 >"$T/client.out" 2>&1
rc=$?
writes=$(grep -c "fc=6" "$T/client.out")
if [ "$rc" = 0 ] && [ "${writes:-0}" -gt 3000 ]; then
	pass "$N: libmodbus client made $writes register writes"
else
	fail "$N: libmodbus client" "status $rc, $writes writes: $(tail -2 "$T/client.out" | tr '\n' ' ')"
fi

# the log is still stalled; the store must get every write's alert
stored() { sql "$T/live.db" "SELECT coalesce(sum(count), 0) FROM alerts WHERE signature = 'zone.op_not_allowed'" 2>/dev/null; }
all_stored() { [ "$(stored)" = "$writes" ]; }
if wait_for 20 all_stored && kill -0 "$SENSOR_PID" 2>/dev/null; then
	pass "$N: with the log stalled, all $writes writes reached the store as alerts"
else
	fail "$N: with the log stalled, every write reaches the store" "$(stored) of $writes alerts stored"
fi
expect_eq "$N: the FIFO is still unread (the stall is real)" "$(kill -0 "$HOLD_PID" 2>/dev/null && echo held)" held

kill -TERM "$SENSOR_PID"
if wait_for 30 dead "$SENSOR_PID"; then
	wait "$SENSOR_PID"
	rc=$?
	SENSOR_PID=
	expect_eq "$N: sensor exits 0 on SIGTERM with its log stalled" "$rc" 0
else
	fail "$N: sensor exits on SIGTERM with its log stalled" "still running 30 s after SIGTERM"
	kill -KILL "$SENSOR_PID"
	exit 1
fi
if grep -q "bytes of transaction logs not written: the disk under .* took nothing for 3000 ms" "$T/sensor.err"; then
	pass "$N: at exit it says how much of the log was not written"
else
	fail "$N: at exit it says how much of the log was not written" "$(tail -3 "$T/sensor.err" | tr '\n' ' ')"
fi
got=$(python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("dropped" if d["log_dropped"] > 0 else "none dropped", d["log_records"] >= 2 * int(sys.argv[2]))' "$T/stats.json" "$writes" 2>&1)
expect_eq "$N: the lines the queue could not hold are counted (log_dropped), every PDU logged or counted" \
	"$got" "dropped True"
exit 0
