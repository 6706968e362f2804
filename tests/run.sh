#!/bin/sh
# Run every test: the cmocka unit tests (build/tests/test_*) and the
# integration scripts (tests/integration/*.sh).  Integration scripts print
# one line per check:  "PASS: name", "FAIL: name: why", "SKIP: name: why".
# A script that exits non-zero without printing a FAIL line counts as one
# failure.  The last line is the summary CI reads: "N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
BIN=${BIN:-bin}
export B BIN
pass=0 fail=0 skip=0

# MM_SANITIZE=1 (make test SANITIZE=1): every ASan/UBSan report of any
# program goes to a file in $SAN_DIR and counts as a failure at the end.
# The folder is world-writable: the sensor writes there after it dropped
# to an unprivileged user.
if [ "${MM_SANITIZE:-}" = 1 ]; then
	SAN_DIR=$(pwd)/$B/sanitizer-reports
	rm -rf "$SAN_DIR"
	mkdir -p "$SAN_DIR"
	chmod 1777 "$SAN_DIR"
	ASAN_OPTIONS="detect_leaks=1:log_exe_name=1:log_path=$SAN_DIR/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SAN_DIR/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	echo "sanitized run: programs from $BIN, tests from $B/tests, reports in $SAN_DIR"
fi
failed_names=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

only="$*"
selected() {
	[ -z "$only" ] && return 0
	for o in $only; do case "$1" in *"$o"*) return 0 ;; esac; done
	return 1
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	selected "$t" || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $name"
		echo "== $name: $f failed"; grep -v '^ok ' "$log" | head -60
	else
		if [ "$s" -gt 0 ]; then echo "== $name: $p passed, $s skipped"; else echo "== $name: $p passed"; fi
	fi
done

for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	selected "$t" || continue
	name=$(basename "$t" .sh)
	B="$B" sh "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^PASS: ' "$log" | tr -d ' ')
	f=$(grep -c '^FAIL: ' "$log" | tr -d ' ')
	s=$(grep -c '^SKIP: ' "$log" | tr -d ' ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; echo "FAIL: $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	grep -E '^(FAIL|SKIP): ' "$log" | sed "s/^/   /"
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $name"
		echo "== $name: $p passed, $f failed, $s skipped"; tail -40 "$log" | grep -vE '^(PASS|SKIP): '
	else
		echo "== $name: $p passed, $s skipped"
	fi
done

if [ -n "${SAN_DIR:-}" ]; then
	n_rep=0
	for r in "$SAN_DIR"/*; do
		[ -f "$r" ] || continue
		# a report, not only statistics about suppressed leaks
		grep -qE 'ERROR: |runtime error|WARNING: ' "$r" || continue
		n_rep=$((n_rep + 1))
		echo "== sanitizer report $(basename "$r"):"; head -30 "$r"
	done
	if [ "$n_rep" -gt 0 ]; then
		fail=$((fail + n_rep)); failed_names="$failed_names sanitizer-reports($n_rep)"
	else
		pass=$((pass + 1)); echo "== sanitizer reports: none"
	fi
fi

[ -n "$failed_names" ] && echo "failed:$failed_names"
# for .ci/run, which adds up several runs
[ -n "${MM_COUNTS_FILE:-}" ] && echo "$pass $fail $skip" >"$MM_COUNTS_FILE"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
