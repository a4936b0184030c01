package engine

import (
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// deprecatedValid caps the valid lifetime of the addresses of a prefix that
// was replaced, in seconds: two hours (RFC 7084 L-13).
const deprecatedValid = 2 * 60 * 60

// hold records h as ia's binding and returns the downstream addresses of the
// plan in it. Entries that do not fit are logged once per prefix (SPEC 5).
func (u *Uplink) hold(ia *iaState, h lease.IA) []Downstream {
	placed, unfit := place(ia.cfg, h.Prefix, u.cfg.HostPart)
	if h.Prefix != ia.held.Prefix && len(unfit) > 0 {
		names := make([]string, len(unfit))
		for i, e := range unfit {
			names[i] = e.Name
		}
		u.log.Warn("delegated prefix too small for the plan", "iaid", ia.cfg.IAID,
			"prefix", h.Prefix, "required_len", ia.cfg.RequiredLen, "unassigned", names)
	}
	ia.held, ia.hint = h, h.Prefix
	return placed
}

// release forgets ia's binding and removes what it configured.
func (u *Uplink) release(ia *iaState) {
	placed, _ := place(ia.cfg, ia.held.Prefix, u.cfg.HostPart)
	for _, d := range placed {
		u.env.RemoveAddress(u.address(ia, d, 0, 0))
	}
	if u.cfg.UnreachableRoute {
		u.env.RemoveRoute(u.route(ia, ia.held.Prefix))
	}
	ia.held = lease.IA{IAID: ia.cfg.IAID}
}

// bound enters Bound after a Reply refreshed the IAs in refreshed: Renew at
// the earliest of their T1, Rebind at the earliest T2. IAs the Reply left out
// do not count, so one the server ignores cannot make the client renew in a
// loop; it is renewed with the others and expires if never refreshed.
func (u *Uplink) bound(refreshed []*iaState) {
	t1, t2 := lease.Forever, lease.Forever
	for _, ia := range refreshed {
		h := ia.held
		u.log.Info("bound", "iaid", h.IAID, "prefix", h.Prefix, "preferred", h.Preferred,
			"valid", h.Valid, "server", dhcp6.FormatDUID(u.server), "reply_to", u.ex.msg.Type)
		a, b := renewTimes(h)
		t1, t2 = min(t1, a), min(t2, b)
	}
	u.stopExchange()
	u.state = StateBound
	u.deprecated = false
	u.arm(&u.t1, t1, u.renew)
	u.arm(&u.t2, t2, u.rebind)
}

// expire ends the lease at the end of the shortest valid lifetime held
// (SPEC 6): what it configured is removed and the client solicits again.
func (u *Uplink) expire() {
	oldHeld, oldDowns := u.snapshot()
	defer func() { u.event(EventExpire, oldHeld, oldDowns) }()
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			u.log.Info("expired", "iaid", ia.cfg.IAID, "prefix", ia.held.Prefix)
			u.release(ia)
		}
	}
	u.server = nil
	u.save()
	if u.state != StateDown && u.state != StateInit {
		u.solicit()
	}
}

// armExpiry times the end of the lease.
func (u *Uplink) armExpiry(now time.Time) {
	end := lease.Forever
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			_, valid := ia.held.Remaining(now)
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
		if ia.held.Prefix.IsValid() {
			l.IAs = append(l.IAs, ia.held)
		}
	}
	if l.IAs != nil {
		l.ServerID = u.server
	}
	u.env.SaveLease(u.cfg.Uplink.Name, l)
}

func (u *Uplink) stopRenewal() {
	u.t1.cancel()
	u.t2.cancel()
}

// minRenew is the shortest T1 or T2 the client uses, so that no server (nor
// a preferred lifetime of 0 with T1 left to the client) can make it renew in
// a tight loop.
const minRenew = time.Second

// renewTimes returns how long after h was bound to Renew and to Rebind
// (RFC 8415 section 21.21): T1 and T2 as the server sent them, or where it
// sent 0 the client's choice, 0.5 and 0.8 times the preferred lifetime (the
// ratios section 21.21 recommends). Infinity is lease.Forever.
func renewTimes(h lease.IA) (t1, t2 time.Duration) {
	return renewTime(h.T1, h.Preferred, 0.5), renewTime(h.T2, h.Preferred, 0.8)
}

func renewTime(t, preferred uint32, share float64) time.Duration {
	switch {
	case t == dhcp6.Infinity, t == 0 && preferred == dhcp6.Infinity:
		return lease.Forever
	case t == 0:
		return max(time.Duration(float64(preferred)*share*float64(time.Second)), minRenew)
	}
	return max(time.Duration(t)*time.Second, minRenew)
}

// seconds returns d as a lifetime in seconds, lease.Forever as infinity.
func seconds(d time.Duration) uint32 {
	if d == lease.Forever {
		return dhcp6.Infinity
	}
	return uint32(d / time.Second)
}
