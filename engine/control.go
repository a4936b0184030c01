package engine

import (
	"fmt"
	"time"

	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func (e *engine) control(r *pb.CtlRequest) *pb.CtlReply {
	reply := &pb.CtlReply{Id: r.Id}
	if r.Ifname != "" && e.uplinks[r.Ifname] == nil {
		reply.Error = fmt.Sprintf("unknown interface %s", r.Ifname)
		return reply
	}
	if r.Command == pb.CtlRequest_COMMAND_REQUEST {
		e.uplinks[r.Ifname].fsm.Request()
	}
	for _, u := range e.cfg.Uplinks {
		if r.Ifname != "" && r.Ifname != u.Name {
			continue
		}
		s := e.uplinks[u.Name]
		if r.Command == pb.CtlRequest_COMMAND_SHOW_STATS {
			reply.Stats = append(reply.Stats, statsToPB(u.Name, s.fsm.Stats()))
		} else {
			reply.Interfaces = append(reply.Interfaces, s.statusToPB())
		}
	}
	return reply
}

// statusToPB converts an uplink's status for the control socket. Times go
// as Unix milliseconds; -1 is infinity (a zero time in Status).
func (st *uplinkState) statusToPB() *pb.InterfaceStatus {
	s := st.fsm.Status()
	out := &pb.InterfaceStatus{Name: s.Uplink, State: s.State, LinkUp: st.linkUp,
		RepairedAddresses: s.RepairedAddresses, RepairedRoutes: s.RepairedRoutes,
		LinkExists: st.exists, RouterAdvertisements: st.ra, Forwarding: st.forwarding, AcceptRa: st.acceptRA}
	if !s.LastRepair.IsZero() {
		out.LastRepairUnixMs = s.LastRepair.UnixMilli()
	}
	for _, a := range s.DNSServers {
		out.DnsServers = append(out.DnsServers, a.String())
	}
	out.DomainSearch, out.ReconfigureKey = s.DomainSearch, s.ReconfigureKey
	if s.KernelError != "" {
		out.KernelError, out.KernelErrorUnixMs = s.KernelError, s.KernelErrorAt.UnixMilli()
	}
	if !st.sockOK && st.sockErr != "" {
		out.SocketError, out.SocketRetryUnixMs = st.sockErr, st.sockRetry
	}
	for i, ia := range s.IAs {
		out.Ias = append(out.Ias, iaStatusToPB(out, i, ia))
	}
	if a := s.Address; a != nil {
		out.Addresses = append(out.Addresses, iaStatusToPB(out, 0, *a))
	}
	return out
}

// iaStatusToPB converts one IA's status; the server and the earliest T1
// and T2 go to out, the uplink's.
func iaStatusToPB(out *pb.InterfaceStatus, i int, ia IAStatus) *pb.IAStatus {
	is := &pb.IAStatus{Index: uint32(i), Iaid: ia.IAID}
	if ia.Prefix.IsValid() {
		is.Prefix = ia.Prefix.String()
		is.PreferredUntilUnixMs = ms(ia.PreferredEnd)
		is.ValidUntilUnixMs = ms(ia.ValidEnd)
		// One server serves the uplink; its T1/T2 are the earliest
		// of the IAs'.
		out.ServerId = ia.Server
		if t := ms(ia.T1); t > 0 && (out.T1UnixMs == 0 || t < out.T1UnixMs) {
			out.T1UnixMs = t
		}
		if t := ms(ia.T2); t > 0 && (out.T2UnixMs == 0 || t < out.T2UnixMs) {
			out.T2UnixMs = t
		}
	}
	for _, d := range ia.Downstreams {
		is.Downstreams = append(is.Downstreams, &pb.Downstream{Ifname: d.Ifname, Address: d.Addr.String()})
	}
	for _, e := range ia.Unfit {
		is.Unfit = append(is.Unfit, e.Name)
	}
	if ia.Excluded.IsValid() {
		is.Excluded = ia.Excluded.String()
	}
	for _, r := range ia.Retiring {
		rp := &pb.RetiringPrefix{Prefix: r.Prefix.String(), ValidUntilUnixMs: ms(r.ValidEnd)}
		for _, d := range r.Downstreams {
			rp.Downstreams = append(rp.Downstreams, &pb.Downstream{Ifname: d.Ifname, Address: d.Addr.String()})
		}
		is.Retiring = append(is.Retiring, rp)
	}
	return is
}

// ms returns t as Unix milliseconds, the zero time (infinity) as -1.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

func statsToPB(uplink string, s Stats) *pb.InterfaceStats {
	out := &pb.InterfaceStats{Name: uplink, Sent: make(map[string]uint64), Received: make(map[string]uint64),
		Drops: make(map[string]uint64), Retransmissions: s.Retransmissions,
		RepairedAddresses: s.RepairedAddresses, RepairedRoutes: s.RepairedRoutes}
	for t, n := range s.Sent {
		out.Sent[t.String()] = n
	}
	for t, n := range s.Received {
		out.Received[t.String()] = n
	}
	for r, n := range s.Drops {
		out.Drops[string(r)] = n
	}
	return out
}
