# Shared by pcaps/scenarios/make.sh and tests/integration/test_scenarios.sh
# (sourced).

# the scenarios, in the order of the issue that asked for them
SCENARIOS="normal-day recon setpoint-write remote-stop-download rogue-laptop
bacnet-dcc-reinit write-flood lateral-smb-rdp midstream-stop"

# loopback_zones < zones-plant.yaml > zones-loopback.yaml: the same plant
# on the loopback plan (every 10.x.y.z becomes 127.x.y.z; comments kept),
# for the scenarios recorded live with real peers on this machine's `lo`
loopback_zones() {
	sed -e '/^[[:space:]]*#/!s/\([^0-9.]\)10\.\([0-9]\)/\1127.\2/g' \
	    -e 's/^site: \(.*\))$/site: \1, loopback plan)/'
}

# recipe NAME: what scenario NAME is made of: $live the function of
# make.sh that records its Modbus part (empty: none), $gen the pcapgen
# scenario that writes the rest (empty: none), $plan its zone plan
# (zones-$plan.yaml).  With both, capture.pcap = recorded.pcap + $gen.
recipe() {
	case $1 in
	normal-day) live=record_normal_day gen=sc-normal-day plan=loopback ;;
	recon) live=record_recon gen=sc-recon plan=loopback ;;
	setpoint-write) live=record_setpoint_write gen= plan=loopback ;;
	write-flood) live=record_write_flood gen= plan=loopback ;;
	remote-stop-download) live= gen=sc-remote-stop plan=plant ;;
	rogue-laptop) live= gen=sc-rogue-laptop plan=plant ;;
	bacnet-dcc-reinit) live= gen=sc-bacnet-dcc plan=plant ;;
	lateral-smb-rdp) live= gen=sc-lateral plan=plant ;;
	midstream-stop) live= gen=sc-midstream-stop plan=plant ;;
	*) echo "no scenario $1 (scenarios: $SCENARIOS)" >&2; return 1 ;;
	esac
}
