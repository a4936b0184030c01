package engine

import (
	"bytes"
	"slices"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// snapshot returns what the uplink holds, for events: every prefix,
// current and retiring (a hook announces a retiring one deprecated), and
// the downstream addresses in each.
func (u *Uplink) snapshot() (held []lease.IA, downs []Downstream) {
	for _, ia := range u.ias {
		for _, h := range ia.all() {
			held = append(held, h)
			placed, _ := place(ia.cfg, h, u.cfg.HostPart)
			downs = append(downs, placed...)
		}
	}
	return held, downs
}

// event tells the parent of a lease event; old and oldDowns are what was
// held before it.
func (u *Uplink) event(kind string, old []lease.IA, oldDowns []Downstream) {
	held, downs := u.snapshot()
	u.env.Event(Event{
		Uplink: u.cfg.Uplink.Name, Kind: kind, State: u.state.String(), Server: bytes.Clone(u.server),
		Prefixes: held, OldPrefixes: old, Downstreams: downs, OldDownstreams: oldDowns,
		DNSServers: slices.Clone(u.dns), DomainSearch: slices.Clone(u.search),
	})
}

// LinkEvent tells the parent of a link event the engine acted on, with
// ifplugd's previous and current link states.
func (u *Uplink) LinkEvent(kind, previous, current string) {
	held, downs := u.snapshot()
	u.env.Event(Event{
		Uplink: u.cfg.Uplink.Name, Kind: kind, State: u.state.String(), Server: bytes.Clone(u.server),
		Prefixes: held, OldPrefixes: held, Downstreams: downs, OldDownstreams: downs,
		LinkPrevious: previous, LinkCurrent: current,
		DNSServers: slices.Clone(u.dns), DomainSearch: slices.Clone(u.search),
	})
}
