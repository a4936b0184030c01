package rtnl

import (
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// Messages captured from a Linux 6.18 kernel in a namespace with a veth pair
// v1 (ifindex 2) and v0 (ifindex 3), received on an OpenEventSocket-style
// socket while running "ip addr add 2001:db8::1/64 dev v0 preferred_lft 3600
// valid_lft 7200" and "ip addr del" (accept_dad=0).
var (
	// RTM_NEWADDR: the address arrives tentative (IFA_F_TENTATIVE 0x40).
	realNewAddrTentative = []byte{
		0x48, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nlmsghdr
		0x0a, 0x40, 0x40, 0x00, 0x03, 0x00, 0x00, 0x00, // ifaddrmsg: AF_INET6 /64 tentative, scope universe, ifindex 3
		0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // IFA_ADDRESS
		0x14, 0x00, 0x06, 0x00, 0x10, 0x0e, 0x00, 0x00, 0x20, 0x1c, 0x00, 0x00, 0xaa, 0x2b, 0x01, 0x00, 0xaa, 0x2b, 0x01, 0x00, // IFA_CACHEINFO
		0x08, 0x00, 0x08, 0x00, 0x40, 0x00, 0x00, 0x00, // IFA_FLAGS
	}
	// RTM_NEWADDR for v0's link-local address: permanent (0x80), scope link
	// (0xfd), IFA_PROTO kernel-ll.
	realNewAddrLinkLocal = []byte{
		0x50, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x0a, 0x40, 0x80, 0xfd, 0x03, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x01, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x34, 0xab, 0x0d, 0xff, 0xfe, 0x98, 0x92, 0x5e,
		0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xaa, 0x2b, 0x01, 0x00, 0xaa, 0x2b, 0x01, 0x00,
		0x08, 0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00,
		0x05, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x00, 0x00,
	}
	// RTM_DELADDR.
	realDelAddr = []byte{
		0x48, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x0a, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x14, 0x00, 0x06, 0x00, 0x10, 0x0e, 0x00, 0x00, 0x20, 0x1c, 0x00, 0x00, 0xaa, 0x2b, 0x01, 0x00, 0xaa, 0x2b, 0x01, 0x00,
		0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	// RTM_NEWLINK for v0 coming up, cut after its fourth attribute (the full
	// 1492-byte message is testdata/newlink-v0-up.hex) and its length fixed.
	trimmedNewLink = []byte{
		0x40, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		// ifinfomsg: AF_UNSPEC, ARPHRD_ETHER, ifindex 3,
		// UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP, change 0
		0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x43, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x07, 0x00, 0x03, 0x00, 0x76, 0x30, 0x00, 0x00, // IFLA_IFNAME "v0"
		0x08, 0x00, 0x0d, 0x00, 0xe8, 0x03, 0x00, 0x00, // IFLA_TXQLEN
		0x05, 0x00, 0x10, 0x00, 0x06, 0x00, 0x00, 0x00, // IFLA_OPERSTATE up
		0x05, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, // IFLA_LINKMODE
	}
)

// Operational states (IF_OPER_*, linux/if.h; x/sys/unix lacks them).
const (
	operDown = 2
	operUp   = 6
)

// with returns a copy of b with the bytes at off replaced.
func with(b []byte, off int, v ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], v)
	return c
}

