// Package config reads dhcp6leased.conf (OpenBSD's grammar plus the Linux
// extensions documented in docs/CONFIG.md) and computes the addressing plan.
package config

import (
	"net/netip"
	"time"
)

// Config is one parsed configuration file.
type Config struct {
	RapidCommit bool      // "request rapid commit"
	Uplinks     []*Uplink // in order of first appearance in the file

	// Linux extensions, global values. Per-uplink overrides live in Uplink.
	DUID              DUIDConfig
	HostPart          netip.Addr     // default ::1
	UnreachableRoute  bool           // default true
	SolicitDelay      *time.Duration // nil: RFC 8415 random 0..1 s (SOL_MAX_DELAY)
	ReleaseOnShutdown bool           // default false
	// ReconfigureAccept: say in Solicit, Request, Renew and Rebind that
	// the client obeys authenticated Reconfigure messages (RFC 8415
	// section 18.2.11); default true.
	ReconfigureAccept bool
}

// DUIDKind selects how the client DUID is made (RFC 8415 section 11).
type DUIDKind int

// DUID kinds.
const (
	DUIDUUID DUIDKind = iota // default: DUID-UUID (type 4), persisted in the state directory
	DUIDLL                   // DUID-LL (type 3) from Interface's hardware address
	DUIDLLT                  // DUID-LLT (type 1) from Interface, time persisted
	DUIDRaw                  // Raw bytes given in hex
)

// DUIDConfig is the "duid" statement.
type DUIDConfig struct {
	Kind      DUIDKind
	Interface string // DUIDLL, DUIDLLT
	Raw       []byte // DUIDRaw
}

// Uplink is one interface the daemon requests prefixes on.
type Uplink struct {
	Name string
	IAs  []*IA // in file order; at most MaxIAs

	// Address is "request address on UPLINK": an IA_NA (RFC 8415 section
	// 21.4) for the uplink's own global address, in the same exchanges as
	// the IA_PDs; nil when not requested. It has no entries.
	Address *IA

	UpDelay   time.Duration // link-plug up delay, default 0
	DownDelay time.Duration // link-plug down delay, default 5 s
	Script    string        // hook script, "" for none
}

// MaxIAs is the number of IA_PDs allowed per uplink, as OpenBSD's MAX_IA.
const MaxIAs = 32

// IA is one "request prefix delegation" statement: one IA_PD.
type IA struct {
	Index int    // position among this uplink's IAs, from 0
	IAID  uint32 // given ("iaid N"), kept from before (InheritIAIDs) or derived (IAID)
	// FixedIAID: the file gives the IAID ("iaid N"); nothing replaces it.
	FixedIAID   bool
	Entries     []Entry
	RequiredLen int // prefix length the plan needs
	// HintLen is the length the Solicit asks for: "length L" when given
	// (FixedHint), else RequiredLen rounded down to a nibble boundary, as
	// ISPs delegate /48, /52, /56, /60 and /64 and a /61 hint only invites
	// the server to round it its own way.
	HintLen   int
	FixedHint bool
}

// Entry is one element of an IA's list: a downstream interface or a reserved
// hole.
type Entry struct {
	Name      string // downstream interface; "" for "reserve"
	PrefixLen int    // sub-prefix length, default 64
	// Offset is the entry's start inside the delegated prefix, as a 128-bit
	// value (Hi, Lo) added to the prefix's first address.
	Offset Uint128
}

// Uint128 is an unsigned 128-bit number.
type Uint128 struct{ Hi, Lo uint64 }
