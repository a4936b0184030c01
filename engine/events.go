package engine

import (
	"bytes"
	"slices"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// snapshot returns what the uplink holds, for events: every prefix,
// current and retiring (a hook announces a retiring one deprecated), and
// the IA_NA's addresses, with the addresses each gives (downstreams, or the
// uplink for an IA_NA).
func (u *Uplink) snapshot() (held []lease.IA, downs []Downstream) {
	for _, ia := range u.ias {
		for _, h := range ia.all() {
			held = append(held, h)
			placed, _ := u.place(ia, h)
			downs = append(downs, placed...)
		}
	}
	return held, downs
}

// event tells the parent of a lease event; old and oldDowns are what was
// held before it.
func (u *Uplink) event(kind string, old []lease.IA, oldDowns []Downstream) {
	held, downs := u.snapshot()
	u.env.Event(u.newEvent(kind, held, old, downs, oldDowns))
}

// LinkEvent tells the parent of a link event the engine acted on, with
// ifplugd's previous and current link states.
func (u *Uplink) LinkEvent(kind, previous, current string) {
	held, downs := u.snapshot()
	ev := u.newEvent(kind, held, held, downs, downs)
	ev.LinkPrevious, ev.LinkCurrent = previous, current
	u.env.Event(ev)
}

// newEvent builds an event from snapshots, the IA_NA's addresses apart
// from the delegated prefixes and the uplink apart from the downstreams.
func (u *Uplink) newEvent(kind string, held, old []lease.IA, downs, oldDowns []Downstream) Event {
	na := func(h lease.IA) bool { return h.NA }
	onUplink := func(d Downstream) bool { return d.Ifname == u.cfg.Uplink.Name }
	return Event{
		Uplink: u.cfg.Uplink.Name, Kind: kind, State: u.state.String(), Server: bytes.Clone(u.server),
		Prefixes: slices.DeleteFunc(slices.Clone(held), na), OldPrefixes: slices.DeleteFunc(slices.Clone(old), na),
		Addresses: filter(held, na), OldAddresses: filter(old, na),
		Downstreams: slices.DeleteFunc(slices.Clone(downs), onUplink), OldDownstreams: slices.DeleteFunc(slices.Clone(oldDowns), onUplink),
		DNSServers: slices.Clone(u.dns), DomainSearch: slices.Clone(u.search),
	}
}

// filter returns the elements of s that keep reports true for.
func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
