#!/bin/sh
# test_scenarios.sh - the exercise kit (pcaps/scenarios/) as an end-to-end
# regression suite.
#
#   alerts      every scenario's capture through `mimamorid -r` into a fresh
#               store with the scenario's zone file; the stored alerts,
#               grouped by (signature, source zone, destination zone), must
#               be exactly expected-alerts.json: every expected alert
#               present, at least as severe as min_severity (1 is the
#               highest), with the count when one is given, and nothing
#               else (a false positive fails like a miss).  One line per
#               scenario.  A scenario whose expected-alerts.json has
#               "learn": {"capture": FILE, "before": TIME} first learns
#               (mimamorid --learn, same zones, same sensor name, same
#               store) on FILE (relative to the scenario's folder), cut
#               before TIME (editcap -B) when given: a normal period that
#               must raise nothing.  An expected alert with a "mac" (an
#               asset.new) must name that MAC, and the MAC must not occur
#               in the learning capture.
#   zones       one model factory: every scenario's zones.yaml is
#               zones-plant.yaml or zones-loopback.yaml, and the loopback
#               one is the plant on 127.x.y.z.
#   generator   the generated captures regenerate bit for bit (the merged
#               ones with the committed recording: mergecap).
#   tshark      dissects every packet of every capture without a
#               malformed frame or an error (when tshark is installed).
#   realtime    mimamorid -r --realtime --speed N takes about the capture's
#               duration / N, the alerts arrive during the replay, and
#               they are the same as without pacing.
. "$(dirname "$0")/lib.sh"
. "$ROOT/pcaps/scenarios/lib.sh"

DIR=$ROOT/pcaps/scenarios
GEN=$ROOT/$B/tools/pcapgen
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT

if [ ! -x "$BIN/mimamorid" ]; then
	fail scenarios "$BIN/mimamorid is missing (make)"
	exit 1
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
	fail scenarios "sqlite3 (Debian package sqlite3) is not installed"
	exit 1
fi

# run NAME CAPTURE ZONES DB [mimamorid options]: into the store DB
run() {
	r_name=$1 r_cap=$2 r_zones=$3 r_db=$4
	shift 4
	"$BIN/mimamorid" -q -r "$r_cap" --zones "$r_zones" --db "$r_db" \
		--sensor "scenario-$r_name" "$@" 2>"$T/$r_name.err"
}

# jget FILE PATH: a value of a JSON file ('' when absent)
jget() {
	sqlite3 -batch -noheader :memory: \
		"SELECT json_extract(readfile('$1'), '$2')" 2>/dev/null
}

# fresh_learned NAME DB: a fresh store DB; when the scenario's
# expected-alerts.json names a learning capture, the sensor has learned
# it (in $T/NAME.learn.pcap).  Fails (status 1, the reason in $T/NAME.err)
# when the learning run fails or raises any alert.
fresh_learned() {
	f_name=$1 f_db=$2
	f_dir=$DIR/$f_name
	rm -f "$f_db" "$f_db-wal" "$f_db-shm"
	f_cap=$(jget "$f_dir/expected-alerts.json" '$.learn.capture')
	[ -n "$f_cap" ] || return 0
	f_before=$(jget "$f_dir/expected-alerts.json" '$.learn.before')
	if [ -n "$f_before" ]; then
		editcap -B "$f_before" "$f_dir/$f_cap" "$T/$f_name.learn.pcap" \
			2>"$T/$f_name.err" || return 1
	else
		cp "$f_dir/$f_cap" "$T/$f_name.learn.pcap"
	fi
	run "$f_name" "$T/$f_name.learn.pcap" "$f_dir/zones.yaml" "$f_db" \
		--learn || return 1
	f_n=$(sqlite3 -batch -noheader "$f_db" "SELECT count(*) FROM alerts")
	if [ "$f_n" != 0 ]; then
		echo "learning on $f_cap raised $f_n alerts: not a normal period" \
			>"$T/$f_name.err"
		return 1
	fi
}

