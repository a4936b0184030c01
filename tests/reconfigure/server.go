// Package reconfigure is a scripted DHCPv6 server for end-to-end tests of
// Reconfigure (RFC 8415 sections 18.2.11, 18.3.11, 20.4): it delegates
// prefixes like a plain server, hands each client that sends Reconfigure
// Accept a Reconfigure Key in its Replies, and sends Reconfigure messages,
// good and spoiled, when a test asks. It counts what clients send.
//
// In a lab namespace (tests/lab) Start opens its socket on UDP port 547 of
// one interface; New serves on any UDP socket, so that unit tests run over
// loopback without root.
package reconfigure

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// Config is what the server delegates. Zero fields take the defaults.
type Config struct {
	// Pool is where prefixes come from, in DelegatedLen pieces, one per
	// client and IAID in the order they first ask; 2001:db8:200::/40 when
	// zero.
	Pool netip.Prefix
	// DelegatedLen is the length of each delegated prefix; 56 when zero.
	DelegatedLen int
	// Preferred, Valid, T1 and T2 are the lifetimes and times sent, in
	// seconds; 600, 1200, 300 and 480 when zero: long enough that a test
	// sees Renew only when it sends a Reconfigure.
	Preferred, Valid, T1, T2 uint32
	// RapidCommit answers a Solicit carrying Rapid Commit with a Reply
	// (RFC 8415 section 18.3.1); otherwise every Solicit gets an Advertise.
	RapidCommit bool
	// ServerID is the server's DUID; a DUID-LL of the interface (Start) or
	// of 02:72:63:00:00:01 (New) when nil.
	ServerID []byte
}

func (c Config) withDefaults() (Config, error) {
	if !c.Pool.IsValid() {
		c.Pool = netip.MustParsePrefix("2001:db8:200::/40")
	}
	if c.DelegatedLen == 0 {
		c.DelegatedLen = 56
	}
	if !c.Pool.Addr().Is6() || c.DelegatedLen < c.Pool.Bits() || c.DelegatedLen > 128 || c.DelegatedLen-c.Pool.Bits() > 32 {
		return c, fmt.Errorf("reconfigure server: pool %v cannot hand out /%d", c.Pool, c.DelegatedLen)
	}
	for _, d := range []struct {
		v   *uint32
		def uint32
	}{{&c.Preferred, 600}, {&c.Valid, 1200}, {&c.T1, 300}, {&c.T2, 480}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.ServerID == nil {
		c.ServerID = dhcp6.DUIDLL(1, []byte{0x02, 0x72, 0x63, 0, 0, 1})
	}
	return c, nil
}

// Fault is how SendReconfigure spoils a Reconfigure.
type Fault int

// Faults. A wrong or absent Reconfigure Message option is not a Fault:
// SendReconfigure sends the msg-type it is given, and none for 0.
const (
	Valid    Fault = iota // signed with the client's key, replay detection increased
	WrongKey              // signed with another key (RFC 8415 section 20.4.3: drop)
	Replayed              // replay detection of the previous authenticated message (section 20.3: drop)
	NoAuth                // no Authentication option (section 16.11: drop)
)

func (f Fault) String() string {
	switch f {
	case Valid:
		return "valid"
	case WrongKey:
		return "wrong-key"
	case Replayed:
		return "replayed"
	case NoAuth:
		return "no-auth"
	}
	return fmt.Sprintf("fault %d", int(f))
}

// Server answers clients on one UDP socket until Close.
type Server struct {
	cfg    Config
	conn   *net.UDPConn
	raw    syscall.RawConn
	closed chan struct{}
	served chan struct{} // closed when the receive loop ends

	mu       sync.Mutex
	clients  map[string]*client // by DUID
	leases   int                // prefixes handed out so far, for the next one
	replay   uint64             // the replay detection value last sent
	received map[dhcp6.MessageType]int
	err      error // the first error, for Close
}

// client is what the server knows of one client DUID.
type client struct {
	from   unix.SockaddrInet6 // where its last message came from: its link-local address, port 546
	key    [dhcp6.ReconfigureKeyLen]byte
	hasKey bool
	leases map[uint32]netip.Prefix
}

// Start opens the server's socket in ns on ifname, port 547, joined to
// All_DHCP_Relay_Agents_and_Servers (ff02::1:2, RFC 8415 section 7.1),
// and serves until Close. Without cfg.ServerID the DUID is a DUID-LL of
// ifname.
func Start(ns *lab.Netns, ifname string, cfg Config) (*Server, error) {
	var conn *net.UDPConn
	var hw net.HardwareAddr
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		hw = ifi.HardwareAddr
		conn, err = listen(ifi)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reconfigure server on %s in %s: %w", ifname, ns.Name, err)
	}
	if cfg.ServerID == nil && len(hw) > 0 {
		cfg.ServerID = dhcp6.DUIDLL(1, hw)
	}
	s, err := New(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reconfigure server on %s in %s: %w", ifname, ns.Name, err)
	}
	return s, nil
}

