package dhcp6

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpMessages compares Messages: netip.Addr by value, and, for the slices
// whose backing array Unmarshal reuses, empty equal to nil (a reused
// Message comes back with empty slices where a fresh one has nil).
// ClientID is not among them: there nil means absent and empty means an
// empty option.
func cmpMessages() cmp.Options {
	reused := map[reflect.Type]bool{
		reflect.TypeFor[[]IANA]():       true,
		reflect.TypeFor[[]IAAddress]():  true,
		reflect.TypeFor[[]IAPD]():       true,
		reflect.TypeFor[[]IAPrefix]():   true,
		reflect.TypeFor[[][]byte]():     true,
		reflect.TypeFor[[]OptionCode](): true,
		reflect.TypeFor[[]netip.Addr](): true,
	}
	return cmp.Options{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.FilterPath(func(p cmp.Path) bool { return reused[p.Last().Type()] }, cmpopts.EquateEmpty()),
	}
}

// The three whole messages below share these options.

// clientIDOption is the Client ID our client sends: a DUID-UUID.
func clientIDOption() []byte {
	return []byte{
		0x00, 0x01, 0x00, 0x12, // Client ID, 18 bytes
		0x00, 0x04, // DUID-UUID
		0x6b, 0x3f, 0x1e, 0x2a, 0x9c, 0x44, 0x4d, 0x7e,
		0x8f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
	}
}

func clientDUID() []byte { return clientIDOption()[4:] }

// serverIDOption is a Server ID as Kea 2.2 sends it with a DUID-LL
// server-id.
func serverIDOption() []byte {
	return []byte{
		0x00, 0x02, 0x00, 0x0a, // Server ID, 10 bytes
		0x00, 0x03, 0x00, 0x01, // DUID-LL, Ethernet
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
	}
}

func serverDUID() []byte { return serverIDOption()[4:] }

