#!/bin/sh
# test_detect.sh - the behaviour detectors (daemon/detect.c) end to end.
#
#   quiet     at the default thresholds, the normal captures raise no
#             detector alert: pcaps/demo-plant.pcap, and the polling
#             captures of ../shared/pcaps (listed below with the reason
#             each is normal; skipped when shared/ is absent), there with
#             every host in one zone that is not engineering (the
#             strictest case for s7comm.recon).
#   wild      arkime/modbus.pcap holds a real function-code scan (128 codes
#             from one client, 104 refused): modbus.scan, once.
#   generated pcapgen's attack scenarios (tools/pcapgen/attacks.c) on the
#             example plant: s7-recon raises s7comm.recon once (MES-01, not
#             the engineering station doing the same), port-scan raises
#             net.port_scan once per episode (three passes, two episodes).
#   live      real libmodbus peers on loopback (tests/peers/modbus_peer),
#             captured by `mimamorid -i lo` with a filter only this test
#             uses (servers 127.0.0.12 and 127.0.0.13, port 502): a register
#             sweep, a function-code scan, a unit-id scan and two write
#             floods raise modbus.register_sweep, modbus.scan (x2),
#             modbus.exception_storm and modbus.write_flood (x2): once per
#             episode, at the default thresholds (only the quiet period is
#             shortened, so that two floods a few seconds apart are two
#             episodes).  The same traffic recorded by tcpdump and replayed
#             with -r raises the same alerts.  Needs root; SKIPs otherwise.
. "$(dirname "$0")/lib.sh"

GEN=$ROOT/$B/tools/pcapgen
PEER=$ROOT/$B/tests/modbus_peer
T=$(tmpdir)
SENSOR_PID= SRV_PIDS= DUMP_PID=
cleanup_on_exit SENSOR_PID SRV_PIDS DUMP_PID

# every detector's signature (detect.c's table)
DETECTORS='modbus.scan modbus.register_sweep modbus.write_flood s7comm.write_flood
bacnet.write_flood s7comm.recon modbus.exception_storm s7comm.error_storm
bacnet.error_storm bacnet.who_is_flood net.port_scan'
DET_RE=$(echo $DETECTORS | sed 's/\./\\./g; s/ /|/g')

if [ ! -x "$BIN/mimamorid" ]; then
	fail detect "$BIN/mimamorid is missing (make)"
	exit 1
fi

# detector alerts in an eve.json, one "count signature src_zone dest_zone"
# line per kind, sorted
detector_alerts() {
	[ -f "$1" ] || return 0
	python3 - "$1" "$DET_RE" <<'PY'
import json, re, sys
want = re.compile("^(" + sys.argv[2] + ")$")
n = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    s = a["alert"]["signature"]
    if want.match(s):
        k = "%s %s %s" % (s, a.get("src_zone") or "-", a.get("dest_zone") or "-")
        n[k] = n.get(k, 0) + 1
for k in sorted(n):
    print(n[k], k)
PY
}

# run NAME CAPTURE ZONES [options]: the sensor; its eve.json in $T/NAME/
run() {
	r_n=$1 r_cap=$2 r_z=$3
	shift 3
	rm -rf "$T/$r_n" "$T/$r_n.db"*
	"$BIN/mimamorid" -q -r "$r_cap" --zones "$r_z" --db "$T/$r_n.db" \
		--log-dir "$T/$r_n" --sensor "detect-$r_n" "$@" 2>"$T/$r_n.err"
}

# expect NAME GOT WANT: PASS when the detector alert lists are equal
expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got [$(echo "$2" | tr '\n' ';')] want [$(echo "$3" | tr '\n' ';')]"
	fi
}

# ------------------------------------------------------------ quiet
run demo "$ROOT/pcaps/demo-plant.pcap" "$ROOT/etc/zones.yaml"
expect "quiet: demo-plant.pcap raises no detector alert" \
	"$(detector_alerts "$T/demo/eve.json")" ""
