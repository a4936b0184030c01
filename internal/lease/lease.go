// Package lease is the on-disk lease file of one uplink (docs/FILES.md) and
// the persisted client DUID.
package lease

import (
	"net/netip"
	"time"
)

// IA is one delegated prefix the client holds for an IA_PD. An IA_PD
// holds one prefix its plan is placed in, and while the server renumbers
// gracefully (RFC 8415 section 18.2.10.1: a new prefix offered, the old one
// given preferred lifetime 0) also the prefixes it is retiring.
type IA struct {
	IAID      uint32
	Prefix    netip.Prefix
	Preferred uint32    // seconds from Bound; 0xffffffff is infinity
	Valid     uint32    // seconds from Bound; 0xffffffff is infinity
	Bound     time.Time // wall clock when the lifetimes were received
	T1, T2    uint32    // seconds from Bound, as received (0: client's choice)

	// Retiring marks an earlier prefix of the IA_PD that the server still
	// grants until its valid lifetime ends: its addresses are deprecated.
	Retiring bool
	// Downstreams names the IA's downstream interfaces when it was bound,
	// so that the IA keeps its IAID when the configuration is reordered.
	Downstreams []string
	// Boot stamps Bound with the kernel's boot and CLOCK_BOOTTIME, so that
	// within one boot the time spent is measured on a clock the wall
	// clock's steps cannot move. Zero when unknown.
	Boot Boot
	// Excluded is the prefix the server excluded from this one (RFC 6603),
	// which no downstream gets; invalid when none.
	Excluded netip.Prefix
	// NA marks an address of an IA_NA on the uplink (RFC 8415 section
	// 21.4), Prefix being the address as a /128, rather than a delegated
	// prefix.
	NA bool
}

// Boot is a point on the kernel's boot clock: the boot's random ID
// (/proc/sys/kernel/random/boot_id) and CLOCK_BOOTTIME.
type Boot struct {
	ID   string
	Time time.Duration
}

// Lease is the content of one uplink's lease file.
type Lease struct {
	ServerID []byte // DUID of the server that delegated; nil if unknown
	IAs      []IA

	// What the server's last Reply said besides the leases (RFC 3646).
	DNSServers   []netip.Addr
	DomainSearch []string
	// Reconfigure is the server's Reconfigure Key (RFC 8415 section
	// 20.4) and the highest replay detection value seen from it; nil when
	// the server gave none.
	Reconfigure *ReconfigureKey
}

// ReconfigureKey authenticates the server's Reconfigure messages.
type ReconfigureKey struct {
	Key    [16]byte
	Replay uint64
}
