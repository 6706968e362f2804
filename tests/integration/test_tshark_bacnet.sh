#!/bin/sh
# Differential test against tshark: for every ../shared/pcaps file with
# BACnet (INVENTORY.tsv column bacnet_apdus > 0), the multiset of (frame,
# BVLC function, APDU type, service, invoke id) in the sensor's
# bacnet.jsonl equals tshark's per frame, except the differences named and
# explained in tests/data/tshark-bacnet-exceptions.tsv.  tshark has one
# field for confirmed and one for unconfirmed service choices, our log one
# `service`: the first non-empty of the two is compared.  BVLC-only
# messages (Result, Register-Foreign-Device, BDT/FDT) and network-layer
# messages have no APDU on either side: both give empty type, service and
# invoke id, so they take part as (frame, function) alone.
. "$(dirname "$0")/lib.sh"
tshark_diff_all bacnet 9 bvlc \
	--key frame=frame.number --key bvlc_fn=bvlc.function \
	--key apdu_type=bacapp.type \
	--key 'service=bacapp.confirmed_service|bacapp.unconfirmed_service' \
	--key invoke_id=bacapp.invoke_id
