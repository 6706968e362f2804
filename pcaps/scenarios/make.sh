#!/bin/sh
# pcaps/scenarios/make.sh [--generated] [NAME...] - rebuild the exercise
# kit's captures (`make scenarios` runs it).  README.md beside it says what
# each scenario is.
#
#   generated   the generator (build/tools/pcapgen sc-*) writes the S7,
#               BACnet and SMB/RDP scenarios: the same bytes every time.
#   recorded    the Modbus scenarios are recorded live: real libmodbus
#               servers and clients (build/tests/scenario_peer) on
#               loopback addresses of the factory's loopback plan, tcpdump
#               on `lo`; the recording's time stamps are then moved to the
#               kit's day (its first packet at 2026-04-01 08:00:00 UTC,
#               where the generator's clock starts).  A recording cannot
#               come out the same twice (the kernel's ports, sequence
#               numbers and timing): the committed one is the reference.
#   merged      normal-day and recon also have a generated S7/BACnet part:
#               capture.pcap = recorded.pcap + the generated part
#               (mergecap, by time stamp).
#
# --generated: only what the generator makes (and the merges with the
# committed recordings); nothing is recorded.  Recording needs root (port
# 502 and a capture on lo); without root it is skipped with a message.
# Needs: tcpdump, editcap and mergecap (Debian: tcpdump, wireshark-common).
set -e
cd "$(dirname "$0")/../.."
. pcaps/scenarios/lib.sh
B=${B:-build}
PCAPGEN=$B/tools/pcapgen
PEER=$B/tests/scenario_peer
DIR=pcaps/scenarios
T0=1775030400 # 2026-04-01T08:00:00Z, pcapgen's PG_T0_SEC

only_generated=
if [ "$1" = --generated ]; then
	only_generated=1
	shift
fi
names=${*:-$SCENARIOS}

for tool in "$PCAPGEN" "$PEER"; do
	[ -x "$tool" ] || { echo "make.sh: $tool is missing: run make first" >&2; exit 1; }
done
for tool in editcap mergecap tcpdump; do
	command -v $tool >/dev/null 2>&1 ||
		{ echo "make.sh: $tool is not installed (make deps)" >&2; exit 1; }
done

W=$(mktemp -d /tmp/mm-scenarios.XXXXXX)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# the model factory: one zone file, and the same on the loopback plan
loopback_zones <$DIR/zones-plant.yaml >$DIR/zones-loopback.yaml

