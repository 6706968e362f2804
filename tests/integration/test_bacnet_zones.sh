#!/bin/sh
# BACnet/IP on the example plant's zones (etc/zones.yaml): the capture of
# `pcapgen bacnet-zones` through the sensor, and the exact alerts in the
# store.  BAC-HVAC-01 10.30.0.10 is in setsubi (建屋設備, strength minimum);
# seisan_kanri -> setsubi allows bacnet read and discover only.
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml

if ! "$GEN" bacnet-zones "$T/z.pcap" 2>"$T/gen.err"; then
	fail bacnet_zones_capture "pcapgen: $(cat "$T/gen.err")"
	exit 0
fi
"$BIN/mimamorid" -q -r "$T/z.pcap" --zones "$ZONES" --db "$T/z.db" \
	--log-dir "$T/logs" --sensor test-bacnet 2>"$T/err"
rc=$?
if [ $rc = 0 ]; then pass bacnet_zones_exit_status; else fail bacnet_zones_exit_status "status $rc: $(head -c 200 "$T/err")"; fi

sqlite3 "$T/z.db" "SELECT signature, src_ip, dest_ip, ifnull(src_zone,'-'),
	ifnull(dest_zone,'-'), severity, count,
	ifnull(json_extract(eve, '\$.alert.metadata.event'), '-')
	FROM alerts ORDER BY 1,2,3,8" >"$T/alerts"
cat >"$T/want" <<'W'
op.control|10.30.0.50|10.30.0.10|setsubi|setsubi|4|1|bacnet.device_communication_disabled
op.control|10.30.0.50|10.30.0.10|setsubi|setsubi|4|1|bacnet.reinitialize_device
op.control|172.16.9.9|10.30.0.10|-|setsubi|2|1|bacnet.device_communication_disabled
op.control|172.16.9.9|10.30.0.10|-|setsubi|2|1|bacnet.reinitialize_device
zone.no_conduit|10.1.0.5|10.30.0.255|joho|setsubi|4|1|-
zone.unknown_host|172.16.9.9|10.30.0.10|-|setsubi|4|1|bacnet.reinitialize_device
W
# why each one (rules in daemon/alert.c):
#  op.control from the building workstation 10.30.0.50 (setsubi, same zone
#   as the controller: allowed): ReinitializeDevice warmstart at 70 s and
#   DeviceCommunicationControl disable at 140 s, each carrying its event;
#   allowed control into a minimum zone: 3 + 1 = 4; 70 s apart, so two
#   rows with the store's 60 s aggregation
#  op.control from 172.16.9.9 (in no zone): the same two requests outside
#   any policy: 1 + 1 (minimum zone) = 2
#  zone.unknown_host: 172.16.9.9, once per host: 2 + 2 (minimum) = 4; it
#   rides on the first request it made (the ReinitializeDevice)
#  zone.no_conduit: the BBMD 10.30.0.2 relays a Who-Is of 10.1.0.5 (joho) as a
#   Forwarded-NPDU: zoned by its original source, joho -> setsubi has no
#   conduit, discover into a minimum zone: 2 + 2 = 4.  Zoned by the BBMD it
#   would be setsubi -> setsubi, allowed, no alert.
#  nothing for SCADA-01 10.3.0.10: 25 ReadProperty(Multiple) polls, allowed
if diff "$T/want" "$T/alerts" >"$T/diff"; then
	pass bacnet_zones_alerts_exact
else
	fail bacnet_zones_alerts_exact "store differs from the expected list: $(tr '\n' ' ' <"$T/diff")"
fi

# the Forwarded-NPDU in bacnet.jsonl: its source is the original one
python3 - "$T/logs/bacnet.jsonl" >"$T/fwd" <<'P'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("bvlc_fn") == 4:
        print(r["src_ip"], r["src_zone"], r["dest_ip"], r["dest_zone"],
              r["orig_src_ip"], r["orig_src_port"], r["service_name"])
P
want="10.1.0.5 joho 10.30.0.255 setsubi 10.1.0.5 47808 who_is"
if [ "$(cat "$T/fwd")" = "$want" ]; then
	pass bacnet_forwarded_zoned_by_origin_in_log
else
	fail bacnet_forwarded_zoned_by_origin_in_log "got '$(cat "$T/fwd")', want '$want'"
fi

