#!/bin/sh
# Run every test: the cmocka unit tests (build/tests/test_*) and the
# integration scripts (tests/integration/*.sh).  Integration scripts print
# one line per check:  "PASS: name", "FAIL: name: why", "SKIP: name: why".
# A script that exits non-zero without printing a FAIL line counts as one
# failure.  The last line is the summary CI reads: "N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
pass=0 fail=0 skip=0
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

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