# ---------------------------------------------------------------- live
wait_line() { # FILE PATTERN SECONDS
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

# start_servers IP...: one libmodbus server per PLC or meter, on IP:502
start_servers() {
	for ip in "$@"; do
		"$PEER" server "$ip" >"$W/server-$ip.out" 2>&1 &
		PIDS="$PIDS $!"
		wait_line "$W/server-$ip.out" '^ready' 5 ||
			{ echo "make.sh: server $ip: $(cat "$W/server-$ip.out")" >&2; exit 1; }
	done
}

# start_capture: tcpdump on lo, only the factory's loopback plan
# (127.x.0.0/16 with x > 0: nothing another test runs on 127.0.x.x)
start_capture() {
	tcpdump -i lo -s 1514 -B 16384 -U -w "$W/raw.pcap" \
		'tcp port 502 and not net 127.0.0.0/16' >"$W/tcpdump.out" 2>&1 &
	TCPDUMP=$!
	PIDS="$PIDS $TCPDUMP"
	wait_line "$W/tcpdump.out" 'listening on' 5 ||
		{ echo "make.sh: tcpdump: $(cat "$W/tcpdump.out")" >&2; exit 1; }
}

# client FROM TO SCRIPT [options]: one scenario_peer client, in the
# background; its output in $W/client-N.out
n_client=0
CLIENTS=
client() {
	n_client=$((n_client + 1))
	"$PEER" client "$@" >"$W/client-$n_client.out" 2>&1 &
	CLIENTS="$CLIENTS $!:$n_client"
}

wait_clients() {
	for c in $CLIENTS; do
		if ! wait "${c%%:*}"; then
			echo "make.sh: client ${c#*:} failed: $(tail -3 "$W/client-${c#*:}.out")" >&2
			exit 1
		fi
	done
	CLIENTS=
}

# stop_recording NAME OUT: stop tcpdump and the servers, move the
# recording to the kit's day (first packet at T0) into OUT
stop_recording() {
	sleep 1
	kill -INT "$TCPDUMP"
	wait "$TCPDUMP" 2>/dev/null || true
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	PIDS=
	first=$(tcpdump -r "$W/raw.pcap" -c 1 -tt -n 2>/dev/null | cut -d' ' -f1)
	sec=${first%.*} usec=${first#*.}
	[ -n "$sec" ] || { echo "make.sh: $1: nothing was recorded" >&2; exit 1; }
	editcap -F pcap -t "-$((sec - T0)).$usec" "$W/raw.pcap" "$2"
	echo "make.sh: $1: recorded $(tcpdump -r "$2" -n 2>/dev/null | wc -l) packets -> $2"
}

record_normal_day() { # SCADA polls PLC-L1-01 and PM-01, HMI-L1-01 works
	start_servers 127.10.1.10 127.30.0.20
	start_capture
	client 127.3.0.10 127.10.1.10 poll --for 30 --every 1000
	client 127.3.0.10 127.30.0.20 meter --for 30 --every 5000
	client 127.10.1.20 127.10.1.10 hmi --for 30 --every 1000
	wait_clients
	stop_recording normal-day "$1"
}

record_recon() { # PC-OFFICE-23 sweeps function codes, then unit ids
	start_servers 127.10.1.10
	start_capture
	client 127.1.5.23 127.10.1.10 fc-sweep
	wait_clients
	client 127.1.5.23 127.10.1.10 unit-sweep
	wait_clients
	stop_recording recon "$1"
}

record_setpoint_write() { # SCADA polls, and at 5 s writes a set point
	start_servers 127.10.1.10
	start_capture
	client 127.3.0.10 127.10.1.10 poll --for 12 --every 1000
	sleep 5
	client 127.3.0.10 127.10.1.10 setpoint
	wait_clients
	stop_recording setpoint-write "$1"
}

record_write_flood() { # a normal HMI, then at 8 s the flood from it
	start_servers 127.10.1.10
	start_capture
	client 127.3.0.10 127.10.1.10 poll --for 20 --every 1000
	client 127.10.1.20 127.10.1.10 hmi --for 20 --every 1000
	sleep 8
	client 127.10.1.20 127.10.1.10 flood --count 3000 --gap-us 2000
	wait_clients
	stop_recording write-flood "$1"
}

# ---------------------------------------------------------------- build
can_record=1
if [ "$(id -u)" != 0 ]; then
	can_record=
	[ -z "$only_generated" ] &&
		echo "make.sh: not root: the Modbus recordings are kept as committed (recording needs port 502 and a capture on lo)"
fi

for name in $names; do
	recipe "$name"
	d=$DIR/$name
	mkdir -p "$d"
	cp "$DIR/zones-$plan.yaml" "$d/zones.yaml"
	# the recording: recorded.pcap when a generated part joins it,
	# else the capture itself
	rec=$d/capture.pcap
	[ -n "$gen" ] && rec=$d/recorded.pcap
	if [ -n "$live" ] && [ -z "$only_generated" ] && [ -n "$can_record" ]; then
		$live "$W/rec.pcap"
		mv "$W/rec.pcap" "$rec"
	fi
	if [ -n "$gen" ]; then
		"$PCAPGEN" "$gen" "$W/gen.pcap"
		if [ -n "$live" ]; then
			mergecap -F pcap -w "$d/capture.pcap" "$rec" "$W/gen.pcap"
			echo "make.sh: $name: $rec + $gen -> $d/capture.pcap"
		else
			mv "$W/gen.pcap" "$d/capture.pcap"
		fi
	fi
done
