package pb

import (
	"net/netip"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// LeaseToPB converts a lease for the wire (parent -> engine at start,
// engine -> parent to save).
func LeaseToPB(l lease.Lease) *Lease {
	out := &Lease{ServerId: l.ServerID}
	for _, ia := range l.IAs {
		var bound int64
		if !ia.Bound.IsZero() {
			bound = ia.Bound.Unix()
		}
		out.Ias = append(out.Ias, &LeaseIA{
			Iaid: ia.IAID, Prefix: ia.Prefix.Addr().AsSlice(), PrefixLen: uint32(ia.Prefix.Bits()),
			Preferred: ia.Preferred, Valid: ia.Valid, BoundUnix: bound, T1: ia.T1, T2: ia.T2,
			Retiring: ia.Retiring, Downstreams: ia.Downstreams,
		})
	}
	return out
}

// LeaseFromPB converts a validated Lease back.
func LeaseFromPB(l *Lease) lease.Lease {
	out := lease.Lease{ServerID: l.ServerId}
	for _, ia := range l.Ias {
		var bound time.Time
		if ia.BoundUnix != 0 {
			bound = time.Unix(ia.BoundUnix, 0)
		}
		out.IAs = append(out.IAs, lease.IA{
			IAID: ia.Iaid, Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte(ia.Prefix)), int(ia.PrefixLen)),
			Preferred: ia.Preferred, Valid: ia.Valid, Bound: bound, T1: ia.T1, T2: ia.T2,
			Retiring: ia.Retiring, Downstreams: ia.Downstreams,
		})
	}
	return out
}
