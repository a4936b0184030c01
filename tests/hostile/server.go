package hostile

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// What Valid delegates: /56s from Pool, in the order IAIDs first ask,
// with these lifetimes, long enough that no test sees a Renew.
const (
	DelegatedLen      = 56
	PreferredLifetime = 600 // seconds
	ValidLifetime     = 1200
	T1                = 300
	T2                = 480
)

// Pool is where Valid delegates from.
func Pool() netip.Prefix { return netip.MustParsePrefix("2001:db8:100::/40") }

// Flood and UnsolicitedReply bounds: at most FloodRate datagrams a second
// for FloodTime, and UnsolicitedCount Replies spaced by unsolicitedGap.
const (
	FloodRate        = 10000
	FloodTime        = 10 * time.Second
	floodTick        = 10 * time.Millisecond
	UnsolicitedCount = 10
	unsolicitedGap   = 100 * time.Millisecond
)

// Server listens on UDP port 547 on one interface of a namespace, joined
// to All_DHCP_Relay_Agents_and_Servers (ff02::1:2, RFC 8415 section 7.1),
// and answers as its Mode says.
type Server struct {
	conn   *net.UDPConn
	raw    syscall.RawConn
	id     []byte // DUID-LL
	closed chan struct{}
	served chan struct{} // closed when the receive loop ends

	hostile atomic.Uint64 // datagrams sent in a hostile mode
	wg      sync.WaitGroup

	mu         sync.Mutex
	mode       Mode
	encoded    int                     // packets encoded so far (some modes vary)
	leases     map[uint32]netip.Prefix // Valid's delegations by IAID
	allocated  int                     // /56s of Pool handed out so far
	background chan struct{}           // closed when Flood's or UnsolicitedReply's sending ends
	started    bool                    // the background sending began
	err        error                   // the first error, for Close
}

// Start opens the server's socket in ns on ifname and serves in mode until
// Close.
func Start(ns *lab.Netns, ifname string, mode Mode) (*Server, error) {
	s := &Server{mode: mode, leases: make(map[uint32]netip.Prefix),
		closed: make(chan struct{}), served: make(chan struct{}), background: make(chan struct{})}
	var hw net.HardwareAddr
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		hw = ifi.HardwareAddr
		s.conn, err = listen(ifi)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hostile server on %s in %s: %w", ifname, ns.Name, err)
	}
	s.id = dhcp6.DUIDLL(1, hw)
	if s.raw, err = s.conn.SyscallConn(); err != nil {
		s.conn.Close()
		return nil, fmt.Errorf("hostile server on %s in %s: %w", ifname, ns.Name, err)
	}
	go s.serve()
	return s, nil
}

// listen opens a UDP socket on port 547 bound to ifi, joined to ff02::1:2
// there. It runs inside the namespace.
func listen(ifi *net.Interface) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hostile")
	defer f.Close()
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name); err != nil {
		return nil, fmt.Errorf("bind to %s: %w", ifi.Name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: 547}); err != nil {
		return nil, fmt.Errorf("bind port 547: %w", err)
	}
	group := netip.MustParseAddr("ff02::1:2").As16()
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP,
		&unix.IPv6Mreq{Multiaddr: group, Interface: uint32(ifi.Index)}); err != nil {
		return nil, fmt.Errorf("join ff02::1:2 on %s: %w", ifi.Name, err)
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("udp socket on %s: %w", ifi.Name, err)
	}
	return c.(*net.UDPConn), nil
}

// SetMode changes how the server answers from the next client message on.
// A Flood or UnsolicitedReply in progress stops.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Hostile returns how many datagrams the server sent in hostile modes.
func (s *Server) Hostile() uint64 { return s.hostile.Load() }

// BackgroundDone is closed when Flood's or UnsolicitedReply's sending has
// ended (never in the other modes).
func (s *Server) BackgroundDone() <-chan struct{} { return s.background }

// Delegated returns the prefix Valid delegated to iaid.
func (s *Server) Delegated(iaid uint32) (netip.Prefix, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.leases[iaid]
	return p, ok
}

