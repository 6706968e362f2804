#!/bin/sh
# bench/soak.sh - does one sensor stay flat over ten million packets?
#
# A benchmark, not a test: it prints figures and fails only when the
# sensor crashed or exited non-zero.
#
#  1. RSS over time: the bench capture (build/tools/pcapgen bench, 1,000,000
#     packets by default, cached like bench.sh's) is replayed LOOPS times
#     (default 10) into ONE mimamorid through a pipe (-r -), the timestamps
#     of each loop moved past the previous one so capture time only goes
#     forward.  Full pipeline: zones, embedded store, every transaction log.
#     The sensor's VmRSS and open descriptors are sampled every SAMPLE
#     packets (default 250,000); the figure: RSS after the first million
#     packets must stay within 5 % (max/min of the samples from then on),
#     and the descriptor count must not grow.
#  2. Leaks: valgrind --leak-check=full on a shorter run (LEAK_PACKETS,
#     default 200,000 packets of the same capture, seccomp off since
#     valgrind makes its own system calls): definitely lost bytes must be 0.
#
# Environment: PACKETS, LOOPS, SAMPLE, LEAK_PACKETS, MM_BENCH_DIR (cache,
# default /tmp/mimamori-bench), B and BIN (build folders), SOAK_JSON
# (summary, default $MM_BENCH_DIR/soak.json).
set -u
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
BIN=${BIN:-bin}
PACKETS=${PACKETS:-1000000}
LOOPS=${LOOPS:-10}
SAMPLE=${SAMPLE:-250000}
LEAK_PACKETS=${LEAK_PACKETS:-200000}
DIR=${MM_BENCH_DIR:-/tmp/mimamori-bench}
SOAK_JSON=${SOAK_JSON:-$DIR/soak.json}
GEN=$B/tools/pcapgen
PCAP=$DIR/bench-$PACKETS.pcap

for f in "$BIN/mimamorid" "$GEN"; do
	[ -x "$f" ] || { echo "soak: $f is missing: run 'make all'" >&2; exit 2; }
done
mkdir -p "$DIR"
if [ ! -s "$PCAP" ] || [ "$GEN" -nt "$PCAP" ]; then
	echo "soak: generating $PCAP ($PACKETS packets)"
	"$GEN" bench "$PCAP.tmp" --packets "$PACKETS" >/dev/null && mv "$PCAP.tmp" "$PCAP" ||
		{ echo "soak: pcapgen failed" >&2; exit 1; }
