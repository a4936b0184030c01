package pb

import (
	"net/netip"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// LeaseToPB converts a lease for the wire (parent -> engine at start,
// engine -> parent to save).
func LeaseToPB(l lease.Lease) *Lease {
	out := &Lease{ServerId: l.ServerID, DnsServers: AddrsToPB(l.DNSServers), DomainSearch: l.DomainSearch}
	if r := l.Reconfigure; r != nil {
		out.ReconfigureKey, out.ReconfigureReplay = r.Key[:], r.Replay
	}
	for _, ia := range l.IAs {
		out.Ias = append(out.Ias, LeaseIAToPB(ia))
	}
	return out
}

// LeaseIAToPB converts one prefix (or IA_NA address) of a lease.
func LeaseIAToPB(ia lease.IA) *LeaseIA {
	var bound int64
	if !ia.Bound.IsZero() {
		bound = ia.Bound.Unix()
	}
	out := &LeaseIA{
		Iaid: ia.IAID, Prefix: ia.Prefix.Addr().AsSlice(), PrefixLen: uint32(ia.Prefix.Bits()),
		Preferred: ia.Preferred, Valid: ia.Valid, BoundUnix: bound, T1: ia.T1, T2: ia.T2,
		Retiring: ia.Retiring, Downstreams: ia.Downstreams, Na: ia.NA,
	}
	if ia.Excluded.IsValid() {
		out.Excluded, out.ExcludedLen = ia.Excluded.Addr().AsSlice(), uint32(ia.Excluded.Bits())
	}
	return out
}

// LeaseFromPB converts a validated Lease back.
func LeaseFromPB(l *Lease) lease.Lease {
	out := lease.Lease{ServerID: l.ServerId, DNSServers: AddrsFromPB(l.DnsServers), DomainSearch: l.DomainSearch}
	if len(l.ReconfigureKey) == 16 {
		out.Reconfigure = &lease.ReconfigureKey{Key: [16]byte(l.ReconfigureKey), Replay: l.ReconfigureReplay}
	}
	for _, ia := range l.Ias {
		out.IAs = append(out.IAs, LeaseIAFromPB(ia))
	}
	return out
}

// LeaseIAFromPB converts one validated LeaseIA back.
func LeaseIAFromPB(ia *LeaseIA) lease.IA {
	var bound time.Time
	if ia.BoundUnix != 0 {
		bound = time.Unix(ia.BoundUnix, 0)
	}
	out := lease.IA{
		IAID: ia.Iaid, Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte(ia.Prefix)), int(ia.PrefixLen)),
		Preferred: ia.Preferred, Valid: ia.Valid, Bound: bound, T1: ia.T1, T2: ia.T2,
		Retiring: ia.Retiring, Downstreams: ia.Downstreams, NA: ia.Na,
	}
	if len(ia.Excluded) == 16 {
		out.Excluded = netip.PrefixFrom(netip.AddrFrom16([16]byte(ia.Excluded)), int(ia.ExcludedLen))
	}
	return out
}

// AddrsToPB converts IPv6 addresses to 16-byte slices.
func AddrsToPB(as []netip.Addr) [][]byte {
	var out [][]byte
	for _, a := range as {
		out = append(out, a.AsSlice())
	}
	return out
}

// AddrsFromPB converts validated 16-byte slices back.
func AddrsFromPB(bs [][]byte) []netip.Addr {
	var out []netip.Addr
	for _, b := range bs {
		out = append(out, netip.AddrFrom16([16]byte(b)))
	}
	return out
}