// hintIAPDOption is the IA_PD of our client's Solicit: IAID 1, a /56
// hint.
func hintIAPDOption() []byte {
	return []byte{
		0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
		0x00, 0x00, 0x00, 0x01, // IAID 1
		0x00, 0x00, 0x00, 0x00, // T1 0
		0x00, 0x00, 0x00, 0x00, // T2 0
		0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
		0x00, 0x00, 0x00, 0x00, // preferred 0
		0x00, 0x00, 0x00, 0x00, // valid 0
		0x38,                                           // prefix length 56
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ::
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
}

// solicit is a Solicit as our client sends it: a /56 hint, rapid commit.
func solicit() ([]byte, Message) {
	wire := slices.Concat(
		[]byte{0x01, 0xa1, 0xb2, 0xc3}, // SOLICIT, transaction id
		clientIDOption(),
		hintIAPDOption(),
		[]byte{
			0x00, 0x06, 0x00, 0x04, 0x00, 0x52, 0x00, 0x53, // ORO: SOL_MAX_RT, INF_MAX_RT
			0x00, 0x08, 0x00, 0x02, 0x00, 0x00, // Elapsed Time 0
			0x00, 0x0e, 0x00, 0x00, // Rapid Commit
		},
	)
	return wire, Message{
		Type:          Solicit,
		TransactionID: [3]byte{0xa1, 0xb2, 0xc3},
		ClientID:      clientDUID(),
		IAPDs: []IAPD{{
			IAID:     1,
			Prefixes: []IAPrefix{{PrefixLen: 56, Prefix: netip.IPv6Unspecified()}},
		}},
		ORO:         []OptionCode{OptSolMaxRT, OptInfMaxRT},
		HasElapsed:  true,
		RapidCommit: true,
	}
}

// keaReply is a Reply with two IA_PDs as Kea 2.2 sends it.
func keaReply() ([]byte, Message) {
	wire := slices.Concat(
		[]byte{0x07, 0xa1, 0xb2, 0xc3}, // REPLY, transaction id
		clientIDOption(),
		serverIDOption(),
		[]byte{
			0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
			0x00, 0x00, 0x00, 0x01, // IAID 1
			0x00, 0x00, 0x03, 0xe8, // T1 1000
			0x00, 0x00, 0x07, 0xd0, // T2 2000
			0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
			0x00, 0x00, 0x0b, 0xb8, // preferred 3000
			0x00, 0x00, 0x0f, 0xa0, // valid 4000
			0x38,                                           // prefix length 56
			0x20, 0x01, 0x0d, 0xb8, 0x12, 0x00, 0x00, 0x00, // 2001:db8:1200::
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
			0x00, 0x00, 0x00, 0x02, // IAID 2
			0x00, 0x00, 0x03, 0xe8, // T1 1000
			0x00, 0x00, 0x07, 0xd0, // T2 2000
			0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
			0x00, 0x00, 0x0b, 0xb8, // preferred 3000
			0x00, 0x00, 0x0f, 0xa0, // valid 4000
			0x3c,                                           // prefix length 60
			0x20, 0x01, 0x0d, 0xb8, 0x13, 0x10, 0x00, 0x00, // 2001:db8:1310::
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		},
	)
	return wire, Message{
		Type:          Reply,
		TransactionID: [3]byte{0xa1, 0xb2, 0xc3},
		ClientID:      clientDUID(),
		ServerIDs:     [][]byte{serverDUID()},
		IAPDs: []IAPD{
			{IAID: 1, T1: 1000, T2: 2000, Prefixes: []IAPrefix{{
				Preferred: 3000, Valid: 4000, PrefixLen: 56,
				Prefix: netip.MustParseAddr("2001:db8:1200::"),
			}}},
			{IAID: 2, T1: 1000, T2: 2000, Prefixes: []IAPrefix{{
				Preferred: 3000, Valid: 4000, PrefixLen: 60,
				Prefix: netip.MustParseAddr("2001:db8:1310::"),
			}}},
		},
	}
}

// advertise is an Advertise with preference 255 whose only IA_PD carries
// NoPrefixAvail.
func advertise() ([]byte, Message) {
	wire := slices.Concat(
		[]byte{0x02, 0xa1, 0xb2, 0xc3}, // ADVERTISE, transaction id
		clientIDOption(),
		serverIDOption(),
		[]byte{
			0x00, 0x19, 0x00, 0x1d, // IA_PD, 29 bytes
			0x00, 0x00, 0x00, 0x01, // IAID 1
			0x00, 0x00, 0x00, 0x00, // T1 0
			0x00, 0x00, 0x00, 0x00, // T2 0
			0x00, 0x0d, 0x00, 0x0d, // Status Code, 13 bytes
			0x00, 0x06, // NoPrefixAvail
			'n', 'o', ' ', 'p', 'r', 'e', 'f', 'i', 'x', 'e', 's',
			0x00, 0x07, 0x00, 0x01, 0xff, // Preference 255
		},
	)
	return wire, Message{
		Type:          Advertise,
		TransactionID: [3]byte{0xa1, 0xb2, 0xc3},
		ClientID:      clientDUID(),
		ServerIDs:     [][]byte{serverDUID()},
		IAPDs: []IAPD{{
			IAID:   1,
			Status: &Status{Code: StatusNoPrefixAvail, Message: "no prefixes"},
		}},
		Preference:    255,
		HasPreference: true,
	}
}

// messageCase is a valid message: wire decodes to msg, and msg appends to
// appended, which is wire unless decoding drops something.
type messageCase struct {
	name     string
	wire     []byte
	msg      Message
	appended []byte // nil: same as wire

	// oracleRejects says why insomniacslk/dhcp refuses this valid
	// message; empty when it decodes it.
	oracleRejects string
}

// messageCases holds each option kind in a minimal message, then whole
// messages as they are seen on a link.
func messageCases() []messageCase {
	cases := []messageCase{
		{
			name: "header only",
			wire: []byte{0x03, 0x01, 0x02, 0x03}, // REQUEST, transaction id
			msg:  Message{Type: Request, TransactionID: [3]byte{1, 2, 3}},
		},
		{
			name: "undefined message type",
			wire: []byte{0x2a, 0x00, 0x00, 0x01}, // type 42
			msg:  Message{Type: 42, TransactionID: [3]byte{0, 0, 1}},
		},
		{
			name: "Client ID",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x01, 0x00, 0x0a, // Client ID, 10 bytes
				0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				ClientID: []byte{0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
			},
		},
		{
			name: "empty Client ID",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x01, 0x00, 0x00, // Client ID, 0 bytes
			},
			msg: Message{Type: Reply, TransactionID: [3]byte{0, 0, 1}, ClientID: []byte{}},

			oracleRejects: "it parses every Client ID as a DUID, which has at least a 2-byte type",
		},
		{
			name: "two Server IDs",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x02, 0x00, 0x05, 0x00, 0x03, 0x00, 0x01, 0xaa, // Server ID, DUID-LL
				0x00, 0x02, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, // Server ID, DUID-EN
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				ServerIDs: [][]byte{
					{0x00, 0x03, 0x00, 0x01, 0xaa},
					{0x00, 0x02, 0x00, 0x00, 0x00, 0x09},
				},
			},
		},
		{
			name: "IA_PD without options, T1 above T2",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x0c, // IA_PD, 12 bytes
				0xde, 0xad, 0xbe, 0xef, // IAID
				0x00, 0x00, 0x07, 0xd0, // T1 2000
				0x00, 0x00, 0x03, 0xe8, // T2 1000
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 0xdeadbeef, T1: 2000, T2: 1000}},
			},
		},
		{
			name: "IA_PREFIX with infinite lifetimes and a Status Code",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x2f, // IA_PD, 47 bytes
				0x00, 0x00, 0x00, 0x07, // IAID 7
				0xff, 0xff, 0xff, 0xff, // T1 infinity
				0xff, 0xff, 0xff, 0xff, // T2 infinity
				0x00, 0x1a, 0x00, 0x1f, // IA_PREFIX, 31 bytes
				0xff, 0xff, 0xff, 0xff, // preferred infinity
				0xff, 0xff, 0xff, 0xff, // valid infinity
				0x30,                                           // prefix length 48
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x0d, 0x00, 0x02, 0x00, 0x00, // Status Code Success, no text
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 7, T1: Infinity, T2: Infinity, Prefixes: []IAPrefix{{
					Preferred: Infinity, Valid: Infinity, PrefixLen: 48,
					Prefix: netip.MustParseAddr("2001:db8::"),
					Status: &Status{Code: StatusSuccess},
				}}}},
			},
		},
		{
			// Both values must be discarded by the engine (RFC 8415
			// section 18.2.10.1); the codec carries them.
			name: "IA_PREFIX with prefix length 200 and preferred above valid",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
				0x00, 0x00, 0x00, 0x03, // IAID 3
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
				0x00, 0x00, 0x0e, 0x10, // preferred 3600
				0x00, 0x00, 0x07, 0x08, // valid 1800
				0xc8,                                           // prefix length 200
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x01, // 2001:db8:0:1::
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 3, Prefixes: []IAPrefix{{
					Preferred: 3600, Valid: 1800, PrefixLen: 200,
					Prefix: netip.MustParseAddr("2001:db8:0:1::"),
				}}}},
			},
		},
		{
			name: "IA_PREFIX with prefix length 0",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
				0x00, 0x00, 0x00, 0x03, // IAID 3
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
				0x00, 0x00, 0x0e, 0x10, // preferred 3600
				0x00, 0x00, 0x1c, 0x20, // valid 7200
				0x00,                                           // prefix length 0
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 3, Prefixes: []IAPrefix{{
					Preferred: 3600, Valid: 7200,
					Prefix: netip.MustParseAddr("2001:db8::"),
				}}}},
			},
		},
		{
			name: "IA_PD Status Code without text",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x12, // IA_PD, 18 bytes
				0x00, 0x00, 0x00, 0x05, // IAID 5
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x0d, 0x00, 0x02, 0x00, 0x03, // Status Code NoBinding
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 5, Status: &Status{Code: StatusNoBinding}}},
			},
		},
		{
			name: "ORO",
			wire: []byte{
				0x01, 0x00, 0x00, 0x01, // SOLICIT, transaction id
				0x00, 0x06, 0x00, 0x04, 0x00, 0x52, 0x00, 0x53, // ORO: 82, 83
			},
			msg: Message{
				Type: Solicit, TransactionID: [3]byte{0, 0, 1},
				ORO: []OptionCode{OptSolMaxRT, OptInfMaxRT},
			},
		},
		{
			name: "empty ORO",
			wire: []byte{
				0x01, 0x00, 0x00, 0x01, // SOLICIT, transaction id
				0x00, 0x06, 0x00, 0x00, // ORO, 0 bytes
			},
			msg:      Message{Type: Solicit, TransactionID: [3]byte{0, 0, 1}},
			appended: []byte{0x01, 0x00, 0x00, 0x01},
		},
		{
			name: "ORO options accumulate",
			wire: []byte{
				0x01, 0x00, 0x00, 0x01, // SOLICIT, transaction id
				0x00, 0x06, 0x00, 0x02, 0x00, 0x52, // ORO: 82
				0x00, 0x06, 0x00, 0x02, 0x00, 0x53, // ORO: 83
			},
			msg: Message{
				Type: Solicit, TransactionID: [3]byte{0, 0, 1},
				ORO: []OptionCode{OptSolMaxRT, OptInfMaxRT},
			},
			appended: []byte{
				0x01, 0x00, 0x00, 0x01, // SOLICIT, transaction id
				0x00, 0x06, 0x00, 0x04, 0x00, 0x52, 0x00, 0x53, // ORO: 82, 83
			},
		},
		{
			name: "Preference 0",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x07, 0x00, 0x01, 0x00, // Preference 0
			},
			msg: Message{Type: Advertise, TransactionID: [3]byte{0, 0, 1}, HasPreference: true},
		},
		{
			name: "Elapsed Time at its cap",
			wire: []byte{
				0x05, 0x00, 0x00, 0x01, // RENEW, transaction id
				0x00, 0x08, 0x00, 0x02, 0xff, 0xff, // Elapsed Time 65535
			},
			msg: Message{
				Type: Renew, TransactionID: [3]byte{0, 0, 1},
				ElapsedTime: 0xffff, HasElapsed: true,
			},
		},
		{
			name: "Rapid Commit",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x0e, 0x00, 0x00, // Rapid Commit
			},
			msg: Message{Type: Reply, TransactionID: [3]byte{0, 0, 1}, RapidCommit: true},
		},
		{
			name: "Status Code",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x0d, 0x00, 0x0f, // Status Code, 15 bytes
				0x00, 0x05, // UseMulticast
				'u', 's', 'e', ' ', 'm', 'u', 'l', 't', 'i', 'c', 'a', 's', 't',
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				Status: &Status{Code: StatusUseMulticast, Message: "use multicast"},
			},
		},
		{
			name: "SOL_MAX_RT and INF_MAX_RT",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x52, 0x00, 0x04, 0x00, 0x00, 0x0e, 0x10, // SOL_MAX_RT 3600
				0x00, 0x53, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80, // INF_MAX_RT 86400
			},
			msg: Message{
				Type: Advertise, TransactionID: [3]byte{0, 0, 1},
				SolMaxRT: 3600, InfMaxRT: 86400,
			},
		},
		{
			name: "Reconfigure Message",
			wire: []byte{
				0x0a, 0x00, 0x00, 0x01, // RECONFIGURE, transaction id
				0x00, 0x13, 0x00, 0x01, 0x05, // Reconfigure Message: RENEW
			},
			msg: Message{Type: Reconfigure, TransactionID: [3]byte{0, 0, 1}, ReconfMsg: 5},
		},
		{
			name: "unknown options at each level are skipped",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0xfe, 0x00, 0x02, 0xaa, 0xbb, // option 254, 2 bytes
				0x00, 0x19, 0x00, 0x33, // IA_PD, 51 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0xff, 0x00, 0x02, 0xcc, 0xdd, // option 255, 2 bytes
				0x00, 0x1a, 0x00, 0x1d, // IA_PREFIX, 29 bytes
				0x00, 0x00, 0x00, 0x00, // preferred 0
				0x00, 0x00, 0x00, 0x00, // valid 0
				0x40,                                           // prefix length 64
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x01, 0x00, 0x00, 0x00, // option 256, 0 bytes
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				IAPDs: []IAPD{{IAID: 1, Prefixes: []IAPrefix{{
					PrefixLen: 64, Prefix: netip.MustParseAddr("2001:db8::"),
				}}}},
			},
			appended: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x19, // IA_PREFIX, 25 bytes
				0x00, 0x00, 0x00, 0x00, // preferred 0
				0x00, 0x00, 0x00, 0x00, // valid 0
				0x40,                                           // prefix length 64
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
		},
		{
			name: "first of a repeated single option counts",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x01, 0x00, 0x05, 0x00, 0x03, 0x00, 0x01, 0xaa, // Client ID, DUID-LL
				0x00, 0x01, 0x00, 0x05, 0x00, 0x03, 0x00, 0x01, 0xbb, // Client ID, DUID-LL
				0x00, 0x07, 0x00, 0x01, 0x0a, // Preference 10
				0x00, 0x07, 0x00, 0x01, 0x14, // Preference 20
				0x00, 0x0d, 0x00, 0x02, 0x00, 0x03, // Status Code NoBinding
				0x00, 0x0d, 0x00, 0x02, 0x00, 0x01, // Status Code UnspecFail
				0x00, 0x52, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, // SOL_MAX_RT 0
				0x00, 0x52, 0x00, 0x04, 0x00, 0x00, 0x0e, 0x10, // SOL_MAX_RT 3600
			},
			msg: Message{
				Type: Reply, TransactionID: [3]byte{0, 0, 1},
				ClientID: []byte{0x00, 0x03, 0x00, 0x01, 0xaa}, Preference: 10, HasPreference: true,
				Status: &Status{Code: StatusNoBinding},
			},
			appended: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x01, 0x00, 0x05, 0x00, 0x03, 0x00, 0x01, 0xaa, // Client ID, DUID-LL
				0x00, 0x07, 0x00, 0x01, 0x0a, // Preference 10
				0x00, 0x0d, 0x00, 0x02, 0x00, 0x03, // Status Code NoBinding
			},
		},
	}
	cases = append(cases, optionCases()...)
	for _, whole := range []struct {
		name string
		msg  func() ([]byte, Message)
	}{
		{"Solicit from our client", solicit},
		{"Reply from Kea 2.2 with two IA_PDs", keaReply},
		{"Advertise with preference 255 and NoPrefixAvail", advertise},
		{"Solicit with IA_NA, DNS in the ORO and Reconfigure Accept", solicitNA},
		{"Reply from an ISP with IA_NA, two excluding IA_PDs, DNS and a Reconfigure Key", ispReply},
	} {
		wire, msg := whole.msg()
		cases = append(cases, messageCase{name: whole.name, wire: wire, msg: msg})
	}
	return cases
}

