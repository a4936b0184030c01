// Package lease is the on-disk lease file of one uplink (docs/FILES.md) and
// the persisted client DUID.
package lease

import (
	"net/netip"
	"time"
)

// IA is what the client holds for one IA_PD: one delegated prefix.
type IA struct {
	IAID      uint32
	Prefix    netip.Prefix
	Preferred uint32    // seconds from Bound; 0xffffffff is infinity
	Valid     uint32    // seconds from Bound; 0xffffffff is infinity
	Bound     time.Time // wall clock when the lifetimes were received
	T1, T2    uint32    // seconds from Bound, as received (0: client's choice)
}

// Lease is the content of one uplink's lease file.
type Lease struct {
	ServerID []byte // DUID of the server that delegated; nil if unknown
	IAs      []IA
}
