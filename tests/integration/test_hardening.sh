#!/bin/sh
# test_hardening.sh - least privilege, signals and installation:
#
#   - a live sensor on lo, started as root, runs as an unprivileged user
#     with no capability in any thread, under a seccomp filter, and still
#     captures, alerts, logs and stores (a real libmodbus server on
#     127.0.0.9:502, a Modbus client on one long-lived connection);
#   - SIGHUP reloads the zone file without losing that connection's flow
#     (the next request of the same flow is zoned by the new file), a broken
#     file is rejected with file and line and the old zones stay, and the
#     reloads are counted; the same SIGHUP reopens the transaction logs,
#     so logs moved away as logrotate does keep what was written before
#     it and new files take the rest, nothing lost;
#   - SIGTERM: exit 0 with logs, stats and store flushed;
#   - started the way systemd starts it (unprivileged user, CAP_NET_RAW as
#     an ambient capability), it gives the capability up;
#   - --chroot: an offline run in a chroot still logs and stores;
#   - make install DESTDIR=...: binaries, config (never overwritten) and
#     systemd units; systemd-analyze verify on the units.
# The filter killing a forbidden call is tests/unit/test_privdrop.c.
# Needs root for everything but the install; SKIPs otherwise.
. "$(dirname "$0")/lib.sh"

N=hardening
PEER=$ROOT/$B/tests/modbus_peer
PLC=127.0.0.9 # only this test uses it: the filter sees no other test
PORT=502
FILTER="tcp port $PORT and host $PLC"

T=$(tmpdir)
SENSOR_PID= SRV_PID=
cleanup_on_exit SENSOR_PID SRV_PID

# ------------------------------------------------------------ make install
# (no root needed: everything under DESTDIR)
D=$T/dest
if make -s -C "$ROOT" install DESTDIR="$D" PREFIX=/usr/local B="$B" BIN="$BIN" \
	>"$T/install.out" 2>&1; then
	ok=1
	for f in usr/local/bin/mimamorid usr/local/bin/mimamori-store \
		usr/local/bin/mimamori etc/mimamori/zones.yaml \
		etc/mimamori/mimamori.yaml etc/systemd/system/mimamorid.service \
		etc/systemd/system/mimamori-store.service etc/logrotate.d/mimamori; do
		[ -e "$D/$f" ] || { ok=; fail "$N: make install" "$f is missing"; }
	done
	[ -n "$ok" ] && pass "$N: make install DESTDIR puts binaries, config and units in place"
	grep -q "ExecStart=/usr/local/bin/mimamorid" "$D/etc/systemd/system/mimamorid.service" &&
		pass "$N: installed unit runs the installed binary" ||
		fail "$N: installed unit runs the installed binary" "$(grep ExecStart "$D/etc/systemd/system/mimamorid.service")"
	echo "# edited by the plant" >>"$D/etc/mimamori/zones.yaml"
	make -s -C "$ROOT" install DESTDIR="$D" PREFIX=/usr/local B="$B" BIN="$BIN" >>"$T/install.out" 2>&1
	if tail -1 "$D/etc/mimamori/zones.yaml" | grep -q "edited by the plant"; then
		pass "$N: make install again keeps an edited /etc/mimamori/zones.yaml"
	else
		fail "$N: make install again keeps an edited /etc/mimamori/zones.yaml" "it was overwritten"
	fi
	make -s -C "$ROOT" install DESTDIR="$T/dest2" PREFIX=/opt/mm B="$B" BIN="$BIN" >>"$T/install.out" 2>&1
	if [ -x "$T/dest2/opt/mm/bin/mimamorid" ] &&
		grep -q "ExecStart=/opt/mm/bin/mimamorid" "$T/dest2/etc/systemd/system/mimamorid.service"; then
		pass "$N: make install honours PREFIX (binaries and units' ExecStart)"
	else
		fail "$N: make install honours PREFIX" "$(ls -R "$T/dest2" | head -20 | tr '\n' ' ')"
	fi
