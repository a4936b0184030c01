#!/bin/sh
# Installs the peers `make bench` measures dhcp6leased against, on top of
# what tests/deps.sh installs: dhcpcd (dhcpcd-base) and WIDE dhcp6c
# (wide-dhcpv6-client). Quick and quiet when they are there already.
set -eu
need=""
command -v dhcpcd >/dev/null 2>&1 || need="$need dhcpcd-base"
command -v dhcp6c >/dev/null 2>&1 || need="$need wide-dhcpv6-client"
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "bench deps: missing$need; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# wide-dhcpv6-client's init script runs dhcp6c on the interfaces debconf
# names, eth0 unless told otherwise: none here, the benchmarks start dhcp6c
# in namespaces themselves.
echo "wide-dhcpv6-client wide-dhcpv6-client/interfaces string" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $need >/dev/null
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now wide-dhcpv6-client >/dev/null 2>&1 || true
fi
