#!/bin/sh
# S7comm through the zone policy with the default plant (etc/zones.yaml):
# pcapgen's s7-zones runs the same engineering session (COTP connect,
# Setup Communication, SZL read, read var, PLC STOP, download of DB10)
# from SCADA-01 10.3.0.10 (seisan_kanri: its conduit to seigyo_line2
# allows s7comm read and discover only) and from EWS-01 10.4.0.10 (hozen:
# allowed anything) to PLC-L2-01 10.10.2.10.  The store must hold exactly
# the expected alerts.  Also: the committed sample pcaps/s7comm/ capture is
# up to date and its alerts are the ones its README names, tshark reads the
# generated captures without malformed frames, and the ISO-MMS captures of
# ../shared/pcaps (TPKT/COTP on TCP/102, not S7) give no s7comm record and
# no s7comm alert.
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
GEN=$ROOT/$B/tools/pcapgen
ZONES=$ROOT/etc/zones.yaml

if [ ! -x "$GEN" ]; then
	fail pcapgen_built "$GEN is missing (make tools)"
	exit 0
fi

run() { # NAME CAPTURE [zones]
	z=${3:-$ZONES}
	"$BIN/mimamorid" -q -r "$2" --zones "$z" --db "$T/$1.db" \
		--log-dir "$T/$1" --sensor "test-$1" >"$T/$1.out" 2>"$T/$1.err"
	echo $? >"$T/$1.rc"
}
alerts() { # NAME: the store's alerts, one line each
	sqlite3 "$T/$1.db" "SELECT signature, src_ip, dest_ip, ifnull(src_zone,'-'), ifnull(dest_zone,'-'), severity, count, ifnull(json_extract(eve, '\$.alert.metadata.event'), '-') FROM alerts ORDER BY 1,2,3,6"
}

"$GEN" s7-zones "$T/zones.pcap" 2>/dev/null
run zones "$T/zones.pcap"
expect_eq zones_exit_status "$(cat "$T/zones.rc")" 0
alerts zones >"$T/zones.alerts"
cat >"$T/zones.want" <<'W'
op.control|10.3.0.10|10.10.2.10|seisan_kanri|seigyo_line2|1|1|s7comm.plc_stop
op.control|10.4.0.10|10.10.2.10|hozen|seigyo_line2|3|1|s7comm.plc_stop
op.program|10.3.0.10|10.10.2.10|seisan_kanri|seigyo_line2|1|1|s7comm.block_download
op.program|10.4.0.10|10.10.2.10|hozen|seigyo_line2|3|1|s7comm.block_download
zone.op_not_allowed|10.3.0.10|10.10.2.10|seisan_kanri|seigyo_line2|2|2|s7comm.plc_stop
W
# why each one (daemon/alert.c, etc/zones.yaml, dissectors/s7comm.c):
#  SCADA's SZL read (discover) and read var (read) are allowed: nothing.
#  Setup Communication is session negotiation: no operation, nothing.
#  SCADA's PLC STOP (control) and request download (program) are outside
#   its read/discover conduit: zone.op_not_allowed, severity 2 (process-
#   changing class into a high zone), the two aggregated into one row of
#   count 2 (same signature and ends within the store's 60 s window; the
#   row keeps the first alert's metadata: the STOP's event), and
#   op.control / op.program at severity 1 (outside the policy), carrying
#   s7comm.plc_stop / s7comm.block_download.
#  The download block / download ended jobs are sent by the PLC to pull the
#   block: logged, no operation, nothing.
#  The same from EWS-01 (hozen: any) is allowed: only op.control and
#   op.program at severity 3.
if diff "$T/zones.want" "$T/zones.alerts" >"$T/zones.diff"; then
	pass s7_zones_alerts_exact
else
	fail s7_zones_alerts_exact "store differs: $(tr '\n' ' ' <"$T/zones.diff")"
