package engine

import (
	"bytes"
	"net/netip"
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// reply handles a Reply to the exchange in progress (RFC 8415 section
// 18.2.10). Per IA_PD: a granted prefix is bound (a different one is a
// prefix change); a held prefix with valid lifetime 0 is removed;
// NoPrefixAvail leaves the IA holding nothing until it is asked for again
// in the next Renew; NoBinding, in answer to Renew or Rebind, makes the
// client Request all IAs; an IA_PD left out keeps its lifetimes. NotOnLink
// starts over; other failures leave the exchange to retransmit.
func (u *Uplink) reply(m *dhcp6.Message, ias map[uint32]*dhcp6.IAPD) {
	if code := statusOf(m.Status); code != dhcp6.StatusSuccess {
		if code == dhcp6.StatusNotOnLink {
			u.startOver(m, "NotOnLink")
			return
		}
		// UnspecFail and the rest: retry with the normal backoff. UseMulticast
		// too: every message is multicast already.
		u.drop(DropStatus, m, "status", code)
		return
	}
	for _, pd := range ias {
		if statusOf(pd.Status) == dhcp6.StatusNotOnLink {
			u.startOver(m, "NotOnLink")
			return
		}
	}

	now := time.Now()
	k := u.ex.kind
	renewing := k == renewExchange || k == rebindExchange || k == rebootExchange
	oldHeld, oldDowns := u.snapshot()
	var refreshed []*iaState
	changed, needRequest := false, false
	for _, ia := range u.ias {
		pd := ias[ia.cfg.IAID]
		if pd == nil {
			continue
		}
		switch code := statusOf(pd.Status); {
		case code == dhcp6.StatusNoBinding && renewing:
			needRequest = true
		case code == dhcp6.StatusNoPrefixAvail && ia.held.Prefix.IsValid():
			u.log.Info("no prefix available", "iaid", ia.cfg.IAID, "removed", ia.held.Prefix)
			u.release(ia)
			changed = true
		case code == dhcp6.StatusSuccess:
			// usableIAs kept a prefix with valid lifetime 0 only if it is the
			// held one.
			withdrawn := slices.ContainsFunc(pd.Prefixes, func(p dhcp6.IAPrefix) bool { return p.Valid == 0 })
			p, ok := pick(pd, ia.held.Prefix)
			switch {
			case ok:
				u.bind(ia, lease.IA{
					IAID: ia.cfg.IAID, Prefix: prefixOf(p), Preferred: p.Preferred, Valid: p.Valid,
					Bound: now, T1: pd.T1, T2: pd.T2,
				}, withdrawn, now)
				refreshed = append(refreshed, ia)
			case withdrawn:
				u.log.Info("prefix withdrawn", "iaid", ia.cfg.IAID, "removed", ia.held.Prefix)
				u.release(ia)
			}
			changed = changed || ok || withdrawn
		}
	}

	if needRequest || len(refreshed) > 0 {
		u.server = bytes.Clone(m.ServerIDs[0])
	}
	if changed {
		u.armExpiry(now)
		u.save()
	}
	switch {
	case needRequest:
		u.request(u.server, nil)
	case len(refreshed) > 0:
		u.bound(refreshed)
	}
	if needRequest || len(refreshed) > 0 {
		u.event(u.eventKind(k, oldHeld), oldHeld, oldDowns)
	}
	switch {
	case needRequest, len(refreshed) > 0:
	case u.holds(now):
		// Nothing renewed: retransmit with backoff rather than at once, as
		// RFC 8415 section 18.2.10.1 asks for IAs a Reply leaves out.
		u.drop(DropNothingUsable, m)
	default:
		u.startOver(m, "no prefix delegated")
	}
}

// startOver goes back to Solicit. A failed Reply to a Solicit (Rapid
// Commit) leaves the Solicit exchange running with its backoff, so that a
// server cannot make the client restart it at the server's pace.
func (u *Uplink) startOver(m *dhcp6.Message, why string) {
	if u.state == StateInit {
		u.drop(DropNothingUsable, m, "why", why)
		return
	}
	u.log.Info("starting over", "why", why)
	u.solicit()
}

// bind makes h ia's binding and configures it: the downstream addresses
// with h's lifetimes (replace semantics refresh them in place) and the
// unreachable route. When h brings a different prefix, the new addresses go
// first; then the old ones are deprecated (preferred 0, valid at most 2 h,
// RFC 7084 L-13), or removed if the server withdrew the old prefix
// (withdrawn); then the route moves.
func (u *Uplink) bind(ia *iaState, h lease.IA, withdrawn bool, now time.Time) {
	old := ia.held
	placed := u.hold(ia, h)
	for _, d := range placed {
		u.env.SetAddress(u.address(ia, d, h.Preferred, h.Valid))
	}
	if old.Prefix.IsValid() && old.Prefix != h.Prefix {
		u.log.Info("prefix changed", "iaid", ia.cfg.IAID, "old", old.Prefix, "new", h.Prefix)
		_, valid := old.Remaining(now)
		gone, _ := place(ia.cfg, old.Prefix, u.cfg.HostPart)
		for _, d := range gone {
			switch {
			case slices.Contains(placed, d):
			case withdrawn:
				u.env.RemoveAddress(u.address(ia, d, 0, 0))
			default:
				u.env.SetAddress(u.address(ia, d, 0, min(seconds(valid), deprecatedValid)))
			}
		}
		if u.cfg.UnreachableRoute {
			u.env.RemoveRoute(u.route(ia, old.Prefix))
		}
	}
	if u.cfg.UnreachableRoute {
		u.env.SetRoute(u.route(ia, h.Prefix))
	}
}

// eventKind names the event of a Reply to exchange k that refreshed or
// changed the binding, old being what was held before: CHANGED when a
// prefix differs, else by exchange.
func (u *Uplink) eventKind(k exchangeKind, old []lease.IA) string {
	held, _ := u.snapshot()
	if len(old) > 0 && !slices.EqualFunc(held, old, func(a, b lease.IA) bool { return a.Prefix == b.Prefix }) {
		return EventChanged
	}
	switch k {
	case renewExchange:
		return EventRenew
	case rebindExchange:
		return EventRebind
	}
	return EventBound
}

// pick returns the prefix of pd for its IA to hold: the held one while the
// server grants it, else the first granted. A server may grant several; an
// IA holds one, as the lease file records.
func pick(pd *dhcp6.IAPD, held netip.Prefix) (dhcp6.IAPrefix, bool) {
	granted := slices.DeleteFunc(slices.Clone(pd.Prefixes), func(p dhcp6.IAPrefix) bool { return p.Valid == 0 })
	if len(granted) == 0 {
		return dhcp6.IAPrefix{}, false
	}
	if i := slices.IndexFunc(granted, func(p dhcp6.IAPrefix) bool { return prefixOf(p) == held }); i >= 0 {
		return granted[i], true
	}
	return granted[0], true
}

// statusOf returns a Status Code option's code; an absent option means
// Success (RFC 8415 section 21.13).
func statusOf(s *dhcp6.Status) dhcp6.StatusCode {
	if s == nil {
		return dhcp6.StatusSuccess
	}
	return s.Code
}
