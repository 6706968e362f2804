#!/bin/sh
# tests/both.sh - `make test`: the whole suite twice, first on the plain
# binaries (build/, bin/), then on the ASan/UBSan binaries (build/san),
# where every sanitizer report of any program counts as a failure
# (tests/run.sh).  Both builds exist already (the Makefile made them).
#
# One summary line at the end, for CI: the two passes added up.  A pass
# that dies without counting (run.sh killed) counts as one failure.
# `make test SANITIZE=0` runs the plain pass alone, `SANITIZE=1` the
# sanitized one alone.  Arguments select tests by name, as for run.sh.
cd "$(dirname "$0")/.." || exit 2
c1=$(mktemp) c2=$(mktemp)
trap 'rm -f "$c1" "$c2"' EXIT

echo "=== pass 1 of 2: plain binaries (build/)"
MM_COUNTS_FILE=$c1 B=build BIN=bin MM_SANITIZE= sh tests/run.sh "$@"
echo "=== pass 2 of 2: ASan/UBSan binaries (build/san)"
MM_COUNTS_FILE=$c2 B=build/san BIN=build/san/bin MM_SANITIZE=1 sh tests/run.sh "$@"

total_p=0 total_f=0 total_s=0
for c in "$c1" "$c2"; do
	read -r p f s <"$c" 2>/dev/null
	case "$p$f$s" in
	'' | *[!0-9]*) p=0 f=1 s=0; echo "a pass ended without its counts: one failure" ;;
	esac
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
done
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
