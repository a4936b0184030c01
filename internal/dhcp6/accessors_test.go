package dhcp6

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSearchList(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		name string
		wire []byte // the option body
		want []string
		err  string // "" when valid
	}{
		{name: "absent", wire: nil},
		{name: "empty", wire: []byte{}},
		{name: "two names", wire: []byte("\x07example\x03com\x00\x03lan\x00"), want: []string{"example.com", "lan"}},
		{name: "the root", wire: []byte{0}, want: []string{"."}},
		{name: "underscore, hyphen and a 63-octet label", wire: []byte("\x05_a-b1\x3f" + long + "\x00"), want: []string{"_a-b1." + long}},
		{
			name: "name of 255 octets",
			wire: []byte(strings.Repeat("\x3f"+long, 3) + "\x3d" + long[:61] + "\x00"),
			want: []string{strings.Repeat(long+".", 3) + long[:61]},
		},
		{
			name: "name of 256 octets",
			wire: []byte(strings.Repeat("\x3f"+long, 3) + "\x3e" + long[:62] + "\x00"),
			err:  "domain list: name at 0: 256 octets: invalid Domain Search List option",
		},
		{
			name: "compression pointer",
			wire: []byte("\x03lan\x00\xc0\x00"),
			err:  "domain list: name at 5: label at 0: length octet 0xc0 is a pointer or a reserved label type: invalid Domain Search List option",
		},
		{
			name: "reserved label type",
			wire: []byte("\x40"),
			err:  "domain list: name at 0: label at 0: length octet 0x40 is a pointer or a reserved label type: invalid Domain Search List option",
		},
		{
			name: "label overrunning the option",
			wire: []byte("\x03lan\x00\x05ab"),
			err:  "domain list: name at 5: label at 0 of 5 octets: past the option: invalid Domain Search List option",
		},
		{
			name: "no root label",
			wire: []byte("\x03lan\x03com"),
			err:  "domain list: name at 0: no root label in 8 octets: invalid Domain Search List option",
		},
		{
			name: "dot in a label",
			wire: []byte("\x03a.b\x00"),
			err:  `domain list: name at 0: label at 0: label "a.b": octet 0x2e: invalid Domain Search List option`,
		},
		{
			name: "newline in a label",
			wire: []byte("\x02a\n\x00"),
			err:  `domain list: name at 0: label at 0: label "a\n": octet 0x0a: invalid Domain Search List option`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Message{DomainList: tc.wire}
			got, err := m.SearchList()
			if tc.err != "" {
				if !errors.Is(err, ErrDomainList) || err.Error() != tc.err {
					t.Fatalf("SearchList error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SearchList: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SearchList (-want +got):\n%s", diff)
			}
			if tc.wire == nil {
				return
			}
			back, err := AppendDomainList(nil, got...)
			if err != nil || !bytes.Equal(back, tc.wire) {
				t.Errorf("AppendDomainList(%q) = %q, %v; want %q", got, back, err, tc.wire)
			}
		})
	}
}

