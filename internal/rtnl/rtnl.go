// Package rtnl speaks rtnetlink for dhcp6leased: the parent's kernel changes
// (addresses with lifetimes, unreachable routes) through Conn, and the
// frontend's view of links and IPv6 addresses through Events, on a socket
// the parent opens and hands over.
//
// Messages are built and parsed here rather than with jsimonetti/rtnetlink,
// which never encodes IFA_CACHEINFO and so adds addresses without their
// lifetimes.
package rtnl

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes this daemon installs (rtm_protocol), so that
// after a crash it can find and remove its own unreachable routes and no one
// else's. 214 is unassigned in linux/rtnetlink.h (RTPROT_*, up to
// RTPROT_EIGRP 192 in Linux 6.18), in iproute2's rt_protos and in FRR's
// private range (186-198); it avoids RTPROT_DHCP (16), which dhcpcd and
// systemd-networkd use. Values from RTPROT_STATIC (4) up are not interpreted
// by the kernel. An operator can name it for ip(8):
// echo "214 dhcp6leased" > /etc/iproute2/rt_protos.d/dhcp6leased.conf
const RouteProtocol = 214

// ErrNotFound reports that a link, or a usable link-local address on it,
// does not exist (yet).
var ErrNotFound = errors.New("not found")

// Conn changes and queries the kernel's links, addresses and routes in the
// network namespace its socket was opened in. It is safe for concurrent use.
type Conn struct {
	c *netlink.Conn
}

// Dial opens an rtnetlink socket in the calling thread's network namespace.
// Strict checking makes the kernel filter dumps by the request's header and
// explain refusals (extended acknowledgements) in the error text.
func Dial() (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Strict: true})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	return NewConn(c), nil
}

// NewConn wraps an rtnetlink socket, for example one dialed in another
// network namespace with netlink.Config.NetNS.
func NewConn(c *netlink.Conn) *Conn {
	return &Conn{c: c}
}

// Close closes the socket.
func (c *Conn) Close() error {
	return c.c.Close()
}

// execute sends one request and returns the replies: the acknowledgement is
// checked by netlink.Conn.Execute, dumps are collected until NLMSG_DONE.
func (c *Conn) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	return c.c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | flags},
		Data:   data,
	})
}

// AddAddress adds addr (an address and its prefix length, such as
// 2001:db8:0:1::1/64) to the interface with the lifetimes in seconds
// (0xffffffff is forever), or, if it is already there, updates its
// lifetimes in place: NLM_F_REPLACE modifies the existing address without
// removing it, so a renewal never takes it away even for a moment.
// IFA_F_NOPREFIXROUTE is not set: the kernel adds the on-link route for the
// prefix, which the downstream needs.
func (c *Conn) AddAddress(ifindex int, addr netip.Prefix, preferred, valid uint32) error {
	if err := checkAddress(ifindex, addr); err != nil {
		return fmt.Errorf("add address %v on ifindex %d: %w", addr, ifindex, err)
	}
	// The kernel refuses these with a bare EINVAL (inet6_addr_add()).
	if valid == 0 {
		return fmt.Errorf("add address %v on ifindex %d: valid lifetime 0", addr, ifindex)
	}
	if preferred > valid {
		return fmt.Errorf("add address %v on ifindex %d: preferred lifetime %d above valid %d", addr, ifindex, preferred, valid)
	}
	m := addrMessage{
		Family:    unix.AF_INET6,
		PrefixLen: uint8(addr.Bits()),
		Scope:     unix.RT_SCOPE_UNIVERSE,
		Index:     uint32(ifindex),
		Local:     addr.Addr(),
		Address:   addr.Addr(),
		CacheInfo: &cacheInfo{Preferred: preferred, Valid: valid},
	}
	b, err := m.marshal()
	if err == nil {
		_, err = c.execute(unix.RTM_NEWADDR, netlink.Acknowledge|netlink.Create|netlink.Replace, b)
	}
	if err != nil {
		return fmt.Errorf("add address %v on ifindex %d: %w", addr, ifindex, err)
	}
	return nil
}

