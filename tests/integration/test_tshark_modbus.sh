#!/bin/sh
# Differential test against tshark: for every ../shared/pcaps file with
# Modbus (INVENTORY.tsv column modbus_pdus > 0), the multiset of
# (frame, tid, unit, function code) in the sensor's modbus.jsonl equals
# tshark's mbtcp.trans_id, mbtcp.unit_id, modbus.func_code per frame,
# except the differences named and explained in
# tests/data/tshark-modbus-exceptions.tsv.
. "$(dirname "$0")/lib.sh"
tshark_diff_all modbus 7 mbtcp \
	--key frame=frame.number --key tid=mbtcp.trans_id \
	--key unit=mbtcp.unit_id --key fc=modbus.func_code
