#!/bin/sh
# test_sanitize_pcaps.sh - every capture in ../shared/pcaps through the
# sensor built with AddressSanitizer and UndefinedBehaviorSanitizer
# (dissection, zones, alerts into the embedded store, every transaction
# log on): zero reports.  One check per capture that fails, one line for
# the whole set.
#
# Uses $BIN/mimamorid when it is the sanitized build (make test SANITIZE=1),
# else build/san/bin/mimamorid when that exists; SKIPs without either, and
# without ../shared/pcaps.
. "$(dirname "$0")/lib.sh"

N=sanitize_pcaps
if ! have_shared; then
	skip "$N" "../shared/pcaps is not there (a fresh clone without shared/)"
	exit 0
fi
sanitized() { [ -x "$1" ] && ldd "$1" 2>/dev/null | grep -q 'libasan'; }
S=
for c in "$BIN/mimamorid" "$ROOT/build/san/bin/mimamorid"; do
	if sanitized "$c"; then S=$c; break; fi
done
if [ -z "$S" ]; then
	skip "$N" "no ASan/UBSan build of mimamorid: 'make test SANITIZE=1' builds one and runs this"
	exit 0
fi

T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir -p "$T/reports"
chmod 1777 "$T/reports"
printf 'zones:\n  - { id: ot, archetype: seigyo, strength: high, networks: [10.0.0.0/8, 192.168.0.0/16] }\n  - { id: it, archetype: joho, strength: minimum, networks: [0.0.0.0/0] }\nconduits:\n  - { from: it, to: ot, allow: [{ protocol: any, ops: [read] }] }\n' >"$T/zones.yaml"
chmod 644 "$T/zones.yaml"

n=0 bad=0
awk -F'\t' 'NR > 1 { print $1 }' "$PCAPS/INVENTORY.tsv" >"$T/list"
while read -r f; do
	[ -f "$PCAPS/$f" ] || continue
	n=$((n + 1))
	rm -rf "$T/run"
	ASAN_OPTIONS="detect_leaks=1:log_path=$T/reports/asan" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$T/reports/ubsan" \
	LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
		"$S" -q -r "$PCAPS/$f" --zones "$T/zones.yaml" --db "$T/run.db" \
		--log-dir "$T/run" --sensor san >/dev/null 2>"$T/err"
	rc=$?
	rm -f "$T/run.db" "$T/run.db-wal" "$T/run.db-shm"
	reps=$(ls "$T/reports" | wc -l)
	# 0, or 1 for a capture the sensor refuses with a message (a link
	# type it does not read); anything else is a crash or a report
	if [ "$reps" -gt 0 ] || { [ "$rc" != 0 ] && [ "$rc" != 1 ]; } ||
		{ [ "$rc" = 1 ] && ! grep -q "not supported\|truncated\|pcap\|format" "$T/err"; }; then
		bad=$((bad + 1))
		fail "$N: $f" "exit status $rc, $reps report(s): $(cat "$T"/reports/* 2>/dev/null | grep -m3 -E 'ERROR|runtime error|SUMMARY' | tr '\n' ' ') $(head -c 200 "$T/err")"
		rm -f "$T"/reports/*
	fi
done <"$T/list"
if [ "$n" -gt 0 ] && [ "$bad" = 0 ]; then
	pass "$N: $n shared captures under ASan/UBSan, zero reports"
elif [ "$n" = 0 ]; then
	fail "$N" "no capture listed in $PCAPS/INVENTORY.tsv was found"
fi
exit 0
