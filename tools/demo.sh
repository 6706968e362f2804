#!/bin/sh
# `make demo`: the main job on the bundled capture: the sensor reads
# pcaps/demo-plant.pcap with the default zones (etc/zones.yaml) into the
# embedded store (out/demo/mimamori.db), then the alerts are printed, per
# zone at the end.
set -e
cd "$(dirname "$0")/.."
out=out/demo
rm -rf "$out"
mkdir -p "$out"
echo "== mimamorid -r pcaps/demo-plant.pcap --zones etc/zones.yaml --db $out/mimamori.db --log-dir $out/logs"
bin/mimamorid -r pcaps/demo-plant.pcap --zones etc/zones.yaml \
	--db "$out/mimamori.db" --log-dir "$out/logs" --sensor demo-sensor
echo
echo "== mimamori alerts --db $out/mimamori.db"
bin/mimamori alerts --db "$out/mimamori.db"
echo
echo "== mimamori zones --db $out/mimamori.db   (alerts per zone)"
bin/mimamori zones --db "$out/mimamori.db"
echo
echo "Transaction logs: $out/logs/modbus.jsonl, alerts as EVE JSON: $out/logs/eve.json"
