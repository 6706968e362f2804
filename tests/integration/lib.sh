# Helpers for integration tests (sourced).  Each check prints one line:
#   PASS: name | FAIL: name: why | SKIP: name: why
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${MM_SHARED:-$ROOT/../shared}
PCAPS=$SHARED/pcaps
BIN=${MM_BIN:-$ROOT/bin}
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; FAILED=1; }
skip() { echo "SKIP: $1: $2"; }
# check NAME COMMAND...: PASS when the command succeeds
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
have_shared() { [ -d "$PCAPS" ] && [ -f "$PCAPS/INVENTORY.tsv" ]; }
have_tshark() { command -v tshark >/dev/null 2>&1; }
tmpdir() { d=$(mktemp -d /tmp/mm-test.XXXXXX); echo "$d"; }
