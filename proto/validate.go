package pb

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// Bounds every receiver enforces (SPEC 3). They follow the protocol's own
// limits: a DUID is at most 130 bytes (RFC 8415 section 11.1), a UDP payload
// at most 65535, an uplink has at most 32 IA_PDs (OpenBSD's MAX_IA).
const (
	maxDUID    = 130
	maxPayload = 65535
	maxIAs     = 32
	// maxPrefixes bounds the prefixes of an uplink: each IA's current one
	// and its retiring ones.
	maxPrefixes = maxIAs * (1 + lease.MaxRetiring)
	maxIfname   = 15 // IFNAMSIZ - 1
	maxConfig   = 60 << 10
	maxError    = 512 // an error text carried for dhcp6leasectl
)

func checkIfname(what, name string) error {
	if name == "" || len(name) > maxIfname || strings.ContainsAny(name, "/ \t\n\x00") {
		return fmt.Errorf("%s: bad interface name %q", what, name)
	}
	return nil
}

func checkAddr(what string, b []byte, plen uint32) error {
	if len(b) != 16 {
		return fmt.Errorf("%s: address of %d bytes, want 16", what, len(b))
	}
	if plen > 128 {
		return fmt.Errorf("%s: prefix length %d", what, plen)
	}
	return nil
}

func checkDUID(what string, b []byte, required bool) error {
	if len(b) > maxDUID || (required && len(b) < 3) {
		return fmt.Errorf("%s: DUID of %d bytes", what, len(b))
	}
	return nil
}

// Validate checks an Empty (always valid).
func (*Empty) Validate() error { return nil }

// Validate checks a Config.
func (c *Config) Validate() error {
	if len(c.Text) > maxConfig {
		return fmt.Errorf("config: %d bytes", len(c.Text))
	}
	if err := checkDUID("config", c.Duid, true); err != nil {
		return err
	}
	for name, l := range c.Leases {
		if err := checkIfname("config lease", name); err != nil {
			return err
		}
		if err := l.Validate(); err != nil {
			return fmt.Errorf("config lease %s: %w", name, err)
		}
	}
	return nil
}