// listen opens a UDP socket on port 547 bound to ifi and joined to
// ff02::1:2 there. It runs inside the namespace.
func listen(ifi *net.Interface) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "reconfigure")
	defer f.Close()
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name); err != nil {
		return nil, fmt.Errorf("bind to %s: %w", ifi.Name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: 547}); err != nil {
		return nil, fmt.Errorf("bind port 547: %w", err)
	}
	mreq := &unix.IPv6Mreq{Multiaddr: netip.MustParseAddr("ff02::1:2").As16(), Interface: uint32(ifi.Index)}
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
		return nil, fmt.Errorf("join ff02::1:2 on %s: %w", ifi.Name, err)
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("udp socket on %s: %w", ifi.Name, err)
	}
	return c.(*net.UDPConn), nil
}

// New serves on conn, an IPv6 UDP socket, until Close, which closes conn.
func New(conn *net.UDPConn, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("reconfigure server: %w", err)
	}
	s := &Server{cfg: cfg, conn: conn, raw: raw, closed: make(chan struct{}), served: make(chan struct{}),
		clients: make(map[string]*client), received: make(map[dhcp6.MessageType]int)}
	go s.serve()
	return s, nil
}

// ServerID is the server's DUID.
func (s *Server) ServerID() []byte { return s.cfg.ServerID }

// Received returns how many valid messages of type t clients sent.
func (s *Server) Received(t dhcp6.MessageType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[t]
}

// Key returns the Reconfigure Key the server gave the client with DUID
// duid, and whether it gave one.
func (s *Server) Key(duid []byte) ([dhcp6.ReconfigureKeyLen]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[string(duid)]
	if c == nil || !c.hasKey {
		return [dhcp6.ReconfigureKeyLen]byte{}, false
	}
	return c.key, true
}

// Delegated returns the prefix delegated to the client with DUID duid for
// iaid.
func (s *Server) Delegated(duid []byte, iaid uint32) (netip.Prefix, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[string(duid)]; c != nil {
		p, ok := c.leases[iaid]
		return p, ok
	}
	return netip.Prefix{}, false
}

// SendReconfigure sends a Reconfigure (RFC 8415 section 18.3.11) to the
// client with DUID duid, at the address and port its last message came
// from (a client sends from its link-local address, port 546): Server ID,
// Client ID, a Reconfigure Message option with msgType (none when 0; a
// client accepts only Renew, Rebind and Information-request) and, unless
// fault is NoAuth, an Authentication option of the Reconfigure Key
// Authentication Protocol (section 20.4) as fault says. A Valid or
// Replayed Reconfigure needs the client's key: the client must have sent
// Reconfigure Accept.
func (s *Server) SendReconfigure(duid []byte, msgType dhcp6.MessageType, fault Fault) error {
	s.mu.Lock()
	c := s.clients[string(duid)]
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("reconfigure %s: no client %s", fault, dhcp6.FormatDUID(duid))
	}
	to, key := c.from, c.key
	if !c.hasKey && (fault == Valid || fault == Replayed) {
		s.mu.Unlock()
		return fmt.Errorf("reconfigure %s: client %s has no key (it sent no Reconfigure Accept)", fault, dhcp6.FormatDUID(duid))
	}
	m := dhcp6.Message{Type: dhcp6.Reconfigure, ClientID: duid, ServerIDs: [][]byte{s.cfg.ServerID},
		ReconfMsg: uint8(msgType)}
	if fault != NoAuth {
		if fault != Replayed {
			s.replay++
		}
		m.HasAuth, m.Auth = true, dhcp6.ReconfigureDigestAuth(s.replay)
	}
	s.mu.Unlock()

	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("reconfigure %s: %w", fault, err)
	}
	if fault == WrongKey {
		key[0] ^= 0xff
	}
	if fault != NoAuth {
		if err := dhcp6.SignReconfigure(b, key); err != nil {
			return fmt.Errorf("reconfigure %s: %w", fault, err)
		}
	}
	return s.send(b, &to)
}

