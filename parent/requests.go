package parent

import (
	"fmt"
	"net/netip"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

type received struct {
	from string
	m    *imsg.Message
	err  error
}

func frontendRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_OPEN_UDP):   {New: func() imsg.Payload { return new(pb.OpenUDP) }},
		uint32(pb.Type_TYPE_CTL_PARENT): {New: func() imsg.Payload { return new(pb.CtlRequest) }},
	}
}

func engineRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_SET_ADDRESS):    {New: func() imsg.Payload { return new(pb.Address) }},
		uint32(pb.Type_TYPE_REMOVE_ADDRESS): {New: func() imsg.Payload { return new(pb.Address) }},
		uint32(pb.Type_TYPE_SET_ROUTE):      {New: func() imsg.Payload { return new(pb.Route) }},
		uint32(pb.Type_TYPE_REMOVE_ROUTE):   {New: func() imsg.Payload { return new(pb.Route) }},
		uint32(pb.Type_TYPE_SAVE_LEASE):     {New: func() imsg.Payload { return new(pb.SaveLease) }},
		uint32(pb.Type_TYPE_EVENT):          {New: func() imsg.Payload { return new(pb.Event) }},
		uint32(pb.Type_TYPE_RELOAD_DONE):    {New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_RELEASE_DONE):   {New: func() imsg.Payload { return new(pb.Empty) }},
	}
}

// handle acts on one message from a child. An error means a protocol
// violation; a refused request is logged and is not an error.
func (d *daemon) handle(r received) error {
	if r.err != nil {
		return r.err
	}
	rules := d.fromEngine
	if r.from == "frontend" {
		rules = d.fromFrontend
	}
	p, err := rules.Decode(r.m)
	if err != nil {
		return err
	}
	switch r.m.Type {
	case pb.Type_TYPE_OPEN_UDP:
		d.openUDP(p.(*pb.OpenUDP))
	case pb.Type_TYPE_SET_ADDRESS, pb.Type_TYPE_REMOVE_ADDRESS:
		d.address(r.m.Type == pb.Type_TYPE_SET_ADDRESS, p.(*pb.Address))
	case pb.Type_TYPE_SET_ROUTE, pb.Type_TYPE_REMOVE_ROUTE:
		d.route(r.m.Type == pb.Type_TYPE_SET_ROUTE, p.(*pb.Route))
	case pb.Type_TYPE_SAVE_LEASE:
		d.saveLease(p.(*pb.SaveLease))
	case pb.Type_TYPE_EVENT:
		d.event(p.(*pb.Event))
	case pb.Type_TYPE_RELEASE_DONE:
		d.releasing = false
	case pb.Type_TYPE_RELOAD_DONE:
		// The engine has asked for every removal the old plan implies.
		d.pol.prev = nil
	case pb.Type_TYPE_CTL_PARENT:
		req := p.(*pb.CtlRequest)
		reply := &pb.CtlReply{Id: req.Id}
		if err := d.control(req); err != nil {
			reply.Error = err.Error()
		}
		d.send(d.fe, pb.Type_TYPE_CTL_PARENT_REPLY, reply)
	}
	return nil
}

func (d *daemon) openUDP(o *pb.OpenUDP) {
	reply := &pb.UDPSocket{Uplink: o.Uplink, Ifindex: o.Ifindex}
	f, ll, err := d.udpSocket(o)
	if err != nil {
		d.log.Warn("refused udp socket", "uplink", o.Uplink, "err", err)
		reply.Error = err.Error()
		if err := d.fe.Send(pb.Type_TYPE_UDP_SOCKET, reply); err != nil {
			d.log.Error("send udp socket reply", "err", err)
		}
		return
	}
	defer f.Close()
	reply.Address = ll.AsSlice()
	if err := d.fe.Send(pb.Type_TYPE_UDP_SOCKET, reply, f); err != nil {
		d.log.Error("send udp socket", "uplink", o.Uplink, "err", err)
		return
	}
	d.log.Debug("udp socket", "uplink", o.Uplink, "address", ll)
}

