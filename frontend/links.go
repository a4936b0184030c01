package frontend

import (
	"errors"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// link is one kernel interface, tracked by ifindex as brcompatd learned
// to: a device deleted and re-created under the same name is a different
// link. Every link is tracked, not only those in the configuration, so that
// a reload that names a new uplink or downstream finds it at once.
type link struct {
	index     int
	name      string
	flags     uint32
	operstate uint8
	ipv6      *rtnl.IPv6Conf      // the last IPv6 sysctls the kernel reported
	linkLocal map[netip.Addr]bool // usable fe80:: addresses on the link
	conn      *os.File            // uplinks: the client socket, once the parent sent it
	closed    *atomic.Bool        // set before conn is closed: its reader's error is expected
	addr      netip.Addr          // the address conn is bound to
	asked     bool                // an OPEN_UDP is outstanding
	// The engine's last message while an OPEN_UDP was outstanding, sent
	// once the socket comes: `dhcp6leasectl request` asks for the socket
	// and the exchange at once, and losing its first message to the race
	// would cost the exchange its first retransmission timeout.
	pending *pb.Transmit

	// When the parent could not open the socket (another program holds
	// port 546, say): the next attempt, after a backoff from 1 s doubling
	// to 60 s, and why.
	retry   func() bool // stops the pending attempt
	backoff time.Duration
	sockErr string
}

func (l *link) closeSocket() {
	l.stopRetry()
	l.pending = nil
	if l.conn != nil {
		l.closed.Store(true)
		l.conn.Close()
		l.conn = nil
	}
}

// stopRetry cancels a pending attempt to get the socket and starts the
// backoff over.
func (l *link) stopRetry() {
	if l.retry != nil {
		l.retry()
		l.retry = nil
	}
	l.backoff = 0
}

// Socket retry backoff (issue: another program holding port 546 at start
// must not leave the uplink down for good).
const (
	minSocketRetry = time.Second
	maxSocketRetry = time.Minute
)

// retrySocket schedules the next attempt after the parent failed to open
// l's socket with reason, and tells the engine why the uplink has none.
func (f *frontend) retrySocket(l *link, reason string) {
	l.backoff = min(max(2*l.backoff, minSocketRetry), maxSocketRetry)
	// RFC 8415 section 15's RAND, so that uplinks that failed together
	// do not retry together.
	delay := time.Duration(float64(l.backoff) * (0.9 + 0.2*rand.Float64()))
	if reason != l.sockErr {
		f.log.Warn("no udp socket", "uplink", l.name, "err", reason, "retry_in", delay.Round(time.Millisecond))
	} else {
		f.log.Info("no udp socket yet", "uplink", l.name, "err", reason, "retry_in", delay.Round(time.Millisecond))
	}
	l.sockErr = reason
	l.retry = f.after(delay, func() {
		l.retry = nil
		f.askSocket(l)
	})
	f.toEngine(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: l.name, Ifindex: int32(l.index), Ready: false,
		Error: reason, RetryUnixMs: time.Now().Add(delay).UnixMilli()})
}

// retryNow makes the next attempt for the uplink called name at once:
// dhcp6leasectl request asks for it.
func (f *frontend) retryNow(name string) {
	if l := f.uplinkByName(name); l != nil && l.conn == nil {
		l.stopRetry()
		f.askSocket(l)
	}
}

func (f *frontend) isUplink(name string) bool { return f.cfg.Uplink(name) != nil }

func (f *frontend) isDownstream(name string) bool {
	for _, u := range f.cfg.Uplinks {
		if slices.Contains(u.Downstreams(), name) {
			return true
		}
	}
	return false
}

// hasAddress reports whether name is an uplink with an IA_NA, whose
// address the engine configures on it.
func (f *frontend) hasAddress(name string) bool {
	u := f.cfg.Uplink(name)
	return u != nil && u.Address != nil
}

// configured reports whether the engine wants to hear of link l.
func (f *frontend) configured(l *link) bool { return f.isUplink(l.name) || f.isDownstream(l.name) }