else
	fail "$N: make install" "$(tail -5 "$T/install.out" | tr '\n' ' ')"
fi
if command -v systemd-analyze >/dev/null 2>&1 && [ -f "$D/etc/systemd/system/mimamorid.service" ]; then
	# verify the installed units against the installed binaries
	for u in mimamorid mimamori-store; do
		sed "s|/usr/local/bin/|$D/usr/local/bin/|g" "$D/etc/systemd/system/$u.service" >"$T/$u.service"
		if systemd-analyze verify "$T/$u.service" >"$T/verify-$u.out" 2>&1; then
			pass "$N: systemd-analyze verify $u.service"
		else
			fail "$N: systemd-analyze verify $u.service" "$(tr '\n' ' ' <"$T/verify-$u.out" | head -c 400)"
		fi
	done
else
	skip "$N: systemd-analyze verify" "systemd-analyze is not installed (Debian package systemd)"
fi

live_ready "$N: privilege drop" "$BIN/mimamorid" "$PEER"
case $? in
1) exit 0 ;;
2) exit 1 ;;
esac

# who the sensor must become: mimamori if that user exists, else nobody
if id mimamori >/dev/null 2>&1; then WANT_USER=mimamori; else WANT_USER=nobody; fi
WANT_UID=$(id -u "$WANT_USER")

# zones: the folder must be searchable by the unprivileged user (reload)
mkdir -p "$T/zones"
chmod 755 "$T/zones"
cat >"$T/zones/a.yaml" <<'EOF'
site: hardening bench
zones:
  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [127.0.0.1/32] }
  - { id: plc, archetype: seigyo, strength: high, hosts: [{ name: PLC-H, ip: 127.0.0.9 }] }
conduits:
  - { from: scada, to: plc, allow: [{ protocol: modbus, ops: [read] }] }
EOF
# after the reload: the client is an engineering station that may write
cat >"$T/zones/b.yaml" <<'EOF'
site: hardening bench
zones:
  - { id: eng, archetype: hozen, strength: medium, networks: [127.0.0.1/32] }
  - { id: plc, archetype: seigyo, strength: high, hosts: [{ name: PLC-H, ip: 127.0.0.9 }] }
conduits:
  - { from: eng, to: plc, allow: [{ protocol: modbus, ops: [read, write] }] }
EOF
printf 'zones:\n  - id: broken\n    strength: sehr hoch\n' >"$T/zones/broken.yaml"
cp "$T/zones/a.yaml" "$T/zones/zones.yaml"
chmod 644 "$T"/zones/*.yaml

"$BIN/mimamorid" -i lo -f "$FILTER" --zones "$T/zones/zones.yaml" --db "$T/live.db" \
	--log-dir "$T/logs" --sensor hardening >"$T/sensor.out" 2>"$T/sensor.err" &
SENSOR_PID=$!
if wait_for 15 has_line "$T/sensor.err" "listening on lo"; then
	pass "$N: sensor capturing on lo"
else
	fail "$N: sensor capturing on lo" "$(tr '\n' ' ' <"$T/sensor.err")"
	exit 1
fi

# ---- what the running sensor is allowed ----
st=/proc/$SENSOR_PID/status
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")
expect_eq "$N: sensor runs as $WANT_USER (real, effective, saved, fs uid)" "$uids" \
	"$WANT_UID $WANT_UID $WANT_UID $WANT_UID"
gids=$(awk '/^Gid:/ { print $2 }' "$st")
[ "$gids" != 0 ] && pass "$N: sensor's gid is not root ($gids)" || fail "$N: sensor's gid is not root" "gid 0"
groups=$(awk '/^Groups:/ { $1 = ""; print }' "$st")
case " $groups " in
*" 0 "*) fail "$N: no root supplementary group" "Groups:$groups" ;;
*) pass "$N: no root supplementary group (Groups:$groups)" ;;
esac
bad=
ntask=0
for ts in /proc/$SENSOR_PID/task/*/status; do
	ntask=$((ntask + 1))
	for k in CapEff CapPrm CapInh CapAmb; do
		v=$(awk -v k="$k:" '$1 == k { print $2 }' "$ts")
		[ "$v" = 0000000000000000 ] || bad="$bad $(basename "$(dirname "$ts")"):$k=$v"
	done
	[ "$(awk '/^Uid:/ { print $2 }' "$ts")" = 0 ] && bad="$bad uid0"
