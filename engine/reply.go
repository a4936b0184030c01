package engine

import (
	"bytes"
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// reply handles a Reply to the exchange in progress (RFC 8415 section
// 18.2.10). Per IA_PD: the granted prefixes are applied by update (a
// different one is a prefix change, a prefix with valid lifetime 0 is
// removed); NoPrefixAvail leaves the IA holding nothing until it is asked
// for again in the next Renew; NoBinding, in answer to Renew or Rebind,
// makes the client Request all IAs; an IA_PD left out keeps its lifetimes.
// NotOnLink starts over; other failures leave the exchange to retransmit.
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
	u.kernelErr = "" // the plan is applied again: the parent says if it fails again
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
		case code == dhcp6.StatusNoPrefixAvail && len(ia.all()) > 0:
			u.log.Info("no prefix available", iaidAttr(ia.cfg.IAID), "removed", ia.held.Prefix)
			u.release(ia)
			changed = true
		case code == dhcp6.StatusSuccess:
			r, c := u.update(ia, pd, now)
			if r {
				refreshed = append(refreshed, ia)
			}
			changed = changed || c
		}
	}

	if needRequest || len(refreshed) > 0 {
		if !bytes.Equal(u.server, m.ServerIDs[0]) {
			u.reconf = nil // another server's key authenticates nothing of this one's
		}
		u.server = bytes.Clone(m.ServerIDs[0])
	}
	if len(refreshed) > 0 {
		u.takeOptions(m)
	}
	if changed || len(refreshed) > 0 {
		u.armExpiry(now)
		u.save()
	}
	switch {
	case needRequest:
		u.request(u.server, nil)
	case len(refreshed) > 0:
		u.bound(refreshed)
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
	// A withdrawal is an event too, even when nothing was granted: the
	// hook must stop announcing what the LANs lost.
	if needRequest || len(refreshed) > 0 || changed {
		u.event(u.eventKind(k, oldHeld), oldHeld, oldDowns)
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

// statusOf returns a Status Code option's code; an absent option means
// Success (RFC 8415 section 21.13).
func statusOf(s *dhcp6.Status) dhcp6.StatusCode {
	if s == nil {
		return dhcp6.StatusSuccess
	}
	return s.Code
}

// takeOptions keeps what a Reply that bound says besides the leases: the
// DNS servers and search list (RFC 3646; absent means none now), and a
// Reconfigure Key when it brings one (RFC 8415 section 20.4.1: the server
// sends it once, in the Reply that binds). A search list that does not
// decode is counted and ignored; the prefixes do not depend on it.
func (u *Uplink) takeOptions(m *dhcp6.Message) {
	u.dns = slices.Clone(m.DNSServers)
	search, err := m.SearchList()
	if err != nil {
		u.drop(DropDomainList, m, "err", err)
		search = nil
	}
	u.search = search
	if key, err := m.ReconfigureKey(); err == nil {
		u.reconf = &lease.ReconfigureKey{Key: key, Replay: m.Auth.ReplayDetection}
	}
}