if [ -s "$T/demo/eve.json" ]; then
	pass "quiet: demo-plant.pcap still raises its policy alerts"
else
	fail "quiet: demo-plant.pcap still raises its policy alerts" "no eve.json"
fi

# The shared captures of normal polling: file | why it is normal.  The
# others are engineering sessions (going online, downloads: in a plant
# they come from hozen), fuzzed or one-of-every-function samples, a
# benchmark (libnodave's bench: 240 writes a second, a write flood by
# any measure) or the scan below.
NORMAL=$(cat <<'EOF'
ICS-Security-Tools/modbus_test.pcap|FC 4 polling and FC 6 writes, 5 clients, 2 minutes
ICS-Security-Tools/modbus_test_2.pcap|FC 3/4 polling, 122 connections picked up mid-stream
ICS-Security-Tools/modbusBig.pcap|a coil read/write loop, 24 writes a second for a minute
ICS-Security-Tools/modbusSmall.pcap|FC 1 and FC 15, 16 short connections
nDPI/modbus.pcap|FC 3 polling
ICS-Security-Tools/s7comm_clean.pcap|S7 read var polling, 5262 PDUs
ICS-Security-Tools/wincc_s300_setup-alarm-read-write.pcapng|a WinCC HMI: reads, writes, one SZL
ICS-Security-Tools/wincc_s300_setup-alarm-read.pcapng|a WinCC HMI: reads, alarms
ICS-Security-Tools/wincc_s300_setup-alarm-read_2.pcapng|a WinCC HMI: reads, alarms
icsnpp-s7comm/s7comm_plus.pcap|S7 read/write var
icsnpp-bacnet/bacnet_example.pcap|ReadProperty polling, I-Am, 90 errors over the capture
icsnpp-bacnet/bacnet_services.pcap|ReadProperty polling, 7153 APDUs
hilti/read-properties.pcap|ReadProperty polling with a few errors
nDPI/bacnet.pcap|Who-Is/I-Am and ReadProperty
EOF
)
if ! have_shared; then
	skip "quiet: shared polling captures" "../shared/pcaps is not there (a fresh clone without shared/)"
else
	printf 'zones:\n  - { id: plant, archetype: seigyo, strength: high, networks: [0.0.0.0/0] }\n' \
		>"$T/all.yaml"
	while IFS='|' read -r f why; do
		if [ ! -f "$PCAPS/$f" ]; then
			fail "quiet: $f" "missing from ../shared/pcaps"
			continue
		fi
		run shared "$PCAPS/$f" "$T/all.yaml"
		expect "quiet: $f ($why): no detector alert" \
			"$(detector_alerts "$T/shared/eve.json")" ""
	done <<EOF
$NORMAL
EOF
	# ------------------------------------------------------------ wild
	run wild "$PCAPS/arkime/modbus.pcap" "$T/all.yaml"
	expect "wild: arkime/modbus.pcap's function-code scan: modbus.scan once" \
		"$(detector_alerts "$T/wild/eve.json")" "1 modbus.scan plant plant"
fi

# ------------------------------------------------------------ generated
if [ ! -x "$GEN" ]; then
	fail generated "$GEN is missing (make tools)"