// udpSocket checks that the frontend asks for a configured uplink by its
// real index, finds the link-local address itself and opens the socket.
func (d *daemon) udpSocket(o *pb.OpenUDP) (*os.File, netip.Addr, error) {
	if d.cfg.Uplink(o.Uplink) == nil {
		return nil, netip.Addr{}, fmt.Errorf("%s is not a configured uplink", o.Uplink)
	}
	idx, err := d.rt.LinkIndex(o.Uplink)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if idx != int(o.Ifindex) {
		return nil, netip.Addr{}, fmt.Errorf("%s has index %d, not %d", o.Uplink, idx, o.Ifindex)
	}
	ll, _, err := d.rt.LinkLocal(idx)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	f, err := openUDP(o.Uplink, idx, ll)
	return f, ll, err
}

func (d *daemon) address(set bool, a *pb.Address) {
	pfx, err := d.pol.address(a)
	if err != nil {
		d.log.Warn("refused address", "err", err)
		return
	}
	idx, err := d.rt.LinkIndex(a.Ifname)
	if err != nil {
		// A downstream that is not there yet gets its address when the
		// engine sees it appear.
		d.log.Info("downstream missing", "ifname", a.Ifname, "address", pfx, "err", err)
		return
	}
	if set {
		err = d.rt.AddAddress(idx, pfx, a.Preferred, a.Valid)
	} else {
		err = d.rt.DeleteAddress(idx, pfx)
	}
	if err != nil {
		if set {
			err = d.explain(a.Ifname, err)
		}
		d.log.Error("address", "ifname", a.Ifname, "address", pfx, "set", set, "err", err)
		if set {
			d.kernelError(a.Uplink, fmt.Errorf("%s: %w", a.Ifname, err))
		}
		return
	}
	d.log.Debug("address", "ifname", a.Ifname, "address", pfx, "set", set, "preferred", a.Preferred, "valid", a.Valid)
}

func (d *daemon) route(set bool, r *pb.Route) {
	pfx, err := d.pol.route(r)
	if err != nil {
		d.log.Warn("refused route", "err", err)
		return
	}
	if !d.cfg.UnreachableRoute && set {
		return
	}
	if set {
		err = d.rt.AddUnreachable(pfx)
	} else {
		err = d.rt.DeleteUnreachable(pfx)
	}
	if err != nil {
		d.log.Error("unreachable route", "prefix", pfx, "set", set, "err", err)
		if set {
			d.kernelError(r.Uplink, err)
		}
	}
}

// minIPv6MTU is the least link MTU IPv6 works on (RFC 8200 section 5).
const minIPv6MTU = 1280

// explain adds to the kernel's refusal of an address on ifname what the
// kernel does not say: below minIPv6MTU Linux takes IPv6 off an interface
// and answers a new address with a bare "invalid argument" (tests/chaos
// TestIPv6Toggled/lan0_mtu).
func (d *daemon) explain(ifname string, err error) error {
	if mtu, e := d.rt.LinkMTU(ifname); e == nil && mtu < minIPv6MTU {
		return fmt.Errorf("%w (MTU %d is below IPv6's minimum of %d: the kernel has no IPv6 on %s)", err, mtu, minIPv6MTU, ifname)
	}
	return err
}

// kernelError tells the engine that the kernel refused what the plan of
// uplink holds, so that dhcp6leasectl shows it beside the lease: Bound
// with no address on the LAN is otherwise only a log line. A removal that
// fails is not reported: what it would remove is not there.
func (d *daemon) kernelError(uplink string, err error) {
	d.send(d.en, pb.Type_TYPE_KERNEL_ERROR, &pb.KernelError{Uplink: uplink, Error: err.Error()})
}

func (d *daemon) send(ch *imsg.Channel, t pb.Type, m proto.Message) {
	if err := ch.Send(t, m); err != nil {
		d.log.Error("send", "type", t, "err", err)
	}
}
