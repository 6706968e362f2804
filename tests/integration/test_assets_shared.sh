#!/bin/sh
# Assets from the shared captures (issue 6): the identity devices state
# about themselves reaches the inventory intact.  S7 captures with SZL reads
# give the module order number (and firmware, names, serial number); BACnet
# captures with I-Am give vendor ids (and names where our table has them)
# and the device object's model and firmware; the Modbus capture with a
# Read Device Identification response gives vendor and product code.
# Expected values are written out in assets_shared.py, read off tshark's
# decode by hand; the script also checks each against tshark at run time.
. "$(dirname "$0")/lib.sh"
if ! have_shared; then
	skip assets_shared "../shared/pcaps is not there (a fresh clone without shared/)"
	exit 0
fi
if ! have_tshark; then
	skip assets_shared "tshark is not installed (make test installs it)"
	exit 0
fi
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
python3 "$ROOT/tests/integration/assets_shared.py" --pcaps "$PCAPS" \
	--bin "$BIN" --work "$T" || true