# compare DB EXPECTED: nothing when the store holds exactly the expected
# alerts, else one line per difference
compare() {
	sqlite3 -batch -noheader "$1" "
	WITH got AS (
	  SELECT signature AS s, coalesce(src_zone, '-') AS sz,
	         coalesce(dest_zone, '-') AS dz, min(severity) AS sev,
	         sum(count) AS n
	  FROM alerts GROUP BY 1, 2, 3),
	want AS (
	  SELECT json_extract(value, '\$.signature') AS s,
	         coalesce(json_extract(value, '\$.src_zone'), '-') AS sz,
	         coalesce(json_extract(value, '\$.dest_zone'), '-') AS dz,
	         json_extract(value, '\$.min_severity') AS sev,
	         json_extract(value, '\$.count') AS n
	  FROM json_each(readfile('$2'), '\$.alerts'))
	SELECT 'missing ' || w.s || ' ' || w.sz || '->' || w.dz
	  FROM want w LEFT JOIN got g USING (s, sz, dz) WHERE g.s IS NULL
	UNION ALL
	SELECT 'too mild ' || w.s || ' ' || w.sz || '->' || w.dz ||
	       ' (severity ' || g.sev || ', want ' || w.sev || ' or more severe)'
	  FROM want w JOIN got g USING (s, sz, dz) WHERE g.sev > w.sev
	UNION ALL
	SELECT 'count ' || w.s || ' ' || w.sz || '->' || w.dz || ' ' ||
	       g.n || ' (want ' || w.n || ')'
	  FROM want w JOIN got g USING (s, sz, dz)
	  WHERE w.n IS NOT NULL AND g.n != w.n
	UNION ALL
	SELECT 'unexpected ' || g.s || ' ' || g.sz || '->' || g.dz ||
	       ' severity ' || g.sev || ' count ' || g.n
	  FROM got g LEFT JOIN want w USING (s, sz, dz) WHERE w.s IS NULL" 2>&1
}

# ------------------------------------------------------------ zones
if loopback_zones <"$DIR/zones-plant.yaml" | cmp -s - "$DIR/zones-loopback.yaml"; then
	pass "scenarios: zones-loopback.yaml is zones-plant.yaml on 127.x.y.z"
else
	fail "scenarios: zones-loopback.yaml is zones-plant.yaml on 127.x.y.z" \
		"out of date: run make scenarios"
fi

