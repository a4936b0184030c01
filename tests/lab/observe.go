package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Forever is the lifetime of an address that does not expire (ip prints
// "forever"; the kernel's and RFC 8415 section 7.7's 0xffffffff).
const Forever time.Duration = math.MaxInt64

// infiniteLifetime is how ip -j encodes Forever.
const infiniteLifetime = math.MaxUint32

// Addr is an IPv6 address on an interface, as the kernel reports it.
type Addr struct {
	Prefix       netip.Prefix // address and prefix length
	Scope        string       // "global", "link", "host"
	PreferredLft time.Duration
	ValidLft     time.Duration
	Tentative    bool // duplicate address detection still running
	Deprecated   bool // preferred lifetime over
}

// Addrs lists the IPv6 addresses on ifname.
func (n *Netns) Addrs(ctx context.Context, ifname string) ([]Addr, error) {
	out, err := n.IP(ctx, "-j", "-6", "addr", "show", "dev", ifname)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %s: %w", ifname, n.Name, err)
	}
	addrs, err := parseAddrs(out)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %s: %w", ifname, n.Name, err)
	}
	return addrs, nil
}

// GlobalAddrs lists the addresses of scope global on ifname.
func (n *Netns) GlobalAddrs(ctx context.Context, ifname string) ([]Addr, error) {
	addrs, err := n.Addrs(ctx, ifname)
	if err != nil {
		return nil, err
	}
	var global []Addr
	for _, a := range addrs {
		if a.Scope == "global" {
			global = append(global, a)
		}
	}
	return global, nil
}

// parseAddrs decodes `ip -j -6 addr show`.
func parseAddrs(out []byte) ([]Addr, error) {
	var links []struct {
		AddrInfo []struct {
			Family     string     `json:"family"`
			Local      netip.Addr `json:"local"`
			PrefixLen  int        `json:"prefixlen"`
			Scope      string     `json:"scope"`
			Tentative  bool       `json:"tentative"`
			Deprecated bool       `json:"deprecated"`
			Valid      uint64     `json:"valid_life_time"`
			Preferred  uint64     `json:"preferred_life_time"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("decode ip -j addr: %w", err)
	}
	var addrs []Addr
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family != "inet6" {
				continue
			}
			p := netip.PrefixFrom(a.Local, a.PrefixLen)
			if !p.IsValid() {
				return nil, fmt.Errorf("decode ip -j addr: invalid address %v/%d", a.Local, a.PrefixLen)
			}
			addrs = append(addrs, Addr{
				Prefix:       p,
				Scope:        a.Scope,
				PreferredLft: lifetime(a.Preferred),
				ValidLft:     lifetime(a.Valid),
				Tentative:    a.Tentative,
				Deprecated:   a.Deprecated,
			})
		}
	}
	return addrs, nil
}

func lifetime(seconds uint64) time.Duration {
	if seconds == infiniteLifetime {
		return Forever
	}
	return time.Duration(seconds) * time.Second
}

// Route is an IPv6 route, from any table.
type Route struct {
	Type     string       // "unicast", "unreachable", "local", "multicast", ...
	Dst      netip.Prefix // ::/0 for the default route
	Dev      string
	Protocol string // "kernel", "static", "boot", a name from rt_protos or a number
	Table    string // "main", "local", ...
	Metric   uint32
}

// Routes lists the IPv6 routes of all tables.
func (n *Netns) Routes(ctx context.Context) ([]Route, error) {
	out, err := n.IP(ctx, "-j", "-6", "route", "show", "table", "all")
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", n.Name, err)
	}
	routes, err := parseRoutes(out)
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", n.Name, err)
	}
	return routes, nil
}

// parseRoutes decodes `ip -j -6 route show`. ip leaves out the type of
// unicast routes and the table of main-table routes, and prints a host
// route's destination without a length.
func parseRoutes(out []byte) ([]Route, error) {
	var raw []struct {
		Type     string `json:"type"`
		Dst      string `json:"dst"`
		Dev      string `json:"dev"`
		Protocol string `json:"protocol"` // a name, or the number when rt_protos has none
		Table    string `json:"table"`
		Metric   uint32 `json:"metric"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("decode ip -j route: %w", err)
	}
	routes := make([]Route, 0, len(raw))
	for _, r := range raw {
		dst, err := parseDst(r.Dst)
		if err != nil {
			return nil, fmt.Errorf("decode ip -j route: %w", err)
		}
		rt := Route{Type: "unicast", Dst: dst, Dev: r.Dev, Protocol: r.Protocol, Table: "main", Metric: r.Metric}
		if r.Type != "" {
			rt.Type = r.Type
		}
		if r.Table != "" {
			rt.Table = r.Table
		}
		routes = append(routes, rt)
	}
	return routes, nil
}

func parseDst(s string) (netip.Prefix, error) {
	if s == "default" {
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("route destination %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