func TestAppendDomainList(t *testing.T) {
	got, err := AppendDomainList([]byte{0xee}, "example.com.", "lan", ".")
	if want := []byte("\xee\x07example\x03com\x00\x03lan\x00\x00"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("AppendDomainList = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "a..b", ".a", "a b", strings.Repeat("a", 64), strings.Repeat("abc.", 64)} {
		buf := []byte{0xee}
		got, err := AppendDomainList(buf, "ok", bad)
		if !errors.Is(err, ErrDomainList) || !bytes.Equal(got, buf) {
			t.Errorf("AppendDomainList(%q) = %q, %v; want the buffer unchanged and ErrDomainList", bad, got, err)
		}
	}
}

func TestExcluded(t *testing.T) {
	tests := []struct {
		name     string
		prefix   string // the delegated prefix
		plen     uint8  // its length, which may be out of range
		elen     uint8
		subnetID []byte // nil: no Prefix Exclude
		want     string // the excluded prefix, "" when absent or invalid
		err      string
	}{
		{name: "absent", prefix: "2001:db8:1200::", plen: 56},
		{name: "RFC 6603 example", prefix: "2001:db8:dead:bee0::", plen: 59, elen: 64, subnetID: []byte{0x78}, want: "2001:db8:dead:beef::/64"},
		{name: "/56 to /64", prefix: "2001:db8:1200::", plen: 56, elen: 64, subnetID: []byte{0x01}, want: "2001:db8:1200:1::/64"},
		{name: "/63 to /64", prefix: "2001:db8:dead:beee::", plen: 63, elen: 64, subnetID: []byte{0x80}, want: "2001:db8:dead:beef::/64"},
		{name: "/48 to /64, two octets", prefix: "2001:db8:1::", plen: 48, elen: 64, subnetID: []byte{0xab, 0xcd}, want: "2001:db8:1:abcd::/64"},
		{name: "/0 to /128, sixteen octets", prefix: "::", plen: 0, elen: 128,
			subnetID: netip.MustParseAddr("2001:db8::1").AsSlice(), want: "2001:db8::1/128"},
		{name: "host bits of the delegated prefix are not carried", prefix: "2001:db8:1200::ffff", plen: 56, elen: 64, subnetID: []byte{0x02}, want: "2001:db8:1200:2::/64"},
		{name: "padding bits are not judged", prefix: "2001:db8:dead:bee0::", plen: 59, elen: 64, subnetID: []byte{0x7f}, want: "2001:db8:dead:beef::/64"},
		{name: "subnet ID of two octets for one", prefix: "2001:db8:1200::", plen: 56, elen: 64, subnetID: []byte{0x01, 0x00},
			err: "exclude /64 from 2001:db8:1200::/56: subnet ID of 2 octets, want 1: invalid Prefix Exclude option"},
		{name: "subnet ID of one octet for two", prefix: "2001:db8:1::", plen: 48, elen: 64, subnetID: []byte{0x01},
			err: "exclude /64 from 2001:db8:1::/48: subnet ID of 1 octets, want 2: invalid Prefix Exclude option"},
		{name: "excluded as long as delegated", prefix: "2001:db8:1200::", plen: 56, elen: 56, subnetID: []byte{0},
			err: "exclude /56 from 2001:db8:1200::/56: prefix-len not in 57..128: invalid Prefix Exclude option"},
		{name: "excluded shorter than delegated", prefix: "2001:db8:1200::", plen: 56, elen: 48, subnetID: []byte{0},
			err: "exclude /48 from 2001:db8:1200::/56: prefix-len not in 57..128: invalid Prefix Exclude option"},
		{name: "excluded length 129", prefix: "2001:db8:1200::", plen: 56, elen: 129, subnetID: make([]byte, 10),
			err: "exclude /129 from 2001:db8:1200::/56: prefix-len not in 57..128: invalid Prefix Exclude option"},
		{name: "delegated length 200", prefix: "2001:db8:1200::", plen: 200, elen: 201, subnetID: []byte{0},
			err: "exclude /201 from a prefix of length 200: invalid Prefix Exclude option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := IAPrefix{PrefixLen: tc.plen, Prefix: netip.MustParseAddr(tc.prefix),
				Exclude: PrefixExclude{PrefixLen: tc.elen, SubnetID: tc.subnetID}}
			got, ok, err := p.Excluded()
			if ok != (tc.subnetID != nil) {
				t.Errorf("Excluded ok = %v with subnet ID %x", ok, tc.subnetID)
			}
			if tc.err != "" {
				if !errors.Is(err, ErrExclude) || err.Error() != tc.err {
					t.Fatalf("Excluded error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Excluded: %v", err)
			}
			if tc.want == "" {
				if got.IsValid() {
					t.Errorf("Excluded = %v, want none", got)
				}
				return
			}
			if want := netip.MustParsePrefix(tc.want); got != want {
				t.Errorf("Excluded = %v, want %v", got, want)
			}
		})
	}
}

// TestPrefixExcludeRoundTrip: NewPrefixExclude encodes what Excluded
// decodes, over random delegated and excluded prefixes of every length.
func TestPrefixExcludeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(6603, 42))
	for i := range 2000 {
		dlen := r.IntN(128)
		elen := dlen + 1 + r.IntN(128-dlen)
		excluded := netip.PrefixFrom(randomAddr(r), elen).Masked()
		delegated := netip.PrefixFrom(excluded.Addr(), dlen).Masked()
		e, err := NewPrefixExclude(delegated, excluded)
		if err != nil {
			t.Fatalf("%d: NewPrefixExclude(%v, %v): %v", i, delegated, excluded, err)
		}
		if len(e.SubnetID) != (elen-dlen+7)/8 {
			t.Fatalf("%d: NewPrefixExclude(%v, %v): subnet ID of %d octets", i, delegated, excluded, len(e.SubnetID))
		}
		p := IAPrefix{PrefixLen: uint8(dlen), Prefix: delegated.Addr(), Exclude: e}
		if got, ok, err := p.Excluded(); !ok || err != nil || got != excluded {
			t.Fatalf("%d: Excluded of NewPrefixExclude(%v, %v) = %v, %v, %v", i, delegated, excluded, got, ok, err)
		}
	}
	for _, bad := range [][2]string{
		{"2001:db8:1200::/56", "2001:db8:1300::/64"}, // outside
		{"2001:db8:1200::/56", "2001:db8:1200::/56"}, // not longer
		{"2001:db8:1200::/56", "2001:db8::/48"},      // shorter
		{"10.0.0.0/8", "10.1.0.0/16"},                // IPv4
	} {
		if _, err := NewPrefixExclude(netip.MustParsePrefix(bad[0]), netip.MustParsePrefix(bad[1])); !errors.Is(err, ErrExclude) {
			t.Errorf("NewPrefixExclude(%s, %s) error = %v, want ErrExclude", bad[0], bad[1], err)
		}
	}
}