else
	"$GEN" s7-recon "$T/s7-recon.pcap" 2>/dev/null
	run s7recon "$T/s7-recon.pcap" "$ROOT/etc/zones.yaml"
	expect "generated: s7-recon: s7comm.recon once, MES-01 (seisan_kanri), not EWS-01" \
		"$(detector_alerts "$T/s7recon/eve.json")" \
		"1 s7comm.recon seisan_kanri seigyo_line2"
	# the conduit allows seisan_kanri s7comm discover: the detector alone
	n=$(grep -c . "$T/s7recon/eve.json" 2>/dev/null)
	expect "generated: s7-recon: no other alert (the policy allows discovery)" "$n" 1
	src=$(grep s7comm.recon "$T/s7recon/eve.json" | python3 -c \
		'import json,sys; a=json.loads(sys.stdin.readline()); print(a["src_ip"], a["dest_ip"])')
	expect "generated: s7-recon: from 10.3.0.30 to 10.10.2.10" "$src" "10.3.0.30 10.10.2.10"

	"$GEN" port-scan "$T/port-scan.pcap" 2>/dev/null
	run pscan "$T/port-scan.pcap" "$ROOT/etc/zones.yaml"
	expect "generated: port-scan: net.port_scan once per episode (3 passes, 2 episodes)" \
		"$(detector_alerts "$T/pscan/eve.json")" \
		"2 net.port_scan joho seigyo_line1"
	when=$(grep '"net.port_scan"' "$T/pscan/eve.json" | python3 -c '
import json, sys
print(" ".join(json.loads(l)["timestamp"][11:19] for l in sys.stdin))')
	expect "generated: port-scan: raised in the first and the third pass" \
		"$when" "08:00:21 08:07:01"
	# the same with the settings file: a stricter zone threshold raises
	# nothing new, a looser one nothing at all
	printf 'detect:\n  port_scan_pairs: 200\n' >"$T/loose.yaml"
	run pscan2 "$T/port-scan.pcap" "$ROOT/etc/zones.yaml" --config "$T/loose.yaml"
	expect "generated: port-scan: port_scan_pairs 200 (more than a pass tries): nothing" \
		"$(detector_alerts "$T/pscan2/eve.json")" ""
fi

# ------------------------------------------------------------ live
N=live
live_ready "$N" "$PEER"
case $? in
1) rm -rf "$T"; [ -z "$FAILED" ]; exit ;;
2) exit 1 ;;
esac

A=127.0.0.12  # PLC-DET-A: sweep, function-code scan, floods
U=127.0.0.13  # PLC-DET-B: the unit-id scan (its own client/server pair)
PORT=502
FILTER="tcp port $PORT and (host $A or host $U)"
QUIET=3
cat >"$T/zones-live.yaml" <<EOF
zones:
  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [127.0.0.1/32] }
  - id: plc
    archetype: seigyo
    strength: high
    hosts: [{ name: PLC-DET-A, ip: $A }, { name: PLC-DET-B, ip: $U }]
conduits:
  # everything allowed: the detectors alone have something to say
  - { from: scada, to: plc, allow: [{ protocol: modbus, ops: [any] }] }
EOF
printf 'detect:\n  quiet_period: %s\n' "$QUIET" >"$T/live.yaml"

"$BIN/mimamorid" -i lo -f "$FILTER" --zones "$T/zones-live.yaml" \
	--config "$T/live.yaml" --db "$T/live.db" --log-dir "$T/live" \
	--sensor detect-live >"$T/sensor.out" 2>"$T/sensor.err" &
SENSOR_PID=$!
if wait_for 15 has_line "$T/sensor.err" "listening on lo"; then
	pass "$N: sensor capturing on lo"
else
	fail "$N: sensor capturing on lo" "$(tr '\n' ' ' <"$T/sensor.err")"
	exit 1
fi
if command -v tcpdump >/dev/null 2>&1; then
	tcpdump -i lo -Z root -w "$T/live.pcap" -U "$FILTER" 2>"$T/tcpdump.err" &
	DUMP_PID=$!
	wait_for 5 has_line "$T/tcpdump.err" "listening on" || DUMP_PID=
fi

for ip in $A $U; do
	"$PEER" server "$ip" "$PORT" --map 5000 >"$T/server-$ip.out" 2>&1 &
	SRV_PIDS="$SRV_PIDS $!"
	if wait_for 5 has_line "$T/server-$ip.out" "^ready"; then
		pass "$N: libmodbus server on $ip:$PORT ready"
	else
		fail "$N: libmodbus server on $ip:$PORT ready" "$(tr '\n' ' ' <"$T/server-$ip.out")"
		exit 1
	fi
done

