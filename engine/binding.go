package engine

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// iaState is one configured IA_PD and the prefixes it holds.
type iaState struct {
	cfg *config.IA
	// na: the uplink's IA_NA ("request address"), whose "prefixes" are
	// /128 addresses on the uplink itself, handled like delegations.
	na bool
	// held is the prefix the IA's plan is placed in; Prefix is invalid
	// when the IA holds none.
	held lease.IA
	// retiring are earlier prefixes of the IA that the server still grants
	// while it renumbers (RFC 8415 section 18.2.10.1): their addresses stay,
	// deprecated, until their valid lifetime ends. At most lease.MaxRetiring.
	retiring []lease.IA
	hint     netip.Prefix // the last prefix held: the Solicit hint
}

// all returns every prefix ia holds: the current one first, if any, then
// the retiring ones.
func (ia *iaState) all() []lease.IA {
	var out []lease.IA
	if ia.held.Prefix.IsValid() {
		out = append(out, ia.held)
	}
	return append(out, ia.retiring...)
}

// holdsPrefix reports whether p is one of ia's prefixes.
func (ia *iaState) holdsPrefix(p netip.Prefix) bool {
	return slices.ContainsFunc(ia.all(), func(h lease.IA) bool { return h.Prefix == p })
}

// deprecatedValid caps the valid lifetime of the addresses of a prefix that
// was replaced, in seconds: two hours (RFC 7084 L-13).
const deprecatedValid = 2 * 60 * 60

// update applies a successful IA_PD of a Reply to ia (RFC 8415 section
// 18.2.10.1) and reports whether it granted ia a current prefix
// (refreshed) and whether what ia holds changed. The prefix the plan goes
// in is chosen by choose. Kernel changes go in this order: the current
// prefix's addresses first, then the other prefixes' (refreshed, removed
// when the server withdrew them with valid lifetime 0, or deprecated when
// replaced without a word, RFC 7084 L-13), then the routes.
func (u *Uplink) update(ia *iaState, pd *dhcp6.IAPD, now time.Time) (refreshed, changed bool) {
	before := ia.all()
	granted := func(p dhcp6.IAPrefix, retiring bool) lease.IA {
		// usableIAs dropped the prefixes whose exclusion is invalid.
		excluded, _, _ := p.Excluded()
		return lease.IA{
			IAID: ia.cfg.IAID, Prefix: prefixOf(p), Preferred: p.Preferred, Valid: p.Valid,
			Bound: now, T1: pd.T1, T2: pd.T2, Retiring: retiring, Downstreams: ia.cfg.Downstreams(),
			Excluded: excluded, NA: ia.na,
		}
	}
	cur, ok := choose(pd, ia.held.Prefix)
	next := lease.IA{IAID: ia.cfg.IAID}
	if ok {
		old := ia.held.Prefix
		next = granted(cur, false)
		changed = next.Prefix != old
		if changed && old.IsValid() {
			u.log.Info("prefix changed", iaidAttr(ia.cfg.IAID), "old", old, "new", next.Prefix)
		}
		for _, d := range u.hold(ia, next) {
			u.env.SetAddress(u.address(ia, d, next.Preferred, next.Valid))
		}
	}
	var retiring, gone []lease.IA
	for _, h := range before {
		if h.Prefix == next.Prefix {
			if h.Excluded != next.Excluded {
				gone = append(gone, h) // its routes, cut around another exclusion
			}
			continue
		}
		i := slices.IndexFunc(pd.Prefixes, func(p dhcp6.IAPrefix) bool { return prefixOf(p) == h.Prefix })
		switch {
		case i >= 0 && pd.Prefixes[i].Valid > 0:
			r := granted(pd.Prefixes[i], true)
			if !h.Retiring {
				u.log.Info("prefix retiring", iaidAttr(ia.cfg.IAID), "prefix", h.Prefix, "valid", r.Valid)
			}
			retiring = append(retiring, r)
			u.setAddresses(ia, r, r.Preferred, r.Valid)
			changed = changed || !h.Retiring
		case i >= 0:
			u.log.Info("prefix withdrawn", iaidAttr(ia.cfg.IAID), "prefix", h.Prefix)
			u.removeAddresses(ia, h)
			gone = append(gone, h)
			changed = true
		case !h.Retiring && ok:
			// Replaced, and the server no longer lists it: deprecated with
			// at most 2 h left (RFC 7084 L-13), then forgotten; the kernel
			// removes the addresses when that ends.
			_, valid := h.Remaining(now)
			u.setAddresses(ia, h, 0, min(seconds(valid), deprecatedValid))
			gone = append(gone, h)
		case !h.Retiring:
			// Left out of an IA_PD that granted nothing: it keeps its
			// lifetimes (RFC 8415 section 18.2.10.1).
			next = h
		default:
			retiring = append(retiring, h)
		}
	}
	// The retiring prefixes closest to the end of their lifetimes go first
	// when a server renumbers faster than they expire.
	slices.SortStableFunc(retiring, func(a, b lease.IA) int {
		_, va := a.Remaining(now)
		_, vb := b.Remaining(now)
		return -compareDurations(va, vb)
	})
	for len(retiring) > lease.MaxRetiring {
		h := retiring[len(retiring)-1]
		u.log.Warn("too many retiring prefixes: removing the oldest", iaidAttr(ia.cfg.IAID), "prefix", h.Prefix)
		u.removeAddresses(ia, h)
		gone = append(gone, h)
		retiring = retiring[:len(retiring)-1]
	}
	ia.held, ia.retiring = next, retiring
	for _, h := range gone {
		u.removeRoutes(ia, h)
	}
	if ok {
		u.setRoutes(ia, next)
	}
	return ok, changed
}

