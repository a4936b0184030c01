package hostile

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// solicit is what the daemon sends first: one IA_PD, Rapid Commit.
func solicit() *dhcp6.Message {
	return &dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1, 2, 3},
		ClientID:    dhcp6.DUIDUUID([16]byte{1}),
		IAPDs:       []dhcp6.IAPD{{IAID: 7, Prefixes: []dhcp6.IAPrefix{{PrefixLen: 56, Prefix: netip.IPv6Unspecified()}}}},
		RapidCommit: true}
}

// decoded is one encoded answer as a client decodes it.
type decoded struct {
	m   dhcp6.Message
	err error
}

func decodeAll(t *testing.T, packets [][]byte) []decoded {
	t.Helper()
	if len(packets) == 0 {
		t.Fatal("no packets")
	}
	var out []decoded
	for _, p := range packets {
		var d decoded
		d.err = d.m.Unmarshal(p)
		out = append(out, d)
	}
	return out
}

// TestEncode: each answering mode's packets, decoded as a client decodes
// them, carry exactly the fault the mode names, and Valid's delegate.
func TestEncode(t *testing.T) {
	req := solicit()
	decodeErr := func(want error) func(*testing.T, decoded) {
		return func(t *testing.T, d decoded) {
			if !errors.Is(d.err, want) {
				t.Errorf("decode error %v, want %v", d.err, want)
			}
		}
	}
	decodes := func(check func(dhcp6.Message) bool) func(*testing.T, decoded) {
		return func(t *testing.T, d decoded) {
			if d.err != nil || !check(d.m) {
				t.Errorf("decoded %+v (error %v): fault missing", d.m, d.err)
			}
		}
	}
	prefix := func(check func(dhcp6.IAPrefix) bool) func(*testing.T, decoded) {
		return decodes(func(m dhcp6.Message) bool {
			return len(m.IAPDs) == 1 && len(m.IAPDs[0].Prefixes) == 1 && check(m.IAPDs[0].Prefixes[0])
		})
	}
	status := func(code dhcp6.StatusCode, inIA bool) func(*testing.T, decoded) {
		return decodes(func(m dhcp6.Message) bool {
			if inIA {
				return m.Status == nil && len(m.IAPDs) == 1 && len(m.IAPDs[0].Prefixes) == 0 &&
					m.IAPDs[0].Status != nil && m.IAPDs[0].Status.Code == code
			}
			return len(m.IAPDs) == 0 && m.Status != nil && m.Status.Code == code
		})
	}
	checks := map[Mode]func(*testing.T, decoded){
		TruncatedHeader: decodeErr(dhcp6.ErrShort),
		TruncatedOption: decodeErr(dhcp6.ErrOptionOverrun),
		ShortOption:     decodeErr(dhcp6.ErrOptionShort),
		OverrunMessage:  decodeErr(dhcp6.ErrOptionOverrun),
		OverrunParent:   decodeErr(dhcp6.ErrOptionOverrun),
		ShortIAPD:       decodeErr(dhcp6.ErrIAPDShort),
		ShortIAPrefix:   decodeErr(dhcp6.ErrIAPrefixShort),
		WrongXID:        decodes(func(m dhcp6.Message) bool { return m.TransactionID != req.TransactionID }),
		NoClientID:      decodes(func(m dhcp6.Message) bool { return m.ClientID == nil }),
		ForeignClientID: decodes(func(m dhcp6.Message) bool { return m.ClientID != nil && !bytes.Equal(m.ClientID, req.ClientID) }),
		NoServerID:      decodes(func(m dhcp6.Message) bool { return len(m.ServerIDs) == 0 }),
		TwoServerIDs: decodes(func(m dhcp6.Message) bool {
			return len(m.ServerIDs) == 2 && !bytes.Equal(m.ServerIDs[0], m.ServerIDs[1])
		}),
		PrefixLen0:          prefix(func(p dhcp6.IAPrefix) bool { return p.PrefixLen == 0 }),
		PrefixLen129:        prefix(func(p dhcp6.IAPrefix) bool { return p.PrefixLen == 129 }),
		PrefixLen255:        prefix(func(p dhcp6.IAPrefix) bool { return p.PrefixLen == 255 }),
		PreferredAboveValid: prefix(func(p dhcp6.IAPrefix) bool { return p.Preferred > p.Valid }),
		ValidZero:           prefix(func(p dhcp6.IAPrefix) bool { return p.Valid == 0 }),
		T1AboveT2: decodes(func(m dhcp6.Message) bool {
			return len(m.IAPDs) == 1 && m.IAPDs[0].T2 != 0 && m.IAPDs[0].T1 > m.IAPDs[0].T2
		}),
		Reconfigure: decodes(func(m dhcp6.Message) bool {
			return m.Type == dhcp6.Reconfigure && m.ReconfMsg == uint8(dhcp6.Renew) && !m.HasAuth
		}),
		UnsolicitedReply: decodes(func(m dhcp6.Message) bool {
			return m.Type == dhcp6.Reply && m.RapidCommit && m.TransactionID != req.TransactionID
		}),
		UnknownType: func(t *testing.T, d decoded) {
			if d.err == nil && slices.Contains([]dhcp6.MessageType{dhcp6.Advertise, dhcp6.Reply, dhcp6.Reconfigure}, d.m.Type) {
				t.Errorf("type %v is a server's", d.m.Type)
			}
		},
	}
	for _, m := range Hostile() {
		if code, inIA, ok := m.status(); ok {
			checks[m] = status(code, inIA)
		}
	}
	for _, m := range Hostile() {
		if m == Flood {
			continue // the others' packets, tested there
		}
		t.Run(m.String(), func(t *testing.T) {
			check := checks[m]
			if check == nil {
				t.Fatalf("no check for %v", m)
			}
			s := &Server{id: dhcp6.DUIDLL(1, []byte{2, 0, 0, 0, 0, 1}), leases: make(map[uint32]netip.Prefix)}
			for _, d := range decodeAll(t, s.encode(m, req)) {
				check(t, d)
			}
		})
	}
}

