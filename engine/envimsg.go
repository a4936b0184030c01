// The engine's Env: what the state machines ask for goes out on the
// channels, to the frontend (Transmit) and to the parent (the rest).

package engine

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func (e *engine) send(ch *imsg.Channel, t pb.Type, m proto.Message) {
	if err := ch.Send(t, m); err != nil {
		e.log.Error("send", "type", t, "err", err)
	}
}

func (e *engine) Transmit(t Transmit) {
	m := &pb.Transmit{Uplink: t.Uplink, Type: uint32(t.Type), Xid: t.XID[:], Elapsed: uint32(t.Elapsed), ServerId: t.ServerID,
		RapidCommit: t.RapidCommit, ReconfigureAccept: t.ReconfigureAccept}
	for _, ia := range t.IAs {
		m.Ias = append(m.Ias, &pb.TransmitIA{Iaid: ia.IAID, Prefix: ia.Prefix.Addr().AsSlice(), PrefixLen: uint32(ia.Prefix.Bits()), Preferred: ia.Preferred, Valid: ia.Valid, Na: ia.NA})
	}
	e.send(e.frontend, pb.Type_TYPE_TRANSMIT, m)
}

func addressToPB(a Address) *pb.Address {
	return &pb.Address{Uplink: a.Uplink, Iaid: a.IAID, Ifname: a.Ifname, Address: a.Addr.Addr().AsSlice(), PrefixLen: uint32(a.Addr.Bits()), Preferred: a.Preferred, Valid: a.Valid}
}

func (e *engine) SetAddress(a Address) { e.send(e.parent, pb.Type_TYPE_SET_ADDRESS, addressToPB(a)) }

func (e *engine) RemoveAddress(a Address) {
	e.send(e.parent, pb.Type_TYPE_REMOVE_ADDRESS, addressToPB(a))
}

func routeToPB(r Route) *pb.Route {
	return &pb.Route{Uplink: r.Uplink, Iaid: r.IAID, Prefix: r.Prefix.Addr().AsSlice(), PrefixLen: uint32(r.Prefix.Bits())}
}

func (e *engine) SetRoute(r Route) { e.send(e.parent, pb.Type_TYPE_SET_ROUTE, routeToPB(r)) }

func (e *engine) RemoveRoute(r Route) { e.send(e.parent, pb.Type_TYPE_REMOVE_ROUTE, routeToPB(r)) }

func (e *engine) Event(ev Event) {
	m := &pb.Event{Uplink: ev.Uplink, Kind: ev.Kind, State: ev.State, Server: ev.Server,
		LinkPrevious: ev.LinkPrevious, LinkCurrent: ev.LinkCurrent,
		Prefixes: pb.LeaseToPB(lease.Lease{IAs: ev.Prefixes}).Ias, OldPrefixes: pb.LeaseToPB(lease.Lease{IAs: ev.OldPrefixes}).Ias,
		DnsServers: pb.AddrsToPB(ev.DNSServers), DomainSearch: ev.DomainSearch,
		Addresses: pb.LeaseToPB(lease.Lease{IAs: ev.Addresses}).Ias, OldAddresses: pb.LeaseToPB(lease.Lease{IAs: ev.OldAddresses}).Ias}
	for _, d := range ev.Downstreams {
		m.Downstreams = append(m.Downstreams, &pb.Downstream{Ifname: d.Ifname, Address: d.Addr.String()})
	}
	for _, d := range ev.OldDownstreams {
		m.OldDownstreams = append(m.OldDownstreams, &pb.Downstream{Ifname: d.Ifname, Address: d.Addr.String()})
	}
	e.send(e.parent, pb.Type_TYPE_EVENT, m)
}

func (e *engine) SaveLease(uplink string, l lease.Lease) {
	e.send(e.parent, pb.Type_TYPE_SAVE_LEASE, &pb.SaveLease{Uplink: uplink, Lease: pb.LeaseToPB(l)})
}

// AfterFunc runs f on the loop after d. A callback whose timer was stopped
// after it fired but before the loop ran it is skipped, so stop always
// means "f will not run".
func (e *engine) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	stopped := false
	t := time.AfterFunc(d, func() {
		select {
		case e.funcs <- func() {
			if !stopped {
				f()
			}
		}:
		case <-e.done:
		}
	})
	return func() bool {
		stopped = true
		return t.Stop()
	}
}
