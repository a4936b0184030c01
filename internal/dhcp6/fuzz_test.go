package dhcp6

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// leftovers returns a message that fills every field and slice, to decode
// into before the message under test so that reset mistakes show.
func leftovers(tb testing.TB) []byte {
	status := &Status{Code: StatusNoBinding, Message: "left over"}
	prefixes := []IAPrefix{
		{Preferred: 1, Valid: 2, PrefixLen: 48, Prefix: netip.MustParseAddr("2001:db8::"), Status: status},
		{Preferred: 3, Valid: 4, PrefixLen: 64, Prefix: netip.MustParseAddr("2001:db8:1::"), Status: status},
	}
	addresses := []IAAddress{
		{Address: netip.MustParseAddr("2001:db8::1"), Preferred: 1, Valid: 2, Status: status},
		{Address: netip.MustParseAddr("2001:db8::2"), Preferred: 3, Valid: 4, Status: status},
	}
	prefixes[1].Exclude = PrefixExclude{PrefixLen: 80, SubnetID: []byte{1, 2}}
	m := Message{
		Type:          Reply,
		TransactionID: [3]byte{9, 9, 9},
		ClientID:      clientDUID(),
		ServerIDs:     [][]byte{serverDUID(), clientDUID()},
		IANAs: []IANA{
			{IAID: 4, T1: 5, T2: 6, Addresses: addresses, Status: status},
			{IAID: 5, T1: 7, T2: 8, Addresses: addresses, Status: status},
		},
		IAPDs: []IAPD{
			{IAID: 1, T1: 5, T2: 6, Prefixes: prefixes, Status: status},
			{IAID: 2, T1: 7, T2: 8, Prefixes: prefixes, Status: status},
			{IAID: 3, T1: 9, T2: 10, Prefixes: prefixes, Status: status},
		},
		Status:        status,
		Preference:    7,
		HasPreference: true,
		RapidCommit:   true,
		ElapsedTime:   8,
		HasElapsed:    true,
		ORO:           []OptionCode{1, 2, 3, 4},
		SolMaxRT:      60,
		InfMaxRT:      70,
		ReconfMsg:     5,
		ReconfAccept:  true,
		DNSServers:    []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")},
		DomainList:    []byte("\x04left\x04over\x00"),
		HasAuth:       true,
		Auth:          ReconfigureKeyAuth(9, [ReconfigureKeyLen]byte{9}),
	}
	wire, err := m.Marshal()
	if err != nil {
		tb.Fatalf("Marshal leftovers: %v", err)
	}
	return wire
}

// FuzzUnmarshal checks that Unmarshal never panics, that a used Message
// decodes like a fresh one, that whatever decodes survives Append and
// Unmarshal unchanged, and that the accessors never panic and agree with
// their encoders (checkAccessors). The seed corpus in
// testdata/fuzz/FuzzUnmarshal holds the valid and malformed messages of
// message_test.go and options_test.go.
func FuzzUnmarshal(f *testing.F) {
	leftover := leftovers(f)
	f.Fuzz(func(t *testing.T, wire []byte) {
		var fresh Message
		err := fresh.Unmarshal(wire)

		var used Message
		if err := used.Unmarshal(leftover); err != nil {
			t.Fatalf("Unmarshal leftovers: %v", err)
		}
		usedErr := used.Unmarshal(wire)
		if (err == nil) != (usedErr == nil) || err != nil && err.Error() != usedErr.Error() {
			t.Fatalf("Unmarshal error: fresh Message %v, used Message %v", err, usedErr)
		}
		if err != nil {
			return
		}
		if diff := cmp.Diff(fresh, used, cmpMessages()); diff != "" {
			t.Fatalf("Unmarshal (-fresh +used Message):\n%s", diff)
		}

		checkAccessors(t, &fresh, wire)

		again, err := fresh.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded message: %v", err)
		}
		var back Message
		if err := back.Unmarshal(again); err != nil {
			t.Fatalf("Unmarshal of %x, re-encoded from %x: %v", again, wire, err)
		}
		// Append puts the Authentication option where its order says,
		// not where it was.
		if diff := cmp.Diff(fresh, back, cmpMessages(), cmpopts.IgnoreFields(Auth{}, "InfoOffset")); diff != "" {
			t.Fatalf("Unmarshal after Append (-first +second decode):\n%s", diff)
		}
	})
}

// checkAccessors checks the accessors on m, decoded from wire: a search
// list SearchList accepts encodes back to the option it came from; an
// excluded prefix Excluded accepts encodes back to the subnet ID it came
// from, but for the padding bits; ReconfigureKey and VerifyReconfigure
// only fail with their sentinels.
func checkAccessors(t *testing.T, m *Message, wire []byte) {
	if names, err := m.SearchList(); err == nil && m.DomainList != nil {
		if back, err := AppendDomainList(nil, names...); err != nil || !bytes.Equal(back, m.DomainList) {
			t.Fatalf("AppendDomainList(%q) = %x, %v; decoded from %x", names, back, err, m.DomainList)
		}
	}
	for _, pd := range m.IAPDs {
		for _, p := range pd.Prefixes {
			excluded, ok, err := p.Excluded()
			if !ok || err != nil {
				continue
			}
			delegated := netip.PrefixFrom(p.Prefix, int(p.PrefixLen)).Masked()
			e, err := NewPrefixExclude(delegated, excluded)
			if err != nil {
				t.Fatalf("NewPrefixExclude(%v, %v) of an accepted exclude: %v", delegated, excluded, err)
			}
			id := slices.Clone(p.Exclude.SubnetID)
			if pad := (int(e.PrefixLen) - int(p.PrefixLen)) % 8; pad != 0 {
				id[len(id)-1] &= 0xff << (8 - pad)
			}
			if e.PrefixLen != p.Exclude.PrefixLen || !bytes.Equal(e.SubnetID, id) {
				t.Fatalf("NewPrefixExclude(%v, %v) = %+v, decoded from %+v", delegated, excluded, e, p.Exclude)
			}
		}
	}
	if _, err := m.ReconfigureKey(); err != nil && !errors.Is(err, ErrAuthMissing) && !errors.Is(err, ErrAuthProtocol) {
		t.Fatalf("ReconfigureKey: %v", err)
	}
	if err := m.VerifyReconfigure(wire, [ReconfigureKeyLen]byte{}); err != nil &&
		!errors.Is(err, ErrAuthMissing) && !errors.Is(err, ErrAuthProtocol) && !errors.Is(err, ErrAuthDigest) {
		t.Fatalf("VerifyReconfigure: %v", err)
	}
}

// FuzzDifferential checks that when both this package and insomniacslk
// accept a message they read the same meaning from it (see meaning for
// the differences left out). Either may refuse what the other accepts:
// insomniacslk parses options the engine does not use, and DUIDs, more
// strictly.
func FuzzDifferential(f *testing.F) {
	for _, tc := range messageCases() {
		f.Add(tc.wire)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		if _, _, diff := decodeBoth(wire); diff != "" {
			t.Errorf("meaning (-insomniacslk +ours):\n%s", diff)
		}
	})
}
