package engine

import (
	"net/netip"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// Env is everything an uplink's state machine does to the world. The
// engine's process glue implements it with imsg messages to the frontend
// (Transmit) and the parent (everything else); tests implement it with
// recorders. All methods are called from the engine's single loop goroutine.
type Env interface {
	// Transmit asks the frontend to build and send one message.
	Transmit(t Transmit)
	// SetAddress asks the parent to add or refresh (replace) an address on a
	// downstream interface with the given lifetimes in seconds.
	SetAddress(a Address)
	// RemoveAddress asks the parent to delete an address.
	RemoveAddress(a Address)
	// SetRoute asks the parent to install the unreachable route for a
	// delegated prefix (RFC 7084 WPD-5); RemoveRoute deletes it.
	SetRoute(r Route)
	RemoveRoute(r Route)
	// SaveLease asks the parent to write the uplink's lease file.
	SaveLease(uplink string, l lease.Lease)
	// Event tells the parent of a lease or link event, for the hook
	// script (SPEC 12, docs/HOOKS.md).
	Event(e Event)
	// AfterFunc schedules f on the engine loop after d. stop cancels it and
	// reports whether it was still pending.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Transmit is one message for the frontend to build (SPEC 6: the frontend
// builds SOLICIT, REQUEST, RENEW, REBIND, RELEASE; the engine decides).
type Transmit struct {
	Uplink      string
	Type        dhcp6.MessageType
	XID         [3]byte
	Elapsed     uint16 // centiseconds since the exchange began, capped at 0xffff
	ServerID    []byte // Request, Renew, Release only
	IAs         []TransmitIA
	RapidCommit bool // Solicit only
	// ReconfigureAccept asks for a Reconfigure Accept option (RFC 8415
	// section 21.20).
	ReconfigureAccept bool
}

// TransmitIA is one IA_PD to put in a message, with one IA_PREFIX: the hint
// (Solicit: "::/RequiredLen" or the last held prefix) or the held prefix.
type TransmitIA struct {
	IAID      uint32
	Prefix    netip.Prefix
	Preferred uint32 // 0 in Solicit/Request hints
	Valid     uint32
	// NA: an IA_NA whose IA Address is Prefix's address (a /128), none
	// when it is ::; not an IA_PD.
	NA bool
}

// Address is one downstream address of an IA.
type Address struct {
	Uplink    string
	IAID      uint32
	Ifname    string
	Addr      netip.Prefix // address with the downstream's prefix length, e.g. 2001:db8:0:1::1/64
	Preferred uint32       // seconds; dhcp6.Infinity for forever
	Valid     uint32
}

// Route is the unreachable route for one delegated prefix.
type Route struct {
	Uplink string
	IAID   uint32
	Prefix netip.Prefix
}

// Event kinds, as docs/HOOKS.md names them.
const (
	EventBound    = "BOUND"
	EventRenew    = "RENEW"
	EventRebind   = "REBIND"
	EventChanged  = "CHANGED"
	EventExpire   = "EXPIRE"
	EventLinkUp   = "LINK_UP"
	EventLinkDown = "LINK_DOWN"
	// EventInform: an Information-request a Reconfigure asked for was
	// answered; the DNS options may have changed.
	EventInform = "INFORM"
)

// Event is a lease or link event with what the uplink holds before and
// after it.
type Event struct {
	Uplink string
	Kind   string
	State  string // after the event
	Server []byte

	Prefixes, OldPrefixes       []lease.IA
	Downstreams, OldDownstreams []Downstream
	// The uplink's own addresses from its IA_NA.
	Addresses, OldAddresses []lease.IA

	// Link events only: "up", "down" or "error" (link gone), as ifplugd's
	// IFPLUGD_PREVIOUS and IFPLUGD_CURRENT.
	LinkPrevious, LinkCurrent string

	// The DNS servers and search list of the lease (RFC 3646).
	DNSServers   []netip.Addr
	DomainSearch []string
}
