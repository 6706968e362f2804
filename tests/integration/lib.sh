# Helpers for integration tests (sourced).  Each check prints one line:
#   PASS: name | FAIL: name: why | SKIP: name: why
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${MM_SHARED:-$ROOT/../shared}
PCAPS=$SHARED/pcaps
# the programs under test: $MM_BIN, else $BIN (make test SANITIZE=1 sets
# build/san/bin), else bin/; relative to the top folder
BIN=${MM_BIN:-${BIN:-bin}}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; FAILED=1; }
skip() { echo "SKIP: $1: $2"; }
# expect_eq NAME GOT WANT: PASS when the two strings are equal
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# check NAME COMMAND...: PASS when the command succeeds
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
have_shared() { [ -d "$PCAPS" ] && [ -f "$PCAPS/INVENTORY.tsv" ]; }
have_tshark() { command -v tshark >/dev/null 2>&1; }
tmpdir() { d=$(mktemp -d /tmp/mm-test.XXXXXX); echo "$d"; }
# cleanup_on_exit VAR...: when the test ends (or is interrupted), kill the
# processes whose PIDs the named variables hold at that moment (empty: none)
# and remove the folder $T
cleanup_on_exit() {
	cleanup_vars="$*"
	trap 'for cv in $cleanup_vars; do eval "for cp in \$$cv; do kill \"\$cp\" 2>/dev/null; done"; done; rm -rf "$T"' EXIT
	trap 'exit 1' INT TERM
}

# live_ready NAME PROGRAM...: may this test capture on lo, with these
# programs built?  0: yes; 1: no, said as a SKIP (the caller ends, its
# earlier checks standing); 2: a program is missing, said as a FAIL
live_ready() {
	lr_name=$1; shift
	if [ "$(id -u)" != 0 ]; then
		skip "$lr_name" "live capture on lo needs root (running as uid $(id -u))"
		return 1
	fi
	if ! ip link show lo >/dev/null 2>&1; then
		skip "$lr_name" "no loopback interface: 'ip link show lo' failed"
		return 1
	fi
	for lr_f in "$@"; do
		if [ ! -x "$lr_f" ]; then
			fail "$lr_name: build" "$lr_f is missing: run 'make tests-build'"
			return 2
		fi
	done
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
# (its status after the last try)
wait_for() {
	w_left=$(($1 * 10)); shift
	while [ "$w_left" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		w_left=$((w_left - 1))
	done
	"$@"
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
# has_line FILE PATTERN: grep -q that is quiet about a missing file
has_line() { grep -q "$2" "$1" 2>/dev/null; }
# sql DB QUERY: one row a line, fields separated by |
sql() { sqlite3 -batch -noheader -separator '|' "$1" "$2"; }

# tshark_diff_all PROTO INVENTORY_COLUMN TSHARK_FILTER --key ours=theirs...
# Runs tshark_diff.py on every ../shared/pcaps file whose inventory column
# (1-based, e.g. 7 = modbus_pdus) is > 0, with the exceptions in
# tests/data/tshark-PROTO-exceptions.tsv.  Skips without shared/ or tshark.
tshark_diff_all() {
	proto=$1 col=$2 filter=$3
	shift 3
	if ! have_shared; then
		skip "tshark_$proto" "../shared/pcaps is not there (a fresh clone without shared/)"
		return 0
	fi
	if ! have_tshark; then
		skip "tshark_$proto" "tshark is not installed (make test installs it)"
		return 0
	fi
	_t=$(tmpdir)
	printf 'zones:\n  - { id: everything, archetype: other, strength: medium, networks: [0.0.0.0/0] }\n' >"$_t/zones.yaml"
	awk -F'\t' -v c="$col" 'NR > 1 && $c > 0 { print $1 }' "$PCAPS/INVENTORY.tsv" |
	while read -r f; do
		python3 "$ROOT/tests/integration/tshark_diff.py" --pcap "$PCAPS/$f" \
			--name "$f" --sensor "$BIN/mimamorid" --zones "$_t/zones.yaml" \
			--work "$_t" --proto "$proto" --filter "$filter" \
			--exceptions "$ROOT/tests/data/tshark-$proto-exceptions.tsv" "$@"
	done
	rm -rf "$_t"
}
