package rtnl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// An Event is a Link, an Addr or a Route: one link, IPv6 address or
// unreachable route of ours as the kernel reported it, in a dump or a
// change notification.
type Event interface {
	isEvent()
}

// Link is the state of one network interface (RTM_NEWLINK, RTM_DELLINK).
type Link struct {
	Index     int
	Name      string
	Flags     uint32    // IFF_* (linux/if.h), including IFF_LOWER_UP
	OperState uint8     // IF_OPER_* (RFC 2863 ifOperStatus)
	Deleted   bool      // the interface is gone
	IPv6      *IPv6Conf // its IPv6 settings, when the kernel sent them
}

// Addr is one IPv6 address of an interface (RTM_NEWADDR, RTM_DELADDR).
type Addr struct {
	Index   int
	Prefix  netip.Prefix // the address with its prefix length
	Flags   uint32       // IFA_F_* (linux/if_addr.h)
	Scope   uint8        // RT_SCOPE_*
	Deleted bool         // the address was removed
}

// Route is one of this daemon's unreachable routes (RTM_NEWROUTE,
// RTM_DELROUTE): IPv6, table main, protocol RouteProtocol, type
// RTN_UNREACHABLE. Other routes are not reported.
type Route struct {
	Prefix  netip.Prefix
	Deleted bool // the route was removed
}

func (Link) isEvent()  {}
func (Addr) isEvent()  {}
func (Route) isEvent() {}

// Up reports whether the interface is administratively up (IFF_UP).
func (l Link) Up() bool { return l.Flags&unix.IFF_UP != 0 }

// Running reports whether the interface can pass traffic: IFF_RUNNING
// (operationally up) or IFF_LOWER_UP (carrier), the signals ifplugd
// watches.
func (l Link) Running() bool { return l.Flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) != 0 }

// Tentative reports whether duplicate address detection is still running
// (RFC 4862 section 5.4): the address cannot be bound without IPV6_FREEBIND.
func (a Addr) Tentative() bool { return a.Flags&unix.IFA_F_TENTATIVE != 0 }

// Deprecated reports whether the preferred lifetime has ended (RFC 4862
// section 5.5.4).
func (a Addr) Deprecated() bool { return a.Flags&unix.IFA_F_DEPRECATED != 0 }

// DADFailed reports whether duplicate address detection found the address in
// use elsewhere: it will never become usable.
func (a Addr) DADFailed() bool { return a.Flags&unix.IFA_F_DADFAILED != 0 }

// LinkLocal reports whether the address is in fe80::/10.
func (a Addr) LinkLocal() bool { return a.Prefix.Addr().IsLinkLocalUnicast() }

// ErrResync reports that events were lost (the socket's receive buffer
// overran: ENOBUFS) or a dump was inconsistent (NLM_F_DUMP_INTR). The
// receiver's view may be stale: call Dump again.
var ErrResync = errors.New("rtnetlink events lost, dump again")

// OpenEventSocket opens an rtnetlink socket subscribed to link changes,
// IPv6 address changes and IPv6 route changes (RTMGRP_LINK,
// RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE: someone else removing what the
// daemon configured is noticed at once) in the calling thread's network
// namespace. The parent opens it and passes it to the frontend, which needs
// no privilege to read it or to request dumps.
func OpenEventSocket() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink event socket: %w", os.NewSyscallError("socket", err))
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV6_ROUTE}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open rtnetlink event socket: %w", os.NewSyscallError("bind", err))
	}
	return os.NewFile(uintptr(fd), "rtnetlink-events"), nil
}

// Events reads link and IPv6 address events from a socket made by
// OpenEventSocket. Its methods must be called from one goroutine at a time.
type Events struct {
	c   *socket.Conn
	seq uint32 // of the last dump request
	buf []byte
}

// EventsFromFile reads events from f, typically received from the parent
// over a unix socket. It works on a duplicate of f's descriptor: the caller
// closes f.
func EventsFromFile(f *os.File) (*Events, error) {
	c, err := socket.FileConn(f, "netlink")
	if err != nil {
		return nil, fmt.Errorf("rtnetlink events from %s: %w", f.Name(), err)
	}
	if err := checkRouteSocket(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("rtnetlink events from %s: %w", f.Name(), err)
	}
	return &Events{c: c, buf: make([]byte, os.Getpagesize())}, nil
}

