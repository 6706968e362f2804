#!/bin/sh
# The capture generator (tools/pcapgen/): deterministic output, captures
# tshark reads without complaint, a gap that really is one, a mid-stream
# start with no SYN, and the committed pcaps/demo-plant.pcap up to date.
. "$(dirname "$0")/lib.sh"
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
GEN=$ROOT/$B/tools/pcapgen

if [ ! -x "$GEN" ]; then
	fail pcapgen_built "$GEN is missing (make tools)"
	exit 0
fi

# gen NAME SCENARIO [options]: $T/NAME.pcap, summary in $T/NAME.gen
gen() {
	n=$1 s=$2
	shift 2
	"$GEN" "$s" "$T/$n.pcap" "$@" 2>"$T/$n.gen" >/dev/null
}
gen_ok() { # name scenario [options]
	n=$1
	if gen "$@" && [ -s "$T/$n.pcap" ]; then
		pass "generate_$n"
	else
		fail "generate_$n" "$(head -c 200 "$T/$n.gen")"
	fi
}
adus() { sed -n 's/.* \([0-9]*\) modbus ADUs.*/\1/p' "$T/$1.gen"; }

gen_ok demo demo
gen_ok demo2 demo
gen_ok gap gap
gen_ok mid midstream
gen_ok bench bench --packets 20000
gen_ok bench2 bench --packets 20000
gen_ok streams streams --flows 300 --half-open 100

# ---- deterministic: the same command writes the same bytes ----
check demo_deterministic cmp -s "$T/demo.pcap" "$T/demo2.pcap"
check bench_deterministic cmp -s "$T/bench.pcap" "$T/bench2.pcap"
gen demo_seed demo --seed 7
if cmp -s "$T/demo.pcap" "$T/demo_seed.pcap"; then
	fail seed_changes_output "--seed 7 wrote the same bytes"
else
	pass seed_changes_output
fi

# ---- the committed demo capture equals a fresh generation ----
if cmp -s "$ROOT/pcaps/demo-plant.pcap" "$T/demo.pcap"; then
	pass committed_demo_up_to_date
else
	fail committed_demo_up_to_date "pcaps/demo-plant.pcap differs: run $B/tools/pcapgen demo pcaps/demo-plant.pcap"
fi
size=$(wc -c <"$ROOT/pcaps/demo-plant.pcap" 2>/dev/null | tr -d ' ')
if [ -n "$size" ] && [ "$size" -lt 1048576 ]; then
	pass committed_demo_small
else
	fail committed_demo_small "size ${size:-missing}"
fi

# ---- the summary line ----
if grep -q '^pcapgen: demo: [0-9]* packets, [0-9]* flows, [0-9]* bytes, [0-9]* modbus ADUs' "$T/demo.gen"; then
	pass summary_line
else
	fail summary_line "$(cat "$T/demo.gen")"
fi
lost=$(sed -n 's/.*lost client->server segment: transaction id \([0-9]*\).*/\1/p' "$T/gap.gen")
if [ -n "$lost" ]; then pass gap_names_lost_tid; else fail gap_names_lost_tid "$(cat "$T/gap.gen")"; fi

# ---- tshark ----
if ! have_tshark; then
	for n in expert_demo expert_gap expert_mid expert_bench demo_malformed_only_intended \
		checksums_valid pdus_demo pdus_gap pdus_mid pdus_bench gap_flagged_lost gap_lost_tid_absent \
		mid_no_syn mid_first_is_request streams_concurrent; do
		skip "$n" "tshark is not installed"
	done
	exit 0
fi
ts() { tshark "$@" 2>/dev/null; }

# expert: no errors; warnings only where the scenario means them
for n in demo gap mid bench streams; do
	ts -r "$T/$n.pcap" -q -z expert >"$T/$n.expert"
done
noerr() { ! grep -q '^Errors' "$T/$1.expert"; }
nowarn() { ! grep -q '^Warns' "$T/$1.expert"; }
if noerr demo && nowarn demo; then pass expert_demo; else fail expert_demo "$(grep -A8 -E '^(Errors|Warns)' "$T/demo.expert" | tr '\n' ' ')"; fi
if noerr mid && nowarn mid; then pass expert_mid; else fail expert_mid "$(grep -A8 -E '^(Errors|Warns)' "$T/mid.expert" | tr '\n' ' ')"; fi
if noerr bench && nowarn bench && noerr streams; then
	pass expert_bench
else
	fail expert_bench "$(grep -A8 -E '^(Errors|Warns)' "$T/bench.expert" "$T/streams.expert" | tr '\n' ' ')"
