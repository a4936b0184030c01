// Package engine is dhcp6leased's decision process (SPEC 2): the RFC 8415
// lease state machine of every uplink, packet validation, the link-plug
// monitor and all timers. It has no sockets but its two channels: the
// frontend sends and receives for it, the parent changes the kernel.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

func startupRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_CONFIG):       {New: func() imsg.Payload { return new(pb.Config) }},
		uint32(pb.Type_TYPE_PEER_CHANNEL): {FDs: 1, New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_START):        {New: func() imsg.Payload { return new(pb.Empty) }},
	}
}

func frontendRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_LINK):         {New: func() imsg.Payload { return new(pb.Link) }},
		uint32(pb.Type_TYPE_UPLINK_READY): {New: func() imsg.Payload { return new(pb.UplinkReady) }},
		uint32(pb.Type_TYPE_PACKET):       {New: func() imsg.Payload { return new(pb.Packet) }},
		uint32(pb.Type_TYPE_CTL_REQUEST):  {New: func() imsg.Payload { return new(pb.CtlRequest) }},
	}
}

// Main runs the engine until ctx ends or a channel closes.
func Main(ctx context.Context, opts privsep.Options) error {
	c, err := privsep.StartChild("engine", opts)
	if err != nil {
		return err
	}
	defer c.Parent.Close()
	e := &engine{log: c.Log, level: c.Level, parent: c.Parent, uplinks: make(map[string]*uplinkState),
		links: make(map[string]*pb.Link), sockets: make(map[string]int32), funcs: make(chan func()),
		fromFrontend: frontendRules()}
	cfgMsg, err := e.startup()
	if err != nil {
		return fmt.Errorf("engine startup: %w", err)
	}
	defer e.frontend.Close()
	if err := sandbox.Confine(privsep.ChrootDir, c.User, sandbox.Engine); err != nil {
		return err
	}
	return e.run(ctx, cfgMsg)
}

func (e *engine) startup() (*pb.Config, error) {
	var cfg *pb.Config
	err := e.parent.ReceiveUntil(startupRules(), pb.Type_TYPE_START, func(m *imsg.Message, p imsg.Payload) error {
		var err error
		switch m.Type {
		case pb.Type_TYPE_CONFIG:
			cfg = p.(*pb.Config)
		case pb.Type_TYPE_PEER_CHANNEL:
			e.frontend, err = imsg.New(m.Files[0])
		case pb.Type_TYPE_START:
			if cfg == nil || e.frontend == nil {
				err = fmt.Errorf("start before config and channel: %w", imsg.ErrProtocol)
			}
		}
		return err
	})
	return cfg, err
}

// engine is the process state; only the run goroutine touches it.
type engine struct {
	log      *slog.Logger
	level    *slog.LevelVar
	duid     []byte
	parent   *imsg.Channel
	frontend *imsg.Channel
	cfg      *config.Config
	uplinks  map[string]*uplinkState
	// The last report of every link the frontend announced, and the
	// ifindex of each uplink socket it holds, by name: a reload can name
	// an uplink whose reports arrived first.
	links   map[string]*pb.Link
	sockets map[string]int32

	fromFrontend imsg.Rules  // frontendRules(), made once: a packet is a message
	funcs        chan func() // timer callbacks, run on the loop
	done         <-chan struct{}
}

// uplinkState is what the engine knows of an uplink beyond its lease: the
// link and socket state that together make it usable, debounced by the
// link-plug monitor.
type uplinkState struct {
	fsm     *Uplink
	plug    *linkPlug
	ifindex int
	linkUp  bool // IFF_UP and IFF_RUNNING or IFF_LOWER_UP, as last reported
	sockOK  bool // the frontend has its UDP socket
	gone    bool // the last down was the link's deletion
}

// linkAct is what the link-plug monitor does once a change has held: up
// confirms the held prefixes (Rebooting) or solicits; down stops the
// exchanges and deprecates the addresses, deleting nothing (SPEC 9).
func (s *uplinkState) linkAct(up, gone bool) {
	if up {
		previous := "down"
		if s.gone {
			previous = "error"
		}
		s.fsm.log.Info("link up")
		s.fsm.SetReady(true)
		s.fsm.LinkEvent(EventLinkUp, previous, "up")
		return
	}
	s.gone = gone
	current := "down"
	if gone {
		current = "error"
	}
	s.fsm.log.Info("link down: addresses deprecated", "gone", gone)
	s.fsm.SetReady(false)
	s.fsm.Deprecate()
	s.fsm.LinkEvent(EventLinkDown, "up", current)
}

func parentRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_RELOAD):    {New: func() imsg.Payload { return new(pb.Config) }},
		uint32(pb.Type_TYPE_LOG_LEVEL): {New: func() imsg.Payload { return new(pb.LogLevel) }},
		uint32(pb.Type_TYPE_LOG_STATS): {New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_RELEASE):   {New: func() imsg.Payload { return new(pb.Empty) }},
	}
}