// checkRouteSocket makes sure the descriptor handed over is what
// OpenEventSocket makes, so a mix-up fails at once, not on the first read.
func checkRouteSocket(c *socket.Conn) error {
	domain, err := c.GetsockoptInt(unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return err
	}
	proto, err := c.GetsockoptInt(unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return err
	}
	if domain != unix.AF_NETLINK || proto != unix.NETLINK_ROUTE {
		return fmt.Errorf("socket of domain %d, protocol %d; want AF_NETLINK, NETLINK_ROUTE", domain, proto)
	}
	return nil
}

// Close closes the socket.
func (e *Events) Close() error {
	return e.c.Close()
}

// Dump asks the kernel for every link, then every IPv6 address, and returns
// them in that order, with any change notifications that arrived meanwhile
// where they arrived. Applying the events in order gives the current state.
func (e *Events) Dump(ctx context.Context) ([]Event, error) {
	links, err := linkMessage{}.marshal()
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	addrs, err := addrMessage{Family: unix.AF_INET6}.marshal()
	if err != nil {
		return nil, fmt.Errorf("dump addresses: %w", err)
	}
	// One dump at a time: the kernel refuses a second one (EBUSY) on a
	// socket until the first has been read to its end.
	all, err := e.dump(ctx, unix.RTM_GETLINK, links)
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	evs, err := e.dump(ctx, unix.RTM_GETADDR, addrs)
	if err != nil {
		return nil, fmt.Errorf("dump addresses: %w", err)
	}
	return append(all, evs...), nil
}

func (e *Events) dump(ctx context.Context, typ netlink.HeaderType, data []byte) ([]Event, error) {
	e.seq++
	req := netlink.Message{
		Header: netlink.Header{
			Length:   uint32(unix.NLMSG_HDRLEN + len(data)),
			Type:     typ,
			Flags:    netlink.Request | netlink.Dump,
			Sequence: e.seq,
		},
		Data: data,
	}
	b, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if _, err := e.c.Sendmsg(ctx, b, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0); err != nil {
		return nil, err
	}
	var all []Event
	for {
		evs, done, err := e.receive(ctx)
		all = append(all, evs...)
		if err != nil || done {
			return all, err
		}
	}
}

// Receive waits for the next datagram and returns the events in it. An error
// matching ErrResync means events were lost: call Dump. Replies to an earlier
// Dump whose context ended are returned as events, as they arrive.
func (e *Events) Receive(ctx context.Context) ([]Event, error) {
	evs, _, err := e.receive(ctx)
	if err != nil {
		return nil, fmt.Errorf("receive rtnetlink events: %w", err)
	}
	return evs, nil
}

// receive reads one datagram. done reports the end of the current dump.
func (e *Events) receive(ctx context.Context) (evs []Event, done bool, err error) {
	// Peek at the length first: a link message grows with the interface's
	// attributes and can exceed any fixed buffer.
	n, _, _, _, err := e.c.Recvmsg(ctx, e.buf, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err == nil && n > len(e.buf) {
		e.buf = make([]byte, n)
	}
	if err == nil {
		n, _, _, _, err = e.c.Recvmsg(ctx, e.buf, nil, 0)
	}
	if errors.Is(err, unix.ENOBUFS) {
		return nil, false, fmt.Errorf("%w: %w", ErrResync, err)
	}
	if err != nil {
		return nil, false, err
	}
	return parseDatagram(e.buf[:n], e.seq)
}

// parseDatagram decodes the messages of one datagram into events. done
// reports an NLMSG_DONE for the dump with sequence number seq.
func parseDatagram(b []byte, seq uint32) (evs []Event, done bool, err error) {
	msgs, err := splitMessages(b)
	if err != nil {
		return nil, false, err
	}
	for _, msg := range msgs {
		h := msg.Header
		if h.Flags&netlink.DumpInterrupted != 0 {
			return nil, false, fmt.Errorf("%w: dump interrupted by a change", ErrResync)
		}
		switch h.Type {
		case netlink.Done, netlink.Error:
			// Both start with an errno: the outcome of a dump, or of a
			// request (0 acknowledges).
			if len(msg.Data) < sizeofNlmsgerror {
				return nil, false, fmt.Errorf("netlink message type %d: %d bytes", h.Type, len(msg.Data))
			}
			if errno := int32(binary.NativeEndian.Uint32(msg.Data)); errno != 0 {
				return nil, false, fmt.Errorf("netlink request %d: %w", h.Sequence, unix.Errno(-errno))
			}
			done = done || (h.Type == netlink.Done && h.Sequence == seq)
			continue
		}
		ev, err := decode(msg)
		if err != nil {
			return nil, false, err
		}
		if ev != nil {
			evs = append(evs, ev)
		}
	}
	return evs, done, nil
}

// splitMessages splits a datagram into its netlink messages (struct
// nlmsghdr and payload, each padded to 4 bytes).
func splitMessages(b []byte) ([]netlink.Message, error) {
	var msgs []netlink.Message
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return nil, fmt.Errorf("netlink header: %d bytes", len(b))
		}
		n := binary.NativeEndian.Uint32(b)
		if n < unix.NLMSG_HDRLEN || n > uint32(len(b)) {
			return nil, fmt.Errorf("netlink message of length %d in %d bytes", n, len(b))
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{
				Length:   n,
				Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:])),
				Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:])),
				Sequence: binary.NativeEndian.Uint32(b[8:]),
				PID:      binary.NativeEndian.Uint32(b[12:]),
			},
			Data: b[unix.NLMSG_HDRLEN:n],
		})
		b = b[min(int(n+3)&^3, len(b)):]
	}
	return msgs, nil
}