// choose returns the prefix of pd that an IA whose current prefix is held
// places its plan in (an IA_PD may grant several; the plan uses one): the
// current prefix while the server grants it a preferred lifetime, else the
// first granted prefix that has one (graceful renumbering, RFC 8415
// section 18.2.10.1: the server offers a new prefix and gives the old one
// preferred lifetime 0), else the current prefix, deprecated, while it is
// still granted, else the first granted. A prefix with valid lifetime 0 is
// never granted.
func choose(pd *dhcp6.IAPD, held netip.Prefix) (dhcp6.IAPrefix, bool) {
	var firstGranted, firstPreferred, current *dhcp6.IAPrefix
	for i := range pd.Prefixes {
		p := &pd.Prefixes[i]
		if p.Valid == 0 {
			continue
		}
		if firstGranted == nil {
			firstGranted = p
		}
		if p.Preferred > 0 && firstPreferred == nil {
			firstPreferred = p
		}
		if prefixOf(*p) == held {
			current = p
		}
	}
	for _, p := range []*dhcp6.IAPrefix{preferredOnly(current), firstPreferred, current, firstGranted} {
		if p != nil {
			return *p, true
		}
	}
	return dhcp6.IAPrefix{}, false
}

// preferredOnly returns p if it has a preferred lifetime, else nil.
func preferredOnly(p *dhcp6.IAPrefix) *dhcp6.IAPrefix {
	if p != nil && p.Preferred > 0 {
		return p
	}
	return nil
}