// DeleteAddress removes addr from the interface. An address, or interface,
// that is already gone is not an error: the result the caller wants holds.
func (c *Conn) DeleteAddress(ifindex int, addr netip.Prefix) error {
	if err := checkAddress(ifindex, addr); err != nil {
		return fmt.Errorf("delete address %v on ifindex %d: %w", addr, ifindex, err)
	}
	m := addrMessage{
		Family:    unix.AF_INET6,
		PrefixLen: uint8(addr.Bits()),
		Index:     uint32(ifindex),
		Local:     addr.Addr(),
		Address:   addr.Addr(),
	}
	b, err := m.marshal()
	if err == nil {
		_, err = c.execute(unix.RTM_DELADDR, netlink.Acknowledge, b)
	}
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete address %v on ifindex %d: %w", addr, ifindex, err)
	}
	return nil
}

func checkAddress(ifindex int, addr netip.Prefix) error {
	if ifindex <= 0 || ifindex > 1<<31-1 {
		return fmt.Errorf("bad interface index %d", ifindex)
	}
	if !addr.IsValid() || !addr.Addr().Is6() {
		return errors.New("not an IPv6 address with a prefix length")
	}
	return nil
}

// unreachable is the route message for the unreachable route of prefix in
// the main table, with our protocol.
func unreachable(prefix netip.Prefix, scope uint8) routeMessage {
	return routeMessage{
		Family:   unix.AF_INET6,
		DstLen:   uint8(prefix.Bits()),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: RouteProtocol,
		Scope:    scope,
		Type:     unix.RTN_UNREACHABLE,
		Dst:      prefix.Addr(),
	}
}

func checkPrefix(prefix netip.Prefix) error {
	switch {
	case !prefix.IsValid() || !prefix.Addr().Is6():
		return errors.New("not an IPv6 prefix")
	case prefix != prefix.Masked():
		return errors.New("bits set after the prefix length")
	case prefix.Bits() == 0:
		// An unreachable default route would cut the router off.
		return errors.New("prefix length 0")
	}
	return nil
}

// AddUnreachable installs the unreachable route for a delegated prefix
// (RFC 7084 WPD-5: traffic for unassigned parts of the prefix is dropped
// with an ICMPv6 error instead of looping towards the default route). It
// replaces a route to the same prefix and metric, so repeating it changes
// nothing.
func (c *Conn) AddUnreachable(prefix netip.Prefix) error {
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("add unreachable route %v: %w", prefix, err)
	}
	b, err := unreachable(prefix, unix.RT_SCOPE_UNIVERSE).marshal()
	if err == nil {
		_, err = c.execute(unix.RTM_NEWROUTE, netlink.Acknowledge|netlink.Create|netlink.Replace, b)
	}
	if err != nil {
		return fmt.Errorf("add unreachable route %v: %w", prefix, err)
	}
	return nil
}

// DeleteUnreachable removes our unreachable route for prefix. The request
// names our protocol, so the kernel never removes someone else's route; a
// route that is not there is not an error.
func (c *Conn) DeleteUnreachable(prefix netip.Prefix) error {
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("delete unreachable route %v: %w", prefix, err)
	}
	b, err := unreachable(prefix, unix.RT_SCOPE_NOWHERE).marshal()
	if err == nil {
		_, err = c.execute(unix.RTM_DELROUTE, netlink.Acknowledge, b)
	}
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete unreachable route %v: %w", prefix, err)
	}
	return nil
}

