#!/bin/sh
# Installs what the demo and the tests need on a Debian machine, as root:
# real DHCPv6 servers (Kea 2.2, ISC dhcpd), iproute2, tcpdump, protoc,
# mandoc (man page lint), shellcheck and radvd (the contrib hook), jq (the
# metrics recipe), dnsmasq and ndisc6 (the RA recipes), systemd's tools
# (unit checks), the unprivileged user and the control socket's group.
# With the argument "boot" also what `make boottest` needs: systemd-nspawn
# (systemd-container) and debootstrap. Quick and quiet when everything is
# there already.
set -eu
need=""
if [ "${1:-}" = boot ]; then
	command -v systemd-nspawn >/dev/null 2>&1 || need="$need systemd-container"
	command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
fi
command -v kea-dhcp6 >/dev/null 2>&1 || need="$need kea-dhcp6-server"
command -v dhcpd >/dev/null 2>&1 || need="$need isc-dhcp-server"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v tcpdump >/dev/null 2>&1 || need="$need tcpdump"
command -v protoc >/dev/null 2>&1 || need="$need protobuf-compiler"
command -v ss >/dev/null 2>&1 || need="$need iproute2"
command -v mandoc >/dev/null 2>&1 || need="$need mandoc"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
command -v radvd >/dev/null 2>&1 || need="$need radvd"
# jq runs the Prometheus textfile recipe (contrib/prometheus).
command -v jq >/dev/null 2>&1 || need="$need jq"
# docs/DEPLOY.md's dnsmasq recipe, and rdisc6 to see the RAs (deploy_test.go).
command -v dnsmasq >/dev/null 2>&1 || need="$need dnsmasq-base"
command -v rdisc6 >/dev/null 2>&1 || need="$need ndisc6"
# systemd-analyze verify checks the unit; the package is on most machines.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
if [ -n "$need" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing$need; run as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# The packages' own services are not wanted: the tests start servers
	# in namespaces themselves.
	apt-get install -y -qq --no-install-recommends $need >/dev/null
	for s in kea-dhcp6-server isc-dhcp-server radvd; do
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	done
fi
if [ "$(id -u)" -eq 0 ] && ! id _dhcp6leased >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin _dhcp6leased
fi
# The control socket's group (contrib/systemd/dhcp6leased.sysusers).
if [ "$(id -u)" -eq 0 ] && ! getent group dhcp6leasectl >/dev/null 2>&1; then
	groupadd --system dhcp6leasectl
fi
