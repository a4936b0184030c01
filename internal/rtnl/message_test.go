package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// requireLittleEndian skips tests whose byte literals are in the byte order
// of the machines they were captured on: netlink uses host byte order.
func requireLittleEndian(t *testing.T) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("byte literals are little-endian; netlink uses host byte order")
	}
}

// fakeConn returns a Conn whose requests go to fn instead of the kernel.
func fakeConn(t *testing.T, fn nltest.Func) *Conn {
	t.Helper()
	c := NewConn(nltest.Dial(fn))
	t.Cleanup(func() { c.Close() })
	return c
}

// reply answers req with messages of type typ carrying data, as the kernel
// does: same sequence number, and for a dump a multi-part message ended by
// NLMSG_DONE.
func reply(req []netlink.Message, typ netlink.HeaderType, data ...[]byte) ([]netlink.Message, error) {
	dump := req[0].Header.Flags&netlink.Dump != 0
	if dump {
		if len(data) == 0 {
			return nil, io.EOF // nltest's empty dump
		}
		data = append(data, []byte{0, 0, 0, 0})
	}
	msgs := make([]netlink.Message, len(data))
	for i, d := range data {
		msgs[i] = netlink.Message{
			Header: netlink.Header{
				Length:   uint32(unix.NLMSG_HDRLEN + len(d)),
				Type:     typ,
				Sequence: req[0].Header.Sequence,
				PID:      nltest.PID,
			},
			Data: d,
		}
	}
	if dump {
		// Multipart sets NLM_F_MULTI on all and turns the last into NLMSG_DONE.
		return nltest.Multipart(msgs)
	}
	return msgs, nil
}

// ack acknowledges a request that asked for one.
func ack(req []netlink.Message) ([]netlink.Message, error) {
	return nltest.Error(0, req)
}