// TestEncodeValid: Valid answers a Solicit with Rapid Commit with one
// Reply delegating a /56 of Pool to the IA_PD asked for, the same one each
// time, and a Solicit without Rapid Commit with an Advertise.
func TestEncodeValid(t *testing.T) {
	s := &Server{id: dhcp6.DUIDLL(1, []byte{2, 0, 0, 0, 0, 1}), leases: make(map[uint32]netip.Prefix)}
	req := solicit()
	for range 2 {
		ds := decodeAll(t, s.encode(Valid, req))
		if len(ds) != 1 || ds[0].err != nil {
			t.Fatalf("answers %+v, want one Reply", ds)
		}
		m := ds[0].m
		if m.Type != dhcp6.Reply || !m.RapidCommit || m.TransactionID != req.TransactionID ||
			!bytes.Equal(m.ClientID, req.ClientID) || len(m.ServerIDs) != 1 || len(m.IAPDs) != 1 {
			t.Fatalf("answer %+v", m)
		}
		ia := m.IAPDs[0]
		got := netip.PrefixFrom(ia.Prefixes[0].Prefix, int(ia.Prefixes[0].PrefixLen))
		want, ok := s.Delegated(7)
		if ia.IAID != 7 || !ok || got != want || !Pool().Contains(got.Addr()) || got.Bits() != DelegatedLen ||
			ia.T1 != T1 || ia.T2 != T2 || ia.Prefixes[0].Preferred != PreferredLifetime || ia.Prefixes[0].Valid != ValidLifetime {
			t.Errorf("IA_PD %+v, delegated %v", ia, want)
		}
	}
	req.RapidCommit = false
	if ds := decodeAll(t, s.encode(Valid, req)); len(ds) != 1 || ds[0].m.Type != dhcp6.Advertise {
		t.Errorf("answers to a Solicit without Rapid Commit: %+v, want one Advertise", ds)
	}
}
