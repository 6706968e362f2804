#!/bin/sh
# Install the Debian packages mimamori needs, only those missing.
# Runs as root on Debian 12 (apt-get); prints what it installs.
#
#   sh tools/install-deps.sh          build, demo and test (make deps)
#   sh tools/install-deps.sh --bench  those and the benchmarks' peers and
#                                     tools (make bench, bench-live,
#                                     bench-streams); `make test` never
#                                     needs these
set -e
PKGS="build-essential pkg-config libpcap-dev libnids-dev libmodbus-dev
libzmq3-dev libsqlite3-dev sqlite3 libyaml-dev libjansson-dev
libcmocka-dev libseccomp-dev tshark tcpdump iproute2 ieee-data logrotate"
# bench only: ndpiReader (nDPI, a peer in make bench's table), tcpreplay
# (replays the bench capture into a veth pair: bench/live.sh), GNU time
# (peak RSS of each run: bench/bench.sh, bench/streams.sh)
BENCH_PKGS="libndpi-bin tcpreplay time"
case ${1:-} in
--bench) PKGS="$PKGS $BENCH_PKGS" ;;
'') ;;
*) echo "usage: install-deps.sh [--bench]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, quietly
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "install-deps: done"