// uplinkByName returns the live uplink link called name.
func (f *frontend) uplinkByName(name string) *link {
	if !f.isUplink(name) {
		return nil
	}
	for _, l := range f.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

func (f *frontend) rtEvent(ev rtnl.Event) {
	switch ev := ev.(type) {
	case rtnl.Link:
		f.linkEvent(ev)
	case rtnl.Addr:
		f.addrEvent(ev)
	case rtnl.Route:
		if ev.Deleted {
			f.toEngine(pb.Type_TYPE_REMOVED, &pb.Removed{Prefix: ev.Prefix.Addr().AsSlice(), PrefixLen: uint32(ev.Prefix.Bits())})
		}
	}
}

// linkEvent records a link's state and forwards it to the engine when the
// configuration names the link; the engine decides what it means
// (link-plug monitor, SPEC 9).
func (f *frontend) linkEvent(ev rtnl.Link) {
	l := f.links[ev.Index]
	if l != nil && l.name != ev.Name {
		// Renamed: whatever it was is gone.
		f.dropSocket(l)
		l = nil
	}
	if l == nil {
		l = &link{index: ev.Index, name: ev.Name, linkLocal: make(map[netip.Addr]bool)}
		f.links[ev.Index] = l
	}
	l.flags, l.operstate = ev.Flags, ev.OperState
	if ev.IPv6 != nil {
		l.ipv6 = ev.IPv6
	}
	if ev.Deleted {
		f.dropSocket(l)
		delete(f.links, ev.Index)
	}
	if f.configured(l) {
		f.announce(l, ev.Deleted)
	}
}

func (f *frontend) announce(l *link, deleted bool) {
	m := &pb.Link{Ifindex: int32(l.index), Name: l.name, Flags: l.flags, Operstate: uint32(l.operstate), Deleted: deleted}
	if c := l.ipv6; c != nil {
		m.HasIpv6Conf, m.Forwarding, m.AcceptRa = true, c.Forwarding, c.AcceptRA
	}
	f.toEngine(pb.Type_TYPE_LINK, m)
}

// reportMissing logs every interface cfg names that does not exist: a
// misspelled uplink would otherwise only show as down. It runs after each
// full dump and on a reload, for what the reload names anew.
func (f *frontend) reportMissing(cfg *config.Config) {
	exists := func(name string) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(f.links)), func(l *link) bool { return l.name == name })
	}
	for _, u := range cfg.Uplinks {
		if !exists(u.Name) {
			f.log.Warn("uplink does not exist (yet): waiting for it", "uplink", u.Name)
		}
		for _, d := range u.Downstreams() {
			if !exists(d) {
				f.log.Warn("downstream does not exist (yet): it gets its address when it appears", "uplink", u.Name, "downstream", d)
			}
		}
	}
}

// addrEvent tracks the links' usable link-local addresses: an uplink's UDP
// socket needs one, and OpenBSD's frontend waits forever when there is none
// at start. An address still in duplicate address detection is not usable
// yet (RFC 4862 section 5.4: a tentative address is not a source); the
// kernel reports it again when DAD ends.
func (f *frontend) addrEvent(ev rtnl.Addr) {
	l := f.links[ev.Index]
	if l == nil {
		return
	}
	if !ev.LinkLocal() {
		// A global address gone from a downstream may be one the engine
		// configured and someone else removed: it decides (drift).
		if ev.Deleted && ev.Scope == unix.RT_SCOPE_UNIVERSE && (f.isDownstream(l.name) || f.hasAddress(l.name)) {
			f.toEngine(pb.Type_TYPE_REMOVED, &pb.Removed{Ifname: l.name, Prefix: ev.Prefix.Addr().AsSlice(), PrefixLen: uint32(ev.Prefix.Bits())})
		}
		return
	}
	a := ev.Prefix.Addr()
	if ev.Deleted || ev.Tentative() || ev.DADFailed() {
		delete(l.linkLocal, a)
		if l.conn != nil && l.addr == a {
			// Closed before the line: a script that reads "gone" may bind
			// the port at once.
			f.dropSocket(l)
			f.log.Info("link-local address gone", "uplink", l.name, "address", a)
		}
	} else if !l.linkLocal[a] {
		l.linkLocal[a] = true
		// A new usable link-local address: whatever failed before may
		// work now, so there is no waiting for the backoff.
		l.stopRetry()
		if f.isDownstream(l.name) {
			// On a downstream it says IPv6 (re)started there: switched
			// off (disable_ipv6=1), the kernel dropped the LAN's
			// addresses and refused them back, and switching it on
			// again sends no link message, only this address. The
			// engine configures a downstream it is told of
			// (tests/chaos TestIPv6Toggled).
			f.announce(l, false)
		}
	}
	if f.isUplink(l.name) {
		f.askSocket(l)
	}
}

