package frontend

import (
	"errors"
	"net/netip"
	"os"
	"slices"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/proto"
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
	linkLocal map[netip.Addr]bool // usable fe80:: addresses on the link
	conn      *os.File            // uplinks: the client socket, once the parent sent it
	addr      netip.Addr          // the address conn is bound to
	asked     bool                // an OPEN_UDP is outstanding
}

func (l *link) closeSocket() {
	if l.conn != nil {
		l.conn.Close()
		l.conn = nil
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
	if ev.Deleted {
		f.dropSocket(l)
		delete(f.links, ev.Index)
	}
	if f.configured(l) {
		f.announce(l, ev.Deleted)
	}
}

func (f *frontend) announce(l *link, deleted bool) {
	f.toEngine(pb.Type_TYPE_LINK, &pb.Link{Ifindex: int32(l.index), Name: l.name, Flags: l.flags, Operstate: uint32(l.operstate), Deleted: deleted})
}

// addrEvent tracks the links' usable link-local addresses: an uplink's UDP
// socket needs one, and OpenBSD's frontend waits forever when there is none
// at start. An address still in duplicate address detection is not usable
// yet (RFC 4862 section 5.4: a tentative address is not a source); the
// kernel reports it again when DAD ends.
func (f *frontend) addrEvent(ev rtnl.Addr) {
	l := f.links[ev.Index]
	if l == nil || !ev.LinkLocal() {
		return
	}
	a := ev.Prefix.Addr()
	if ev.Deleted || ev.Tentative() || ev.DADFailed() {
		delete(l.linkLocal, a)
		if l.conn != nil && l.addr == a {
			f.log.Info("link-local address gone", "uplink", l.name, "address", a)
			f.dropSocket(l)
		}
	} else {
		l.linkLocal[a] = true
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
}

func (f *frontend) askSocket(l *link) {
	if l.conn != nil || l.asked || len(l.linkLocal) == 0 {
		return
	}
	l.asked = true
	if err := f.parent.Send(pb.Type_TYPE_OPEN_UDP, &pb.OpenUDP{Uplink: l.name, Ifindex: int32(l.index)}); err != nil {
		f.log.Error("ask for udp socket", "uplink", l.name, "err", err)
	}
}

func (f *frontend) dropSocket(l *link) {
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
	if s.Error != "" {
		f.log.Warn("no udp socket", "uplink", s.Uplink, "err", s.Error)
		return
	}
	// The socket stays an *os.File, read and written with recvfrom and
	// sendto through its SyscallConn (the parent made it non-blocking, so
	// the runtime's poller waits for it): a net.UDPConn would name the
	// zones of link-local addresses by dumping the interfaces over
	// rtnetlink, which the sandbox then has to allow.
	l.conn = file
	l.addr = netip.AddrFrom16([16]byte(s.Address))
	f.log.Info("listening", "uplink", l.name, "address", l.addr)
	go f.readUDP(l.name, l.index, l.conn)
	f.toEngine(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: l.name, Ifindex: int32(l.index), Ready: true})
}

// maxPacket bounds a DHCPv6 message the client reads.
const maxPacket = 8 << 10

// readUDP passes every datagram to the engine untouched: the frontend
// never parses DHCPv6 input.
func (f *frontend) readUDP(uplink string, index int, conn *os.File) {
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
			if !errors.Is(err, os.ErrClosed) {
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