func (e *engine) fromParent(m *imsg.Message) error {
	p, err := parentRules().Decode(m)
	if err != nil {
		return err
	}
	switch p := p.(type) {
	case *pb.Config:
		if err := e.apply(p); err != nil {
			return err
		}
		e.send(e.parent, pb.Type_TYPE_RELOAD_DONE, &pb.Empty{})
	case *pb.LogLevel:
		e.level.Set(logging.Level(int(p.Verbosity)))
	case *pb.Empty:
		if m.Type == pb.Type_TYPE_RELEASE {
			e.release()
			return nil
		}
		for _, u := range e.cfg.Uplinks {
			st := e.uplinks[u.Name].fsm.Stats()
			e.log.Info("stats", "uplink", u.Name, "sent", st.Sent, "received", st.Received,
				"dropped", st.Drops, "retransmissions", st.Retransmissions)
		}
	}
	return nil
}

// release gives every lease back before shutdown (release on shutdown,
// SPEC 6) and tells the parent once every uplink is done.
func (e *engine) release() {
	left := len(e.uplinks)
	done := func() {
		if left--; left == 0 {
			e.send(e.parent, pb.Type_TYPE_RELEASE_DONE, &pb.Empty{})
		}
	}
	if left == 0 {
		left = 1
		done()
		return
	}
	for _, s := range e.uplinks {
		s.plug.stop()
		s.fsm.Release(done)
	}
}

// apply makes c the configuration, at start and on reload (SPEC 11):
// uplinks that left are removed with what they configured, new ones start
// from their lease (and wait for their link), the others are reconfigured,
// which changes nothing when their part of the configuration is the same.
func (e *engine) apply(c *pb.Config) error {
	cfg, err := config.Parse(strings.NewReader(c.Text), "config from parent")
	if err != nil {
		return fmt.Errorf("%v: %w", err, imsg.ErrProtocol)
	}
	for name, s := range e.uplinks {
		if cfg.Uplink(name) == nil {
			e.log.Info("uplink removed", "uplink", name)
			s.plug.stop()
			s.fsm.Remove()
			delete(e.uplinks, name)
		}
	}
	for _, u := range cfg.Uplinks {
		ucfg := UplinkConfig{
			Uplink:           u,
			RapidCommit:      cfg.RapidCommit,
			SolicitDelay:     cfg.SolicitDelay,
			HostPart:         cfg.HostPart,
			UnreachableRoute: cfg.UnreachableRoute,
			ClientID:         e.duid,
		}
		if s := e.uplinks[u.Name]; s != nil {
			s.plug.up, s.plug.down = u.UpDelay, u.DownDelay
			s.fsm.Reconfigure(ucfg)
			continue
		}
		var held lease.Lease
		if l := c.Leases[u.Name]; l != nil {
			held = pb.LeaseFromPB(l)
		}
		if e.cfg != nil {
			e.log.Info("uplink added", "uplink", u.Name)
		}
		s := &uplinkState{fsm: NewUplink(ucfg, held, e, e.log)}
		s.plug = &linkPlug{after: e.AfterFunc, log: e.log.With("uplink", u.Name), up: u.UpDelay, down: u.DownDelay, act: s.linkAct}
		e.uplinks[u.Name] = s
		// On a reload the frontend may have reported the link, and even
		// its socket, before this reached the engine: start from that.
		if l := e.links[u.Name]; l != nil {
			e.link(l)
			if e.sockets[u.Name] == l.Ifindex {
				s.sockOK = true
				s.plug.set(s.linkUp && s.sockOK, false)
			}
		}
	}
	e.cfg = cfg
	return nil
}

type msg struct {
	from string
	m    *imsg.Message
	err  error
}

func (e *engine) run(ctx context.Context, c *pb.Config) error {
	e.duid = c.Duid
	e.done = ctx.Done()
	if err := e.apply(c); err != nil {
		return err
	}
	defer func() {
		for _, s := range e.uplinks {
			s.plug.stop()
			s.fsm.Stop()
		}
	}()

	msgs := make(chan msg)
	go e.parent.Feed(func(m *imsg.Message, err error) { msgs <- msg{from: "parent", m: m, err: err} })
	go e.frontend.Feed(func(m *imsg.Message, err error) { msgs <- msg{from: "frontend", m: m, err: err} })
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-e.funcs:
			f()
		case m := <-msgs:
			if m.err != nil {
				if m.from == "parent" && errors.Is(m.err, io.EOF) {
					return nil // the parent is shutting down
				}
				return fmt.Errorf("%s: %w", m.from, m.err)
			}
			if m.from == "parent" {
				if err := e.fromParent(m.m); err != nil {
					return fmt.Errorf("parent: %w", err)
				}
				continue
			}
			if err := e.handle(m.m); err != nil {
				return fmt.Errorf("frontend: %w", err)
			}
		}
	}
}