func TestReconfigureKey(t *testing.T) {
	wire, _ := ispReply()
	var m Message
	if err := m.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	key, err := m.ReconfigureKey()
	if err != nil || key != reconfigureKey() {
		t.Fatalf("ReconfigureKey = %x, %v; want %x", key, err, reconfigureKey())
	}

	good := ReconfigureKeyAuth(1, reconfigureKey())
	tests := []struct {
		name   string
		change func(*Message)
		want   error
	}{
		{"no Authentication", func(m *Message) { m.HasAuth = false }, ErrAuthMissing},
		{"delayed authentication", func(m *Message) { m.Auth.Protocol = 2 }, ErrAuthProtocol},
		{"algorithm 2", func(m *Message) { m.Auth.Algorithm = 2 }, ErrAuthProtocol},
		{"RDM 1", func(m *Message) { m.Auth.RDM = 1 }, ErrAuthProtocol},
		{"a digest, not a key", func(m *Message) { m.Auth.Info = slices.Concat([]byte{2}, good.Info[1:]) }, ErrAuthProtocol},
		{"key of 15 bytes", func(m *Message) { m.Auth.Info = good.Info[:16] }, ErrAuthProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Message{HasAuth: true, Auth: good}
			tc.change(&m)
			if _, err := m.ReconfigureKey(); !errors.Is(err, tc.want) {
				t.Errorf("ReconfigureKey error = %v, want %v", err, tc.want)
			}
		})
	}
}

// reconfigureMessage is a Reconfigure asking for a Renew, signed with key,
// as a server sends it: the wire form and the message decoded from it.
func reconfigureMessage(t *testing.T, key [ReconfigureKeyLen]byte) ([]byte, *Message) {
	t.Helper()
	_, reply := ispReply()
	r := Message{Type: Reconfigure, ClientID: reply.ClientID, ServerIDs: reply.ServerIDs,
		ReconfMsg: uint8(Renew), HasAuth: true, Auth: ReconfigureDigestAuth(2)}
	wire, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := SignReconfigure(wire, key); err != nil {
		t.Fatalf("SignReconfigure: %v", err)
	}
	var m Message
	if err := m.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	return wire, &m
}

func TestSignVerifyReconfigure(t *testing.T) {
	key := reconfigureKey()
	wire, m := reconfigureMessage(t, key)

	// The digest, computed here the plain way: HMAC-MD5 of a copy with
	// the 16 digest bytes zero (RFC 8415 section 20.4.2).
	off := len(wire) - ReconfigureKeyLen
	zeroed := slices.Clone(wire)
	clear(zeroed[off:])
	h := hmac.New(md5.New, key[:])
	h.Write(zeroed)
	if want := h.Sum(nil); !bytes.Equal(wire[off:], want) || m.Auth.InfoOffset != off-1 {
		t.Fatalf("signed digest %x at %d, want %x at %d", wire[off:], m.Auth.InfoOffset+1, want, off)
	}
	if err := m.VerifyReconfigure(wire, key); err != nil {
		t.Fatalf("VerifyReconfigure: %v", err)
	}

	tests := []struct {
		name   string
		change func(wire []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte)
		want   error
	}{
		{"wrong key", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			return w, [ReconfigureKeyLen]byte{1}
		}, ErrAuthDigest},
		{"message changed after signing", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			w = slices.Clone(w)
			w[8+len(m.ClientID)+4+len(m.ServerIDs[0])+4]++ // the Reconfigure Message's msg-type
			return w, key
		}, ErrAuthDigest},
		{"digest changed", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			w = slices.Clone(w)
			w[len(w)-1]++
			m.Auth.Info = w[m.Auth.InfoOffset:]
			return w, key
		}, ErrAuthDigest},
		{"another buffer than the decoded one", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			return w[:len(w)-1], key
		}, ErrAuthDigest},
		{"no Authentication", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			m.HasAuth = false
			return w, key
		}, ErrAuthMissing},
		{"a key, not a digest", func(w []byte, m *Message) ([]byte, [ReconfigureKeyLen]byte) {
			m.Auth.Info = slices.Concat([]byte{ReconfigureKeyValue}, m.Auth.Info[1:])
			return w, key
		}, ErrAuthProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, mm := slices.Clone(wire), *m
			w, k := tc.change(w, &mm)
			if err := mm.VerifyReconfigure(w, k); !errors.Is(err, tc.want) {
				t.Errorf("VerifyReconfigure error = %v, want %v", err, tc.want)
			}
		})
	}

	// SignReconfigure refuses what it cannot sign.
	for name, wire := range map[string][]byte{
		"garbage":           {0x0a, 0x00},
		"no Authentication": {0x0a, 0x00, 0x00, 0x00},
		"a Reconfigure Key": func() []byte { w, _ := ispReply(); return w }(),
	} {
		if err := SignReconfigure(slices.Clone(wire), key); err == nil {
			t.Errorf("SignReconfigure of %s: no error", name)
		}
	}
}