# ------------------------------------------------------------ alerts
for name in $SCENARIOS; do
	d=$DIR/$name
	recipe "$name" || { fail "scenario $name" "not in lib.sh's recipe"; continue; }
	missing=
	for f in capture.pcap zones.yaml expected-alerts.json README.md; do
		[ -f "$d/$f" ] || missing="$missing $f"
	done
	if [ -n "$missing" ]; then
		fail "scenario $name" "missing:$missing"
		continue
	fi
	if ! cmp -s "$d/zones.yaml" "$DIR/zones-$plan.yaml"; then
		fail "scenario $name: zones.yaml" "differs from zones-$plan.yaml (the model factory)"
	fi
	if ! fresh_learned "$name" "$T/$name.db"; then
		fail "scenario $name: learning" "$(tail -3 "$T/$name.err" | tr '\n' ' ')"
		continue
	fi
	if ! run "$name" "$d/capture.pcap" "$d/zones.yaml" "$T/$name.db"; then
		fail "scenario $name: alerts" "mimamorid failed: $(tail -3 "$T/$name.err" | tr '\n' ' ')"
		continue
	fi
	why=$(compare "$T/$name.db" "$d/expected-alerts.json")
	# an asset.new names the expected MAC, one the learning never saw
	macs=$(sqlite3 -batch -noheader :memory: "SELECT json_extract(value, '\$.mac')
		FROM json_each(readfile('$d/expected-alerts.json'), '\$.alerts')
		WHERE json_extract(value, '\$.mac') IS NOT NULL")
	for mac in $macs; do
		got=$(sqlite3 -batch -noheader "$T/$name.db" "SELECT
			json_extract(eve, '\$.alert.metadata.baseline.mac') FROM alerts
			WHERE signature = 'asset.new'" | tr '\n' ' ')
		[ "$got" = "$mac " ] || why="${why:+$why
}asset.new names '$got', want $mac"
		if [ -f "$T/$name.learn.pcap" ] &&
			tcpdump -e -n -r "$T/$name.learn.pcap" 2>/dev/null | grep -qi "$mac"; then
			why="${why:+$why
}$mac occurs in the learning capture: it is not new"
		fi
	done
	n=$(sqlite3 -batch -noheader "$T/$name.db" "SELECT count(*) || ' rows, ' ||
		coalesce(sum(count), 0) || ' alerts' FROM alerts")
	if [ -z "$why" ]; then
		pass "scenario $name: alerts as expected ($n)"
	else
		fail "scenario $name: alerts" "$(printf '%s\n' "$why" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
	fi
done

# ------------------------------------------------------------ generator
if [ ! -x "$GEN" ]; then
	fail "scenarios: generator" "$GEN is missing (make tools)"
else
	for name in $SCENARIOS; do
		recipe "$name"
		[ -n "$gen" ] || continue
		d=$DIR/$name
		if ! "$GEN" "$gen" "$T/gen.pcap" 2>"$T/gen.err"; then
			fail "scenario $name: regenerated" "$(cat "$T/gen.err")"
			continue
		fi
		what="regenerated bit for bit"
		if [ -n "$live" ]; then
			if ! command -v mergecap >/dev/null 2>&1; then
				skip "scenario $name: $what" "mergecap (wireshark-common) is not installed"
				continue
			fi
			mergecap -F pcap -w "$T/merged.pcap" "$d/recorded.pcap" "$T/gen.pcap"
			mv "$T/merged.pcap" "$T/gen.pcap"
			what="$what ($gen merged with recorded.pcap)"
		fi
		if cmp -s "$T/gen.pcap" "$d/capture.pcap"; then
			pass "scenario $name: $what"
		else
			fail "scenario $name: $what" "capture.pcap is out of date: run make scenarios"
		fi
	done
fi

# ------------------------------------------------------------ tshark
if have_tshark; then
	for name in $SCENARIOS; do
		c=$DIR/$name/capture.pcap
		[ -f "$c" ] || continue
		frames=$(tshark -r "$c" -T fields -e frame.number 2>/dev/null | wc -l)
		bad=$(tshark -r "$c" -Y '_ws.malformed || _ws.expert.severity >= "error"' \
			-T fields -e frame.number 2>/dev/null | tr '\n' ' ')
		if [ "$frames" -gt 0 ] && [ -z "$bad" ]; then
			pass "scenario $name: tshark dissects all $frames frames, none malformed"
		else
			fail "scenario $name: tshark" "$frames frames; malformed or in error: ${bad:-(none read)}"
		fi
	done
else
	skip "scenarios: tshark" "tshark is not installed (make test installs it)"
fi

# ------------------------------------------------------------ realtime
# rogue-laptop: 40 s of capture, the laptop's download at about 21 s.
# At --speed 10 the replay takes about 4 s, and after 1 s (capture time
# 10 s) the store has no alert yet.
R=rogue-laptop
d=$DIR/$R
first=$(tcpdump -r "$d/capture.pcap" -tt -n 2>/dev/null | head -1 | cut -d' ' -f1)
last=$(tcpdump -r "$d/capture.pcap" -tt -n 2>/dev/null | tail -1 | cut -d' ' -f1)
if [ -z "$first" ]; then
	skip "realtime" "tcpdump cannot read $d/capture.pcap (is it installed?)"
else
	dur=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b - a }')
	speed=10
	# the same learning first (asset.new needs a baseline)
	fresh_learned "$R" "$T/rt.db" ||
		fail "realtime: learning" "$(tail -3 "$T/$R.err" | tr '\n' ' ')"
	start=$(date +%s.%N)
	"$BIN/mimamorid" -q -r "$d/capture.pcap" --zones "$d/zones.yaml" \
		--db "$T/rt.db" --sensor "scenario-$R" --realtime --speed $speed \
		2>"$T/rt.err" &
	rt_pid=$!
	sleep 1
	early=$(sqlite3 -batch -noheader "$T/rt.db" "SELECT count(*) FROM alerts" 2>/dev/null)
	wait $rt_pid
	rc=$?
	took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	want=$(awk -v d="$dur" -v s=$speed 'BEGIN { printf "%.2f", d / s }')
	if [ "$rc" -eq 0 ] && awk -v t="$took" -v w="$want" \
		'BEGIN { exit !(t >= 0.9 * w && t <= w + 5) }'; then
		pass "realtime: --speed $speed replays $dur s of capture in $took s (about $want)"
	else
		fail "realtime: --speed $speed" "exit $rc, took $took s for $dur s of capture (want about $want): $(tr '\n' ' ' <"$T/rt.err")"
	fi
	if [ "${early:-0}" -eq 0 ]; then
		pass "realtime: no alert yet 1 s into the replay (the download comes at about 2 s)"
	else
		fail "realtime: alerts arrive as the replay goes" "$early alerts after 1 s: not paced"
	fi
	why=$(compare "$T/rt.db" "$d/expected-alerts.json")
	if [ -z "$why" ]; then
		pass "realtime: the replay stores the alerts a plain run does"
	else
		fail "realtime: the replay stores the alerts a plain run does" "$why"
	fi
fi
if "$BIN/mimamorid" -i lo --realtime 2>"$T/rt-live.err"; then
	fail "realtime: refused on a live capture" "mimamorid -i lo --realtime ran"
elif grep -q 'go with -r' "$T/rt-live.err"; then
	pass "realtime: refused on a live capture (-i)"
else
	fail "realtime: refused on a live capture" "$(cat "$T/rt-live.err")"
fi

[ -z "$FAILED" ]