// decode turns a link, address or route message into an event. It returns
// nil for messages that describe nothing this package reports: other
// types, link messages of an address family (bridge port and IPv6 device
// details share the type), addresses other than IPv6, and routes that are
// not this daemon's unreachable ones.
func decode(msg netlink.Message) (Event, error) {
	switch msg.Header.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		var m routeMessage
		if err := m.unmarshal(msg.Data); err != nil {
			return nil, fmt.Errorf("route message: %w", err)
		}
		if m.Family != unix.AF_INET6 || m.Table != unix.RT_TABLE_MAIN || m.Protocol != RouteProtocol || m.Type != unix.RTN_UNREACHABLE {
			return nil, nil
		}
		dst := m.Dst
		if !dst.IsValid() {
			dst = netip.IPv6Unspecified() // no RTA_DST: the default route
		}
		p := netip.PrefixFrom(dst, int(m.DstLen))
		if !dst.Is6() || !p.IsValid() {
			return nil, fmt.Errorf("route message: bad IPv6 destination %v/%d", m.Dst, m.DstLen)
		}
		return Route{Prefix: p, Deleted: msg.Header.Type == unix.RTM_DELROUTE}, nil
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		var m linkMessage
		if err := m.unmarshal(msg.Data); err != nil {
			return nil, fmt.Errorf("link message: %w", err)
		}
		if m.Family != unix.AF_UNSPEC {
			return nil, nil
		}
		return Link{
			Index:     int(m.Index),
			Name:      m.Name,
			Flags:     m.Flags,
			OperState: m.OperState,
			Deleted:   msg.Header.Type == unix.RTM_DELLINK,
			IPv6:      m.IPv6,
		}, nil
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		var m addrMessage
		if err := m.unmarshal(msg.Data); err != nil {
			return nil, fmt.Errorf("address message: %w", err)
		}
		if m.Family != unix.AF_INET6 {
			return nil, nil
		}
		// IFA_LOCAL is the address; IFA_ADDRESS is too unless the link is
		// point-to-point, where it is the peer.
		a := m.Local
		if !a.IsValid() {
			a = m.Address
		}
		if !a.IsValid() {
			return nil, errors.New("address message: no IFA_LOCAL or IFA_ADDRESS")
		}
		p := netip.PrefixFrom(a, int(m.PrefixLen))
		if !a.Is6() || !p.IsValid() {
			return nil, fmt.Errorf("address message: bad IPv6 address %v/%d", a, m.PrefixLen)
		}
		return Addr{
			Index:   int(m.Index),
			Prefix:  p,
			Flags:   m.Flags,
			Scope:   m.Scope,
			Deleted: msg.Header.Type == unix.RTM_DELADDR,
		}, nil
	}
	return nil, nil
}
