package frontend

import (
	"errors"
	"net"
	"net/netip"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

// link is one kernel interface the frontend cares about (an uplink or a
// downstream), tracked by ifindex as brcompatd learned to: a device
// deleted and re-created under the same name is a different link.
type link struct {
	index     int
	name      string
	uplink    bool
	linkLocal map[netip.Addr]bool // fe80:: addresses on the link
	conn      *net.UDPConn        // uplinks: the client socket, once the parent sent it
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
		for _, d := range u.Downstreams() {
			if d == name {
				return true
			}
		}
	}
	return false
}

// uplinkByName returns the live uplink link called name.
func (f *frontend) uplinkByName(name string) *link {
	for _, l := range f.links {
		if l.uplink && l.name == name {
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

// linkEvent forwards link state of the interfaces in the config to the
// engine, which decides what it means (link-plug monitor, SPEC 9).
func (f *frontend) linkEvent(ev rtnl.Link) {
	l := f.links[ev.Index]
	if ev.Deleted {
		if l != nil {
			f.dropSocket(l)
			delete(f.links, ev.Index)
		}
	} else if l == nil || l.name != ev.Name {
		if l != nil {
			// Renamed: whatever it was is gone.
			f.dropSocket(l)
		}
		if !f.isUplink(ev.Name) && !f.isDownstream(ev.Name) {
			delete(f.links, ev.Index)
			return
		}
		l = &link{index: ev.Index, name: ev.Name, uplink: f.isUplink(ev.Name), linkLocal: make(map[netip.Addr]bool)}
		f.links[ev.Index] = l
	}
	if !f.isUplink(ev.Name) && !f.isDownstream(ev.Name) {
		return
	}
	f.toEngine(pb.Type_TYPE_LINK, &pb.Link{Ifindex: int32(ev.Index), Name: ev.Name, Flags: ev.Flags, Operstate: uint32(ev.OperState), Deleted: ev.Deleted})
}

// addrEvent tracks the uplinks' usable link-local addresses: the UDP
// socket needs one, and OpenBSD's frontend waits forever when there is none
// at start. An address still in duplicate address detection is not usable
// yet (RFC 4862 section 5.4: a tentative address is not a source); the
// kernel reports it again when DAD ends.
func (f *frontend) addrEvent(ev rtnl.Addr) {
	l := f.links[ev.Index]
	if l == nil || !l.uplink || !ev.LinkLocal() {
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
	f.askSocket(l)
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
	if l == nil || !l.uplink || l.name != s.Uplink || l.conn != nil {
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
	pc, err := net.FilePacketConn(file)
	file.Close()
	if err != nil {
		f.log.Error("udp socket", "uplink", s.Uplink, "err", err)
		return
	}
	l.conn = pc.(*net.UDPConn)
	l.addr = netip.AddrFrom16([16]byte(s.Address))
	f.log.Info("listening", "uplink", l.name, "address", l.addr)
	go f.readUDP(l.name, l.index, l.conn)
	f.toEngine(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: l.name, Ifindex: int32(l.index), Ready: true})
}

// readUDP passes every datagram to the engine untouched: the frontend
// never parses DHCPv6 input.
func (f *frontend) readUDP(uplink string, index int, conn *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error("read", "uplink", uplink, "err", err)
			}
			return
		}
		f.toEngine(pb.Type_TYPE_PACKET, &pb.Packet{Uplink: uplink, Ifindex: int32(index), Source: src.Addr().AsSlice(), Payload: buf[:n]})
	}
}

func (f *frontend) toEngine(t pb.Type, m proto.Message) {
	if err := f.engine.Send(t, m); err != nil {
		f.log.Error("send to engine", "type", t, "err", err)
	}
}