// Close stops the server and returns the receive loop's error, if any.
func (s *Server) Close() error {
	close(s.closed)
	err := s.conn.Close()
	<-s.served
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.err)
}

// serve answers client messages until Close.
func (s *Server) serve() {
	defer close(s.served)
	buf := make([]byte, 65536)
	for {
		n, from, err := s.recv(buf)
		if err != nil {
			select {
			case <-s.closed:
			default:
				s.mu.Lock()
				s.fail(fmt.Errorf("hostile server: receive: %w", err))
				s.mu.Unlock()
			}
			return
		}
		var req dhcp6.Message
		if req.Unmarshal(buf[:n]) != nil {
			continue // a client's garbage is not ours to judge
		}
		switch req.Type {
		case dhcp6.Solicit, dhcp6.Request, dhcp6.Renew, dhcp6.Rebind, dhcp6.Release:
			s.answer(&req, from)
		}
	}
}

// answer sends what the mode says to a client message.
func (s *Server) answer(req *dhcp6.Message, to *unix.SockaddrInet6) {
	s.mu.Lock()
	mode := s.mode
	var packets [][]byte
	switch mode {
	case Flood, UnsolicitedReply:
		if !s.started {
			s.started = true
			s.wg.Add(1)
			go s.sendBackground(mode, req, to)
		}
	default:
		packets = s.encode(mode, req)
	}
	s.mu.Unlock()
	for _, p := range packets {
		s.send(p, to, mode != Valid && mode < modeEnd)
	}
}

// encode returns the answers to req as mode sends them. s.mu is held.
func (s *Server) encode(mode Mode, req *dhcp6.Message) [][]byte {
	var packets [][]byte
	for _, good := range s.answers(mode, req) {
		for range mode.variants() {
			a := good
			a.IAPDs = cloneIAPDs(good.IAPDs)
			b, err := mode.encode(&a, s.encoded)
			if err != nil {
				s.fail(err)
				continue
			}
			s.encoded++
			packets = append(packets, b)
		}
	}
	return packets
}

// fail keeps the first error for Close. s.mu is held.
func (s *Server) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// answers returns the good answers to req (RFC 8415 section 18.3): an
// Advertise and a Reply with Rapid Commit to a Solicit, a Reply to the
// rest, each delegating a /56 to every IA_PD asked for (one for IAID 0 if
// none was). Valid sends the Advertise only to a Solicit without Rapid
// Commit. s.mu is held.
func (s *Server) answers(mode Mode, req *dhcp6.Message) []dhcp6.Message {
	a := dhcp6.Message{Type: dhcp6.Reply, TransactionID: req.TransactionID,
		ClientID: append([]byte(nil), req.ClientID...), ServerIDs: [][]byte{s.id}}
	iaids := []uint32{0}
	if len(req.IAPDs) > 0 {
		iaids = iaids[:0]
		for _, ia := range req.IAPDs {
			iaids = append(iaids, ia.IAID)
		}
	}
	renew := req.Type == dhcp6.Renew || req.Type == dhcp6.Rebind
	for _, iaid := range iaids {
		var deprecated []dhcp6.IAPrefix
		if mode == Renumber && renew {
			old := s.lease(iaid)
			deprecated = []dhcp6.IAPrefix{{Valid: ValidLifetime, PrefixLen: uint8(old.Bits()), Prefix: old.Addr()}}
			s.renumber(iaid)
		}
		p := s.lease(iaid)
		a.IAPDs = append(a.IAPDs, dhcp6.IAPD{IAID: iaid, T1: T1, T2: T2, Prefixes: append(deprecated,
			dhcp6.IAPrefix{Preferred: PreferredLifetime, Valid: ValidLifetime, PrefixLen: uint8(p.Bits()), Prefix: p.Addr()})})
		if mode == RefuseRequests && req.Type == dhcp6.Request {
			last := &a.IAPDs[len(a.IAPDs)-1]
			last.Prefixes, last.Status = nil, &dhcp6.Status{Code: dhcp6.StatusNoPrefixAvail, Message: "refused"}
		}
	}
	if req.Type != dhcp6.Solicit {
		return []dhcp6.Message{a}
	}
	adv := a
	adv.Type = dhcp6.Advertise
	adv.IAPDs = cloneIAPDs(a.IAPDs)
	a.RapidCommit = true
	switch {
	case mode == RefuseRequests:
		return []dhcp6.Message{adv}
	case mode != Valid && mode != Renumber:
		return []dhcp6.Message{adv, a}
	case req.RapidCommit:
		return []dhcp6.Message{a}
	}
	return []dhcp6.Message{adv}
}

