package dhcp6

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv6"
)

// The differential tests decode the same bytes with this package and with
// github.com/insomniacslk/dhcp/dhcpv6 and compare what the messages mean:
// type, transaction id, Client ID, Server IDs, IA_NAs with their
// addresses, IA_PDs with their prefixes, lifetimes, status codes,
// preference, DNS servers and the search list. Error texts and options the
// engine does not use, or that insomniacslk does not decode (Prefix
// Exclude, Authentication, Reconfigure Accept), are not compared.

// meaningOf is what both decoders expose of a message.
type meaningOf struct {
	Msg        Message
	SearchList []string
}

// meaning is the part of m that both decoders expose, normalized for the
// differences /work/shared/docs/GO-NOTES.md records: insomniacslk treats
// prefix length 0 as "no prefix" (the address is lost) and keeps no length
// above 128 (net.CIDRMask returns nil), so those compare as :: with length
// 0, and as length 129. A search list SearchList refuses is left out:
// insomniacslk follows compression pointers that RFC 8415 section 10
// forbids.
func meaning(m *Message) meaningOf {
	out := Message{
		Type:          m.Type,
		TransactionID: m.TransactionID,
		ClientID:      m.ClientID,
		ServerIDs:     m.ServerIDs,
		IANAs:         m.IANAs,
		Status:        m.Status,
		Preference:    m.Preference,
		DNSServers:    m.DNSServers,
	}
	for _, pd := range m.IAPDs {
		pd.Prefixes = slices.Clone(pd.Prefixes)
		for i := range pd.Prefixes {
			p := &pd.Prefixes[i]
			p.Exclude = PrefixExclude{}
			switch {
			case p.PrefixLen == 0:
				p.Prefix = netip.IPv6Unspecified()
			case p.PrefixLen > 128:
				p.PrefixLen = 129
			}
		}
		out.IAPDs = append(out.IAPDs, pd)
	}
	names, _ := m.SearchList()
	return meaningOf{Msg: out, SearchList: names}
}

// oracleMeaning is meaning for a message decoded by insomniacslk.
func oracleMeaning(d *dhcpv6.Message) meaningOf {
	m := Message{
		Type:          MessageType(d.MessageType),
		TransactionID: d.TransactionID,
		Status:        oracleStatus(d.Options.Status()),
		Preference:    d.Options.Preference(),
	}
	if id := d.Options.ClientID(); id != nil {
		m.ClientID = id.ToBytes()
	}
	for _, o := range d.GetOption(dhcpv6.OptionServerID) {
		m.ServerIDs = append(m.ServerIDs, o.ToBytes())
	}
	for _, na := range d.Options.IANA() {
		out := IANA{
			IAID:   binary.BigEndian.Uint32(na.IaId[:]),
			T1:     seconds(na.T1),
			T2:     seconds(na.T2),
			Status: oracleStatus(na.Options.Status()),
		}
		for _, a := range na.Options.Addresses() {
			out.Addresses = append(out.Addresses, IAAddress{
				Address:   oracleAddr(a.IPv6Addr),
				Preferred: seconds(a.PreferredLifetime),
				Valid:     seconds(a.ValidLifetime),
				Status:    oracleStatus(a.Options.Status()),
			})
		}
		m.IANAs = append(m.IANAs, out)
	}
	for _, pd := range d.Options.IAPD() {
		out := IAPD{
			IAID:   binary.BigEndian.Uint32(pd.IaId[:]),
			T1:     seconds(pd.T1),
			T2:     seconds(pd.T2),
			Status: oracleStatus(pd.Options.Status()),
		}
		for _, p := range pd.Options.Prefixes() {
			prefix := IAPrefix{
				Preferred: seconds(p.PreferredLifetime),
				Valid:     seconds(p.ValidLifetime),
				Prefix:    netip.IPv6Unspecified(),
				Status:    oracleStatus(p.Options.Status()),
			}
			if p.Prefix != nil {
				prefix.Prefix = oracleAddr(p.Prefix.IP)
				prefix.PrefixLen = 129
				if ones, bits := p.Prefix.Mask.Size(); bits == 128 {
					prefix.PrefixLen = uint8(ones)
				}
			}
			out.Prefixes = append(out.Prefixes, prefix)
		}
		m.IAPDs = append(m.IAPDs, out)
	}
	for _, ip := range d.Options.DNS() {
		m.DNSServers = append(m.DNSServers, oracleAddr(ip))
	}
	var names []string
	if l := d.Options.DomainSearchList(); l != nil && len(l.Labels) > 0 {
		for _, name := range l.Labels {
			// The oracle spells the root label alone as "", SearchList
			// as "." (its documented form), which is the same name.
			if name == "" {
				name = "."
			}
			names = append(names, name)
		}
	}
	return meaningOf{Msg: m, SearchList: names}
}