func compareDurations(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hold records h as ia's current prefix and returns the downstream
// addresses of the plan in it. Entries that do not fit are logged once per
// prefix (SPEC 5).
func (u *Uplink) hold(ia *iaState, h lease.IA) []Downstream {
	placed, unfit := u.place(ia, h)
	if h.Prefix != ia.held.Prefix && len(unfit) > 0 {
		names := make([]string, len(unfit))
		for i, e := range unfit {
			names[i] = e.Name
		}
		u.log.Warn("delegated prefix too small for the plan", iaidAttr(ia.cfg.IAID),
			"prefix", h.Prefix, "required_len", ia.cfg.RequiredLen, "unassigned", strings.Join(names, ","))
	}
	ia.held, ia.hint = h, h.Prefix
	return placed
}

// setAddresses configures the plan's addresses in prefix h with the given
// lifetimes.
func (u *Uplink) setAddresses(ia *iaState, h lease.IA, preferred, valid uint32) {
	placed, _ := u.place(ia, h)
	for _, d := range placed {
		u.env.SetAddress(u.address(ia, d, preferred, valid))
	}
}

// removeAddresses removes the plan's addresses in prefix h.
func (u *Uplink) removeAddresses(ia *iaState, h lease.IA) {
	placed, _ := u.place(ia, h)
	for _, d := range placed {
		u.env.RemoveAddress(u.address(ia, d, 0, 0))
	}
}

func (u *Uplink) removeRoutes(ia *iaState, h lease.IA) {
	for _, r := range u.routesFor(ia, h) {
		u.env.RemoveRoute(r)
	}
}

func (u *Uplink) setRoutes(ia *iaState, h lease.IA) {
	for _, r := range u.routesFor(ia, h) {
		u.env.SetRoute(r)
	}
}

// release forgets every prefix of ia and removes what they configured.
func (u *Uplink) release(ia *iaState) {
	all := ia.all()
	for _, h := range all {
		u.removeAddresses(ia, h)
	}
	for _, h := range all {
		u.removeRoutes(ia, h)
	}
	ia.held, ia.retiring = lease.IA{IAID: ia.cfg.IAID}, nil
}

// bound enters Bound after a Reply refreshed the IAs in refreshed: Renew at
// the earliest of their T1, Rebind at the earliest T2. IAs the Reply left out
// do not count, so one the server ignores cannot make the client renew in a
// loop; it is renewed with the others and expires if never refreshed.
func (u *Uplink) bound(refreshed []*iaState) {
	t1, t2 := lease.Forever, lease.Forever
	for _, ia := range refreshed {
		h := ia.held
		u.log.Info("bound", iaidAttr(ia.cfg.IAID), "prefix", h.Prefix, "preferred", h.Preferred,
			"valid", h.Valid, "server", dhcp6.FormatDUID(u.server), "reply_to", u.ex.msg.Type)
		a, b := renewTimes(h)
		t1, t2 = min(t1, a), min(t2, b)
	}
	u.stopExchange()
	u.state = StateBound
	u.deprecated = false
	u.restarts.reset()
	u.arm(&u.t1, t1, u.renew)
	u.arm(&u.t2, t2, u.rebind)
}

// expire removes the prefixes whose valid lifetime has ended (SPEC 6):
// their addresses and routes. Every other prefix stays: an IA whose current
// prefix ended holds nothing until a Reply grants it one again (every Renew
// and Rebind asks for it, RFC 8415 section 18.2.4), and only when no IA
// holds a current prefix any more does the client solicit.
func (u *Uplink) expire() {
	now := time.Now()
	oldHeld, oldDowns := u.snapshot()
	for _, ia := range u.ias {
		var kept []lease.IA
		for _, h := range ia.all() {
			if _, valid := h.Remaining(now); valid > 0 {
				kept = append(kept, h)
				continue
			}
			u.log.Info("expired", iaidAttr(ia.cfg.IAID), "prefix", h.Prefix)
			u.removeAddresses(ia, h)
			u.removeRoutes(ia, h)
			if !h.Retiring {
				ia.held = lease.IA{IAID: ia.cfg.IAID}
			}
		}
		ia.retiring = slices.DeleteFunc(kept, func(h lease.IA) bool { return !h.Retiring })
	}
	if !u.holds(now) {
		u.server, u.dns, u.search, u.reconf = nil, nil, nil, nil
	}
	u.armExpiry(now)
	u.save()
	if !u.holds(now) && u.state != StateDown && u.state != StateInit {
		u.solicit()
	}
	u.event(EventExpire, oldHeld, oldDowns)
}

// armExpiry times the end of the first prefix to expire.
func (u *Uplink) armExpiry(now time.Time) {
	end := lease.Forever
	for _, ia := range u.ias {
		for _, h := range ia.all() {
			_, valid := h.Remaining(now)
			end = min(end, valid)
		}
	}
	u.arm(&u.expiry, end, u.expire)
}

// arm sets t to run f after d, or cancels it if d is lease.Forever.
func (u *Uplink) arm(t *timer, d time.Duration, f func()) {
	if d == lease.Forever {
		t.cancel()
		return
	}
	t.set(u.env, d, f)
}

// save writes the lease file.
func (u *Uplink) save() {
	var l lease.Lease
	for _, ia := range u.ias {
		l.IAs = append(l.IAs, ia.all()...)
	}
	if l.IAs != nil {
		l.ServerID = u.server
		l.DNSServers, l.DomainSearch, l.Reconfigure = u.dns, u.search, u.reconf
	}
	u.env.SaveLease(u.cfg.Uplink.Name, l)
}

func (u *Uplink) stopRenewal() {
	u.t1.cancel()
	u.t2.cancel()
}

// minRenew is the shortest T1 or T2 the client uses, so that no server (nor
// a lifetime of a second or two with T1 left to the client) can make it
// renew in a tight loop (RFC 8415 section 14.1).
const minRenew = time.Second

// renewTimes returns how long after h was bound to Renew and to Rebind:
//   - T1 and T2 as the server sent them (RFC 8415 section 21.21); where it
//     sent 0, the client's choice (section 14.2): 0.5 and 0.8 times the
//     preferred lifetime, the ratios section 21.21 recommends, or of the
//     valid lifetime when the preferred one is 0 (a deprecated prefix must
//     still be renewed before it ends, not at once and again every second);
//   - neither past the valid lifetime: a T1 or T2 at or beyond it would let
//     the lease end without a Renew or Rebind (section 18.2.5: Rebind runs
//     until the valid lifetime ends), so they become 0.5 and 0.8 of it;
//   - T1 below T2: at T1 = T2 the Rebind would cancel the Renew before it
//     went out (section 18.2.4 wants the Renew first), so T1 becomes 5/8 of
//     T2, the 0.5 : 0.8 ratio;
//   - at least minRenew each, T2 after T1.
//
// Infinity is lease.Forever.
func renewTimes(h lease.IA) (t1, t2 time.Duration) {
	base := h.Preferred
	if base == 0 {
		base = h.Valid
	}
	t1, t2 = renewTime(h.T1, base, 0.5), renewTime(h.T2, base, 0.8)
	if valid := lifetime(h.Valid); valid != lease.Forever {
		if t2 >= valid {
			t2 = share(valid, 0.8)
		}
		if t1 >= valid {
			t1 = share(valid, 0.5)
		}
	}
	if t2 != lease.Forever && t1 >= t2 {
		t1 = share(t2, 0.625)
	}
	t1 = max(t1, minRenew)
	if t2 != lease.Forever {
		t2 = max(t2, t1+minRenew)
	}
	return t1, t2
}

// renewTime is T1 or T2 from the server's value t, or where t is 0, share
// of the lifetime base.
func renewTime(t, base uint32, s float64) time.Duration {
	if t == 0 {
		return share(lifetime(base), s)
	}
	return lifetime(t)
}

// lifetime returns a lifetime in seconds as a duration, infinity as
// lease.Forever.
func lifetime(s uint32) time.Duration {
	if s == dhcp6.Infinity {
		return lease.Forever
	}
	return time.Duration(s) * time.Second
}

// share returns s times d; lease.Forever stays.
func share(d time.Duration, s float64) time.Duration {
	if d == lease.Forever {
		return d
	}
	return time.Duration(float64(d) * s)
}

// seconds returns d as a lifetime in seconds, lease.Forever as infinity.
func seconds(d time.Duration) uint32 {
	if d == lease.Forever {
		return dhcp6.Infinity
	}
	return uint32(d / time.Second)
}

// iaConfigs returns the uplink's IAs: its IA_PDs, then its IA_NA if it
// asks for an address.
func iaConfigs(u *config.Uplink) []*config.IA {
	if u.Address == nil {
		return u.IAs
	}
	return append(slices.Clone(u.IAs), u.Address)
}

// newIAState returns the state of IA c of uplink u, holding nothing.
func newIAState(u *config.Uplink, c *config.IA) *iaState {
	return &iaState{cfg: c, held: lease.IA{IAID: c.IAID, NA: c == u.Address}, na: c == u.Address}
}