func TestUnmarshal(t *testing.T) {
	for _, tc := range messageCases() {
		t.Run(tc.name, func(t *testing.T) {
			var got Message
			if err := got.Unmarshal(tc.wire); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tc.msg, got, cmpMessages()); diff != "" {
				t.Errorf("Unmarshal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range messageCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.appended
			if want == nil {
				want = tc.wire
			}
			prefix := []byte{0xee, 0xff}
			got, err := tc.msg.Append(prefix)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if diff := cmp.Diff(slices.Concat(prefix, want), got); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			marshaled, err := tc.msg.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(marshaled, want) {
				t.Errorf("Marshal = %x, want %x", marshaled, want)
			}
		})
	}
}

// TestUnmarshalReuse decodes every case into one Message, in both orders,
// so that each case lands on leftovers of a larger and a smaller one.
func TestUnmarshalReuse(t *testing.T) {
	cases := messageCases()
	reversed := slices.Clone(cases)
	slices.Reverse(reversed)
	for _, order := range [][]messageCase{cases, reversed} {
		var m Message
		for _, tc := range order {
			if err := m.Unmarshal(tc.wire); err != nil {
				t.Fatalf("%s: Unmarshal: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.msg, m, cmpMessages()); diff != "" {
				t.Errorf("%s: Unmarshal into a used Message (-want +got):\n%s", tc.name, diff)
			}
		}
	}
}

func TestUnmarshalAllocs(t *testing.T) {
	for name, msg := range map[string]func() ([]byte, Message){"Kea's Reply": keaReply, "an ISP's Reply": ispReply, "a Solicit with IA_NA": solicitNA} {
		wire, _ := msg()
		var m Message
		allocs := testing.AllocsPerRun(100, func() {
			if err := m.Unmarshal(wire); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Unmarshal of %s into a used Message: %v allocs, want 0", name, allocs)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	for name, msg := range map[string]func() ([]byte, Message){"Kea's Reply": keaReply, "an ISP's Reply": ispReply, "a Solicit with IA_NA": solicitNA} {
		_, m := msg()
		buf := make([]byte, 0, 1024)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = m.Append(buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Append of %s into a buffer with room: %v allocs, want 0", name, allocs)
		}
	}
}

// malformedCase is a message Unmarshal must refuse with the sentinel want
// and the error text text, which locates the fault.
type malformedCase struct {
	name string
	wire []byte
	want error
	text string
}

func malformedCases() []malformedCase {
	return append([]malformedCase{
		{
			name: "empty",
			wire: nil,
			want: ErrShort,
			text: "message of 0 bytes: message shorter than 4 bytes",
		},
		{
			name: "truncated header",
			wire: []byte{0x07, 0x00, 0x00},
			want: ErrShort,
			text: "message of 3 bytes: message shorter than 4 bytes",
		},
		{
			name: "relay-forward",
			wire: []byte{0x0c, 0x00, 0xfe, 0x80, 0x00, 0x00},
			want: ErrRelay,
			text: "message type 12: relay message",
		},
		{
			name: "relay-reply",
			wire: []byte{0x0d, 0x00, 0x00, 0x00},
			want: ErrRelay,
			text: "message type 13: relay message",
		},
		{
			name: "option header cut",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x01, 0x00, // 3 bytes of a header
			},
			want: ErrOptionOverrun,
			text: "option header at 4 with 3 bytes left: option overruns its parent",
		},
		{
			name: "option length past the end",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x0e, 0x00, 0x00, // Rapid Commit
				0x00, 0x01, 0x00, 0x05, 0xaa, 0xbb, // Client ID, 5 bytes, 2 present
			},
			want: ErrOptionOverrun,
			text: "option 1 at 8: length 5 past 2 bytes left: option overruns its parent",
		},
		{
			name: "IA_PREFIX overrunning its IA_PD",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x29, // IA_PD, 41 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x1a, // IA_PREFIX, 26 bytes, 25 left in the IA_PD
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x0e, 0x00, 0x00, // Rapid Commit, in the message but not the IA_PD
			},
			want: ErrOptionOverrun,
			text: "option 25 at 4: option 26 at 20: length 26 past 25 bytes left: option overruns its parent",
		},
		{
			name: "Status Code overrunning its IA_PREFIX",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x2f, // IA_PD, 47 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x1d, // IA_PREFIX, 29 bytes
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x0d, 0x00, 0x02, // Status Code, 2 bytes, 0 left in the IA_PREFIX
				0x00, 0x00, // in the IA_PD but not the IA_PREFIX
			},
			want: ErrOptionOverrun,
			text: "option 25 at 4: option 26 at 20: option 13 at 49: length 2 past 0 bytes left: option overruns its parent",
		},
		{
			name: "IA_PD of 11 bytes",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x0b, // IA_PD, 11 bytes
				0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			want: ErrIAPDShort,
			text: "option 25 at 4: IA_PD option shorter than 12 bytes",
		},
		{
			name: "IA_PREFIX of 24 bytes",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x28, // IA_PD, 40 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x18, // IA_PREFIX, 24 bytes
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			want: ErrIAPrefixShort,
			text: "option 25 at 4: option 26 at 20: IA_PREFIX option shorter than 25 bytes",
		},
		{
			name: "Preference of 2 bytes",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x07, 0x00, 0x02, 0x00, 0xff, // Preference, 2 bytes
			},
			want: ErrOptionShort,
			text: "option 7 at 4: option shorter than its fixed fields",
		},
		{
			name: "second Preference of 0 bytes",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x07, 0x00, 0x01, 0xff, // Preference 255
				0x00, 0x07, 0x00, 0x00, // Preference, 0 bytes
			},
			want: ErrOptionShort,
			text: "option 7 at 9: option shorter than its fixed fields",
		},
		{
			name: "Elapsed Time of 1 byte",
			wire: []byte{
				0x05, 0x00, 0x00, 0x01, // RENEW, transaction id
				0x00, 0x08, 0x00, 0x01, 0x00, // Elapsed Time, 1 byte
			},
			want: ErrOptionShort,
			text: "option 8 at 4: option shorter than its fixed fields",
		},
		{
			name: "Rapid Commit of 1 byte",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x0e, 0x00, 0x01, 0x00, // Rapid Commit, 1 byte
			},
			want: ErrOptionShort,
			text: "option 14 at 4: option shorter than its fixed fields",
		},
		{
			name: "SOL_MAX_RT of 3 bytes",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x52, 0x00, 0x03, 0x00, 0x0e, 0x10, // SOL_MAX_RT, 3 bytes
			},
			want: ErrOptionShort,
			text: "option 82 at 4: option shorter than its fixed fields",
		},
		{
			name: "INF_MAX_RT of 5 bytes",
			wire: []byte{
				0x02, 0x00, 0x00, 0x01, // ADVERTISE, transaction id
				0x00, 0x53, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0e, 0x10, // INF_MAX_RT, 5 bytes
			},
			want: ErrOptionShort,
			text: "option 83 at 4: option shorter than its fixed fields",
		},
		{
			name: "Reconfigure Message of 0 bytes",
			wire: []byte{
				0x0a, 0x00, 0x00, 0x01, // RECONFIGURE, transaction id
				0x00, 0x13, 0x00, 0x00, // Reconfigure Message, 0 bytes
			},
			want: ErrOptionShort,
			text: "option 19 at 4: option shorter than its fixed fields",
		},
		{
			name: "odd ORO",
			wire: []byte{
				0x01, 0x00, 0x00, 0x01, // SOLICIT, transaction id
				0x00, 0x06, 0x00, 0x03, 0x00, 0x52, 0x00, // ORO, 3 bytes
			},
			want: ErrOptionShort,
			text: "option 6 at 4: option shorter than its fixed fields",
		},
		{
			name: "Status Code of 1 byte",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x0d, 0x00, 0x01, 0x00, // Status Code, 1 byte
			},
			want: ErrOptionShort,
			text: "option 13 at 4: option shorter than its fixed fields",
		},
		{
			name: "IA_PD Status Code of 1 byte",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x11, // IA_PD, 17 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x0d, 0x00, 0x01, 0x00, // Status Code, 1 byte
			},
			want: ErrOptionShort,
			text: "option 25 at 4: option 13 at 20: option shorter than its fixed fields",
		},
		{
			name: "IA_PREFIX Status Code of 0 bytes",
			wire: []byte{
				0x07, 0x00, 0x00, 0x01, // REPLY, transaction id
				0x00, 0x19, 0x00, 0x2d, // IA_PD, 45 bytes
				0x00, 0x00, 0x00, 0x01, // IAID 1
				0x00, 0x00, 0x00, 0x00, // T1 0
				0x00, 0x00, 0x00, 0x00, // T2 0
				0x00, 0x1a, 0x00, 0x1d, // IA_PREFIX, 29 bytes
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x0d, 0x00, 0x00, // Status Code, 0 bytes
			},
			want: ErrOptionShort,
			text: "option 25 at 4: option 26 at 20: option 13 at 49: option shorter than its fixed fields",
		},
	}, malformedOptionCases()...)
}