func oracleAddr(ip net.IP) netip.Addr { return netip.AddrFrom16([16]byte(ip.To16())) }

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

func oracleStatus(s *dhcpv6.OptStatusCode) *Status {
	if s == nil {
		return nil
	}
	return &Status{Code: StatusCode(s.StatusCode), Message: s.StatusMessage}
}

// decodeBoth decodes wire with both decoders and, when both accept it,
// reports how the meanings differ ("" when they agree).
func decodeBoth(wire []byte) (ours, theirs error, diff string) {
	var m Message
	ours = m.Unmarshal(wire)
	d, theirs := dhcpv6.MessageFromBytes(wire)
	if ours != nil || theirs != nil {
		return ours, theirs, ""
	}
	want, got := oracleMeaning(d), meaning(&m)
	if _, err := m.SearchList(); err != nil {
		want.SearchList = nil
	}
	return nil, nil, cmp.Diff(want, got, cmpMessages())
}

func TestDifferentialTables(t *testing.T) {
	for _, tc := range messageCases() {
		t.Run(tc.name, func(t *testing.T) {
			ours, theirs, diff := decodeBoth(tc.wire)
			if ours != nil {
				t.Fatalf("Unmarshal: %v", ours)
			}
			if tc.oracleRejects != "" {
				if theirs == nil {
					t.Fatalf("insomniacslk accepts the message; the case says it does not because %s", tc.oracleRejects)
				}
				return
			}
			if theirs != nil {
				t.Fatalf("insomniacslk: %v", theirs)
			}
			if diff != "" {
				t.Errorf("meaning (-insomniacslk +ours):\n%s", diff)
			}
		})
	}
}

// TestDifferentialGenerated encodes random messages with Append and checks
// that insomniacslk reads back what was encoded and that both decoders
// agree.
func TestDifferentialGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(8415, 3633))
	for i := range 500 {
		want := randomMessage(r)
		wire, err := want.Marshal()
		if err != nil {
			t.Fatalf("message %d: Marshal: %v", i, err)
		}
		d, err := dhcpv6.MessageFromBytes(wire)
		if err != nil {
			t.Fatalf("message %d: insomniacslk: %v\n%x", i, err, wire)
		}
		if diff := cmp.Diff(meaning(&want), oracleMeaning(d), cmpMessages()); diff != "" {
			t.Fatalf("message %d: encoded (-ours +insomniacslk):\n%s\n%x", i, diff, wire)
		}
		if _, _, diff := decodeBoth(wire); diff != "" {
			t.Fatalf("message %d: decoded (-insomniacslk +ours):\n%s\n%x", i, diff, wire)
		}
	}
}

