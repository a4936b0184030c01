// Package dhcp6 is the DHCPv6 wire format (RFC 8415) for the subset a
// requesting router needs: client/server messages carrying IA_PD (with
// RFC 6603 Prefix Exclude) and IA_NA, the DNS options of RFC 3646, and
// Reconfigure with the Reconfigure Key Authentication Protocol (RFC 8415
// section 20.4).
//
// Decoding is strict about structure (lengths, nesting) and lenient about
// meaning: a prefix length of 129 or a preferred lifetime above the valid one
// decodes fine, because RFC 8415 section 18.2.10.1 tells the client to discard
// such a prefix and keep the rest of the message. That decision is the
// engine's, not the codec's. Where a decision needs more than one field
// (an excluded prefix against its delegated prefix, a search list's names,
// a Reconfigure's digest) a validating accessor makes it and says why, and
// the engine chooses what to drop: IAPrefix.Excluded, Message.SearchList,
// Message.ReconfigureKey, Message.VerifyReconfigure.
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
	OptIANA         OptionCode = 3
	OptIAAddr       OptionCode = 5
	OptORO          OptionCode = 6
	OptPreference   OptionCode = 7
	OptElapsedTime  OptionCode = 8
	OptAuth         OptionCode = 11
	OptStatusCode   OptionCode = 13
	OptRapidCommit  OptionCode = 14
	OptReconfMsg    OptionCode = 19
	OptReconfAccept OptionCode = 20
	OptDNSServers   OptionCode = 23 // RFC 3646 section 3
	OptDomainList   OptionCode = 24 // RFC 3646 section 4
	OptIAPD         OptionCode = 25
	OptIAPrefix     OptionCode = 26
	OptPDExclude    OptionCode = 67 // RFC 6603 section 4.2
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
	// Exclude is the first Prefix Exclude option in the IA Prefix; its
	// SubnetID is nil when there is none. Whether it fits the prefix is
	// Excluded's decision.
	Exclude PrefixExclude
}

// PrefixExclude is a Prefix Exclude option, OPTION_PD_EXCLUDE (RFC 6603
// section 4.2), kept as sent: the excluded prefix's length and the bits
// of it that follow the delegated prefix's length, left-aligned in
// SubnetID. Whether the two agree with each other and with the IA Prefix
// around them is IAPrefix.Excluded's decision, because the IA Prefix's own
// length may be one the engine discards.
type PrefixExclude struct {
	PrefixLen uint8
	SubnetID  []byte // at least one byte when present; aliases the message
}

// IAAddress is an IA Address option (RFC 8415 section 21.6). Like
// IAPrefix, its lifetimes are kept as sent.
type IAAddress struct {
	Address   netip.Addr // always a 16-byte IPv6 address
	Preferred uint32
	Valid     uint32
	Status    *Status
}

// IANA is an Identity Association for Non-temporary Addresses option
// (RFC 8415 section 21.4).
type IANA struct {
	IAID      uint32
	T1, T2    uint32
	Addresses []IAAddress
	Status    *Status
}

// Auth is an Authentication option (RFC 8415 section 21.11).
type Auth struct {
	Protocol        uint8
	Algorithm       uint8
	RDM             uint8  // replay detection method; 0 is a counter (section 20.3)
	ReplayDetection uint64 // for RDM 0, must grow from message to message
	Info            []byte // authentication information; aliases the message
	// InfoOffset is where Info starts in the buffer Unmarshal decoded, so
	// that a digest over that buffer can skip it. Append ignores it.
	InfoOffset int
}

// The Reconfigure Key Authentication Protocol (RFC 8415 section 20.4.1):
// the only authentication a client without configured keys can check.
const (
	AuthProtocolReconfigureKey uint8 = 3 // protocol field
	AuthAlgorithmHMACMD5       uint8 = 1 // algorithm field
	AuthRDMCounter             uint8 = 0 // RDM field: monotonically increasing counter
	ReconfigureKeyValue        uint8 = 1 // auth info type: the key, in a Reply
	ReconfigureKeyHMACMD5      uint8 = 2 // auth info type: the message's HMAC-MD5, in a Reconfigure

	// ReconfigureKeyLen is the length of the key and of the digest; the
	// auth info is a type byte and one of them.
	ReconfigureKeyLen = 16
)

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

	IANAs []IANA
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
	ReconfAccept  bool   // Reconfigure Accept (RFC 8415 section 21.20)

	DNSServers []netip.Addr // DNS Recursive Name Server option (RFC 3646 section 3)
	// DomainList is the body of the Domain Search List option (RFC 3646
	// section 4) as sent; nil when absent. SearchList decodes it.
	DomainList []byte

	HasAuth bool // an Authentication option was present
	Auth    Auth // the first Authentication option, when HasAuth
}

// Decode errors. Unmarshal wraps one of these (test with errors.Is) so the
// engine can count each drop under its reason.
var (
	ErrShort         = errors.New("message shorter than 4 bytes")
	ErrOptionOverrun = errors.New("option overruns its parent")
	ErrIAPDShort     = errors.New("IA_PD option shorter than 12 bytes")
	ErrIAPrefixShort = errors.New("IA_PREFIX option shorter than 25 bytes")
	ErrIANAShort     = errors.New("IA_NA option shorter than 12 bytes")
	ErrIAAddrShort   = errors.New("IAADDR option shorter than 24 bytes")
	ErrOptionShort   = errors.New("option shorter than its fixed fields")
	ErrRelay         = errors.New("relay message") // RelayForw/RelayRepl: not for a client
)

// Errors of the validating accessors, which judge what Unmarshal lets
// through. Each is wrapped with what was wrong.
var (
	ErrExclude      = errors.New("invalid Prefix Exclude option")     // IAPrefix.Excluded
	ErrDomainList   = errors.New("invalid Domain Search List option") // Message.SearchList
	ErrAuthMissing  = errors.New("no Authentication option")
	ErrAuthProtocol = errors.New("not the Reconfigure Key Authentication Protocol")
	ErrAuthDigest   = errors.New("HMAC-MD5 digest does not match")
)