done
if [ -z "$bad" ] && [ "$ntask" -gt 1 ]; then
	pass "$N: CapEff, CapPrm, CapInh, CapAmb 0 in all $ntask threads"
else
	fail "$N: no capability in any thread" "$ntask threads;$bad"
fi
expect_eq "$N: seccomp filter on (Seccomp: 2)" "$(awk '/^Seccomp:/ { print $2 }' "$st")" 2
expect_eq "$N: no_new_privs set" "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")" 1
if grep -q "running as $WANT_USER (uid $WANT_UID" "$T/sensor.err"; then
	pass "$N: sensor says whom it runs as"
else
	fail "$N: sensor says whom it runs as" "$(tr '\n' ' ' <"$T/sensor.err")"
fi

# ---- a real server and one long-lived client connection ----
"$PEER" server $PLC $PORT >"$T/server.out" 2>&1 &
SRV_PID=$!
if ! wait_for 5 has_line "$T/server.out" "^ready"; then
	fail "$N: libmodbus server on $PLC:$PORT" "$(tr '\n' ' ' <"$T/server.out")"
	exit 1
fi

# The client writes one register, then asks the test to reload (SIGHUP
# after swapping the file), writes again on the same connection, then the
# same with a broken file.  It waits for the sensor's own line about each
# reload before the next request.
cat >"$T/client.py" <<'EOF'
import os, signal, socket, struct, sys, time
pid, err, zdir, logs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.9", 502), timeout=5)
def write_reg(tid, value):
    # MBAP (tid, protocol 0, length 6, unit 1) + FC 6 address 10
    s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 6, 10, value))
    rsp = s.recv(260)
    assert len(rsp) >= 8 and struct.unpack(">H", rsp[:2])[0] == tid, rsp
def wait_line(text, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if text in open(err, encoding="utf-8", errors="replace").read():
            return True
        time.sleep(0.1)
    return False
def swap(name):
    data = open(os.path.join(zdir, name), "rb").read()
    tmp = os.path.join(zdir, ".zones.new")
    open(tmp, "wb").write(data)
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(zdir, "zones.yaml"))  # as editors do
write_reg(1, 111)
time.sleep(0.5)
# logrotate's way: move the logs away, then SIGHUP
for name in ("modbus.jsonl", "eve.json"):
    os.rename(os.path.join(logs, name), os.path.join(logs, name + ".1"))
swap("b.yaml"); os.kill(pid, signal.SIGHUP)
print("reload", wait_line("zones reloaded"))
print("reopen", wait_line("transaction logs reopened"))
write_reg(2, 222)
time.sleep(0.5)
swap("broken.yaml"); os.kill(pid, signal.SIGHUP)
print("rejected", wait_line("reload rejected"))
write_reg(3, 333)
time.sleep(0.5)
s.close()
print("done")
EOF
timeout 60 python3 "$T/client.py" "$SENSOR_PID" "$T/sensor.err" "$T/zones" "$T/logs" >"$T/client.out" 2>&1
rc=$?
expect_eq "$N: client: three writes on one connection across two SIGHUPs" "$rc:$(tr '\n' ' ' <"$T/client.out")" \
	"0:reload True reopen True rejected True done "
if grep -q "reload rejected: .*broken.yaml:3:\|reload rejected: .*zones.yaml:3:" "$T/sensor.err"; then
	pass "$N: broken zone file rejected with file and line"
else
	fail "$N: broken zone file rejected with file and line" "$(grep -i reload "$T/sensor.err" | tr '\n' ' ')"
