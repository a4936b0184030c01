package engine

import (
	"net/netip"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// Downstream is one downstream interface's address from a delegated prefix.
type Downstream struct {
	Ifname string
	Addr   netip.Prefix // with the sub-prefix's length, e.g. 2001:db8:0:1::1/64
}

// configure (re)sets the held addresses of the downstreams that match with
// their remaining lifetimes, preferred 0 while deprecated. The parent
// replaces addresses in place, so this is idempotent.
func (u *Uplink) configure(match func(Downstream) bool) {
	for _, a := range u.placements() {
		if match(Downstream{Ifname: a.Ifname, Addr: a.Addr}) {
			u.env.SetAddress(a)
		}
	}
}

func (u *Uplink) address(ia *iaState, d Downstream, preferred, valid uint32) Address {
	return Address{
		Uplink: u.cfg.Uplink.Name, IAID: ia.cfg.IAID, Ifname: d.Ifname, Addr: d.Addr,
		Preferred: preferred, Valid: valid,
	}
}

func (u *Uplink) route(ia *iaState, p netip.Prefix) Route {
	return Route{Uplink: u.cfg.Uplink.Name, IAID: ia.cfg.IAID, Prefix: p}
}

// place returns the addresses ia gives in h: for an IA_NA, h itself on the
// uplink; for an IA_PD, place's downstream addresses.
func (u *Uplink) place(ia *iaState, h lease.IA) (placed []Downstream, unfit []config.Entry) {
	if ia.na {
		return []Downstream{{Ifname: u.cfg.Uplink.Name, Addr: h.Prefix}}, nil
	}
	return place(ia.cfg, h, u.cfg.HostPart)
}

// place returns the downstream addresses of ia's plan inside the
// delegated prefix h, and the named entries that do not fit (SPEC 5).
// Reserved entries get nothing either way; the prefix the server excluded
// (RFC 6603) is stepped over (config.IA.SubPrefixes).
func place(ia *config.IA, h lease.IA, host netip.Addr) (placed []Downstream, unfit []config.Entry) {
	for i, sub := range ia.SubPrefixes(h.Prefix, h.Excluded) {
		e := ia.Entries[i]
		switch {
		case e.Name == "":
		case !sub.IsValid():
			unfit = append(unfit, e)
		default:
			placed = append(placed, Downstream{Ifname: e.Name, Addr: config.HostAddress(sub, host)})
		}
	}
	return placed, unfit
}

// placements returns every downstream address the held prefixes give,
// current and retiring, with their remaining lifetimes (preferred 0 while
// deprecated). Addresses whose valid lifetime is spent are left out: they
// are about to be removed, and the kernel removed them already.
func (u *Uplink) placements() []Address {
	now := time.Now()
	var out []Address
	for _, ia := range u.ias {
		for _, h := range ia.all() {
			preferred, valid := h.Remaining(now)
			if valid < time.Second {
				continue
			}
			if u.deprecated {
				preferred = 0
			}
			placed, _ := u.place(ia, h)
			for _, d := range placed {
				out = append(out, u.address(ia, d, seconds(preferred), seconds(valid)))
			}
		}
	}
	return out
}

// routes returns the unreachable routes the held prefixes need.
func (u *Uplink) routes() []Route {
	if !u.cfg.UnreachableRoute {
		return nil
	}
	var out []Route
	for _, ia := range u.ias {
		for _, h := range ia.all() {
			out = append(out, u.routesFor(ia, h)...)
		}
	}
	return out
}

// routesFor returns the unreachable routes prefix h needs (RFC 7084
// WPD-5): one for the prefix, or, when the server excluded part of it (RFC
// 6603), the prefixes that cover the rest, so that the excluded prefix,
// which numbers the uplink's link, stays reachable upstream.
func (u *Uplink) routesFor(ia *iaState, h lease.IA) []Route {
	if !u.cfg.UnreachableRoute || ia.na {
		return nil
	}
	if !h.Excluded.IsValid() {
		return []Route{u.route(ia, h.Prefix)}
	}
	var out []Route
	for _, p := range without(h.Prefix, h.Excluded) {
		out = append(out, u.route(ia, p))
	}
	return out
}

// without returns the prefixes that together cover p but not x, a longer
// prefix inside p: the sibling of x's ancestor at each length from p's + 1
// to x's (a /56 without a /64 is a /57, a /58, ... and a /64).
func without(p, x netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for l := p.Bits() + 1; l <= x.Bits(); l++ {
		b := netip.PrefixFrom(x.Addr(), l).Masked().Addr().As16()
		b[(l-1)/8] ^= 0x80 >> ((l - 1) % 8)
		out = append(out, netip.PrefixFrom(netip.AddrFrom16(b), l))
	}
	return out
}

// restore configures every address and route the held prefixes give: at
// start from the lease file, so that after a reboot the LANs have their
// prefixes while the Rebind confirms them, and after a restart nothing
// changes (the parent replaces addresses in place).
func (u *Uplink) restore() {
	u.kernelErr = ""
	for _, a := range u.placements() {
		u.env.SetAddress(a)
	}
	for _, r := range u.routes() {
		u.env.SetRoute(r)
	}
}

// removal is a for RemoveAddress, which carries no lifetimes.
func (a Address) removal() Address {
	a.Preferred, a.Valid = 0, 0
	return a
}

// sameAddress reports whether a and b are the same kernel address: the
// lifetimes do not matter.
func (a Address) sameAddress(b Address) bool {
	return a.Uplink == b.Uplink && a.IAID == b.IAID && a.Ifname == b.Ifname && a.Addr == b.Addr
}