// reload applies a new configuration (SPEC 11): links it no longer names as
// uplinks lose their sockets; links it names anew are announced to the
// engine, which now has their uplinks, and new uplinks ask for a socket.
func (f *frontend) reload(cfg *config.Config) {
	old := f.cfg
	f.cfg = cfg
	for _, l := range f.links {
		wasUplink := old.Uplink(l.name) != nil
		if wasUplink && !f.isUplink(l.name) {
			l.closeSocket()
		}
		wasConfigured := wasUplink || slices.ContainsFunc(old.Uplinks, func(u *config.Uplink) bool {
			return slices.Contains(u.Downstreams(), l.name)
		})
		if f.configured(l) && !wasConfigured {
			f.announce(l, false)
		}
		if f.isUplink(l.name) {
			f.askSocket(l)
		}
	}
	f.reportMissing(cfg)
}

func (f *frontend) askSocket(l *link) {
	if l.conn != nil || l.asked || l.retry != nil || len(l.linkLocal) == 0 {
		return
	}
	l.asked = true
	if err := f.parent.Send(pb.Type_TYPE_OPEN_UDP, &pb.OpenUDP{Uplink: l.name, Ifindex: int32(l.index)}); err != nil {
		f.log.Error("ask for udp socket", "uplink", l.name, "err", err)
	}
}

func (f *frontend) dropSocket(l *link) {
	l.stopRetry()
	if l.conn == nil {
		return
	}
	l.closeSocket()
	f.toEngine(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: l.name, Ifindex: int32(l.index), Ready: false})
}

// udpSocket takes the parent's answer to OPEN_UDP.
func (f *frontend) udpSocket(s *pb.UDPSocket, file *os.File) {
	l := f.links[int(s.Ifindex)]
	if l == nil || !f.isUplink(l.name) || l.name != s.Uplink || l.conn != nil {
		// The link went away (or was re-created) meanwhile.
		if file != nil {
			file.Close()
		}
		if l != nil {
			l.asked = false
			f.askSocket(l)
		}
		return
	}
	l.asked = false
	pending := l.pending
	l.pending = nil
	if s.Error != "" {
		f.retrySocket(l, s.Error)
		return
	}
	l.backoff, l.sockErr = 0, ""
	// The socket stays an *os.File, read and written with recvfrom and
	// sendto through its SyscallConn (the parent made it non-blocking, so
	// the runtime's poller waits for it): a net.UDPConn would name the
	// zones of link-local addresses by dumping the interfaces over
	// rtnetlink, which the sandbox then has to allow.
	l.conn, l.closed = file, new(atomic.Bool)
	l.addr = netip.AddrFrom16([16]byte(s.Address))
	f.log.Info("listening", "uplink", l.name, "address", l.addr)
	go f.readUDP(l.name, l.index, l.conn, l.closed)
	f.toEngine(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: l.name, Ifindex: int32(l.index), Ready: true})
	if pending != nil {
		f.transmit(pending)
	}
}

// maxPacket bounds a DHCPv6 message the client reads.
const maxPacket = 8 << 10

// readUDP passes every datagram to the engine untouched: the frontend
// never parses DHCPv6 input.
func (f *frontend) readUDP(uplink string, index int, conn *os.File, closed *atomic.Bool) {
	// One buffer per uplink, so it is sized for what a server sends, not
	// for the largest UDP datagram: 32 IA_PDs with a prefix and a status
	// each fit in 4 KiB. A longer datagram arrives cut, fails to decode
	// in the engine and is counted there as a drop.
	buf := make([]byte, maxPacket)
	raw, err := conn.SyscallConn()
	if err != nil {
		f.log.Error("read", "uplink", uplink, "err", err)
		return
	}
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := raw.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			// Closing the socket ends the read with the poller's "use of
			// closed file", which is not os.ErrClosed: the flag tells.
			if !closed.Load() && !errors.Is(err, os.ErrClosed) {
				f.log.Error("read", "uplink", uplink, "err", err)
			}
			return
		}
		src, ok := from.(*unix.SockaddrInet6)
		if !ok {
			continue
		}
		f.toEngine(pb.Type_TYPE_PACKET, &pb.Packet{Uplink: uplink, Ifindex: int32(index), Source: src.Addr[:], Payload: buf[:n]})
	}
}

func (f *frontend) toEngine(t pb.Type, m proto.Message) {
	if err := f.engine.Send(t, m); err != nil {
		f.log.Error("send to engine", "type", t, "err", err)
	}
}
