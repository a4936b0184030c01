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
	"net/netip"
	"strings"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
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
		uint32(pb.Type_TYPE_REMOVED):      {New: func() imsg.Payload { return new(pb.Removed) }},
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

func parentRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_RELOAD):       {New: func() imsg.Payload { return new(pb.Config) }},
		uint32(pb.Type_TYPE_LOG_LEVEL):    {New: func() imsg.Payload { return new(pb.LogLevel) }},
		uint32(pb.Type_TYPE_LOG_STATS):    {New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_RELEASE):      {New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_KERNEL_ERROR): {New: func() imsg.Payload { return new(pb.KernelError) }},
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
	case *pb.KernelError:
		if st := e.uplinks[p.Uplink]; st != nil {
			st.fsm.KernelError(p.Error)
		}
	case *pb.Empty:
		if m.Type == pb.Type_TYPE_RELEASE {
			e.release()
			return nil
		}
		for _, u := range e.cfg.Uplinks {
			st := e.uplinks[u.Name].fsm.Stats()
			e.log.Info("stats", "uplink", u.Name, "sent", counts(st.Sent), "received", counts(st.Received),
				"dropped", counts(st.Drops), "retransmissions", st.Retransmissions,
				"repaired_addresses", st.RepairedAddresses, "repaired_routes", st.RepairedRoutes)
		}
		logging.Runtime(e.log)
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
			Uplink:            u,
			RapidCommit:       cfg.RapidCommit,
			SolicitDelay:      cfg.SolicitDelay,
			HostPart:          cfg.HostPart,
			UnreachableRoute:  cfg.UnreachableRoute,
			ClientID:          e.duid,
			ReconfigureAccept: cfg.ReconfigureAccept,
		}
		if s := e.uplinks[u.Name]; s != nil {
			s.plug.up, s.plug.down = u.UpDelay, u.DownDelay
			s.fsm.Reload(ucfg)
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
				parentEOF := func(m msg) bool { return m.from == "parent" && errors.Is(m.err, io.EOF) }
				if parentEOF(m) || errors.Is(m.err, io.EOF) && privsep.ParentFollows(msgs, parentEOF) {
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
			s.sockOK, s.sockErr, s.sockRetry = p.Ready, p.Error, p.RetryUnixMs
			s.plug.set(s.linkUp && s.sockOK, false)
			if p.Ready {
				// A usable link-local address again: the uplink's IPv6
				// may have restarted, and with it the IA_NA's address
				// can go back (tests/chaos TestIPv6Toggled/up0).
				s.fsm.RetryRefused()
			}
		}
	case *pb.Removed:
		pfx := netip.PrefixFrom(netip.AddrFrom16([16]byte(p.Prefix)), int(p.PrefixLen))
		for _, s := range e.uplinks {
			if p.Ifname != "" {
				s.fsm.AddressGone(p.Ifname, pfx)
			} else {
				s.fsm.RouteGone(pfx)
			}
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

// Env, on the engine's channels.
