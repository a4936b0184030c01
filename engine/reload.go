package engine

import (
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
)

// Reload applies a reloaded configuration of the same uplink (SPEC
// 11). IAs are matched by IAID, which the config derives from the uplink's
// name and the IA's position, so an IA that stays keeps what it holds.
// Downstreams that left the plan lose their addresses, new ones get theirs,
// and the rest are not touched: a reload that changes nothing of this
// uplink sends no packet and changes nothing in the kernel. A new exchange
// starts only when the held prefixes cannot carry the new plan: an IA that
// holds nothing, or a required length shorter than the held prefix's.
func (u *Uplink) Reload(cfg UplinkConfig) {
	if SameUplinkConfig(u.cfg, cfg) {
		u.cfg = cfg
		return
	}
	now := time.Now()
	before := u.placements()
	oldRoutes := u.routes()

	var ias []*iaState
	needExchange := false
	for _, c := range iaConfigs(cfg.Uplink) {
		ia := newIAState(cfg.Uplink, c)
		if i := slices.IndexFunc(u.ias, func(o *iaState) bool { return o.cfg.IAID == c.IAID }); i >= 0 {
			ia.held, ia.retiring, ia.hint = u.ias[i].held, u.ias[i].retiring, u.ias[i].hint
		}
		if !ia.held.Prefix.IsValid() || ia.held.Prefix.Bits() > c.RequiredLen {
			needExchange = true
		}
		ias = append(ias, ia)
	}
	removedIA := slices.ContainsFunc(u.ias, func(o *iaState) bool {
		return len(o.all()) > 0 && !slices.ContainsFunc(ias, func(n *iaState) bool { return n.cfg.IAID == o.cfg.IAID })
	})
	u.cfg, u.ias = cfg, ias

	after := u.placements()
	for _, a := range before {
		if !slices.ContainsFunc(after, a.sameAddress) {
			u.env.RemoveAddress(a.removal())
		}
	}
	for _, a := range after {
		if !slices.ContainsFunc(before, a.sameAddress) {
			u.env.SetAddress(a)
		}
	}
	newRoutes := u.routes()
	for _, r := range oldRoutes {
		if !slices.Contains(newRoutes, r) {
			u.env.RemoveRoute(r)
		}
	}
	for _, r := range newRoutes {
		if !slices.Contains(oldRoutes, r) {
			u.env.SetRoute(r)
		}
	}
	if removedIA {
		u.save()
	}
	u.armExpiry(now)
	if needExchange && u.state != StateDown {
		u.log.Info("reload: the plan needs new prefixes")
		u.solicit()
	}
}

// Remove stops the uplink for good and removes every address and route it
// configured: its uplink left the configuration (SPEC 11). The lease file
// stays, as after a shutdown.
func (u *Uplink) Remove() {
	u.Stop()
	for _, a := range u.placements() {
		u.env.RemoveAddress(a.removal())
	}
	for _, r := range u.routes() {
		u.env.RemoveRoute(r)
	}
}

// SameUplinkConfig reports whether a reload leaves an uplink's lease
// handling as it was: then the engine changes nothing but the link-plug
// delays.
func SameUplinkConfig(a, b UplinkConfig) bool {
	return a.RapidCommit == b.RapidCommit && a.HostPart == b.HostPart && a.ReconfigureAccept == b.ReconfigureAccept &&
		a.UnreachableRoute == b.UnreachableRoute && slices.Equal(a.ClientID, b.ClientID) &&
		sameDelay(a.SolicitDelay, b.SolicitDelay) &&
		sameIAs(a.Uplink, b.Uplink)
}

func sameDelay(a, b *time.Duration) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func sameIAs(a, b *config.Uplink) bool {
	return slices.EqualFunc(iaConfigs(a), iaConfigs(b), sameIA) && (a.Address == nil) == (b.Address == nil)
}

func sameIA(a, b *config.IA) bool {
	return a.IAID == b.IAID && a.RequiredLen == b.RequiredLen && a.HintLen == b.HintLen && slices.Equal(a.Entries, b.Entries)
}