fi
if kill -0 "$SENSOR_PID" 2>/dev/null; then
	pass "$N: sensor alive after two reloads"
else
	fail "$N: sensor alive after two reloads" "it died: $(tail -3 "$T/sensor.err" | tr '\n' ' ')"
fi

# the port is quiet now: what the sensor logged is on disk within a second
# or two (written out once a second), while it still runs
lines4() { [ "$(grep -c . "$T/logs/modbus.jsonl" 2>/dev/null)" = 4 ]; }
if wait_for 5 lines4 && kill -0 "$SENSOR_PID" 2>/dev/null; then
	pass "$N: quiet port: the 4 records since the SIGHUP are on disk while the sensor runs"
else
	fail "$N: quiet port: records on disk while the sensor runs" \
		"$(grep -c . "$T/logs/modbus.jsonl" 2>&1) lines in modbus.jsonl"
fi

kill "$SRV_PID" 2>/dev/null; wait_for 5 dead "$SRV_PID"; SRV_PID=
sleep 0.5

# ---- SIGTERM: flush and exit 0 ----
kill -TERM "$SENSOR_PID"
if wait_for 40 dead "$SENSOR_PID"; then
	wait "$SENSOR_PID"
	rc=$?
	SENSOR_PID=
	expect_eq "$N: sensor exits 0 on SIGTERM" "$rc" 0
else
	fail "$N: sensor exits 0 on SIGTERM" "still running 40 s after SIGTERM"
	kill -KILL "$SENSOR_PID"
	exit 1
fi
if grep -q "not acknowledged" "$T/sensor.err"; then
	fail "$N: every record acknowledged by the store at exit" "$(grep acknowledged "$T/sensor.err")"
else
	pass "$N: every record acknowledged by the store at exit"
fi

