// Package dhcp6 is the DHCPv6 wire format (RFC 8415) for the subset a
// requesting router needs: client/server messages carrying IA_PD.
//
// Decoding is strict about structure (lengths, nesting) and lenient about
// meaning: a prefix length of 129 or a preferred lifetime above the valid one
// decodes fine, because RFC 8415 section 18.2.10.1 tells the client to discard
// such a prefix and keep the rest of the message. That decision is the
// engine's, not the codec's.
package dhcp6

import (
	"errors"
	"net/netip"
)

// MessageType is the msg-type field (RFC 8415 section 7.3).
type MessageType uint8

// Message types.
const (
	Solicit            MessageType = 1
	Advertise          MessageType = 2
	Request            MessageType = 3
	Confirm            MessageType = 4
	Renew              MessageType = 5
	Rebind             MessageType = 6
	Reply              MessageType = 7
	Release            MessageType = 8
	Decline            MessageType = 9
	Reconfigure        MessageType = 10
	InformationRequest MessageType = 11
	RelayForw          MessageType = 12
	RelayRepl          MessageType = 13
)

// OptionCode is an option-code (RFC 8415 section 21).
type OptionCode uint16

// Option codes the client sends or interprets.
const (
	OptClientID     OptionCode = 1
	OptServerID     OptionCode = 2
	OptORO          OptionCode = 6
	OptPreference   OptionCode = 7
	OptElapsedTime  OptionCode = 8
	OptAuth         OptionCode = 11
	OptStatusCode   OptionCode = 13
	OptRapidCommit  OptionCode = 14
	OptReconfMsg    OptionCode = 19
	OptReconfAccept OptionCode = 20
	OptIAPD         OptionCode = 25
	OptIAPrefix     OptionCode = 26
	OptSolMaxRT     OptionCode = 82
	OptInfMaxRT     OptionCode = 83
)

// StatusCode is a status-code value (RFC 8415 section 21.13).
type StatusCode uint16

// Status codes.
const (
	StatusSuccess       StatusCode = 0
	StatusUnspecFail    StatusCode = 1
	StatusNoAddrsAvail  StatusCode = 2
	StatusNoBinding     StatusCode = 3
	StatusNotOnLink     StatusCode = 4
	StatusUseMulticast  StatusCode = 5
	StatusNoPrefixAvail StatusCode = 6
)

// Infinity is the lifetime value meaning "forever" (RFC 8415 section 7.7).
const Infinity uint32 = 0xffffffff

// Status is a Status Code option. A nil *Status means the option was absent,
// which RFC 8415 section 21.13 defines as Success.
type Status struct {
	Code    StatusCode
	Message string
}

// IAPrefix is an IA Prefix option (RFC 8415 section 21.22). Prefix and
// PrefixLen are kept apart because a server may send a length above 128,
// which netip.Prefix cannot hold but the engine must see to drop it.
type IAPrefix struct {
	Preferred uint32
	Valid     uint32
	PrefixLen uint8
	Prefix    netip.Addr // always a 16-byte IPv6 address
	Status    *Status
}

// IAPD is an Identity Association for Prefix Delegation option (RFC 8415
// section 21.21).
type IAPD struct {
	IAID     uint32
	T1, T2   uint32
	Prefixes []IAPrefix
	Status   *Status
}

// Message is a client/server message (RFC 8415 section 8). Byte slices
// (ClientID, ServerIDs) alias the buffer given to Unmarshal; copy them to
// keep them past the buffer's reuse.
type Message struct {
	Type          MessageType
	TransactionID [3]byte

	ClientID  []byte   // DUID; nil when absent
	ServerIDs [][]byte // every Server ID option, in order (two is a drop reason)

	IAPDs []IAPD

	Status        *Status // top-level Status Code
	Preference    uint8
	HasPreference bool
	RapidCommit   bool
	ElapsedTime   uint16 // centiseconds; sent by clients
	HasElapsed    bool
	ORO           []OptionCode
	SolMaxRT      uint32 // 0 when absent
	InfMaxRT      uint32 // 0 when absent
	ReconfMsg     uint8  // Reconfigure Message option's msg-type; 0 when absent
	HasAuth       bool   // an Authentication option was present
}

// Decode errors. Unmarshal wraps one of these (test with errors.Is) so the
// engine can count each drop under its reason.
var (
	ErrShort         = errors.New("message shorter than 4 bytes")
	ErrOptionOverrun = errors.New("option overruns its parent")
	ErrIAPDShort     = errors.New("IA_PD option shorter than 12 bytes")
	ErrIAPrefixShort = errors.New("IA_PREFIX option shorter than 25 bytes")
	ErrOptionShort   = errors.New("option shorter than its fixed fields")
	ErrRelay         = errors.New("relay message") // RelayForw/RelayRepl: not for a client
)
