package engine

import (
	"bytes"
	"net/netip"
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// Status is an uplink's state for `dhcp6leasectl show interface`.
type Status struct {
	Uplink string
	State  string // a State's name: "Down", "Init", "Requesting", "Bound", ...
	IAs    []IAStatus

	// What was put back after someone else removed it (drift), and when
	// last.
	RepairedAddresses, RepairedRoutes uint64
	LastRepair                        time.Time

	DNSServers     []netip.Addr
	DomainSearch   []string
	ReconfigureKey bool // the server gave a Reconfigure Key

	// Address is the IA_NA's ("request address"): Prefix is the uplink's
	// address as a /128; nil when the uplink asks for none.
	Address *IAStatus

	// KernelError is the kernel's last refusal of an address or route of
	// the plan since the plan was last applied, and when; "" when none.
	KernelError   string
	KernelErrorAt time.Time
}

// IAStatus is one configured IA_PD. Times are wall clock; a zero time is
// infinity (or, with an invalid Prefix, nothing held).
type IAStatus struct {
	IAID   uint32
	Prefix netip.Prefix // invalid when the IA holds nothing
	Server []byte       // DUID of the delegating server

	PreferredEnd, ValidEnd time.Time
	T1, T2                 time.Time // when this IA is due for Renew and Rebind

	Downstreams []Downstream
	Unfit       []config.Entry // downstream entries outside the delegated prefix (SPEC 5)

	Retiring []RetiringStatus // earlier prefixes the server still grants, deprecated
	Excluded netip.Prefix     // RFC 6603: the part of Prefix no downstream gets
}

// RetiringStatus is a prefix an IA is retiring: its addresses stay,
// deprecated, until ValidEnd (the zero time: infinity).
type RetiringStatus struct {
	Prefix      netip.Prefix
	ValidEnd    time.Time
	Downstreams []Downstream
}

// Status returns the uplink's state and what each IA holds.
func (u *Uplink) Status() Status {
	s := Status{Uplink: u.cfg.Uplink.Name, State: u.state.String()}
	for _, ia := range u.ias {
		is := IAStatus{IAID: ia.cfg.IAID}
		if h := ia.held; h.Prefix.IsValid() {
			// Remaining at the bound time is the whole lifetime.
			preferred, valid := h.Remaining(h.Bound)
			t1, t2 := renewTimes(h)
			is.Prefix, is.Server = h.Prefix, bytes.Clone(u.server)
			is.PreferredEnd, is.ValidEnd = after(h.Bound, preferred), after(h.Bound, valid)
			is.T1, is.T2 = after(h.Bound, t1), after(h.Bound, t2)
			is.Downstreams, is.Unfit = u.place(ia, h)
			is.Excluded = h.Excluded
		}
		for _, r := range ia.retiring {
			_, valid := r.Remaining(r.Bound)
			placed, _ := u.place(ia, r)
			is.Retiring = append(is.Retiring, RetiringStatus{Prefix: r.Prefix, ValidEnd: after(r.Bound, valid), Downstreams: placed})
		}
		if ia.na {
			is.Downstreams = nil // the uplink itself
			s.Address = &is
			continue
		}
		s.IAs = append(s.IAs, is)
	}
	s.RepairedAddresses, s.RepairedRoutes, s.LastRepair = u.repairs.addrCount, u.repairs.routeCount, u.repairs.last
	s.DNSServers, s.DomainSearch, s.ReconfigureKey = slices.Clone(u.dns), slices.Clone(u.search), u.reconf != nil
	s.KernelError, s.KernelErrorAt = u.kernelErr, u.kernelErrAt
	return s
}

// KernelError records that the kernel refused an address or route of the
// plan (the parent's words): the lease may be Bound while a LAN has no
// address, which dhcp6leasectl must show. The next Reply applies the plan
// again and clears it, or the parent reports the refusal again.
func (u *Uplink) KernelError(msg string) {
	u.kernelErr, u.kernelErrAt = msg, time.Now()
}

// after returns t+d, or the zero time for lease.Forever.
func after(t time.Time, d time.Duration) time.Time {
	if d == lease.Forever {
		return time.Time{}
	}
	return t.Add(d)
}
