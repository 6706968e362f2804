#!/usr/bin/env python3
"""Differential check of one capture: the sensor's transaction log against
tshark, as multisets of per-PDU key tuples per frame.

  tshark_diff.py --pcap FILE --name REL --sensor BIN --zones Z --work DIR
                 --proto modbus --filter mbtcp --exceptions TSV
                 --key frame=frame.number --key tid=mbtcp.trans_id ...

Each --key OURS=THEIRS pairs a field of DIR/<proto>.jsonl with a tshark
field.  Several PDUs in one frame: tshark lists each field's occurrences
comma-separated; they are zipped by position (a field missing in an
occurrence is empty).  Integers are compared as numbers (tshark prints some
in hex).  With --require FIELD (repeatable), only records of ours that have that
field take part (e.g. rosctr: a COTP connect or an S7comm-plus record,
which tshark 4.0 does not show as s7comm, has none); without it every
record does, as before.  A tshark side may name alternatives, --key service=a|b: per occurrence the
first of them that is not empty (BACnet has one service field for confirmed
and another for unconfirmed services, our log one `service`).  Known
differences are rows of the exceptions file:
  file <TAB> frame, first-last range, or * <TAB> ours|tshark|both <TAB> reason
Prints one line, PASS or FAIL, for tests/run.sh.
"""
import argparse, collections, json, os, subprocess, sys


def norm(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    s = str(v).strip()
    try:
        return str(int(s, 0))
    except ValueError:
        return s


def main():
    ap = argparse.ArgumentParser()
    for a in ("pcap", "name", "sensor", "zones", "work", "proto", "filter", "exceptions"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--key", action="append", required=True)
    ap.add_argument("--require", action="append", default=[])
    o = ap.parse_args()
    keys = [k.split("=", 1) for k in o.key]
    # each key's tshark fields: one, or alternatives separated by |
    alts = [theirs.split("|") for _, theirs in keys]
    tag = "tshark_%s %s" % (o.proto, o.name)
    base = os.path.join(o.work, o.name.replace("/", "_"))
    r = subprocess.run([o.sensor, "-q", "-r", o.pcap, "--zones", o.zones,
                        "--db", base + ".db", "--log-dir", base + ".logs",
                        "--sensor", "diff"], capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: %s: mimamorid exited %d: %s" % (tag, r.returncode, r.stderr.strip()[-200:]))
        return
    ours = collections.Counter()
    log = os.path.join(base + ".logs", o.proto + ".jsonl")
    if os.path.exists(log):
        for line in open(log):
            rec = json.loads(line)
            if any(f not in rec for f in o.require):
                continue
            ours[tuple(norm(rec.get(k)) for k, _ in keys)] += 1
    t = subprocess.run(["tshark", "-r", o.pcap, "-Y", o.filter, "-T", "fields",
                        "-E", "occurrence=a", "-E", "aggregator=,"] +
                       sum((["-e", f] for a in alts for f in a), []),
                       capture_output=True, text=True)
    theirs = collections.Counter()
    for line in t.stdout.splitlines():
        raw = [c.split(",") if c else [] for c in line.split("\t")]
        raw += [[]] * (sum(len(a) for a in alts) - len(raw))
        cols, at = [], 0
        for a in alts:  # first non-empty alternative, per occurrence
            group = raw[at:at + len(a)]
            at += len(a)
            m = max([len(g) for g in group] + [0])
            cols.append([next((g[i] for g in group if i < len(g) and g[i]), "")
                         for i in range(m)])
        frame = cols[0][0] if cols and cols[0] else ""
        n = max([len(c) for c in cols[1:]] + [0])
        for i in range(n):
            tup = [norm(frame)] + [norm(c[i]) if i < len(c) else "" for c in cols[1:]]
            theirs[tuple(tup)] += 1
    exc = {}
    for line in open(o.exceptions):
        if line.startswith("#") or not line.strip():
            continue
        f, frame, side, why = line.rstrip("\n").split("\t", 3)
        if f == o.name:
            exc[frame] = (side, why)
    if "*" in exc:
        print("PASS: %s: %d records ours, %d tshark (whole file excepted: %s)"
              % (tag, sum(ours.values()), sum(theirs.values()), exc["*"][1][:90]))
        return
    def lookup(frame):  # a row for this frame, or a range holding it
        if frame in exc:
            return frame, exc[frame]
        for key, e in exc.items():
            lo, _, hi = key.partition("-")
            if hi and lo.isdigit() and hi.isdigit() and frame.isdigit() and \
                    int(lo) <= int(frame) <= int(hi):
                return key, e
        return frame, None
    bad, used = [], set()
    for side, diff in (("ours", ours - theirs), ("tshark", theirs - ours)):
        for k in sorted(diff):
            row, e = lookup(k[0])
            if e and e[0] in (side, "both"):
                used.add(row)
                continue
            bad.append("%s only: %s" % (side, " ".join("%s=%s" % (n, v) for (n, _), v in zip(keys, k))))
    stale = [fr for fr in exc if fr not in used]
    if bad:
        print("FAIL: %s: %d differences: %s" % (tag, len(bad), "; ".join(bad[:int(os.environ.get("MM_DIFF_SHOW", "6"))])))
    elif stale:
        print("FAIL: %s: listed exception for frame(s) %s no longer occurs" % (tag, ",".join(stale)))
    else:
        print("PASS: %s: %d records equal%s" % (tag, sum(ours.values()),
              (", %d named exception(s)" % len(used)) if used else ""))


if __name__ == "__main__":
    main()
