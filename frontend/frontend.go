// Package frontend is dhcp6leased's unprivileged network process (SPEC 2):
// it watches links and addresses on the rtnetlink socket the parent gave
// it, asks the parent for a UDP socket per uplink, builds and sends the
// messages the engine decides on, passes received payloads to the engine
// untouched, and serves the control socket.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// startupRules are what the parent sends before TYPE_START.
func startupRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_CONFIG):         {New: func() imsg.Payload { return new(pb.Config) }},
		uint32(pb.Type_TYPE_PEER_CHANNEL):   {FDs: 1, New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_ROUTE_SOCKET):   {FDs: 1, New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_CONTROL_SOCKET): {FDs: 1, New: func() imsg.Payload { return new(pb.Empty) }},
		uint32(pb.Type_TYPE_START):          {New: func() imsg.Payload { return new(pb.Empty) }},
	}
}

// Main runs the frontend until ctx ends or a channel closes.
func Main(ctx context.Context, opts privsep.Options) error {
	c, err := privsep.StartChild("frontend", opts)
	if err != nil {
		return err
	}
	defer c.Parent.Close()
	f := &frontend{log: c.Log, level: c.Level, parent: c.Parent, links: make(map[int]*link), pending: make(map[uint64]net.Conn),
		fromEngine: engineRules(), funcs: make(chan func())}
	if err := f.startup(); err != nil {
		return fmt.Errorf("frontend startup: %w", err)
	}
	defer f.close()
	if err := sandbox.Confine(privsep.ChrootDir, c.User, sandbox.Frontend); err != nil {
		return err
	}
	return f.run(ctx)
}

// startup collects the config and fds until TYPE_START.
func (f *frontend) startup() error {
	return f.parent.ReceiveUntil(startupRules(), pb.Type_TYPE_START, func(m *imsg.Message, p imsg.Payload) error {
		var err error
		switch m.Type {
		case pb.Type_TYPE_CONFIG:
			c := p.(*pb.Config)
			f.cfg, err = config.Parse(strings.NewReader(c.Text), "config from parent")
			f.duid = c.Duid
		case pb.Type_TYPE_PEER_CHANNEL:
			f.engine, err = imsg.New(m.Files[0])
		case pb.Type_TYPE_ROUTE_SOCKET:
			// EventsFromFile works on a duplicate of the fd.
			f.events, err = rtnl.EventsFromFile(m.Files[0])
			m.Files[0].Close()
		case pb.Type_TYPE_CONTROL_SOCKET:
			var l net.Listener
			l, err = net.FileListener(m.Files[0])
			m.Files[0].Close()
			if err != nil {
				return fmt.Errorf("control socket: %w", err)
			}
			f.ctl = l.(*net.UnixListener)
		case pb.Type_TYPE_START:
			if f.cfg == nil || f.engine == nil || f.events == nil || f.ctl == nil {
				err = fmt.Errorf("start before config and fds: %w", imsg.ErrProtocol)
			}
		}
		return err
	})
}

func (f *frontend) close() {
	f.engine.Close()
	f.events.Close()
	f.ctl.Close()
	for _, l := range f.links {
		l.closeSocket()
	}
}

// frontend is the process state; only the run goroutine touches it.
type frontend struct {
	log    *slog.Logger
	level  *slog.LevelVar
	cfg    *config.Config
	duid   []byte
	parent *imsg.Channel
	engine *imsg.Channel
	events *rtnl.Events
	ctl    *net.UnixListener

	links   map[int]*link       // by ifindex: a re-created device is a new link
	pending map[uint64]net.Conn // control clients waiting for the engine or the parent

	fromEngine imsg.Rules // engineRules(), made once
	nextID     uint64

	funcs chan func() // timer callbacks, run on the loop
	done  <-chan struct{}
}

// after runs fn on the loop after d; stop cancels it, also when it has
// fired but the loop has not run it yet.
func (f *frontend) after(d time.Duration, fn func()) (stop func() bool) {
	stopped := false
	t := time.AfterFunc(d, func() {
		select {
		case f.funcs <- func() {
			if !stopped {
				fn()
			}
		}:
		case <-f.done:
		}
	})
	return func() bool {
		stopped = true
		return t.Stop()
	}
}

// event is anything the reader goroutines hand to the run loop.
type event struct {
	from string // "parent", "engine", "rtnetlink", "control"
	m    *imsg.Message
	rt   []rtnl.Event
	dump bool // rt is a whole dump: every link there is
	ctl  *ctlRequest
	err  error
}

