// Package hostile is a DHCPv6 server for tests that answers a requesting
// router with the malformed and semantically bad messages RFC 8415 tells a
// client to drop (SPEC 6, receive validation), floods it, or, in Valid
// mode, delegates properly. It runs in a lab namespace (tests/lab).
package hostile

import (
	"encoding/binary"
	"fmt"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// Mode is how the server answers.
type Mode int

// Modes. Each hostile mode answers every client message with the answer
// Valid would give (an Advertise, and a Reply with Rapid Commit, to a
// Solicit; a Reply to the others) spoiled in one way, except Reconfigure,
// UnsolicitedReply and Flood, which send what nobody asked for.
const (
	Valid Mode = iota

	TruncatedHeader     // 3 bytes: not even a header
	TruncatedOption     // cut inside the first option's header
	ShortOption         // Preference of 0 bytes
	OverrunMessage      // the last option's length runs past the message
	OverrunParent       // an IA_PREFIX runs past its IA_PD
	WrongXID            // transaction id of another exchange
	NoClientID          // Client ID left out
	ForeignClientID     // another client's DUID
	NoServerID          // Server ID left out
	TwoServerIDs        // two different Server IDs
	ShortIAPD           // IA_PD of 8 bytes (IAID and T1 only)
	ShortIAPrefix       // IA_PREFIX of 24 bytes
	PrefixLen0          // prefix length 0
	PrefixLen129        // prefix length 129
	PrefixLen255        // prefix length 255
	PreferredAboveValid // preferred lifetime above the valid one
	ValidZero           // valid lifetime 0 for a prefix the client never held
	T1AboveT2           // T1 above T2, both non-zero

	// A Status Code at the top level, no IA_PD (RFC 8415 section 21.13).
	StatusNoPrefixAvail
	StatusNoBinding
	StatusUseMulticast
	StatusUnspecFail
	StatusNotOnLink

	// A Status Code inside the IA_PD, no prefix.
	IAStatusNoPrefixAvail
	IAStatusNoBinding
	IAStatusUseMulticast
	IAStatusUnspecFail
	IAStatusNotOnLink

	UnknownType      // message types a server never sends, each of them
	Reconfigure      // Reconfigure without Authentication, unasked
	UnsolicitedReply // Replies to transactions the client never started
	Flood            // every spoiled answer above, 10,000 a second for 10 s

	modeEnd

	// Scenarios, not in Hostile(): servers within the RFC that clients get
	// wrong.

	// RefuseRequests advertises a prefix to every Solicit (never Rapid
	// Commit) and answers every Request with NoPrefixAvail in the IA_PD:
	// a client must back off (RFC 8415 section 15), not loop.
	RefuseRequests
	// Renumber answers Renew and Rebind with the held prefix deprecated
	// (preferred lifetime 0, the valid lifetime kept) and a new one:
	// graceful renumbering (RFC 8415 section 18.2.10.1).
	Renumber
)

func (m Mode) String() string {
	switch m {
	case Valid:
		return "valid"
	case TruncatedHeader:
		return "truncated-header"
	case TruncatedOption:
		return "truncated-option"
	case ShortOption:
		return "short-option"
	case OverrunMessage:
		return "overrun-message"
	case OverrunParent:
		return "overrun-parent"
	case WrongXID:
		return "wrong-xid"
	case NoClientID:
		return "no-client-id"
	case ForeignClientID:
		return "foreign-client-id"
	case NoServerID:
		return "no-server-id"
	case TwoServerIDs:
		return "two-server-ids"
	case ShortIAPD:
		return "short-ia-pd"
	case ShortIAPrefix:
		return "short-ia-prefix"
	case PrefixLen0:
		return "prefix-length-0"
	case PrefixLen129:
		return "prefix-length-129"
	case PrefixLen255:
		return "prefix-length-255"
	case PreferredAboveValid:
		return "preferred-above-valid"
	case ValidZero:
		return "valid-zero"
	case T1AboveT2:
		return "t1-above-t2"
	case UnknownType:
		return "unknown-type"
	case Reconfigure:
		return "reconfigure"
	case UnsolicitedReply:
		return "unsolicited-reply"
	case Flood:
		return "flood"
	case RefuseRequests:
		return "refuse-requests"
	case Renumber:
		return "renumber"
	}
	if code, inIA, ok := m.status(); ok {
		if inIA {
			return "ia-status-" + code.String()
		}
		return "status-" + code.String()
	}
	return fmt.Sprintf("mode %d", int(m))
}

// Hostile lists every mode but Valid.
func Hostile() []Mode {
	var modes []Mode
	for m := Valid + 1; m < modeEnd; m++ {
		modes = append(modes, m)
	}
	return modes
}

// status is the Status Code a status mode sends, and whether it goes in
// the IA_PD.
func (m Mode) status() (code dhcp6.StatusCode, inIA, ok bool) {
	switch m {
	case StatusNoPrefixAvail, IAStatusNoPrefixAvail:
		code = dhcp6.StatusNoPrefixAvail
	case StatusNoBinding, IAStatusNoBinding:
		code = dhcp6.StatusNoBinding
	case StatusUseMulticast, IAStatusUseMulticast:
		code = dhcp6.StatusUseMulticast
	case StatusUnspecFail, IAStatusUnspecFail:
		code = dhcp6.StatusUnspecFail
	case StatusNotOnLink, IAStatusNotOnLink:
		code = dhcp6.StatusNotOnLink
	default:
		return 0, false, false
	}
	return code, m >= IAStatusNoPrefixAvail, true
}

// unknownType is the n-th message type UnknownType sends: in turn, one a
// server never sends (a client's), a relay type, and ones RFC 8415 does
// not define.
func unknownType(n int) dhcp6.MessageType {
	types := [unknownTypes]dhcp6.MessageType{0, dhcp6.Solicit, dhcp6.RelayRepl, 36, 255}
	return types[n%unknownTypes]
}

// unknownTypes is how many types UnknownType sends.
const unknownTypes = 5

// variants is how many packets m makes of one good answer: UnknownType one
// per type it sends.
func (m Mode) variants() int {
	if m == UnknownType {
		return unknownTypes
	}
	return 1
}

// encode returns the wire form of a, the good answer to a client message,
// as m sends it, changing a on the way; n counts the packets encoded so
// far, for modes that vary. a holds at least one IA_PD with one prefix.
func (m Mode) encode(a *dhcp6.Message, n int) ([]byte, error) {
	if m > modeEnd {
		return a.Marshal() // a scenario: answers() made it what it is
	}
	// Semantic faults: change the message and encode it as it is, the
	// codec does not judge (internal/dhcp6 Append).
	ia := &a.IAPDs[0]
	p := &ia.Prefixes[0]
	switch m {
	case WrongXID:
		a.TransactionID[2]++
	case NoClientID:
		a.ClientID = nil
	case ForeignClientID:
		// A DUID-UUID no client in the lab has.
		a.ClientID = dhcp6.DUIDUUID([16]byte{0xde, 0xad, 0xbe, 0xef})
	case NoServerID:
		a.ServerIDs = nil
	case TwoServerIDs:
		a.ServerIDs = append(a.ServerIDs, dhcp6.DUIDLL(1, []byte{2, 0, 0, 0, 0, 2}))
	case PrefixLen0:
		p.PrefixLen = 0
	case PrefixLen129:
		p.PrefixLen = 129
	case PrefixLen255:
		p.PrefixLen = 255
	case PreferredAboveValid:
		p.Preferred = p.Valid + 1
	case ValidZero:
		p.Preferred, p.Valid = 0, 0
	case T1AboveT2:
		ia.T1, ia.T2 = ia.T2, ia.T1
	case UnknownType:
		a.Type = unknownType(n)
	case Reconfigure:
		// RFC 8415 section 18.3.11; without Authentication (section
		// 20.4) a client must drop it.
		a.Type, a.TransactionID, a.IAPDs, a.RapidCommit = dhcp6.Reconfigure, [3]byte{}, nil, false
		a.ReconfMsg = uint8(dhcp6.Renew)
	case UnsolicitedReply:
		// A Reply that could bind, to a transaction the client never began.
		a.Type, a.RapidCommit = dhcp6.Reply, true
		a.TransactionID[0] ^= byte(n) | 0x80
	}
	if code, inIA, ok := m.status(); ok {
		s := &dhcp6.Status{Code: code, Message: "hostile " + m.String()}
		if inIA {
			ia.Prefixes, ia.Status = nil, s
		} else {
			a.IAPDs, a.Status = nil, s
		}
	}
	// Structural faults: encode a well-formed message, then break it.
	// ShortIAPD, ShortIAPrefix and OverrunParent replace the IA_PD.
	if m == ShortIAPD || m == ShortIAPrefix || m == OverrunParent {
		a.IAPDs = nil
	}
	b, err := a.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%v: %w", m, err)
	}
	switch m {
	case TruncatedHeader:
		b = b[:3]
	case TruncatedOption:
		b = b[:4+2]
	case ShortOption:
		b = option(b, dhcp6.OptPreference, nil)
	case OverrunMessage:
		b = binary.BigEndian.AppendUint16(b, uint16(dhcp6.OptServerID))
		b = binary.BigEndian.AppendUint16(b, 100)
		b = append(b, 1, 2, 3)
	case ShortIAPD:
		b = option(b, dhcp6.OptIAPD, iaPDFixed(ia)[:8])
	case ShortIAPrefix:
		b = option(b, dhcp6.OptIAPD, option(iaPDFixed(ia), dhcp6.OptIAPrefix, iaPrefixFixed(p)[:24]))
	case OverrunParent:
		// The IA_PREFIX claims 10 bytes more than its IA_PD holds; the
		// message goes on, so only the parent is overrun.
		body := iaPDFixed(ia)
		body = binary.BigEndian.AppendUint16(body, uint16(dhcp6.OptIAPrefix))
		body = binary.BigEndian.AppendUint16(body, 25+10)
		body = append(body, iaPrefixFixed(p)...)
		b = option(b, dhcp6.OptIAPD, body)
		b = option(b, dhcp6.OptPreference, []byte{0})
	}
	return b, nil
}

// option appends an option (RFC 8415 section 21.1) with body to b.
func option(b []byte, code dhcp6.OptionCode, body []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// iaPDFixed is the fixed part of an IA_PD: IAID, T1, T2.
func iaPDFixed(ia *dhcp6.IAPD) []byte {
	b := binary.BigEndian.AppendUint32(nil, ia.IAID)
	b = binary.BigEndian.AppendUint32(b, ia.T1)
	return binary.BigEndian.AppendUint32(b, ia.T2)
}

// iaPrefixFixed is the fixed part of an IA_PREFIX: lifetimes, length,
// prefix.
func iaPrefixFixed(p *dhcp6.IAPrefix) []byte {
	b := binary.BigEndian.AppendUint32(nil, p.Preferred)
	b = binary.BigEndian.AppendUint32(b, p.Valid)
	b = append(b, p.PrefixLen)
	a := p.Prefix.As16()
	return append(b, a[:]...)
}
