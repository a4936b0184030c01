package control

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

// WriteText prints interface statuses as `dhcp6leasectl show interface`
// does: OpenBSD's first lines, then what operators ask for (SPEC 10).
func WriteText(w io.Writer, ifs []*pb.InterfaceStatus, now time.Time) error {
	var b strings.Builder
	for i, s := range ifs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s [%s]\n", s.Name, s.State)
		for _, ia := range s.Ias {
			if ia.Prefix == "" {
				fmt.Fprintf(&b, "\tIA_PD %d: none (iaid %#08x)\n", ia.Index, ia.Iaid)
			} else {
				fmt.Fprintf(&b, "\tIA_PD %d: %s (iaid %#08x)\n", ia.Index, ia.Prefix, ia.Iaid)
				fmt.Fprintf(&b, "\t\tpreferred %s, valid %s\n", until(ia.PreferredUntilUnixMs, now), until(ia.ValidUntilUnixMs, now))
			}
			for _, d := range ia.Downstreams {
				fmt.Fprintf(&b, "\t\t%s %s\n", d.Ifname, d.Address)
			}
			if ia.Excluded != "" {
				fmt.Fprintf(&b, "\t\texcluded by the server: %s\n", ia.Excluded)
			}
			for _, name := range ia.Unfit {
				fmt.Fprintf(&b, "\t\t%s does not fit the delegated prefix\n", name)
			}
			for _, r := range ia.Retiring {
				fmt.Fprintf(&b, "\t\tretiring %s, deprecated, valid %s\n", r.Prefix, until(r.ValidUntilUnixMs, now))
				for _, d := range r.Downstreams {
					fmt.Fprintf(&b, "\t\t\t%s %s\n", d.Ifname, d.Address)
				}
			}
		}
		for _, a := range s.Addresses {
			if a.Prefix == "" {
				fmt.Fprintf(&b, "\tIA_NA: none (iaid %#08x)\n", a.Iaid)
				continue
			}
			fmt.Fprintf(&b, "\tIA_NA: %s (iaid %#08x)\n", a.Prefix, a.Iaid)
			fmt.Fprintf(&b, "\t\tpreferred %s, valid %s\n", until(a.PreferredUntilUnixMs, now), until(a.ValidUntilUnixMs, now))
		}
		if end := leaseEnd(s); end != 0 {
			fmt.Fprintf(&b, "\tlease %s\n", until(end, now))
		}
		if len(s.ServerId) > 0 {
			fmt.Fprintf(&b, "\tserver %s\n", dhcp6.FormatDUID(s.ServerId))
		}
		if s.T1UnixMs > 0 {
			fmt.Fprintf(&b, "\tT1 %s, T2 %s\n", until(s.T1UnixMs, now), until(s.T2UnixMs, now))
		}
		if len(s.DnsServers) > 0 {
			fmt.Fprintf(&b, "\tdns %s\n", strings.Join(s.DnsServers, " "))
		}
		if len(s.DomainSearch) > 0 {
			fmt.Fprintf(&b, "\tdomain search %s\n", strings.Join(s.DomainSearch, " "))
		}
		if s.ReconfigureKey {
			b.WriteString("\treconfigure accepted (the server gave a key)\n")
		}
		link := "down"
		switch {
		case s.LinkUp:
			link = "up"
		case !s.LinkExists:
			link = "missing: no such interface (yet)"
		}
		fmt.Fprintf(&b, "\tlink %s\n", link)
		switch s.RouterAdvertisements {
		case raDropped:
			fmt.Fprintf(&b, "\trouter advertisements dropped by the kernel: forwarding=%d, accept_ra=%d (sysctl net.ipv6.conf.%s.accept_ra=2)\n",
				s.Forwarding, s.AcceptRa, s.Name)
		case raProgram:
			b.WriteString("\trouter advertisements left to a program by the kernel (accept_ra=0: systemd-networkd, NetworkManager)\n")
		}
		if s.SocketError != "" {
			fmt.Fprintf(&b, "\tno socket: %s; next try %s\n", s.SocketError, until(s.SocketRetryUnixMs, now))
		}
		if s.KernelError != "" {
			fmt.Fprintf(&b, "\tkernel refused the plan: %s, %s ago\n", s.KernelError, since(s.KernelErrorUnixMs, now))
		}
		if n := s.RepairedAddresses + s.RepairedRoutes; n > 0 {
			fmt.Fprintf(&b, "\tput back after removal: %s, %s, last %s ago\n",
				count(s.RepairedAddresses, "address"), count(s.RepairedRoutes, "route"), since(s.LastRepairUnixMs, now))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RouterAdvertisements values of InterfaceStatus.
const (
	raAccepted = 1
	raDropped  = 2
	raProgram  = 3
)

// leaseEnd is when the lease ends as Unix milliseconds: the earliest valid
// lifetime end of the prefixes held (SPEC 6), -1 when all of them are
// infinite, 0 when nothing is held.
func leaseEnd(s *pb.InterfaceStatus) int64 {
	var end int64
	for _, ia := range s.Ias {
		if ia.Prefix == "" {
			continue
		}
		if end == 0 || (ia.ValidUntilUnixMs >= 0 && (end < 0 || ia.ValidUntilUnixMs < end)) {
			end = ia.ValidUntilUnixMs
		}
	}
	return end
}

// until formats the time left until the Unix millisecond time ms; -1 is
// infinity.
func until(ms int64, now time.Time) string {
	if ms < 0 {
		return "infinite"
	}
	d := time.UnixMilli(ms).Sub(now)
	if d <= 0 {
		return "expired"
	}
	return Duration(d)
}

// count formats n things: "1 route", "2 addresses".
func count(n uint64, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "s"):
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// since formats the time passed since the Unix millisecond time ms.
func since(ms int64, now time.Time) string {
	return Duration(max(now.Sub(time.UnixMilli(ms)), 0))
}

// Duration formats d for people in its two largest units: "2 days",
// "1 hour 5 minutes", "55 seconds"; a zero unit ends it ("1 day").
func Duration(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	units := []struct {
		name string
		size int64
	}{{"day", 86400}, {"hour", 3600}, {"minute", 60}, {"second", 1}}
	var parts []string
	for _, u := range units {
		n := secs / u.size
		if n == 0 {
			if len(parts) > 0 {
				break
			}
			continue
		}
		secs -= n * u.size
		name := u.name
		if n != 1 {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, name))
		if len(parts) == 2 {
			break
		}
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " ")
}

// WriteStats prints packet counters as `dhcp6leasectl show stats` does:
// per uplink, sent and received per message type, drops per reason and
// retransmissions, each list sorted by name.
func WriteStats(w io.Writer, stats []*pb.InterfaceStats) error {
	var b strings.Builder
	for i, s := range stats {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s\n", s.Name)
		for _, c := range []struct {
			title string
			m     map[string]uint64
		}{{"sent", s.Sent}, {"received", s.Received}, {"dropped", s.Drops}} {
			fmt.Fprintf(&b, "\t%s:", c.title)
			if len(c.m) == 0 {
				b.WriteString(" none")
			}
			b.WriteByte('\n')
			for _, k := range slices.Sorted(maps.Keys(c.m)) {
				fmt.Fprintf(&b, "\t\t%-30s %d\n", k, c.m[k])
			}
		}
		fmt.Fprintf(&b, "\tretransmissions: %d\n", s.Retransmissions)
		fmt.Fprintf(&b, "\tput back after removal: %s, %s\n", count(s.RepairedAddresses, "address"), count(s.RepairedRoutes, "route"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
