package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
)

// Dhcpd is a running ISC dhcpd -6 in SRV.
type Dhcpd struct {
	*server
}

// StartDhcpd starts ISC dhcpd -6 in SRV on topo.ServerIf and waits until it
// listens on UDP port 547. dhcpd serves only an interface with a global
// address inside a subnet6, so the subnet's first address is added to the
// server interface. Excluded prefixes are not supported. Cancelling ctx
// stops dhcpd.
func StartDhcpd(ctx context.Context, topo *Topology, opts ServerOptions) (*Dhcpd, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start dhcpd: %w", err)
	}
	cfg, err := dhcpdConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("start dhcpd: %w", err)
	}
	s, err := newServer(topo, "dhcpd", "dhcpd6.leases", "dhcpd.log")
	if err != nil {
		return nil, err
	}
	conf, err := s.writeConfig("dhcpd6.conf", cfg)
	if err != nil {
		return nil, err
	}
	// dhcpd refuses to start without an existing lease file.
	if err := os.WriteFile(s.leaseFile, nil, 0o600); err != nil {
		return nil, fmt.Errorf("create dhcpd lease file: %w", err)
	}
	addr := netip.PrefixFrom(opts.Subnet.Addr().Next(), opts.Subnet.Bits())
	if _, err := topo.SRV.IP(ctx, "-6", "addr", "replace", addr.String(), "dev", topo.ServerIf, "nodad"); err != nil {
		return nil, fmt.Errorf("add dhcpd address %v on %s: %w", addr, topo.ServerIf, err)
	}
	if _, err := s.ns.Run(ctx, "dhcpd", "-6", "-t", "-cf", conf); err != nil {
		return nil, fmt.Errorf("check dhcpd config %s: %w", conf, err)
	}
	// dhcpd -d logs to stderr: the output is the log.
	if err := s.launch(ctx, true, "dhcpd", "-6", "-f", "-d", "-cf", conf, "-lf", s.leaseFile,
		"-pf", s.path("dhcpd6.pid"), topo.ServerIf); err != nil {
		return nil, err
	}
	return &Dhcpd{server: s}, nil
}

// dhcpdConfig builds dhcpd's config (ISC dhcpd 4.4 syntax).
func dhcpdConfig(opts ServerOptions) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "default-lease-time %d;\nmax-lease-time %d;\npreferred-lifetime %d;\n",
		seconds(opts.Valid), seconds(opts.Valid), seconds(opts.Preferred))
	fmt.Fprintf(&b, "option dhcp-renewal-time %d;\noption dhcp-rebinding-time %d;\n", seconds(opts.T1), seconds(opts.T2))
	if opts.RapidCommit {
		b.WriteString("option dhcp6.rapid-commit;\n")
	}
	b.WriteString("authoritative;\n")
	fmt.Fprintf(&b, "subnet6 %v {\n", opts.Subnet)
	for _, p := range opts.Pools {
		if p.Excluded.IsValid() {
			return nil, fmt.Errorf("dhcpd config: pool %v: dhcpd cannot exclude %v", p.Prefix, p.Excluded)
		}
		// dhcpd takes the first and the last delegated prefix's start.
		fmt.Fprintf(&b, "\tprefix6 %v %v /%d;\n", p.Prefix.Masked().Addr(), lastSubprefix(p.Prefix, p.DelegatedLen), p.DelegatedLen)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// lastSubprefix returns the start of the last /length prefix inside p.
func lastSubprefix(p netip.Prefix, length int) netip.Addr {
	a := p.Masked().Addr().As16()
	for bit := p.Bits(); bit < length; bit++ {
		a[bit/8] |= 0x80 >> (bit % 8)
	}
	return netip.AddrFrom16(a)
}