func (e *engine) handle(m *imsg.Message) error {
	p, err := e.fromFrontend.Decode(m)
	if err != nil {
		return err
	}
	switch p := p.(type) {
	case *pb.Link:
		e.link(p)
	case *pb.UplinkReady:
		if p.Ready {
			e.sockets[p.Uplink] = p.Ifindex
		} else if e.sockets[p.Uplink] == p.Ifindex {
			delete(e.sockets, p.Uplink)
		}
		if s := e.uplinks[p.Uplink]; s != nil && int(p.Ifindex) == s.ifindex {
			s.sockOK = p.Ready
			s.plug.set(s.linkUp && s.sockOK, false)
		}
	case *pb.Packet:
		if s := e.uplinks[p.Uplink]; s != nil && s.sockOK {
			s.fsm.Receive(p.Payload)
		}
	case *pb.CtlRequest:
		e.send(e.frontend, pb.Type_TYPE_CTL_REPLY, e.control(p))
	}
	return nil
}

// link takes a link state report. Uplinks are tracked by ifindex, as
// brcompatd learned to: a device deleted and re-created under the same name
// is a new link, whose socket the frontend opens anew.
func (e *engine) link(l *pb.Link) {
	if l.Deleted {
		if last := e.links[l.Name]; last != nil && last.Ifindex == l.Ifindex {
			delete(e.links, l.Name)
		}
	} else {
		e.links[l.Name] = l
	}
	if s := e.uplinks[l.Name]; s != nil {
		if s.ifindex != int(l.Ifindex) {
			if l.Deleted {
				return // an old index going away
			}
			s.ifindex, s.sockOK = int(l.Ifindex), false
		}
		up := !l.Deleted && linkUsable(l.Flags, l.Operstate)
		if up != s.linkUp || l.Deleted {
			e.log.Info("link", "uplink", l.Name, "ifindex", l.Ifindex, "up", up, "deleted", l.Deleted)
		}
		s.linkUp = up
		if l.Deleted {
			s.sockOK = false
		}
		s.plug.set(s.linkUp && s.sockOK, l.Deleted)
		return
	}
	if !l.Deleted {
		for _, s := range e.uplinks {
			s.fsm.DownstreamAppeared(l.Name)
		}
	}
}

// linkUsable tells from a link's flags and RFC 2863 operstate whether
// packets can flow: administratively up (IFF_UP) with carrier (IFF_RUNNING,
// or IFF_LOWER_UP), as ifplugd's netlink mode reads it, and not held back
// by an operstate that says otherwise: down, lower layer down, or dormant
// (802.1X not yet authenticated). UNKNOWN is what many drivers (tun, ppp)
// report while working, so it counts as usable.
func linkUsable(flags, operstate uint32) bool {
	const (
		operDown           = 2
		operLowerLayerDown = 3
		operDormant        = 5
	)
	if flags&unix.IFF_UP == 0 || flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) == 0 {
		return false
	}
	switch operstate {
	case operDown, operLowerLayerDown, operDormant:
		return false
	}
	return true
}

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
			reply.Interfaces = append(reply.Interfaces, statusToPB(s.fsm.Status(), s.linkUp))
		}
	}
	return reply
}

func (e *engine) send(ch *imsg.Channel, t pb.Type, m proto.Message) {
	if err := ch.Send(t, m); err != nil {
		e.log.Error("send", "type", t, "err", err)
	}
}

// Env, on the engine's channels.

func (e *engine) Transmit(t Transmit) {
	m := &pb.Transmit{Uplink: t.Uplink, Type: uint32(t.Type), Xid: t.XID[:], Elapsed: uint32(t.Elapsed), ServerId: t.ServerID, RapidCommit: t.RapidCommit}
	for _, ia := range t.IAs {
		m.Ias = append(m.Ias, &pb.TransmitIA{Iaid: ia.IAID, Prefix: ia.Prefix.Addr().AsSlice(), PrefixLen: uint32(ia.Prefix.Bits()), Preferred: ia.Preferred, Valid: ia.Valid})
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

func (e *engine) SetRoute(r Route)    { e.send(e.parent, pb.Type_TYPE_SET_ROUTE, routeToPB(r)) }
func (e *engine) RemoveRoute(r Route) { e.send(e.parent, pb.Type_TYPE_REMOVE_ROUTE, routeToPB(r)) }

func (e *engine) Event(ev Event) {
	m := &pb.Event{Uplink: ev.Uplink, Kind: ev.Kind, State: ev.State, Server: ev.Server,
		LinkPrevious: ev.LinkPrevious, LinkCurrent: ev.LinkCurrent,
		Prefixes: pb.LeaseToPB(lease.Lease{IAs: ev.Prefixes}).Ias, OldPrefixes: pb.LeaseToPB(lease.Lease{IAs: ev.OldPrefixes}).Ias}
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

// statusToPB converts an uplink's status for the control socket. Times go
// as Unix milliseconds; -1 is infinity (a zero time in Status).
func statusToPB(s Status, linkUp bool) *pb.InterfaceStatus {
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return -1
		}
		return t.UnixMilli()
	}
	out := &pb.InterfaceStatus{Name: s.Uplink, State: s.State, LinkUp: linkUp}
	for i, ia := range s.IAs {
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
		out.Ias = append(out.Ias, is)
	}
	return out
}

func statsToPB(uplink string, s Stats) *pb.InterfaceStats {
	out := &pb.InterfaceStats{Name: uplink, Sent: make(map[string]uint64), Received: make(map[string]uint64),
		Drops: make(map[string]uint64), Retransmissions: s.Retransmissions}
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
