package engine

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Drift: on a router other software touches the same addresses and routes
// (an operator's "ip -6 addr flush", a network manager that cleans up what
// it did not configure, an interface taken down, which flushes its IPv6
// addresses). What the plan holds and someone removed is put back, soon
// after the kernel said so, within limits: a program that removes it again
// every time must not drive the daemon into a loop with it.
const (
	// repairDelay gathers the removals of one burst (a flush is one
	// RTM_DELADDR per address) into one repair, and lets an interface's
	// deletion, whose address removals come first, arrive before it.
	repairDelay = 100 * time.Millisecond
	// repairBurst repairs may follow each other at once; then one more
	// every RepairEvery.
	repairBurst = 10
	// RepairEvery is the limit's steady rate. Exported for tests/chaos,
	// whose soak paces its drift by it.
	RepairEvery = 6 * time.Second
	// A warning says so when repairs keep happening: more than
	// fightRepairs in fightWindow, logged at most once per fightWindow.
	fightRepairs = 3
	fightWindow  = time.Minute
)

// repairs is what an uplink knows of the kernel's drift from its plan.
type repairs struct {
	addrs  []Address // removed by someone else, waiting to be put back
	routes []netip.Prefix
	timer  timer

	// due is when the repair budget would be spent at one repair per
	// RepairEvery (GCRA, the cell rate algorithm): a repair may run while
	// due is at most repairBurst-1 intervals ahead of now.
	due        time.Time
	recent     []time.Time // repairs in the last fightWindow
	lastWarned time.Time

	// Counters for dhcp6leasectl.
	addrCount, routeCount uint64
	last                  time.Time
}

// AddressGone tells the uplink that the kernel removed addr (with its
// prefix length) from ifname. If its plan holds that address, it is put
// back.
func (u *Uplink) AddressGone(ifname string, addr netip.Prefix) {
	placed := u.placements()
	i := slices.IndexFunc(placed, func(a Address) bool { return a.Ifname == ifname && a.Addr == addr })
	if i < 0 {
		return
	}
	a := placed[i]
	if !slices.ContainsFunc(u.repairs.addrs, a.sameAddress) {
		u.repairs.addrs = append(u.repairs.addrs, a)
	}
	u.scheduleRepair(repairDelay)
}

// RouteGone tells the uplink that the kernel removed its unreachable route
// for p. If the uplink holds p, the route is put back.
func (u *Uplink) RouteGone(p netip.Prefix) {
	if !slices.ContainsFunc(u.routes(), func(r Route) bool { return r.Prefix == p }) {
		return
	}
	if !slices.Contains(u.repairs.routes, p) {
		u.repairs.routes = append(u.repairs.routes, p)
	}
	u.scheduleRepair(repairDelay)
}

// DownstreamGone forgets what was to be put back on ifname: the interface
// itself went away, taking its addresses with it (SPEC 9: forgotten).
func (u *Uplink) DownstreamGone(ifname string) {
	u.repairs.addrs = slices.DeleteFunc(u.repairs.addrs, func(a Address) bool { return a.Ifname == ifname })
}

// scheduleRepair runs repair after d, unless one is due already.
func (u *Uplink) scheduleRepair(d time.Duration) {
	if u.repairs.timer.stop == nil {
		u.repairs.timer.set(u.env, d, u.repair)
	}
}

// repair puts back what was removed and the plan still holds, with the
// lifetimes it has now. Without a repair left in the budget it waits for
// the next one.
func (u *Uplink) repair() {
	r := &u.repairs
	now := time.Now()
	if wait := later(r.due, now).Sub(now) - (repairBurst-1)*RepairEvery; wait > 0 {
		u.log.Warn("repairs limited: something keeps removing what the plan holds", "next_in", wait.Round(time.Millisecond))
		r.timer.set(u.env, wait, u.repair)
		return
	}
	placed, routes := u.placements(), u.routes()
	var addrs, rts []string
	for _, gone := range r.addrs {
		if i := slices.IndexFunc(placed, gone.sameAddress); i >= 0 {
			u.env.SetAddress(placed[i])
			addrs = append(addrs, gone.Ifname+" "+gone.Addr.String())
			r.addrCount++
		}
	}
	for _, p := range r.routes {
		if i := slices.IndexFunc(routes, func(rt Route) bool { return rt.Prefix == p }); i >= 0 {
			u.env.SetRoute(routes[i])
			rts = append(rts, p.String())
			r.routeCount++
		}
	}
	r.addrs, r.routes = nil, nil
	if len(addrs)+len(rts) == 0 {
		return
	}
	r.due = later(r.due, now).Add(RepairEvery)
	r.last = now
	u.log.Info("put back what was removed", "addresses", strings.Join(addrs, ", "), "routes", strings.Join(rts, ", "))
	r.recent = append(slices.DeleteFunc(r.recent, func(t time.Time) bool { return now.Sub(t) >= fightWindow }), now)
	if len(r.recent) > fightRepairs && now.Sub(r.lastWarned) >= fightWindow {
		r.lastWarned = now
		u.log.Warn("addresses or routes keep being removed: another program manages them?",
			"repairs_last_minute", len(r.recent))
	}
}

// stopRepairs drops what was waiting to be put back: the uplink stops.
func (u *Uplink) stopRepairs() {
	u.repairs.timer.cancel()
	u.repairs.addrs, u.repairs.routes = nil, nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