fi
work=$(mktemp -d /tmp/mm-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

echo "soak: $LOOPS x $PCAP through one mimamorid (full pipeline, logs on), RSS every $SAMPLE packets"
python3 - "$BIN/mimamorid" "$PCAP" "$LOOPS" "$SAMPLE" "$work" "$SOAK_JSON" <<'EOF'
import json, os, struct, subprocess, sys, time

exe, pcap, loops, sample, work, out_json = sys.argv[1:7]
loops, sample = int(loops), int(sample)
data = open(pcap, "rb").read()
magic = data[:4]
if magic == b"\xd4\xc3\xb2\xa1":
    e = "<"
elif magic == b"\xa1\xb2\xc3\xd4":
    e = ">"
else:
    sys.exit("soak: %s is not a classic microsecond pcap" % pcap)
hdr = data[:24]
# record offsets, first and last timestamps
offs, pos = [], 24
while pos + 16 <= len(data):
    incl = struct.unpack_from(e + "I", data, pos + 8)[0]
    offs.append(pos)
    pos += 16 + incl
n = len(offs)
t0 = struct.unpack_from(e + "I", data, offs[0])[0]
t1 = struct.unpack_from(e + "I", data, offs[-1])[0]
span = t1 - t0 + 60  # each loop starts a minute after the previous ended

def status(pid):
    d = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        d[k] = v.strip()
    return d

p = subprocess.Popen([exe, "-r", "-", "--zones", "etc/zones.yaml",
                      "--db", os.path.join(work, "soak.db"),
                      "--log-dir", os.path.join(work, "logs"),
                      "--sensor", "soak", "-q", "--stats-json"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(os.path.join(work, "sensor.err"), "wb"))
w = p.stdin
w.write(hdr)
samples = []
sent = 0
started = time.time()
chunk = []
for loop in range(loops):
    shift = loop * span
    buf = bytearray()
    for i, o in enumerate(offs):
        end = offs[i + 1] if i + 1 < n else len(data)
        rec = bytearray(data[o:end])
        if shift:
            sec = struct.unpack_from(e + "I", rec, 0)[0]
            struct.pack_into(e + "I", rec, 0, sec + shift)
        buf += rec
        sent += 1
        if sent % sample == 0:
            w.write(buf)
            buf = bytearray()
            w.flush()
            st = status(p.pid)
            fds = len(os.listdir("/proc/%d/fd" % p.pid))
            rss = int(st["VmRSS"].split()[0])
            samples.append((sent, rss, fds, time.time() - started))
            print("  %10d packets  RSS %7.1f MiB  fds %3d  %6.0f s" %
                  (sent, rss / 1024, fds, time.time() - started), flush=True)
    w.write(buf)
w.close()
out = p.stdout.read()
rc = p.wait()
wall = time.time() - started
stats = {}
try:
    stats = json.loads(out.decode().strip().splitlines()[-1])
except Exception:
    pass
after = [s for s in samples if s[0] > 1000000] or samples
lo, hi = min(s[1] for s in after), max(s[1] for s in after)
growth = (hi - lo) / lo * 100 if lo else 0
fd_lo, fd_hi = min(s[2] for s in after), max(s[2] for s in after)
res = {
    "capture": pcap, "loops": loops, "packets_sent": sent,
    "packets_seen": stats.get("packets"), "exit_status": rc,
    "wall_s": round(wall, 1),
    "rss_after_1M_min_mib": round(lo / 1024, 1),
    "rss_after_1M_max_mib": round(hi / 1024, 1),
    "rss_spread_pct": round(growth, 2), "rss_flat_within_5pct": growth <= 5.0,
    "fds_after_1M": [fd_lo, fd_hi], "fds_flat": fd_lo == fd_hi,
    "alerts_raised": (stats.get("alerts") or {}).get("raised"),
    "link_dropped": (stats.get("link") or {}).get("dropped"),
    "samples": [{"packets": s[0], "rss_kib": s[1], "fds": s[2], "t_s": round(s[3], 1)} for s in samples],
}
json.dump(res, open(out_json, "w"), indent=1)
print("soak: %d packets sent, %s seen by the sensor, exit status %d, %.0f s" %
      (sent, stats.get("packets"), rc, wall))
print("soak: RSS after the first million: %.1f .. %.1f MiB (spread %.2f %%: %s)" %
      (lo / 1024, hi / 1024, growth, "within 5 %" if growth <= 5 else "NOT within 5 %"))
print("soak: open descriptors after the first million: %d .. %d (%s)" %
      (fd_lo, fd_hi, "flat" if fd_lo == fd_hi else "CHANGING"))
sys.exit(0 if rc == 0 else 1)
EOF
soak_rc=$?

# ---- valgrind: definitely lost bytes on a shorter run ----
vg_rc=0
if command -v valgrind >/dev/null 2>&1; then
	python3 - "$PCAP" "$LEAK_PACKETS" "$work/short.pcap" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
e = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
pos, n, want = 24, 0, int(sys.argv[2])
while pos + 16 <= len(data) and n < want:
    pos += 16 + struct.unpack_from(e + "I", data, pos + 8)[0]
    n += 1
open(sys.argv[3], "wb").write(data[:pos])
EOF
	echo "soak: valgrind --leak-check=full on the first $LEAK_PACKETS packets (logs on, embedded store)"
	valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file="$work/valgrind.log" \
		"$BIN/mimamorid" -q -r "$work/short.pcap" --zones etc/zones.yaml \
		--db "$work/vg.db" --log-dir "$work/vglogs" --sensor vg --no-seccomp
	vg_rc=$?
	def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 bytes in \2 blocks/p' "$work/valgrind.log")
	ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1 bytes/p' "$work/valgrind.log")
	errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$work/valgrind.log")
	[ -n "$def" ] || def="0 bytes (no leak summary: all heap blocks freed)"
	echo "soak: valgrind: definitely lost ${def}; indirectly lost ${ind:-0 bytes}; ${errs:-?} errors; sensor exit $vg_rc"
	grep -A12 "definitely lost in" "$work/valgrind.log" | head -40
	cp "$work/valgrind.log" "$DIR/soak-valgrind.log"
else
	echo "soak: valgrind is not installed (Debian package valgrind): leak check skipped"
fi
echo "soak: summary in $SOAK_JSON"
[ "$soak_rc" = 0 ] && [ "$vg_rc" != 99 ] && [ "$vg_rc" != 1 ]
