#!/bin/sh
# pcaps/baseline/make.sh - rewrite the learned-baseline capture
# (`make scenarios` runs it).  The generator writes the same bytes every
# time: tests/integration/test_baseline.sh compares the committed
# capture.pcap with a fresh one.
set -e
cd "$(dirname "$0")/../.."
B=${B:-build}
PCAPGEN=$B/tools/pcapgen
[ -x "$PCAPGEN" ] || { echo "make.sh: $PCAPGEN is missing: run make first" >&2; exit 1; }
"$PCAPGEN" baseline-plant pcaps/baseline/capture.pcap