fi
# every S7 PDU of the capture is in the log: 2 x (setup, SZL, read var,
# STOP, request download, download block, download ended) x 2 directions
n=$(grep -c '"rosctr"' "$T/zones/s7comm.jsonl" 2>/dev/null)
expect_eq s7_zones_records "$n" 28
# the PLC told the sensor what it is (SZL 0x0011): asset facts in the store
facts=$(sqlite3 "$T/zones.db" "SELECT facts FROM assets WHERE ip = '10.10.2.10'")
case $facts in
*'6ES7 315-2EH14-0AB0'*V3.2.6*|*V3.2.6*'6ES7 315-2EH14-0AB0'*) pass s7_asset_facts ;;
*) fail s7_asset_facts "PLC-L2-01 facts: $facts" ;;
esac

# ---- the sample capture: committed, current, its README's alerts ----
"$GEN" s7-session "$T/session.pcap" 2>/dev/null
if cmp -s "$ROOT/pcaps/s7comm/s7-session.pcap" "$T/session.pcap"; then
	pass s7_sample_up_to_date
else
	fail s7_sample_up_to_date "pcaps/s7comm/s7-session.pcap differs: run $B/tools/pcapgen s7-session pcaps/s7comm/s7-session.pcap"
fi
run session "$T/session.pcap"
alerts session >"$T/session.alerts"
cat >"$T/session.want" <<'W'
op.control|10.4.0.10|10.10.2.10|hozen|seigyo_line2|3|1|s7comm.plc_stop
op.program|10.4.0.10|10.10.2.10|hozen|seigyo_line2|3|2|s7comm.block_download
s7comm.cpu_mode_change|10.10.2.10|10.4.0.10|seigyo_line2|hozen|2|1|-
W
if diff "$T/session.want" "$T/session.alerts" >"$T/session.diff"; then
	pass s7_sample_alerts_exact
else
	fail s7_sample_alerts_exact "store differs: $(tr '\n' ' ' <"$T/session.diff")"
fi
# the download block's answer came in two COTP data units: one record
n=$(grep -c '"cotp_fragments":2' "$T/session/s7comm.jsonl" 2>/dev/null)
expect_eq s7_sample_cotp_reassembled "$n" 1

# ---- tshark reads the generated captures: no malformed frame ----
if have_tshark; then
	for c in zones session; do
		m=$(tshark -r "$T/$c.pcap" -Y '_ws.malformed || _ws.expert.severity >= 6291456' 2>/dev/null | wc -l | tr -d ' ')
		expect_eq "s7_${c}_tshark_clean" "$m" 0
		s=$(tshark -r "$T/$c.pcap" -Y s7comm -T fields -e s7comm.header.rosctr 2>/dev/null | grep -c .)
		o=$(grep -c '"rosctr"' "$T/$c/s7comm.jsonl" 2>/dev/null)
		expect_eq "s7_${c}_pdus_equal_tshark" "$o" "$s"
	done
else
	skip s7_tshark_clean "tshark is not installed"
fi

# ---- ISO-MMS on TCP/102 is not S7 ----
if have_shared; then
	for f in nDPI/iso9506-1-mms.pcap ICS-Security-Tools/Sample_File_MMS_and_GOOSE.pcap; do
		n=$(basename "$f" .pcap)
		run "$n" "$PCAPS/$f"
		expect_eq "mms_${n}_exit_status" "$(cat "$T/$n.rc")" 0
		if [ -s "$T/$n/s7comm.jsonl" ]; then
			fail "mms_${n}_no_s7_records" "$(head -c 200 "$T/$n/s7comm.jsonl")"
		else
			pass "mms_${n}_no_s7_records"
		fi
		a=$(sqlite3 "$T/$n.db" "SELECT count(*) FROM alerts WHERE signature LIKE 's7comm.%' OR app_proto = 's7comm'")
		expect_eq "mms_${n}_no_s7_alerts" "$a" 0
	done
else
	skip mms_not_s7 "../shared/pcaps is not there"
fi