# client IP SCRIPT [options]: its lines in $T/client-SCRIPT-N.out
n_client=0
client() {
	n_client=$((n_client + 1))
	o="$T/client-$2-$n_client.out"
	timeout 60 "$PEER" client "$1" "$PORT" "$2" --rate 300 --seconds 7 >"$o" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$N: client $2 -> $1 ($(grep -c '^req ' "$o") requests)"
	else
		fail "$N: client $2 -> $1" "exit status $rc: $(tail -3 "$o" | tr '\n' ' ')"
	fi
}
# episodes of one detector are apart by more than the quiet period
client $A sweep
client $A scan
client $U units
client $A flood
sleep $((QUIET + 1))
client $A flood

for p in $SRV_PIDS; do kill "$p" 2>/dev/null; wait_for 5 dead "$p"; done
SRV_PIDS=
sleep 0.5
[ -n "$DUMP_PID" ] && kill "$DUMP_PID" 2>/dev/null && wait "$DUMP_PID" 2>/dev/null
DUMP_PID=
kill -INT "$SENSOR_PID"
# an idle link may keep the sensor in its poll (test_live_libmodbus.sh says
# why): connection attempts to the stopped server wake it
nudge() { "$PEER" client $A "$PORT" reads >/dev/null 2>&1; dead "$SENSOR_PID"; }
wait_for 3 dead "$SENSOR_PID" || wait_for 10 nudge
if wait_for 30 dead "$SENSOR_PID"; then
	wait "$SENSOR_PID"
	rc=$?
	SENSOR_PID=
	expect "$N: sensor exits 0 on SIGINT" "$rc" 0
else
	fail "$N: sensor exits 0 on SIGINT" "still running"
	kill -KILL "$SENSOR_PID" 2>/dev/null
	exit 1
fi
if grep -q 'kernel drops 0 ' "$T/sensor.err"; then
	pass "$N: stats: 0 kernel drops"
else
	fail "$N: stats: 0 kernel drops" "$(grep 'kernel drops' "$T/sensor.err")"
fi

LIVE_WANT=$(cat <<'EOF'
1 modbus.exception_storm scada plc
1 modbus.register_sweep scada plc
2 modbus.scan scada plc
2 modbus.write_flood scada plc
EOF
)
got=$(detector_alerts "$T/live/eve.json")
expect "$N: sweep, scan (+ its exception storm), unit scan, two floods: once per episode" \
	"$got" "$LIVE_WANT"
# which scan is which, and what each counted
scans=$(grep '"modbus.scan"' "$T/live/eve.json" 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    a = json.loads(l)
    print(a["dest_ip"], a["alert"]["metadata"]["detector"]["counted"])')
expect "$N: the function-code scan of $A and the unit-id scan of $U" "$scans" \
"$A function codes refused as illegal function
$U distinct unit ids"
n_writes=$(cat "$T"/client-flood-*.out | grep -c '^req ')
pdus=$(grep -o '"signature":"modbus.write_flood"' "$T/live/eve.json" | wc -l | tr -d ' ')
expect "$N: $n_writes writes in two floods, $pdus alerts" "$pdus" 2
# the store holds them too (aggregated rows: summed)
if command -v sqlite3 >/dev/null 2>&1; then
	st=$(sqlite3 -batch -noheader -separator ' ' "$T/live.db" "
		SELECT sum(count), signature FROM alerts WHERE signature IN
		('modbus.scan', 'modbus.register_sweep', 'modbus.write_flood',
		 'modbus.exception_storm') GROUP BY 2 ORDER BY 2")
	expect "$N: store: the same alerts" "$st" "1 modbus.exception_storm
1 modbus.register_sweep
2 modbus.scan
2 modbus.write_flood"
fi

# the recorded traffic, replayed: the packets' own time gives the same
if [ -s "$T/live.pcap" ]; then
	run replay "$T/live.pcap" "$T/zones-live.yaml" --config "$T/live.yaml"
	expect "replay: tcpdump's recording of it raises the same detector alerts" \
		"$(detector_alerts "$T/replay/eve.json")" "$LIVE_WANT"
else
	skip "replay" "tcpdump is not installed or recorded nothing"
fi
[ -z "$FAILED" ]
