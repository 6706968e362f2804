#!/bin/sh
# Differential test against tshark: for every ../shared/pcaps file with
# Modbus (INVENTORY.tsv column modbus_pdus > 0), the multiset of
# (frame, tid, unit, function code) in the sensor's modbus.jsonl equals
# tshark's mbtcp.trans_id, mbtcp.unit_id, modbus.func_code per frame,
# except the differences named and explained in
# tests/data/tshark-modbus-exceptions.tsv.
. "$(dirname "$0")/lib.sh"
if ! have_shared; then
	skip tshark_modbus "../shared/pcaps is not there (a fresh clone without shared/)"
	exit 0
fi
if ! have_tshark; then
	skip tshark_modbus "tshark is not installed (make test installs it)"
	exit 0
fi
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
cat >"$T/zones.yaml" <<'Z'
zones:
  - { id: everything, archetype: other, strength: medium, networks: [0.0.0.0/0] }
Z
awk -F'\t' 'NR > 1 && $7 > 0 { print $1 }' "$PCAPS/INVENTORY.tsv" >"$T/files"
while read -r f; do
	b=$(echo "$f" | tr '/' '_')
	if ! "$BIN/mimamorid" -q -r "$PCAPS/$f" --zones "$T/zones.yaml" \
		--db "$T/$b.db" --log-dir "$T/$b.logs" --sensor diff 2>"$T/$b.err"; then
		fail "tshark_modbus $f" "mimamorid exited non-zero: $(tail -2 "$T/$b.err")"
		continue
	fi
	tshark -r "$PCAPS/$f" -Y mbtcp -T fields -e frame.number \
		-e mbtcp.trans_id -e mbtcp.unit_id -e modbus.func_code \
		>"$T/$b.tshark" 2>/dev/null
	python3 - "$f" "$T/$b.logs/modbus.jsonl" "$T/$b.tshark" \
		"$ROOT/tests/data/tshark-modbus-exceptions.tsv" <<'PY'
import collections, json, os, sys
name, ours_path, theirs_path, exc_path = sys.argv[1:5]
ours = collections.Counter()
if os.path.exists(ours_path):
    for line in open(ours_path):
        r = json.loads(line)
        ours[(int(r["frame"]), int(r["tid"]), int(r["unit"]), int(r["fc"]))] += 1
theirs = collections.Counter()
for line in open(theirs_path):
    p = line.rstrip("\n").split("\t")
    if len(p) < 4 or not p[1]:
        continue
    t, u = p[1].split(","), p[2].split(",")
    fc = p[3].split(",") if p[3] else []
    for i in range(len(t)):
        # several PDUs in one frame: tshark lists each field comma-separated
        if i < len(u) and i < len(fc) and fc[i]:
            theirs[(int(p[0]), int(t[i]), int(u[i]), int(fc[i]))] += 1
exc = {}
for line in open(exc_path):
    if line.startswith("#") or not line.strip():
        continue
    f, frame, side, why = line.rstrip("\n").split("\t", 3)
    if f == name:
        exc[frame] = (side, why)
if "*" in exc:
    print("PASS: tshark_modbus %s: %d records ours, %d tshark (whole file excepted: %s)"
          % (name, sum(ours.values()), sum(theirs.values()), exc["*"][1][:80]))
    sys.exit(0)
only_ours = ours - theirs
only_theirs = theirs - ours
bad = []
used = set()
for side, diff in (("ours", only_ours), ("tshark", only_theirs)):
    for k in sorted(diff):
        e = exc.get(str(k[0]))
        if e and e[0] in (side, "both"):
            used.add(str(k[0]))
            continue
        bad.append("%s only: frame %d tid %d unit %d fc %d" % ((side,) + k))
stale = [fr for fr in exc if fr not in used]
if bad:
    print("FAIL: tshark_modbus %s: %d differences: %s" % (name, len(bad), "; ".join(bad[:8])))
elif stale:
    print("FAIL: tshark_modbus %s: listed exception for frame(s) %s no longer occurs" % (name, ",".join(stale)))
else:
    print("PASS: tshark_modbus %s: %d records equal%s" % (name, sum(ours.values()),
          (", %d named exception(s)" % len(used)) if used else ""))
PY
done <"$T/files"