// Validate checks a Lease.
func (l *Lease) Validate() error {
	if l == nil {
		return errors.New("lease missing")
	}
	if err := checkDUID("lease server", l.ServerId, false); err != nil {
		return err
	}
	if len(l.Ias) > maxPrefixes {
		return fmt.Errorf("lease: %d IA prefixes", len(l.Ias))
	}
	if err := checkDNS("lease", l.DnsServers, l.DomainSearch); err != nil {
		return err
	}
	if n := len(l.ReconfigureKey); n != 0 && n != 16 {
		return fmt.Errorf("lease: reconfigure key of %d bytes", n)
	}
	for _, ia := range l.Ias {
		if err := checkAddr("lease IA", ia.Prefix, ia.PrefixLen); err != nil {
			return err
		}
		if len(ia.Excluded) > 0 {
			if err := checkAddr("lease IA excluded", ia.Excluded, ia.ExcludedLen); err != nil {
				return err
			}
		}
		if len(ia.Downstreams) > maxIAs*maxIAs {
			return fmt.Errorf("lease IA: %d downstreams", len(ia.Downstreams))
		}
		for _, d := range ia.Downstreams {
			if err := checkIfname("lease IA downstream", d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bounds of the DNS options kept: more than any server sends.
const (
	maxDNSServers = 8
	maxDomains    = 8
	maxDomain     = 253
)

// checkDNS checks DNS servers (16 bytes each) and search domains.
func checkDNS(what string, servers [][]byte, domains []string) error {
	if len(servers) > maxDNSServers || len(domains) > maxDomains {
		return fmt.Errorf("%s: %d DNS servers, %d domains", what, len(servers), len(domains))
	}
	for _, a := range servers {
		if err := checkAddr(what+" DNS server", a, 0); err != nil {
			return err
		}
	}
	for _, d := range domains {
		if d == "" || len(d) > maxDomain || strings.ContainsAny(d, " \t\r\n\x00=,\"") {
			return fmt.Errorf("%s: domain %q", what, d)
		}
	}
	return nil
}

// Validate checks an OpenUDP.
func (o *OpenUDP) Validate() error {
	if o.Ifindex <= 0 {
		return fmt.Errorf("open udp: ifindex %d", o.Ifindex)
	}
	return checkIfname("open udp", o.Uplink)
}

// Validate checks a UDPSocket.
func (u *UDPSocket) Validate() error {
	if len(u.Error) > maxError {
		return fmt.Errorf("udp socket: error of %d bytes", len(u.Error))
	}
	if u.Error == "" {
		if err := checkAddr("udp socket", u.Address, 0); err != nil {
			return err
		}
	}
	return checkIfname("udp socket", u.Uplink)
}

// Validate checks a Link.
func (l *Link) Validate() error {
	if l.Ifindex <= 0 {
		return fmt.Errorf("link: ifindex %d", l.Ifindex)
	}
	return checkIfname("link", l.Name)
}

// Validate checks an UplinkReady.
func (u *UplinkReady) Validate() error {
	if len(u.Error) > maxError {
		return fmt.Errorf("uplink ready: error of %d bytes", len(u.Error))
	}
	return checkIfname("uplink ready", u.Uplink)
}

// Validate checks a KernelError.
func (k *KernelError) Validate() error {
	if k.Error == "" || len(k.Error) > maxError {
		return fmt.Errorf("kernel error: error of %d bytes", len(k.Error))
	}
	return checkIfname("kernel error", k.Uplink)
}

// Validate checks a Removed.
func (r *Removed) Validate() error {
	if r.Ifname != "" {
		if err := checkIfname("removed", r.Ifname); err != nil {
			return err
		}
	}
	return checkAddr("removed", r.Prefix, r.PrefixLen)
}

// Validate checks a Packet.
func (p *Packet) Validate() error {
	if len(p.Payload) > maxPayload {
		return fmt.Errorf("packet: %d bytes", len(p.Payload))
	}
	if err := checkAddr("packet source", p.Source, 0); err != nil {
		return err
	}
	return checkIfname("packet", p.Uplink)
}

// Validate checks a Transmit.
func (t *Transmit) Validate() error {
	if err := checkIfname("transmit", t.Uplink); err != nil {
		return err
	}
	if t.Type == 0 || t.Type > 255 {
		return fmt.Errorf("transmit: message type %d", t.Type)
	}
	if len(t.Xid) != 3 {
		return fmt.Errorf("transmit: xid of %d bytes", len(t.Xid))
	}
	if t.Elapsed > 0xffff {
		return fmt.Errorf("transmit: elapsed %d", t.Elapsed)
	}
	if err := checkDUID("transmit server", t.ServerId, false); err != nil {
		return err
	}
	if len(t.Ias) > maxPrefixes {
		return fmt.Errorf("transmit: %d IA prefixes", len(t.Ias))
	}
	for _, ia := range t.Ias {
		if err := checkAddr("transmit IA", ia.Prefix, ia.PrefixLen); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks an Address. Whether the address is allowed at all is the
// parent's policy check, not a format question.
func (a *Address) Validate() error {
	if err := checkIfname("address uplink", a.Uplink); err != nil {
		return err
	}
	if err := checkIfname("address", a.Ifname); err != nil {
		return err
	}
	return checkAddr("address", a.Address, a.PrefixLen)
}

// Validate checks a Route.
func (r *Route) Validate() error {
	if err := checkIfname("route uplink", r.Uplink); err != nil {
		return err
	}
	return checkAddr("route", r.Prefix, r.PrefixLen)
}

// Validate checks a SaveLease.
func (s *SaveLease) Validate() error {
	if err := checkIfname("save lease", s.Uplink); err != nil {
		return err
	}
	return s.Lease.Validate()
}

// Validate checks an Event. Whether its uplink is configured is the
// parent's question.
func (e *Event) Validate() error {
	if err := checkIfname("event", e.Uplink); err != nil {
		return err
	}
	switch e.Kind {
	case "BOUND", "RENEW", "REBIND", "CHANGED", "EXPIRE", "LINK_UP", "LINK_DOWN", "INFORM":
	default:
		return fmt.Errorf("event: unknown kind %q", e.Kind)
	}
	for _, s := range []string{e.State, e.LinkPrevious, e.LinkCurrent} {
		if len(s) > 16 || strings.ContainsAny(s, "\x00\n=") {
			return fmt.Errorf("event: bad field %q", s)
		}
	}
	if err := checkDUID("event server", e.Server, false); err != nil {
		return err
	}
	if len(e.Prefixes) > maxPrefixes || len(e.OldPrefixes) > maxPrefixes ||
		len(e.Addresses) > maxPrefixes || len(e.OldAddresses) > maxPrefixes {
		return fmt.Errorf("event: %d/%d prefixes, %d/%d addresses", len(e.Prefixes), len(e.OldPrefixes), len(e.Addresses), len(e.OldAddresses))
	}
	if err := checkDNS("event", e.DnsServers, e.DomainSearch); err != nil {
		return err
	}
	for _, ia := range slices.Concat(e.Prefixes, e.OldPrefixes, e.Addresses, e.OldAddresses) {
		if err := checkAddr("event prefix", ia.Prefix, ia.PrefixLen); err != nil {
			return err
		}
	}
	// Every entry of every prefix, at most: 32 IAs of 32 downstreams, in
	// each IA's current and retiring prefixes.
	if len(e.Downstreams) > maxPrefixes*maxIAs || len(e.OldDownstreams) > maxPrefixes*maxIAs {
		return fmt.Errorf("event: %d/%d downstreams", len(e.Downstreams), len(e.OldDownstreams))
	}
	for _, d := range append(e.Downstreams, e.OldDownstreams...) {
		if err := checkIfname("event downstream", d.Ifname); err != nil {
			return err
		}
		if _, err := netip.ParsePrefix(d.Address); err != nil {
			return fmt.Errorf("event downstream %s: %w", d.Ifname, err)
		}
	}
	return nil
}

// Validate checks a CtlRequest.
func (c *CtlRequest) Validate() error {
	switch c.Command {
	case CtlRequest_COMMAND_SHOW_INTERFACE, CtlRequest_COMMAND_SHOW_STATS:
		if c.Ifname == "" {
			return nil
		}
	case CtlRequest_COMMAND_REQUEST:
	case CtlRequest_COMMAND_RELOAD:
		return nil
	case CtlRequest_COMMAND_LOG:
		if _, ok := LogVerbosity(c.LogLevel); !ok {
			return fmt.Errorf("control: unknown log level %q", c.LogLevel)
		}
		return nil
	default:
		return fmt.Errorf("control: unknown command %d", c.Command)
	}
	return checkIfname("control", c.Ifname)
}

// ReadOnly reports whether the command only reads state: anyone who can
// open the control socket may send it (SPEC 10).
func (c *CtlRequest) ReadOnly() bool {
	return c.Command == CtlRequest_COMMAND_SHOW_INTERFACE || c.Command == CtlRequest_COMMAND_SHOW_STATS
}

// LogVerbosity maps dhcp6leasectl log's words to a verbosity (the -v
// count).
func LogVerbosity(level string) (int32, bool) {
	switch level {
	case "brief":
		return 0, true
	case "verbose":
		return 1, true
	case "debug":
		return 2, true
	}
	return 0, false
}

// Validate checks a LogLevel.
func (l *LogLevel) Validate() error {
	if l.Verbosity < 0 || l.Verbosity > 2 {
		return fmt.Errorf("log level: verbosity %d", l.Verbosity)
	}
	return nil
}

// Validate checks a CtlReply.
func (c *CtlReply) Validate() error {
	if len(c.Interfaces) > 1024 || len(c.Stats) > 1024 {
		return fmt.Errorf("control reply: %d interfaces, %d stats", len(c.Interfaces), len(c.Stats))
	}
	return nil
}