func TestUnmarshalMalformed(t *testing.T) {
	for _, tc := range malformedCases() {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := m.Unmarshal(tc.wire)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tc.want)
			}
			if err.Error() != tc.text {
				t.Errorf("Unmarshal error text = %q, want %q", err, tc.text)
			}
		})
	}
}

func TestAppendTooLong(t *testing.T) {
	manyPrefixes := make([]IAPrefix, 2260) // IA_PD body: 12 + 2260*29 bytes
	for i := range manyPrefixes {
		manyPrefixes[i].Prefix = netip.IPv6Unspecified()
	}
	tests := []struct {
		name string
		msg  Message
		text string
	}{
		{
			name: "Client ID",
			msg:  Message{ClientID: make([]byte, 65536)},
			text: "option 1: body of 65536 bytes exceeds 65535",
		},
		{
			name: "IA_PD",
			msg:  Message{IAPDs: []IAPD{{IAID: 9, Prefixes: manyPrefixes}}},
			text: "IA_PD 9: option 25: body of 65552 bytes exceeds 65535",
		},
		{
			name: "Status Code in an IA_PREFIX",
			msg: Message{IAPDs: []IAPD{{IAID: 9, Prefixes: []IAPrefix{{
				PrefixLen: 56, Prefix: netip.MustParseAddr("2001:db8::"),
				Status: &Status{Message: strings.Repeat("x", 65534)},
			}}}}},
			text: "IA_PD 9: IA_PREFIX 2001:db8::/56: option 13: body of 65536 bytes exceeds 65535",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte{0xee}
			got, err := tc.msg.Append(buf)
			if err == nil || err.Error() != tc.text {
				t.Fatalf("Append error = %v, want %q", err, tc.text)
			}
			if !bytes.Equal(got, buf) {
				t.Errorf("Append on error returned %d bytes, want the %d given", len(got), len(buf))
			}
		})
	}

	// The largest body that fits.
	m := Message{ClientID: make([]byte, 65535)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal with a 65535-byte Client ID: %v", err)
	}
	if got := b[6:8]; !bytes.Equal(got, []byte{0xff, 0xff}) {
		t.Errorf("Client ID length field = %x, want ffff", got)
	}
}
