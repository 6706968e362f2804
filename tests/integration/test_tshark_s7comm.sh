#!/bin/sh
# Differential test against tshark: for every ../shared/pcaps file with
# S7comm (INVENTORY.tsv column s7comm_pdus > 0), the multiset of (frame,
# ROSCTR, PDU reference, job/ack_data function, userdata group and
# sub-function, SZL id) in the sensor's s7comm.jsonl equals tshark's per
# frame, except the differences named and explained in
# tests/data/tshark-s7comm-exceptions.tsv.  Only our S7comm records take
# part (--require rosctr): COTP connect/disconnect records and S7comm-plus
# records have no tshark 4.0 counterpart under the s7comm filter.
. "$(dirname "$0")/lib.sh"
tshark_diff_all s7comm 8 s7comm --require rosctr \
	--key frame=frame.number --key rosctr=s7comm.header.rosctr \
	--key pdu_ref=s7comm.header.pduref --key fc=s7comm.param.func \
	--key ud_group=s7comm.param.userdata.funcgroup \
	--key ud_subfn=s7comm.param.userdata.subfunc \
	--key szl_id=s7comm.data.userdata.szl_id