// testdata returns a captured datagram from testdata/NAME.hex.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(s)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDatagram(t *testing.T) {
	requireLittleEndian(t)
	global := netip.MustParsePrefix("2001:db8::1/64")
	v0LinkLocal := netip.MustParsePrefix("fe80::34ab:dff:fe98:925e/64")
	tests := []struct {
		name     string
		in       []byte
		want     []Event
		wantDone bool
		wantErr  error // errors.Is target; errAny: any error
	}{
		{name: "new address", in: realNewAddrTentative, want: []Event{Addr{Index: 3, Prefix: global, Flags: unix.IFA_F_TENTATIVE}}},
		{name: "link-local address", in: realNewAddrLinkLocal,
			want: []Event{Addr{Index: 3, Prefix: v0LinkLocal, Flags: unix.IFA_F_PERMANENT, Scope: unix.RT_SCOPE_LINK}}},
		{name: "deleted address", in: realDelAddr, want: []Event{Addr{Index: 3, Prefix: global, Deleted: true}}},
		{name: "two messages in one datagram", in: append(append([]byte(nil), realNewAddrTentative...), realDelAddr...),
			want: []Event{Addr{Index: 3, Prefix: global, Flags: unix.IFA_F_TENTATIVE}, Addr{Index: 3, Prefix: global, Deleted: true}}},
		{name: "link, trimmed", in: trimmedNewLink,
			want: []Event{Link{Index: 3, Name: "v0", Flags: 0x11043, OperState: operUp}}},
		{name: "link up, full", in: testdata(t, "newlink-v0-up"),
			want: []Event{Link{Index: 3, Name: "v0", Flags: 0x11043, OperState: operUp}}},
		{name: "link down, full", in: testdata(t, "newlink-v0-down"),
			want: []Event{Link{Index: 3, Name: "v0", Flags: 0x1002, OperState: operDown}}},
		{name: "link deleted, full", in: testdata(t, "dellink-v0"),
			want: []Event{Link{Index: 3, Name: "v0", Flags: 0x1002, OperState: operDown, Deleted: true}}},
		{
			// RTM_GETADDR AF_INET6 dump reply with sequence number 7: lo's ::1,
			// v1's and v0's link-local addresses, then NLMSG_DONE.
			name: "dump with its end", in: testdata(t, "dump-addr6"),
			want: []Event{
				Addr{Index: 1, Prefix: netip.MustParsePrefix("::1/128"), Flags: unix.IFA_F_PERMANENT, Scope: unix.RT_SCOPE_HOST},
				Addr{Index: 2, Prefix: netip.MustParsePrefix("fe80::548b:9cff:fe3b:c6d3/64"), Flags: unix.IFA_F_PERMANENT, Scope: unix.RT_SCOPE_LINK},
				Addr{Index: 3, Prefix: v0LinkLocal, Flags: unix.IFA_F_PERMANENT, Scope: unix.RT_SCOPE_LINK},
			},
			wantDone: true,
		},
		{name: "empty datagram", in: nil},
		{name: "acknowledgement", in: []byte{
			0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, // errno 0
			0x10, 0x00, 0x00, 0x00, 0x12, 0x00, 0x01, 0x03, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // the request's header
		}},
		{name: "IPv4 address is skipped", in: []byte{
			0x20, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x02, 0x18, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
			0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x01,
		}},
		{name: "bridge port link message is skipped", in: with(trimmedNewLink, 16, unix.AF_BRIDGE)},
		{name: "route message is skipped", in: realRouteDump},
		{name: "other dump's end", in: []byte{
			0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0xe8, 0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		}},
		{name: "dump failed", wantErr: unix.EBUSY, in: []byte{
			0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0xe8, 0x55, 0x00, 0x00, 0xf0, 0xff, 0xff, 0xff,
		}},
		{name: "request refused", wantErr: unix.EPERM, in: []byte{
			0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0xff, 0xff, 0xff, 0xff,
			0x10, 0x00, 0x00, 0x00, 0x12, 0x00, 0x01, 0x03, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		}},
		{name: "dump interrupted", in: with(realNewAddrTentative, 6, 0x12), wantErr: ErrResync},
		{name: "done without errno", in: with(realDelAddr[:16], 0, 0x10, 0, 0, 0, 0x03), wantErr: errAny},
		{name: "length beyond datagram", in: with(realDelAddr, 0, 0x4c), wantErr: errAny},
		{name: "length below header", in: with(realDelAddr, 0, 0x0c), wantErr: errAny},
		{name: "trailing bytes", in: append(append([]byte(nil), realDelAddr...), 1, 2, 3, 4, 5, 6, 7, 8), wantErr: errAny},
		{name: "short ifaddrmsg", in: with(realDelAddr[:20], 0, 0x14), wantErr: errAny},
		{name: "no address attribute", in: with(realDelAddr[:24], 0, 0x18), wantErr: errAny},
		{name: "attribute beyond message", in: with(realDelAddr, 24, 0x40), wantErr: errAny},
		{name: "prefix length 129", in: with(realDelAddr, 17, 0x81), wantErr: errAny},
		{name: "IPv6 message with an IPv4 address", in: []byte{
			0x20, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x0a, 0x18, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
			0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x01,
		}, wantErr: errAny},
		{name: "5-byte address", in: []byte{
			0x24, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x0a, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
			0x09, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00,
		}, wantErr: errAny},
		{name: "short cache info", in: []byte{
			0x24, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x0a, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
			0x0c, 0x00, 0x06, 0x00, 0x10, 0x0e, 0x00, 0x00, 0x20, 0x1c, 0x00, 0x00,
		}, wantErr: errAny},
		{name: "short IFA_FLAGS", in: with(realNewAddrTentative, 64, 0x06), wantErr: errAny},
		{name: "short ifinfomsg", in: with(trimmedNewLink[:24], 0, 0x18), wantErr: errAny},
		{name: "4-byte operstate", in: with(trimmedNewLink, 48, 0x08), wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, done, err := parseDatagram(tt.in, 7)
			switch {
			case tt.wantErr == errAny && err == nil, tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("parseDatagram = %v, %v, %v; want error %v", got, done, err, tt.wantErr)
			case tt.wantErr != nil:
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if done != tt.wantDone {
				t.Errorf("done = %v, want %v", done, tt.wantDone)
			}
		})
	}
}

// errAny stands for any error in table tests.
var errAny = errors.New("any error")

func TestEventMethods(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"down link is not up", Link{Flags: unix.IFF_BROADCAST}.Up(), false},
		{"up", Link{Flags: unix.IFF_UP}.Up(), true},
		{"up without carrier is not running", Link{Flags: unix.IFF_UP}.Running(), false},
		{"running", Link{Flags: unix.IFF_RUNNING}.Running(), true},
		{"lower up", Link{Flags: unix.IFF_LOWER_UP}.Running(), true},
		{"tentative", Addr{Flags: unix.IFA_F_TENTATIVE}.Tentative(), true},
		{"not tentative", Addr{Flags: unix.IFA_F_PERMANENT}.Tentative(), false},
		{"deprecated", Addr{Flags: unix.IFA_F_DEPRECATED}.Deprecated(), true},
		{"DAD failed", Addr{Flags: unix.IFA_F_DADFAILED}.DADFailed(), true},
		{"link-local", Addr{Prefix: netip.MustParsePrefix("fe80::1/64")}.LinkLocal(), true},
		{"global is not link-local", Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64")}.LinkLocal(), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestEventsFromFileRefusesOtherSockets(t *testing.T) {
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ev, err := EventsFromFile(f); err == nil {
		ev.Close()
		t.Error("EventsFromFile accepted a UDP socket")
	}
}

// FuzzDecode checks that no datagram makes parseDatagram panic, and that
// every address it reports is an IPv6 prefix.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _, err := parseDatagram(b, 7)
		if err != nil && len(evs) != 0 {
			t.Fatalf("events %v with error %v", evs, err)
		}
		for _, ev := range evs {
			if a, ok := ev.(Addr); ok && (!a.Prefix.IsValid() || !a.Prefix.Addr().Is6()) {
				t.Fatalf("bad address event %+v", a)
			}
		}
	})
}