// randomMessage returns a message of any non-relay type with DUIDs that
// insomniacslk can parse and with prefix lengths and lifetimes over their
// whole range, including the values the engine must discard, IA_NAs, DNS
// options and the options insomniacslk keeps as raw bytes (Prefix
// Exclude, Authentication, Reconfigure Accept).
func randomMessage(r *rand.Rand) Message {
	m := Message{
		Type:          MessageType(r.IntN(256)),
		TransactionID: [3]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())},
		ClientID:      randomDUID(r),
		Status:        randomStatus(r),
		Preference:    uint8(r.IntN(256)),
		HasPreference: r.IntN(2) == 0,
	}
	if m.Type == RelayForw || m.Type == RelayRepl {
		m.Type = Reply
	}
	if !m.HasPreference {
		m.Preference = 0
	}
	for range r.IntN(3) {
		m.ServerIDs = append(m.ServerIDs, randomDUID(r))
	}
	for range r.IntN(3) {
		na := IANA{IAID: r.Uint32(), T1: randomLifetime(r), T2: randomLifetime(r), Status: randomStatus(r)}
		for range r.IntN(3) {
			na.Addresses = append(na.Addresses, IAAddress{
				Address:   randomAddr(r),
				Preferred: randomLifetime(r),
				Valid:     randomLifetime(r),
				Status:    randomStatus(r),
			})
		}
		m.IANAs = append(m.IANAs, na)
	}
	for range r.IntN(3) {
		m.DNSServers = append(m.DNSServers, randomAddr(r))
	}
	if r.IntN(2) == 0 {
		var names []string
		for range 1 + r.IntN(3) {
			names = append(names, fmt.Sprintf("h%d.example", r.IntN(1000)))
		}
		m.DomainList, _ = AppendDomainList(nil, names...) // valid names
	}
	if r.IntN(2) == 0 {
		m.HasAuth, m.Auth = true, ReconfigureKeyAuth(r.Uint64(), [ReconfigureKeyLen]byte{byte(r.Uint32())})
	}
	m.ReconfAccept = r.IntN(2) == 0
	for range r.IntN(4) {
		pd := IAPD{IAID: r.Uint32(), T1: randomLifetime(r), T2: randomLifetime(r), Status: randomStatus(r)}
		for range r.IntN(4) {
			p := IAPrefix{
				Preferred: randomLifetime(r),
				Valid:     randomLifetime(r),
				PrefixLen: uint8(r.IntN(256)),
				Prefix:    randomAddr(r),
				Status:    randomStatus(r),
			}
			if r.IntN(2) == 0 {
				p.Exclude = PrefixExclude{PrefixLen: uint8(r.IntN(256)), SubnetID: randomAddr(r).AsSlice()[:1+r.IntN(16)]}
			}
			pd.Prefixes = append(pd.Prefixes, p)
		}
		m.IAPDs = append(m.IAPDs, pd)
	}
	return m
}

func randomAddr(r *rand.Rand) netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:], r.Uint64())
	binary.BigEndian.PutUint64(a[8:], r.Uint64())
	return netip.AddrFrom16(a)
}

func randomDUID(r *rand.Rand) []byte {
	hw := binary.BigEndian.AppendUint64(nil, r.Uint64())[:r.IntN(9)]
	switch r.IntN(3) {
	case 0:
		var u [16]byte
		binary.BigEndian.PutUint64(u[:], r.Uint64())
		binary.BigEndian.PutUint64(u[8:], r.Uint64())
		return DUIDUUID(u)
	case 1:
		return DUIDLL(uint16(r.IntN(40)), hw)
	default:
		return DUIDLLT(uint16(r.IntN(40)), time.Unix(r.Int64N(1<<33), 0), hw)
	}
}

// randomLifetime returns 0, infinity or anything between, each often.
func randomLifetime(r *rand.Rand) uint32 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return Infinity
	}
	return r.Uint32()
}

func randomStatus(r *rand.Rand) *Status {
	if r.IntN(3) != 0 {
		return nil
	}
	code := StatusCode(r.IntN(8))
	return &Status{Code: code, Message: fmt.Sprintf("%v %d", code, r.IntN(1000))}
}