# SCADA-01's polling is logged (25 requests, 25 answers, all paired)
polls=$(python3 - "$T/logs/bacnet.jsonl" <<'P'
import json, sys
req = ack = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("service") in (12, 14) and r.get("apdu_type") == 0 and r["src_ip"] == "10.3.0.10":
        req += 1
    if r.get("service") in (12, 14) and r.get("apdu_type") == 3 and r.get("paired"):
        ack += 1
print(req, ack)
P
)
if [ "$polls" = "25 25" ]; then pass bacnet_polling_logged_and_paired; else fail bacnet_polling_logged_and_paired "requests/paired answers: $polls"; fi

# the controller's identity, read by SCADA-01, in the asset inventory
facts=$(sqlite3 "$T/z.db" "SELECT json_extract(facts, '\$.facts.bacnet_device_instance') || ' ' ||
	json_extract(facts, '\$.facts.model_name') || ' ' ||
	json_extract(facts, '\$.facts.firmware_revision') || ' ' ||
	json_extract(facts, '\$.facts.vendor_name') FROM assets WHERE ip = '10.30.0.10'")
if [ "$facts" = "3001 AHU-CTRL-300 4.2.1 azbil" ]; then
	pass bacnet_device_facts_in_assets
else
	fail bacnet_device_facts_in_assets "got '$facts'"
fi

# tshark reads every generated message as BACnet, none malformed
if have_tshark; then
	bad=$(tshark -r "$T/z.pcap" -Y '_ws.malformed || _ws.expert.severity >= "warning"' 2>/dev/null | wc -l | tr -d ' ')
	n=$(tshark -r "$T/z.pcap" -Y bvlc 2>/dev/null | wc -l | tr -d ' ')
	ours=$(wc -l <"$T/logs/bacnet.jsonl" | tr -d ' ')
	if [ "$bad" = 0 ] && [ "$n" = "$ours" ] && [ "$n" -gt 0 ]; then
		pass bacnet_zones_capture_clean_in_tshark
	else
		fail bacnet_zones_capture_clean_in_tshark "$bad malformed/warning frames, $n BACnet frames in tshark, $ours records ours"
	fi
else
	skip bacnet_zones_capture_clean_in_tshark "tshark is not installed"
fi
# the committed sample capture: up to date, and its alerts as its README says
"$GEN" bacnet-sample "$T/sample.pcap" 2>/dev/null
if cmp -s "$ROOT/pcaps/bacnet/bacnet-sample.pcap" "$T/sample.pcap"; then
	pass bacnet_sample_up_to_date
else
	fail bacnet_sample_up_to_date "pcaps/bacnet/bacnet-sample.pcap differs: run $B/tools/pcapgen bacnet-sample pcaps/bacnet/bacnet-sample.pcap"
fi
"$BIN/mimamorid" -q -r "$ROOT/pcaps/bacnet/bacnet-sample.pcap" --zones "$ZONES" \
	--db "$T/s.db" --log-dir "$T/slogs" --sensor test-bacnet-sample 2>/dev/null
sqlite3 "$T/s.db" "SELECT signature, src_ip, dest_ip, severity, count,
	ifnull(json_extract(eve, '\$.alert.metadata.event'), '-')
	FROM alerts ORDER BY 1,2,3" >"$T/salerts"
cat >"$T/swant" <<'W'
bacnet.time_synchronization|10.30.0.50|10.30.0.255|4|1|-
bacnet.write_property|10.30.0.50|10.30.0.10|4|1|-
op.control|10.30.0.50|10.30.0.10|4|1|bacnet.reinitialize_device
op.control|10.30.0.50|10.30.0.20|4|2|bacnet.device_communication_disabled
W
if diff "$T/swant" "$T/salerts" >"$T/sdiff"; then
	pass bacnet_sample_alerts_exact
else
	fail bacnet_sample_alerts_exact "$(tr '\n' ' ' <"$T/sdiff")"
fi
if have_tshark; then
	bad=$(tshark -r "$ROOT/pcaps/bacnet/bacnet-sample.pcap" -Y '_ws.malformed || _ws.expert.severity >= "warning"' 2>/dev/null | wc -l | tr -d ' ')
	if [ "$bad" = 0 ]; then pass bacnet_sample_clean_in_tshark; else fail bacnet_sample_clean_in_tshark "$bad frames"; fi
fi
exit 0