// Close stops the server and returns the first error the receive loop or
// a reply met, if any.
func (s *Server) Close() error {
	close(s.closed)
	err := s.conn.Close()
	<-s.served
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
				s.fail(fmt.Errorf("reconfigure server: receive: %w", err))
			}
			return
		}
		var req dhcp6.Message
		if req.Unmarshal(buf[:n]) != nil || req.ClientID == nil {
			continue // a client's garbage is not ours to judge
		}
		b, err := s.answer(&req, from)
		if err != nil {
			s.fail(err)
			continue
		}
		if b != nil {
			if err := s.send(b, from); err != nil {
				s.fail(err)
			}
		}
	}
}

// answer records a client message and returns the answer to it, nil for
// none (RFC 8415 section 18.3): an Advertise to a Solicit, or a Reply
// with Rapid Commit where configured and asked for; a Reply to Request,
// Renew, Rebind, Information-request and Release. Replies to a client
// that sent Reconfigure Accept carry it back and the client's Reconfigure
// Key (section 20.4.2).
func (s *Server) answer(req *dhcp6.Message, from *unix.SockaddrInet6) ([]byte, error) {
	switch req.Type {
	case dhcp6.Solicit, dhcp6.Request, dhcp6.Renew, dhcp6.Rebind, dhcp6.InformationRequest, dhcp6.Release:
	default:
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received[req.Type]++
	c := s.clients[string(req.ClientID)]
	if c == nil {
		c = &client{leases: make(map[uint32]netip.Prefix)}
		s.clients[string(req.ClientID)] = c
	}
	c.from = *from

	a := dhcp6.Message{Type: dhcp6.Reply, TransactionID: req.TransactionID, ClientID: req.ClientID,
		ServerIDs: [][]byte{s.cfg.ServerID}}
	switch {
	case req.Type == dhcp6.Solicit && s.cfg.RapidCommit && req.RapidCommit:
		a.RapidCommit = true
	case req.Type == dhcp6.Solicit:
		a.Type = dhcp6.Advertise
	}
	if req.Type != dhcp6.InformationRequest && req.Type != dhcp6.Release {
		iaids := []uint32{0}
		if len(req.IAPDs) > 0 {
			iaids = iaids[:0]
			for _, ia := range req.IAPDs {
				iaids = append(iaids, ia.IAID)
			}
		}
		for _, iaid := range iaids {
			p, err := s.lease(c, iaid)
			if err != nil {
				return nil, err
			}
			a.IAPDs = append(a.IAPDs, dhcp6.IAPD{IAID: iaid, T1: s.cfg.T1, T2: s.cfg.T2, Prefixes: []dhcp6.IAPrefix{{
				Preferred: s.cfg.Preferred, Valid: s.cfg.Valid, PrefixLen: uint8(p.Bits()), Prefix: p.Addr()}}})
		}
	}
	if a.Type == dhcp6.Reply && req.ReconfAccept {
		if !c.hasKey {
			if _, err := rand.Read(c.key[:]); err != nil {
				return nil, fmt.Errorf("reconfigure server: key: %w", err)
			}
			c.hasKey = true
		}
		s.replay++
		a.ReconfAccept, a.HasAuth, a.Auth = true, true, dhcp6.ReconfigureKeyAuth(s.replay, c.key)
	}
	b, err := a.Marshal()
	if err != nil {
		return nil, fmt.Errorf("reconfigure server: %v to %v: %w", a.Type, req.Type, err)
	}
	return b, nil
}

// lease returns c's prefix for iaid: the next free one of the pool the
// first time. s.mu is held.
func (s *Server) lease(c *client, iaid uint32) (netip.Prefix, error) {
	if p, ok := c.leases[iaid]; ok {
		return p, nil
	}
	bits := s.cfg.DelegatedLen - s.cfg.Pool.Bits()
	if bits < 32 && s.leases >= 1<<bits {
		return netip.Prefix{}, fmt.Errorf("reconfigure server: pool %v exhausted after %d /%d", s.cfg.Pool, s.leases, s.cfg.DelegatedLen)
	}
	a := s.cfg.Pool.Masked().Addr().As16()
	// Add the lease number at the delegated length's last bit.
	n := uint64(s.leases)
	for i := s.cfg.DelegatedLen - 1; n != 0 && i >= 0; i-- {
		if n&1 != 0 {
			a[i/8] |= 0x80 >> (i % 8)
		}
		n >>= 1
	}
	s.leases++
	p := netip.PrefixFrom(netip.AddrFrom16(a), s.cfg.DelegatedLen)
	c.leases[iaid] = p
	return p, nil
}

// fail keeps the first error for Close.
func (s *Server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
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

// send sends b to to.
func (s *Server) send(b []byte, to *unix.SockaddrInet6) error {
	var serr error
	err := s.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, to)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("reconfigure server: send to [%v]:%d: %w", netip.AddrFrom16(to.Addr), to.Port, err)
	}
	return nil
}