func TestRequests(t *testing.T) {
	requireLittleEndian(t)
	// RTM_GETLINK for eth0, and the kernel's answer: index 7, MTU 1200.
	getLinkEth0 := []byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ifinfomsg
		0x09, 0x00, 0x03, 0x00, 'e', 't', 'h', '0', 0x00, 0x00, 0x00, 0x00, // IFLA_IFNAME "eth0\0", padded
	}
	linkEth0 := func(req []netlink.Message) ([]netlink.Message, error) {
		b, err := linkMessage{Index: 7, Name: "eth0"}.marshal()
		if err != nil {
			return nil, err
		}
		b = append(b, 0x08, 0x00, 0x04, 0x00, 0xb0, 0x04, 0x00, 0x00) // IFLA_MTU 1200
		return reply(req, unix.RTM_NEWLINK, b)
	}
	tests := []struct {
		name  string
		call  func(c *Conn) error
		typ   netlink.HeaderType
		flags netlink.HeaderFlags
		data  []byte
		reply nltest.Func
	}{
		{
			name: "AddAddress",
			call: func(c *Conn) error {
				return c.AddAddress(3, netip.MustParsePrefix("2001:db8:1::1/64"), 3600, 7200)
			},
			typ:   unix.RTM_NEWADDR,
			flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace,
			data: []byte{
				0x0a, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // ifaddrmsg: AF_INET6, /64, flags 0, scope universe, ifindex 3
				0x14, 0x00, 0x02, 0x00, // IFA_LOCAL
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
				0x14, 0x00, 0x01, 0x00, // IFA_ADDRESS
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
				0x14, 0x00, 0x06, 0x00, // IFA_CACHEINFO
				0x10, 0x0e, 0x00, 0x00, // preferred 3600
				0x20, 0x1c, 0x00, 0x00, // valid 7200
				0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // timestamps: the kernel's to fill
			},
			reply: ack,
		},
		{
			name:  "DeleteAddress",
			call:  func(c *Conn) error { return c.DeleteAddress(3, netip.MustParsePrefix("2001:db8:1::1/64")) },
			typ:   unix.RTM_DELADDR,
			flags: netlink.Request | netlink.Acknowledge,
			data: []byte{
				0x0a, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
				0x14, 0x00, 0x02, 0x00,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
				0x14, 0x00, 0x01, 0x00,
				0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
			},
			reply: ack,
		},
		{
			name:  "AddUnreachable",
			call:  func(c *Conn) error { return c.AddUnreachable(netip.MustParsePrefix("2001:db8:1200::/56")) },
			typ:   unix.RTM_NEWROUTE,
			flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace,
			data: []byte{
				// rtmsg: AF_INET6, /56, no source, tos 0, table main, protocol 214,
				// scope universe, RTN_UNREACHABLE, flags 0
				0x0a, 0x38, 0x00, 0x00, 0xfe, 0xd6, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
				0x14, 0x00, 0x01, 0x00, // RTA_DST
				0x20, 0x01, 0x0d, 0xb8, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			reply: ack,
		},
		{
			name:  "DeleteUnreachable",
			call:  func(c *Conn) error { return c.DeleteUnreachable(netip.MustParsePrefix("2001:db8:1200::/56")) },
			typ:   unix.RTM_DELROUTE,
			flags: netlink.Request | netlink.Acknowledge,
			data: []byte{
				0x0a, 0x38, 0x00, 0x00, 0xfe, 0xd6, 0xff, 0x07, 0x00, 0x00, 0x00, 0x00, // scope nowhere, as ip(8) deletes
				0x14, 0x00, 0x01, 0x00,
				0x20, 0x01, 0x0d, 0xb8, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			},
			reply: ack,
		},
		{
			name: "ListUnreachable",
			call: func(c *Conn) error {
				_, err := c.ListUnreachable()
				return err
			},
			typ:   unix.RTM_GETROUTE,
			flags: netlink.Request | netlink.Dump,
			data:  []byte{0x0a, 0x00, 0x00, 0x00, 0xfe, 0xd6, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00}, // filter: table, protocol, type
			reply: func(req []netlink.Message) ([]netlink.Message, error) { return reply(req, unix.RTM_NEWROUTE) },
		},
		{
			name: "LinkIndex",
			call: func(c *Conn) error {
				idx, err := c.LinkIndex("eth0")
				if err == nil && idx != 7 {
					err = fmt.Errorf("index %d, want the reply's 7", idx)
				}
				return err
			},
			typ: unix.RTM_GETLINK, flags: netlink.Request, data: getLinkEth0, reply: linkEth0,
		},
		{
			name: "LinkMTU",
			call: func(c *Conn) error {
				mtu, err := c.LinkMTU("eth0")
				if err == nil && mtu != 1200 {
					err = fmt.Errorf("MTU %d, want the reply's 1200", mtu)
				}
				return err
			},
			typ: unix.RTM_GETLINK, flags: netlink.Request, data: getLinkEth0, reply: linkEth0,
		},
		{
			name: "LinkLocal",
			call: func(c *Conn) error {
				_, _, err := c.LinkLocal(3)
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			},
			typ:   unix.RTM_GETADDR,
			flags: netlink.Request | netlink.Dump,
			data:  []byte{0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00}, // filter: AF_INET6, ifindex 3
			reply: func(req []netlink.Message) ([]netlink.Message, error) { return reply(req, unix.RTM_NEWADDR) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []netlink.Message
			c := fakeConn(t, func(req []netlink.Message) ([]netlink.Message, error) {
				got = append(got, req...)
				return tt.reply(req)
			})
			if err := tt.call(c); err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("sent %d messages, want 1", len(got))
			}
			h := got[0].Header
			if h.Type != tt.typ || h.Flags != tt.flags {
				t.Errorf("header type %d flags %v, want type %d flags %v", h.Type, h.Flags, tt.typ, tt.flags)
			}
			if diff := cmp.Diff(tt.data, got[0].Data); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrnoHandling(t *testing.T) {
	addr := netip.MustParsePrefix("2001:db8:1::1/64")
	prefix := netip.MustParsePrefix("2001:db8:1200::/56")
	tests := []struct {
		name  string
		call  func(c *Conn) error
		errno unix.Errno
		want  error // nil: the call succeeds
	}{
		{"DeleteAddress of a missing address", func(c *Conn) error { return c.DeleteAddress(3, addr) }, unix.EADDRNOTAVAIL, nil},
		{"DeleteAddress on a missing link", func(c *Conn) error { return c.DeleteAddress(3, addr) }, unix.ENODEV, nil},
		{"DeleteAddress refused", func(c *Conn) error { return c.DeleteAddress(3, addr) }, unix.EPERM, unix.EPERM},
		{"AddAddress refused", func(c *Conn) error { return c.AddAddress(3, addr, 1, 2) }, unix.EPERM, unix.EPERM},
		{"AddAddress on a missing link", func(c *Conn) error { return c.AddAddress(3, addr, 1, 2) }, unix.ENODEV, unix.ENODEV},
		{"DeleteUnreachable of a missing route", func(c *Conn) error { return c.DeleteUnreachable(prefix) }, unix.ESRCH, nil},
		{"DeleteUnreachable refused", func(c *Conn) error { return c.DeleteUnreachable(prefix) }, unix.EPERM, unix.EPERM},
		{"AddUnreachable refused", func(c *Conn) error { return c.AddUnreachable(prefix) }, unix.EPERM, unix.EPERM},
		{"LinkIndex of a missing link", func(c *Conn) error { _, err := c.LinkIndex("eth9"); return err }, unix.ENODEV, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeConn(t, func(req []netlink.Message) ([]netlink.Message, error) {
				return nltest.Error(int(tt.errno), req)
			})
			err := tt.call(c)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRefusedArguments(t *testing.T) {
	good := netip.MustParsePrefix("2001:db8:1::1/64")
	tests := []struct {
		name string
		call func(c *Conn) error
	}{
		{"AddAddress ifindex 0", func(c *Conn) error { return c.AddAddress(0, good, 1, 2) }},
		{"AddAddress IPv4", func(c *Conn) error { return c.AddAddress(3, netip.MustParsePrefix("192.0.2.1/24"), 1, 2) }},
		{"AddAddress no prefix", func(c *Conn) error { return c.AddAddress(3, netip.Prefix{}, 1, 2) }},
		{"AddAddress valid 0", func(c *Conn) error { return c.AddAddress(3, good, 0, 0) }},
		{"AddAddress preferred above valid", func(c *Conn) error { return c.AddAddress(3, good, 3, 2) }},
		{"DeleteAddress ifindex -1", func(c *Conn) error { return c.DeleteAddress(-1, good) }},
		{"AddUnreachable /0", func(c *Conn) error { return c.AddUnreachable(netip.MustParsePrefix("::/0")) }},
		{"AddUnreachable host bits", func(c *Conn) error { return c.AddUnreachable(good) }},
		{"AddUnreachable IPv4", func(c *Conn) error { return c.AddUnreachable(netip.MustParsePrefix("192.0.2.0/24")) }},
		{"DeleteUnreachable /0", func(c *Conn) error { return c.DeleteUnreachable(netip.MustParsePrefix("::/0")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeConn(t, func(req []netlink.Message) ([]netlink.Message, error) {
				t.Errorf("sent %+v, want nothing sent", req)
				return ack(req)
			})
			if err := tt.call(c); err == nil {
				t.Error("no error")
			}
		})
	}
}

// realRouteDump is the RTM_GETROUTE dump reply for AF_INET6 in a namespace
// with only lo up and "ip -6 route add unreachable 2001:db8:1200::/56 proto
// 214": our route (table main, RTA_PRIORITY 1024, RTA_OIF lo, RTA_CACHEINFO,
// RTA_PREF), then ::1's local route in table local.
var realRouteDump = []byte{
	0x74, 0x00, 0x00, 0x00, 0x18, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x1f, 0x5c, 0x00, 0x00,
	0x0a, 0x38, 0x00, 0x00, 0xfe, 0xd6, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x06, 0x00, 0x00, 0x04, 0x00, 0x00,
	0x08, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x24, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x05, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x74, 0x00, 0x00, 0x00, 0x18, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x1f, 0x5c, 0x00, 0x00,
	0x0a, 0x80, 0x00, 0x00, 0xff, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x0f, 0x00, 0xff, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x24, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x05, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00,
}

func TestListUnreachable(t *testing.T) {
	requireLittleEndian(t)
	real, err := splitMessages(realRouteDump)
	if err != nil {
		t.Fatal(err)
	}
	var replies [][]byte
	for _, m := range real {
		replies = append(replies, m.Data)
	}
	// Routes a non-strict kernel would also return: they must be skipped.
	for _, m := range []routeMessage{
		{Family: unix.AF_INET6, DstLen: 48, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_STATIC, Type: unix.RTN_UNREACHABLE, Dst: netip.MustParseAddr("2001:db8:9900::")},
		{Family: unix.AF_INET6, DstLen: 48, Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol, Type: unix.RTN_UNICAST, Dst: netip.MustParseAddr("2001:db8:9a00::")},
		{Family: unix.AF_INET6, DstLen: 48, Table: 100, Protocol: RouteProtocol, Type: unix.RTN_UNREACHABLE, Dst: netip.MustParseAddr("2001:db8:9b00::")},
		{Family: unix.AF_INET6, Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol, Type: unix.RTN_UNREACHABLE}, // default route: no RTA_DST
	} {
		b, err := m.marshal()
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, b)
	}
	c := fakeConn(t, func(req []netlink.Message) ([]netlink.Message, error) {
		return reply(req, unix.RTM_NEWROUTE, replies...)
	})
	got, err := c.ListUnreachable()
	if err != nil {
		t.Fatalf("ListUnreachable: %v", err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("2001:db8:1200::/56")}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("ListUnreachable (-want +got):\n%s", diff)
	}
}

func TestLinkLocal(t *testing.T) {
	addr := func(index uint32, s string, flags uint32) []byte {
		p := netip.MustParsePrefix(s)
		b, err := addrMessage{Family: unix.AF_INET6, PrefixLen: uint8(p.Bits()), Flags: flags, Index: index, Address: p.Addr()}.marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name          string
		replies       [][]byte
		want          netip.Addr
		wantTentative bool
	}{
		{
			name: "skips other links, global, deprecated and DAD-failed addresses",
			replies: [][]byte{
				addr(2, "fe80::2/64", 0),
				addr(3, "2001:db8::1/64", 0),
				addr(3, "fe80::d/64", unix.IFA_F_DEPRECATED),
				addr(3, "fe80::f/64", unix.IFA_F_DADFAILED|unix.IFA_F_TENTATIVE),
				addr(3, "fe80::1/64", unix.IFA_F_TENTATIVE),
				addr(3, "fe80::3/64", 0),
			},
			want:          netip.MustParseAddr("fe80::1"),
			wantTentative: true,
		},
		{
			name:    "permanent",
			replies: [][]byte{addr(3, "fe80::1/64", unix.IFA_F_PERMANENT)},
			want:    netip.MustParseAddr("fe80::1"),
		},
		{
			name:    "none usable",
			replies: [][]byte{addr(3, "fe80::d/64", unix.IFA_F_DEPRECATED), addr(2, "fe80::2/64", 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeConn(t, func(req []netlink.Message) ([]netlink.Message, error) {
				return reply(req, unix.RTM_NEWADDR, tt.replies...)
			})
			got, tentative, err := c.LinkLocal(3)
			if !tt.want.IsValid() {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("LinkLocal = %v, %v, %v; want ErrNotFound", got, tentative, err)
				}
				return
			}
			if err != nil || got != tt.want || tentative != tt.wantTentative {
				t.Errorf("LinkLocal = %v, %v, %v; want %v, %v", got, tentative, err, tt.want, tt.wantTentative)
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	addr := addrMessage{
		Family: unix.AF_INET6, PrefixLen: 64, Flags: unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_TENTATIVE,
		Scope: unix.RT_SCOPE_LINK, Index: 9,
		Address: netip.MustParseAddr("fe80::1"), Local: netip.MustParseAddr("fe80::2"),
		CacheInfo: &cacheInfo{Preferred: 1, Valid: 2, Created: 3, Updated: 4},
	}
	link := linkMessage{Family: unix.AF_UNSPEC, Type: unix.ARPHRD_ETHER, Index: 4, Flags: unix.IFF_UP, Change: 0xffffffff, Name: "eth0"}
	route := routeMessage{Family: unix.AF_INET6, DstLen: 56, SrcLen: 1, TOS: 2, Table: 254, Protocol: 214, Scope: 3, Type: 7, Flags: 0x100, Dst: netip.MustParseAddr("2001:db8::")}
	opt := cmpopts.EquateComparable(netip.Addr{})

	b, err := addr.marshal()
	var gotAddr addrMessage
	if err == nil {
		err = gotAddr.unmarshal(b)
	}
	if diff := cmp.Diff(addr, gotAddr, opt); err != nil || diff != "" {
		t.Errorf("addrMessage round trip: %v (-want +got):\n%s", err, diff)
	}
	b, err = link.marshal()
	var gotLink linkMessage
	if err == nil {
		err = gotLink.unmarshal(b)
	}
	if diff := cmp.Diff(link, gotLink); err != nil || diff != "" {
		t.Errorf("linkMessage round trip: %v (-want +got):\n%s", err, diff)
	}
	b, err = route.marshal()
	var gotRoute routeMessage
	if err == nil {
		err = gotRoute.unmarshal(b)
	}
	if diff := cmp.Diff(route, gotRoute, opt); err != nil || diff != "" {
		t.Errorf("routeMessage round trip: %v (-want +got):\n%s", err, diff)
	}
	if b, err := (routeMessage{Table: 256}).marshal(); err == nil {
		t.Errorf("routeMessage with table 256 marshalled to %x", b)
	}
}