# ---- what it captured, logged, stored ----
LOG=$T/logs/modbus.jsonl
reqs=$(python3 -c 'import json,sys
rs=[json.loads(l) for f in sys.argv[1:] for l in open(f)]
q=[r for r in rs if r["direction"]=="request"]
print(len(rs), len(set(r["flow_id"] for r in rs)), " ".join(str(r["src_zone"]) for r in q))' "$LOG.1" "$LOG" 2>&1)
# 3 requests + 3 responses, one flow throughout; zones: before the reload,
# after it, and after the rejected file (the reloaded zones stay)
expect_eq "$N: one flow kept across reloads, re-zoned by the new file, kept by the broken one" \
	"$reqs" "6 1 scada eng eng"
# the moved log got the first write (request and response), still buffered
# when it was moved; the new one the two after the SIGHUP
values() { python3 -c 'import json,sys
print(" ".join(r["direction"][:3] + ":" + str(r.get("values", r.get("value", "?"))) for r in map(json.loads, open(sys.argv[1]))))' "$1" 2>&1; }
expect_eq "$N: SIGHUP: the moved modbus.jsonl holds the write before it" \
	"$(values "$LOG.1")" "req:111 res:111"
expect_eq "$N: SIGHUP: a new modbus.jsonl holds the writes after it" \
	"$(values "$LOG")" "req:222 res:222 req:333 res:333"
expect_eq "$N: SIGHUP: eve.json moved away, the alert before it inside, a new one made" \
	"$(grep -c zone.op_not_allowed "$T/logs/eve.json.1" 2>&1):$([ -f "$T/logs/eve.json" ] && echo new)" "1:new"
if grep -q "log write errors 0, lines dropped for a full disk queue 0, logs reopened on SIGHUP 2" "$T/sensor.err"; then
	pass "$N: both SIGHUPs reopened the logs, no write error"
else
	fail "$N: both SIGHUPs reopened the logs, no write error" "$(grep "log records" "$T/sensor.err")"
fi
got=$(sql "$T/live.db" "SELECT signature, src_zone, dest_zone, sum(count) FROM alerts GROUP BY 1, 2, 3")
expect_eq "$N: store: only the write before the reload is outside the conduit" \
	"$got" "zone.op_not_allowed|scada|plc|1"
stats=$(python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(d["zone_reloads"]["done"], d["zone_reloads"]["rejected"], d["pdus"]["modbus"], d["log_errors"])' "$T/logs/stats.jsonl" 2>&1)
expect_eq "$N: stats: 1 reload, 1 rejected, 6 Modbus PDUs, no log error" "$stats" "1 1 6 0"
owner=$(stat -c %U "$T/logs" "$LOG" | sort -u | tr '\n' ' ')
expect_eq "$N: the log folder it created belongs to $WANT_USER" "$owner" "$WANT_USER "

# ---- started the systemd way: unprivileged, CAP_NET_RAW ambient ----
if command -v setpriv >/dev/null 2>&1; then
	mkdir -p "$T/amb"
	chown "$WANT_USER" "$T/amb"
	chmod 755 "$T"
	setpriv --reuid="$WANT_UID" --regid="$(id -g "$WANT_USER")" --clear-groups \
		--inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
		"$BIN/mimamorid" -i lo -f "$FILTER" --zones "$T/zones/a.yaml" \
		--db "$T/amb/amb.db" --sensor amb 2>"$T/amb.err" &
	SENSOR_PID=$!
	if wait_for 15 has_line "$T/amb.err" "listening on lo"; then
		caps=$(awk '/^CapEff:|^CapPrm:|^CapAmb:/ { print $2 }' /proc/$SENSOR_PID/status | sort -u)
		expect_eq "$N: started with ambient CAP_NET_RAW, it keeps no capability once capturing" \
			"$caps" 0000000000000000
	else
		fail "$N: started with ambient CAP_NET_RAW" "$(tr '\n' ' ' <"$T/amb.err")"
	fi
	kill -TERM "$SENSOR_PID" 2>/dev/null
	wait_for 20 dead "$SENSOR_PID"
	wait "$SENSOR_PID"
	expect_eq "$N: ... and exits 0 on SIGTERM" "$?" 0
	SENSOR_PID=
	chmod 700 "$T"
else
	skip "$N: ambient capabilities" "setpriv (util-linux) is not installed"
fi

# ---- --chroot: an offline run inside a jail still logs and stores ----
"$ROOT/$B/tools/pcapgen" demo "$T/demo.pcap" 2>/dev/null
mkdir -p "$T/jail"
# (a sanitized build: LeakSanitizer's exit check needs /proc, which the
# jail has not; the other runs check for leaks)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
"$BIN/mimamorid" -r "$T/demo.pcap" --zones "$ROOT/etc/zones.yaml" --db "$T/jail/j.db" \
	--log-dir "$T/jail/logs" --chroot "$T/jail" --sensor jail >"$T/jail.out" 2>"$T/jail.err"
rc=$?
n_alerts=$(sql "$T/jail/j.db" "SELECT count(*) FROM alerts" 2>/dev/null)
n_log=$(grep -c . "$T/jail/logs/modbus.jsonl" 2>/dev/null)
if [ "$rc" = 0 ] && grep -q "chroot $T/jail" "$T/jail.err" && [ "${n_alerts:-0}" -gt 5 ] &&
	[ "${n_log:-0}" -gt 1000 ] && [ -s "$T/jail/logs/stats.jsonl" ]; then
	pass "$N: --chroot: offline run stores $n_alerts alert rows, logs $n_log records"
else
	fail "$N: --chroot" "status $rc, $n_alerts alert rows, $n_log records: $(tr '\n' ' ' <"$T/jail.err" | head -c 300)"
fi
# stdout on a character device: stdio asks whether it is a terminal (an
# ioctl) before --stats-json prints; the filter once killed the sensor here
"$BIN/mimamorid" -q -r "$T/demo.pcap" --zones "$ROOT/etc/zones.yaml" --db "$T/null.db" \
	--stats-json >/dev/null 2>"$T/null.err"
expect_eq "$N: --stats-json to /dev/null under the filter" "$?" 0
# the IEEE registry lies outside the jail: MAC vendors as without it
vendors() { sql "$1" "SELECT count(*) FROM assets WHERE facts LIKE '%\"mac_vendor\":%'" 2>&1; }
v_free=$(vendors "$T/null.db") v_jail=$(vendors "$T/jail/j.db")
if [ "${v_free:-0}" -gt 0 ] 2>/dev/null && [ "$v_jail" = "$v_free" ]; then
	pass "$N: --chroot: MAC vendors of $v_jail assets, as without it"
else
	fail "$N: --chroot: MAC vendors as without it" "$v_jail in the jail, $v_free without"
fi
"$BIN/mimamorid" -q -r "$T/demo.pcap" --zones "$ROOT/etc/zones.yaml" --db "$T/x.db" \
	--log-dir "$T/outside" --chroot "$T/jail" 2>"$T/outside.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "outside --chroot" "$T/outside.err"; then
	pass "$N: --chroot with the log folder outside it is refused"
else
	fail "$N: --chroot with the log folder outside it is refused" "status $rc: $(cat "$T/outside.err")"
fi
"$BIN/mimamorid" -q -r "$T/demo.pcap" --zones "$ROOT/etc/zones.yaml" --db "$T/y.db" \
	--user no-such-user-here 2>"$T/nouser.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "no-such-user-here: no such user" "$T/nouser.err"; then
	pass "$N: --user naming no user is refused"
else
	fail "$N: --user naming no user is refused" "status $rc: $(cat "$T/nouser.err")"
fi

# ---- logrotate with the shipped etc/logrotate.d/mimamori ----
# The shipped file, pointed at this test's folder, user and sensor: a
# replay of the demo plant is rotated half-way; the moved and the new
# modbus.jsonl together hold every record the chroot run above logged.
if command -v logrotate >/dev/null 2>&1; then
	RPID=
	chmod 755 "$T"
	"$BIN/mimamorid" -r "$T/demo.pcap" --realtime --speed 60 --zones "$ROOT/etc/zones.yaml" \
		--db "$T/rot.db" --log-dir "$T/rot" --sensor rot >/dev/null 2>"$T/rot.err" &
	RPID=$!
	sleep 2
	sed -e "s|/var/log/mimamori/|$T/rot/|g" \
	    -e "s|su mimamori mimamori|su $WANT_USER $(id -gn "$WANT_USER")|" \
	    -e "s|systemctl reload mimamorid.service|kill -HUP $RPID|" \
		"$ROOT/etc/logrotate.d/mimamori" >"$T/logrotate.conf"
	if [ "$(grep -c "$T/rot/\|su $WANT_USER \|kill -HUP $RPID" "$T/logrotate.conf")" != 3 ]; then
		fail "$N: logrotate: the shipped file has its path, su and reload lines" "$(cat "$T/logrotate.conf")"
	fi
	logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" >"$T/logrotate.out" 2>&1
	expect_eq "$N: logrotate runs the shipped file" "$?:$(cat "$T/logrotate.out")" "0:"
	wait "$RPID"
	rc=$?
	n1=$(grep -c . "$T/rot/modbus.jsonl.1" 2>/dev/null)
	n2=$(grep -c . "$T/rot/modbus.jsonl" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] &&
		[ $((n1 + n2)) = "$n_log" ] && [ -f "$T/rot/eve.json.1" ] &&
		grep -q "transaction logs reopened" "$T/rot.err"; then
		pass "$N: logrotate mid-run: $n1 + $n2 records in the moved and the new log, as without rotation ($n_log)"
	else
		fail "$N: logrotate mid-run" "status $rc, $n1 + $n2 records, want $n_log in all: $(ls "$T/rot" | tr '\n' ' ') $(grep -i "reopen\|log" "$T/rot.err" | tr '\n' ' ')"
	fi
else
	skip "$N: logrotate with the shipped file" "logrotate is not installed (Debian package logrotate)"
fi
exit 0