func cloneIAPDs(ias []dhcp6.IAPD) []dhcp6.IAPD {
	out := make([]dhcp6.IAPD, len(ias))
	for i, ia := range ias {
		out[i] = ia
		out[i].Prefixes = append([]dhcp6.IAPrefix(nil), ia.Prefixes...)
	}
	return out
}

// lease returns iaid's prefix: the next free /56 of Pool the first time.
// s.mu is held.
func (s *Server) lease(iaid uint32) netip.Prefix {
	if p, ok := s.leases[iaid]; ok {
		return p
	}
	return s.renumber(iaid)
}

// renumber gives iaid the next free /56 of Pool and returns it. s.mu is
// held.
func (s *Server) renumber(iaid uint32) netip.Prefix {
	b := Pool().Addr().As16()
	b[5], b[6] = byte(s.allocated>>8), byte(s.allocated)
	s.allocated++
	p := netip.PrefixFrom(netip.AddrFrom16(b), DelegatedLen)
	s.leases[iaid] = p
	return p
}

// sendBackground is Flood's or UnsolicitedReply's sending to the client
// that sent req, from to: Flood sends every other answering mode's answers
// to req in turn, at FloodRate for FloodTime; UnsolicitedReply sends
// UnsolicitedCount Replies, one per unsolicitedGap. It stops early on
// Close or when the mode changes.
func (s *Server) sendBackground(mode Mode, req *dhcp6.Message, to *unix.SockaddrInet6) {
	defer s.wg.Done()
	defer close(s.background)
	var packets [][]byte
	perTick, tick, limit := 1, unsolicitedGap, UnsolicitedCount
	s.mu.Lock()
	if mode == Flood {
		for _, m := range Hostile() {
			if m != Flood && m != UnsolicitedReply {
				packets = append(packets, s.encode(m, req)...)
			}
		}
		perTick, tick, limit = FloodRate*int(floodTick)/int(time.Second), floodTick, FloodRate*int(FloodTime/time.Second)
	} else {
		for range UnsolicitedCount {
			packets = append(packets, s.encode(mode, req)...)
		}
	}
	s.mu.Unlock()

	end := time.Now().Add(time.Duration(limit/perTick) * tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	for sent := 0; sent < limit && time.Now().Before(end); {
		for range perTick {
			s.send(packets[sent%len(packets)], to, true)
			sent++
		}
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		s.mu.Lock()
		stop := s.mode != mode
		s.mu.Unlock()
		if stop {
			return
		}
	}
}

// recv reads one datagram and its source, with the interface index as the
// source's scope: no interface names, which would be looked up in the
// calling thread's namespace, not the socket's.
func (s *Server) recv(buf []byte) (int, *unix.SockaddrInet6, error) {
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := s.raw.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, nil, err
	}
	sa, ok := from.(*unix.SockaddrInet6)
	if !ok {
		return 0, nil, fmt.Errorf("source %T", from)
	}
	return n, sa, nil
}

// send sends b to to, counting it when hostile. A send error is kept for
// Close: the lab's links do not drop.
func (s *Server) send(b []byte, to *unix.SockaddrInet6, hostile bool) {
	var serr error
	err := s.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, to)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		s.mu.Lock()
		s.fail(fmt.Errorf("hostile server: send to %v: %w", netip.AddrFrom16(to.Addr), err))
		s.mu.Unlock()
		return
	}
	if hostile {
		s.hostile.Add(1)
	}
}