func (f *frontend) run(ctx context.Context) error {
	f.done = ctx.Done()
	evs := make(chan event)
	go f.parent.Feed(func(m *imsg.Message, err error) { evs <- event{from: "parent", m: m, err: err} })
	go f.engine.Feed(func(m *imsg.Message, err error) { evs <- event{from: "engine", m: m, err: err} })
	go f.readEvents(ctx, evs)
	go f.acceptControl(evs)
	for {
		select {
		case <-ctx.Done():
			return nil
		case fn := <-f.funcs:
			fn()
		case e := <-evs:
			parentEOF := func(e event) bool { return e.from == "parent" && errors.Is(e.err, io.EOF) }
			if parentEOF(e) || e.from == "engine" && errors.Is(e.err, io.EOF) && privsep.ParentFollows(evs, parentEOF) {
				return nil // the parent is shutting down
			}
			if err := f.handle(e); err != nil {
				return err
			}
		}
	}
}

// readEvents owns the rtnetlink socket: a dump of links and addresses
// first, then notifications; when the kernel dropped notifications
// (ENOBUFS), another dump gives the state again.
func (f *frontend) readEvents(ctx context.Context, out chan<- event) {
	evs, err := f.events.Dump(ctx)
	dump := true
	for {
		if errors.Is(err, rtnl.ErrResync) {
			f.log.Warn("rtnetlink events lost, dumping again", "err", err)
			evs, err = f.events.Dump(ctx)
			dump = true
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, rtnl.ErrResync) {
			out <- event{from: "rtnetlink", err: err}
			return
		}
		if len(evs) > 0 || dump {
			out <- event{from: "rtnetlink", rt: evs, dump: dump}
		}
		dump = false
		evs, err = f.events.Receive(ctx)
	}
}

func parentRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_UDP_SOCKET): {FDs: 1, New: func() imsg.Payload { return new(pb.UDPSocket) }},
	}
}

// What the parent sends without an fd, a refused UDP socket among them.
func parentNoFDRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_UDP_SOCKET):       {New: func() imsg.Payload { return new(pb.UDPSocket) }},
		uint32(pb.Type_TYPE_RELOAD):           {New: func() imsg.Payload { return new(pb.Config) }},
		uint32(pb.Type_TYPE_LOG_LEVEL):        {New: func() imsg.Payload { return new(pb.LogLevel) }},
		uint32(pb.Type_TYPE_CTL_PARENT_REPLY): {New: func() imsg.Payload { return new(pb.CtlReply) }},
		uint32(pb.Type_TYPE_LOG_STATS):        {New: func() imsg.Payload { return new(pb.Empty) }},
	}
}

func engineRules() imsg.Rules {
	return imsg.Rules{
		uint32(pb.Type_TYPE_TRANSMIT):  {New: func() imsg.Payload { return new(pb.Transmit) }},
		uint32(pb.Type_TYPE_CTL_REPLY): {New: func() imsg.Payload { return new(pb.CtlReply) }},
	}
}

func (f *frontend) handle(e event) error {
	if e.err != nil {
		return fmt.Errorf("%s: %w", e.from, e.err)
	}
	switch e.from {
	case "rtnetlink":
		for _, ev := range e.rt {
			f.rtEvent(ev)
		}
		if e.dump {
			f.reportMissing(f.cfg)
		}
	case "control":
		f.ctlRequest(e.ctl)
	case "parent":
		rules := parentRules
		if len(e.m.Files) == 0 {
			rules = parentNoFDRules
		}
		p, err := rules().Decode(e.m)
		if err != nil {
			return err
		}
		switch p := p.(type) {
		case *pb.UDPSocket:
			var file *os.File
			if len(e.m.Files) == 1 {
				file = e.m.Files[0]
			}
			f.udpSocket(p, file)
		case *pb.Config:
			cfg, err := config.Parse(strings.NewReader(p.Text), "config from parent")
			if err != nil {
				return fmt.Errorf("reload: %v: %w", err, imsg.ErrProtocol)
			}
			f.reload(cfg)
		case *pb.LogLevel:
			f.level.Set(logging.Level(int(p.Verbosity)))
		case *pb.CtlReply:
			f.ctlReply(p)
		case *pb.Empty: // TYPE_LOG_STATS
			logging.Runtime(f.log)
		}
	case "engine":
		p, err := f.fromEngine.Decode(e.m)
		if err != nil {
			return err
		}
		switch p := p.(type) {
		case *pb.Transmit:
			f.transmit(p)
		case *pb.CtlReply:
			f.ctlReply(p)
		}
	}
	return nil
}