// ListUnreachable returns the prefixes of the unreachable routes in the
// main table that carry our protocol: what a previous run left behind.
func (c *Conn) ListUnreachable() ([]netip.Prefix, error) {
	// With strict checking the kernel filters by table, protocol and type
	// already; the loop below filters again for a Conn without it.
	req := routeMessage{Family: unix.AF_INET6, Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol, Type: unix.RTN_UNREACHABLE}
	b, err := req.marshal()
	if err != nil {
		return nil, fmt.Errorf("list unreachable routes: %w", err)
	}
	msgs, err := c.execute(unix.RTM_GETROUTE, netlink.Dump, b)
	if err != nil {
		return nil, fmt.Errorf("list unreachable routes: %w", err)
	}
	var prefixes []netip.Prefix
	for _, msg := range msgs {
		var m routeMessage
		if err := m.unmarshal(msg.Data); err != nil {
			return nil, fmt.Errorf("list unreachable routes: %w", err)
		}
		// A route without RTA_DST is a default route, which this daemon
		// never installs (AddUnreachable refuses length 0).
		if m.Family != unix.AF_INET6 || m.Table != unix.RT_TABLE_MAIN ||
			m.Protocol != RouteProtocol || m.Type != unix.RTN_UNREACHABLE || !m.Dst.IsValid() {
			continue
		}
		p, err := m.Dst.Prefix(int(m.DstLen))
		if err != nil || !m.Dst.Is6() {
			return nil, fmt.Errorf("list unreachable routes: bad destination %v/%d", m.Dst, m.DstLen)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

// LinkIndex returns the index of the interface named name, ErrNotFound
// when there is none.
func (c *Conn) LinkIndex(name string) (int, error) {
	m, err := c.link(name)
	return int(m.Index), err
}

// LinkMTU returns the MTU of the interface named name. Below 1280 the
// kernel takes IPv6 off it (RFC 8200 section 5's minimum link MTU).
func (c *Conn) LinkMTU(name string) (uint32, error) {
	m, err := c.link(name)
	return m.MTU, err
}

// link asks the kernel for the interface named name.
func (c *Conn) link(name string) (linkMessage, error) {
	b, err := linkMessage{Name: name}.marshal()
	if err != nil {
		return linkMessage{}, fmt.Errorf("link %s: %w", name, err)
	}
	msgs, err := c.execute(unix.RTM_GETLINK, 0, b)
	if errors.Is(err, unix.ENODEV) {
		return linkMessage{}, fmt.Errorf("link %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return linkMessage{}, fmt.Errorf("link %s: %w", name, err)
	}
	if len(msgs) != 1 {
		return linkMessage{}, fmt.Errorf("link %s: %d replies, want 1", name, len(msgs))
	}
	var m linkMessage
	if err := m.unmarshal(msgs[0].Data); err != nil {
		return linkMessage{}, fmt.Errorf("link %s: %w", name, err)
	}
	return m, nil
}

// LinkLocal returns the first link-local address of the interface that is
// neither deprecated nor failed duplicate address detection, and whether it
// is still tentative (binding to it then needs IPV6_FREEBIND). Without one
// the error matches ErrNotFound; the frontend then waits for an address
// event.
func (c *Conn) LinkLocal(ifindex int) (addr netip.Addr, tentative bool, err error) {
	req := addrMessage{Family: unix.AF_INET6, Index: uint32(ifindex)}
	b, err := req.marshal()
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("link-local address on ifindex %d: %w", ifindex, err)
	}
	msgs, err := c.execute(unix.RTM_GETADDR, netlink.Dump, b)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("link-local address on ifindex %d: %w", ifindex, err)
	}
	for _, msg := range msgs {
		ev, err := decode(msg)
		if err != nil {
			return netip.Addr{}, false, fmt.Errorf("link-local address on ifindex %d: %w", ifindex, err)
		}
		if a, ok := ev.(Addr); ok && a.Index == ifindex && a.LinkLocal() && !a.Deprecated() && !a.DADFailed() {
			return a.Prefix.Addr(), a.Tentative(), nil
		}
	}
	return netip.Addr{}, false, fmt.Errorf("link-local address on ifindex %d: %w", ifindex, ErrNotFound)
}