fi
# gap: the only warnings are the ones a missing segment causes
w=$(sed -n '/^Warns/,/^$/p' "$T/gap.expert" | grep -E '^ +[0-9]+ ' | grep -vcE "(not|wasn't) captured")
if noerr gap && [ "$w" = 0 ]; then pass expert_gap; else fail expert_gap "$(sed -n '/^Errors/,$p' "$T/gap.expert" | tr '\n' ' ')"; fi

# the only malformed frame allowed is demo event 4b (fc 16, byte count 10
# in an MBAP length of 13, from the HMI); tshark 4.0 shows it as data
bad=$(ts -r "$T/demo.pcap" -Y '_ws.malformed && !(ip.src == 10.10.1.20 && mbtcp.len == 13 && modbus.func_code == 16)' -T fields -e frame.number | grep -c .)
intended=$(ts -r "$T/demo.pcap" -Y 'ip.src == 10.10.1.20 && mbtcp.len == 13 && modbus.func_code == 16 && modbus.byte_cnt == 10' -T fields -e frame.number | grep -c .)
if [ "$bad" = 0 ] && [ "$intended" = 1 ]; then
	pass demo_malformed_only_intended
else
	fail demo_malformed_only_intended "$bad unexpected malformed frames, $intended intended fc16 found"
fi

# checksums: tshark verifies IPv4, TCP and UDP; none bad
badsum=0
for n in demo gap bench streams; do
	c=$(ts -r "$T/$n.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
		-Y 'ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0' -T fields -e frame.number | grep -c .)
	badsum=$((badsum + c))
done
if [ "$badsum" = 0 ]; then pass checksums_valid; else fail checksums_valid "$badsum frames with a bad checksum"; fi

# tshark sees every Modbus ADU the generator wrote
tids() { ts -r "$T/$1.pcap" -Y mbtcp -T fields -e mbtcp.trans_id | tr ',' '\n' | grep -c .; }
for n in demo gap mid bench; do
	got=$(tids $n)
	want=$(adus $n)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		pass "pdus_$n"
	else
		fail "pdus_$n" "tshark sees $got Modbus ADUs, the generator wrote ${want:-?}"
	fi
done

# gap: tshark flags the hole, and the lost request's transaction id appears
# only in its response
if [ "$(ts -r "$T/gap.pcap" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' -T fields -e frame.number | grep -c .)" -ge 1 ]; then
	pass gap_flagged_lost
else
	fail gap_flagged_lost "tshark sees no lost segment"
fi
q=$(ts -r "$T/gap.pcap" -Y "mbtcp.trans_id == ${lost:-0} && tcp.dstport == 502" -T fields -e frame.number | grep -c .)
r=$(ts -r "$T/gap.pcap" -Y "mbtcp.trans_id == ${lost:-0} && tcp.srcport == 502" -T fields -e frame.number | grep -c .)
if [ "$q" = 0 ] && [ "$r" = 1 ]; then
	pass gap_lost_tid_absent
else
	fail gap_lost_tid_absent "transaction ${lost:-?}: $q requests (want 0), $r responses (want 1)"
fi

# midstream: no SYN at all, and the first frame is a Modbus request
syn=$(ts -r "$T/mid.pcap" -Y 'tcp.flags.syn == 1' -T fields -e frame.number | grep -c .)
if [ "$syn" = 0 ]; then pass mid_no_syn; else fail mid_no_syn "$syn SYN frames"; fi
first=$(ts -r "$T/mid.pcap" -c 1 -T fields -e tcp.dstport -e mbtcp.trans_id | head -1)
case $first in
502*[0-9]) pass mid_first_is_request ;;
*) fail mid_first_is_request "first frame: '$first'" ;;
esac

# streams: 300 handshakes complete before the first FIN, plus 100 lone SYNs
synack=$(ts -r "$T/streams.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e frame.number | grep -c .)
syn=$(ts -r "$T/streams.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e frame.number | grep -c .)
lastsyn=$(ts -r "$T/streams.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e frame.number | tail -1)
firstfin=$(ts -r "$T/streams.pcap" -Y 'tcp.flags.fin == 1' -T fields -e frame.number | head -1)
if [ "$synack" = 300 ] && [ "$syn" = 400 ] && [ -n "$firstfin" ] && [ "$lastsyn" -lt "$firstfin" ]; then
	pass streams_concurrent
else
	fail streams_concurrent "$synack SYN-ACKs (want 300), $syn SYNs (want 400), last SYN-ACK $lastsyn, first FIN $firstfin"
fi
exit 0
