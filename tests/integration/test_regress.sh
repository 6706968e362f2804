#!/bin/sh
# test_regress.sh - the captures of pcaps/regress/ (see its README.md), each
# once a bug, through the sensor: what each must do now.  In the sanitized
# pass of `make test` a leak or any other report about them fails the suite
# (tests/run.sh collects the reports of every program).
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
R=$ROOT/pcaps/regress
GEN=$ROOT/$B/tools/pcapgen

# run NAME CAPTURE: the sensor with every log on; status in $T/NAME/rc
run() {
	d=$T/$1
	mkdir -p "$d"
	"$BIN/mimamorid" -r "$2" --zones "$ROOT/etc/zones.yaml" --db "$d/x.db" \
		--log-dir "$d/logs" --sensor regress --stats-json >"$d/stats.json" 2>"$d/err"
	echo $? >"$d/rc"
}
stat() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$T/$1/stats.json" "$2" 2>&1; }

# ---- reconnect.pcap: the same client port, a new SYN two hours later ----
N=regress_reconnect
if [ -x "$GEN" ]; then
	"$GEN" reconnect "$T/reconnect.pcap" 2>/dev/null
	if cmp -s "$T/reconnect.pcap" "$R/reconnect.pcap"; then
		pass "$N: pcapgen reconnect writes the committed capture byte for byte"
	else
		fail "$N: pcapgen reconnect writes the committed capture" "it differs: regenerate it (pcaps/regress/README.md)"
	fi
else
	fail "$N: pcapgen" "$GEN is missing (make tools)"
fi
run reconnect "$R/reconnect.pcap"
expect_eq "$N: exit status" "$(cat "$T/reconnect/rc")" 0
# libnids dropped the first stream for the new SYN: its flow ended with it
expect_eq "$N: tcp.restarted" "$(stat reconnect tcp.restarted)" 1
expect_eq "$N: tcp.streams" "$(stat reconnect tcp.streams)" 2
# two flows, each with its ten polls and answers, transaction ids 1-10
got=$(python3 -c 'import json,sys
rs=[json.loads(l) for l in open(sys.argv[1])]
ids=sorted(set(r["flow_id"] for r in rs))
for i in ids:
    q=[r for r in rs if r["flow_id"]==i]
    print(i, r"%d/%d" % (sum(r["direction"]=="request" for r in q), sum(r["direction"]=="response" for r in q)),
          ",".join(str(r["tid"]) for r in q if r["direction"]=="request"), q[0]["ts"][:13], q[0]["src_port"])' \
	"$T/reconnect/logs/modbus.jsonl" 2>&1 | tr '\n' ';')
expect_eq "$N: two flows, ten polls each, the second at 10:00 from port 50200" "$got" \
	"1 10/10 1,2,3,4,5,6,7,8,9,10 2026-04-01T08 50200;2 10/10 1,2,3,4,5,6,7,8,9,10 2026-04-01T10 50200;"
if grep -q "restarted on the same ports.*: 1" "$T/reconnect/err"; then
	pass "$N: the exit statistics say so"
else
	fail "$N: the exit statistics say so" "$(grep -i "restart" "$T/reconnect/err")"
fi

# ---- fuzz-syn-on-old-stream.pcap: the fuzzer's input, damaged after 4 ----
N=regress_fuzz_syn_on_old_stream
run fuzz "$R/fuzz-syn-on-old-stream.pcap"
expect_eq "$N: exit status" "$(cat "$T/fuzz/rc")" 0
expect_eq "$N: tcp.restarted" "$(stat fuzz tcp.restarted)" 1
expect_eq "$N: the damaged capture is reported" "$(stat fuzz capture_truncated)" True
exit 0
