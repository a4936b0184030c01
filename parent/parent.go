// Package parent is dhcp6leased's privileged process (SPEC 2): it reads the
// configuration and the state directory, opens every socket the children
// need and hands them over, and makes every kernel change the engine asks
// for after checking it against the configuration. It never parses a
// DHCPv6 packet.
package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
	"github.com/dhcp6leased/dhcp6leased/internal/sdnotify"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

// Defaults of SPEC 1 (the control socket's is control.DefaultSocket).
const (
	DefaultConfig   = "/etc/dhcp6leased.conf"
	DefaultStateDir = "/var/lib/dhcp6leased"
	DefaultUser     = "_dhcp6leased"
)

// detachedEnv marks the re-executed, detached parent so it does not detach
// again.
const detachedEnv = "DHCP6LEASED_DETACHED"

// Options are the parent's command line.
type Options struct {
	Foreground bool
	CheckOnly  bool
	Verbose    int
	ConfigFile string
	StateDir   string
	Socket     string
	User       string
}

// Main runs the parent until ctx ends (SIGTERM) or a child dies.
func Main(ctx context.Context, opts Options) error {
	if !opts.CheckOnly && os.Geteuid() != 0 {
		return errors.New("need root privileges")
	}
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return err
	}
	if opts.CheckOnly {
		return checkOnly(cfg, opts.Verbose)
	}
	if _, err := sandbox.LookupUser(opts.User); err != nil {
		return err
	}
	if !opts.Foreground && os.Getenv(detachedEnv) == "" {
		// Detached, syslog is the only place logs go: refuse now, on the
		// terminal, rather than run blind.
		if _, err := logging.New("parent", false, logging.Level(opts.Verbose)); err != nil {
			return fmt.Errorf("%w (run with -d to log to stderr)", err)
		}
		return detach()
	}
	level := logging.LevelVar(opts.Verbose)
	log, err := logging.New("parent", opts.Foreground, level)
	if err != nil {
		return err
	}
	unlock, err := lock(opts.Socket + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	d := &daemon{opts: opts, log: log, level: level, cfg: cfg, pol: policy{cfg: cfg}, hooks: newHooks(log), last: make(map[string]*pb.Event),
		fromFrontend: frontendRules(), fromEngine: engineRules()}
	err = d.run(ctx)
	if err != nil && !opts.Foreground {
		// Detached, stderr is /dev/null: syslog is the only witness.
		log.Error("exiting", "err", err)
	}
	return err
}

func checkOnly(cfg *config.Config, verbose int) error {
	if verbose > 0 {
		if err := cfg.Write(os.Stdout); err != nil {
			return err
		}
	}
	if verbose > 1 {
		if err := cfg.WritePlan(os.Stdout); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "configuration OK")
	return nil
}

// detach re-executes the daemon in a new session with stdio on /dev/null,
// as daemon(3) would, and returns once it runs.
func detach() error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), detachedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	return cmd.Process.Release()
}

// lock takes the single-instance lock beside the control socket.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("already running (lock %s held)", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// daemon is the running parent. Only the run goroutine touches it.
type daemon struct {
	opts  Options
	log   *slog.Logger
	level *slog.LevelVar
	cfg   *config.Config
	pol   policy
	rt    *rtnl.Conn
	fe    *imsg.Channel
	en    *imsg.Channel

	duid []byte // the client's, fixed for the daemon's life

	releasing bool // release on shutdown under way

	// What each child may send: frontendRules() and engineRules(), made
	// once.
	fromFrontend, fromEngine imsg.Rules
	hooks                    *hooks
	last                     map[string]*pb.Event // each uplink's last event, for STOP
}

// child is a started child process.
type child struct {
	name   string
	cmd    *exec.Cmd
	ch     *imsg.Channel
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid once exited is closed
}

func (d *daemon) run(ctx context.Context) error {
	if err := os.MkdirAll(d.opts.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := sandbox.EmptyDir(privsep.ChrootDir); err != nil {
		return err
	}
	duid, err := d.makeDUID()
	if err != nil {
		return err
	}
	d.duid = duid
	rt, err := rtnl.Dial()
	if err != nil {
		return fmt.Errorf("rtnetlink: %w", err)
	}
	defer rt.Close()
	d.rt = rt
	leases := d.readLeases(d.cfg)
	d.cleanRoutes(leases)

	ctl, err := listenControl(d.opts.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(d.opts.Socket)
	defer ctl.Close()
	events, err := rtnl.OpenEventSocket()
	if err != nil {
		return fmt.Errorf("rtnetlink events: %w", err)
	}
	defer events.Close()

	feEnd, enEnd, err := imsg.Pair()
	if err != nil {
		return err
	}
	fe, err := d.start("frontend", privsep.FlagFrontend)
	if err != nil {
		return err
	}
	en, err := d.start("engine", privsep.FlagEngine)
	if err != nil {
		stopChildren(fe)
		return err
	}
	defer stopChildren(fe, en)
	d.fe, d.en = fe.ch, en.ch

	var text bytes.Buffer
	if err := d.cfg.Write(&text); err != nil {
		return err
	}
	feCfg := &pb.Config{Text: text.String(), Duid: duid}
	enCfg := &pb.Config{Text: text.String(), Duid: duid, Leases: leases}
	err = errors.Join(
		d.fe.Send(pb.Type_TYPE_CONFIG, feCfg),
		d.fe.Send(pb.Type_TYPE_PEER_CHANNEL, &pb.Empty{}, feEnd),
		d.fe.Send(pb.Type_TYPE_ROUTE_SOCKET, &pb.Empty{}, events),
		d.fe.Send(pb.Type_TYPE_CONTROL_SOCKET, &pb.Empty{}, ctl),
		d.fe.Send(pb.Type_TYPE_START, &pb.Empty{}),
		d.en.Send(pb.Type_TYPE_CONFIG, enCfg),
		d.en.Send(pb.Type_TYPE_PEER_CHANNEL, &pb.Empty{}, enEnd),
		d.en.Send(pb.Type_TYPE_START, &pb.Empty{}),
	)
	// The children hold their own copies now.
	feEnd.Close()
	enEnd.Close()
	events.Close()
	ctl.Close()
	if err != nil {
		return fmt.Errorf("hand over to children: %w", err)
	}
	d.log.Info("started", "frontend", fe.cmd.Process.Pid, "engine", en.cmd.Process.Pid)
	// Type=notify: the configuration is loaded and the three processes
	// run with everything they need.
	if err := sdnotify.Ready(); err != nil {
		d.log.Warn("tell systemd we are ready", "err", err)
	}

	// SIGHUP and SIGUSR1 must not kill the daemon (their default action).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	msgs := make(chan received)
	for _, c := range []*child{fe, en} {
		go c.ch.Feed(func(m *imsg.Message, err error) { msgs <- received{from: c.name, m: m, err: err} })
	}
	for {
		select {
		case <-ctx.Done():
			d.log.Info("shutting down")
			if d.cfg.ReleaseOnShutdown {
				if err := d.release(msgs, fe, en); err != nil {
					return err
				}
			}
			d.stopHooks()
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				d.send(d.en, pb.Type_TYPE_LOG_STATS, &pb.Empty{})
			} else {
				d.reload()
			}
		case <-fe.exited:
			return died(fe, en)
		case <-en.exited:
			return died(en, fe)
		case r := <-msgs:
			if errors.Is(r.err, io.EOF) {
				// The channel closes first when a child dies: report
				// how it died.
				if r.from == fe.name {
					return died(fe, en)
				}
				return died(en, fe)
			}
			if err := d.handle(r); err != nil {
				// A child that breaks the protocol is not trusted with
				// anything more (SPEC 2): stop everything.
				d.log.Error("closing channel", "from", r.from, "err", err)
				return fmt.Errorf("%s: %w", r.from, err)
			}
		}
	}
}

// died reports the death of first and, when it follows within a moment,
// of other: one child's death makes the other exit on EOF, and the parent
// cannot tell which it noticed first, so the log names both with how each
// ended (a signal, or an exit status).
func died(first, other *child) error {
	err := first.wait(2 * time.Second)
	if err == nil {
		err = fmt.Errorf("%s closed its channel", first.name)
	}
	if oerr := other.wait(500 * time.Millisecond); oerr != nil {
		err = fmt.Errorf("%w; %w", err, oerr)
	}
	return err
}

// wait waits up to d for the child's exit and describes it; nil if it is
// still running.
func (c *child) wait(d time.Duration) error {
	select {
	case <-c.exited:
	case <-time.After(d):
		return nil
	}
	if c.err == nil {
		return fmt.Errorf("%s exited: exit status 0", c.name)
	}
	return fmt.Errorf("%s exited: %w", c.name, c.err)
}

// start re-executes the binary as a child. It starts as root and confines
// itself once its fds have arrived: a chroot in SysProcAttr would happen
// before execve and hide /proc/self/exe (GO-NOTES).
func (d *daemon) start(name, flag string) (*child, error) {
	mine, theirs, err := imsg.Pair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	ch, err := imsg.New(mine)
	if err != nil {
		return nil, err
	}
	args := privsep.Options{User: d.opts.User, Foreground: d.opts.Foreground, Verbose: d.opts.Verbose}.Args(flag)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = "dhcp6leased: " + name
	cmd.ExtraFiles = []*os.File{theirs} // fd 3 = privsep.ParentFD
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// No Pdeathsig: it fires when the forking OS thread exits, which Go
	// does to threads a goroutine left locked. A child learns of the
	// parent's death from EOF on its channel (SPEC 2).
	if err := cmd.Start(); err != nil {
		ch.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, ch: ch, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// stopChildren ends the children: closing their channels first lets each
// see its parent's EOF and exit quietly, before it could mistake the other
// child's exit for a crash. One that lingers is killed after 2 s.
func stopChildren(children ...*child) {
	for _, c := range children {
		c.ch.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range children {
		select {
		case <-c.exited:
		case <-ctx.Done():
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
}

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
		d.log.Error("address", "ifname", a.Ifname, "address", pfx, "set", set, "err", err)
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
	}
}

// releaseTimeout bounds release on shutdown: REL_MAX_RC (4) Releases
// with backoff take about 15 s (RFC 8415 section 7.6).
const releaseTimeout = 20 * time.Second

// release has the engine give every lease back (release on shutdown, SPEC
// 6) and carries out the removals it asks for, until it is done or
// releaseTimeout has passed. Addresses left then keep their lifetimes.
func (d *daemon) release(msgs <-chan received, fe, en *child) error {
	d.releasing = true
	d.send(d.en, pb.Type_TYPE_RELEASE, &pb.Empty{})
	timeout := time.After(releaseTimeout)
	for d.releasing {
		select {
		case <-timeout:
			d.log.Warn("release on shutdown timed out")
			return nil
		case <-fe.exited:
			return died(fe, en)
		case <-en.exited:
			return died(en, fe)
		case r := <-msgs:
			if err := d.handle(r); err != nil {
				return fmt.Errorf("%s: %w", r.from, err)
			}
		}
	}
	d.log.Info("leases released")
	return nil
}

// control carries out dhcp6leasectl reload and log, which the frontend
// passes on after checking that the client is root.
func (d *daemon) control(req *pb.CtlRequest) error {
	switch req.Command {
	case pb.CtlRequest_COMMAND_RELOAD:
		return d.reload()
	case pb.CtlRequest_COMMAND_LOG:
		v, _ := pb.LogVerbosity(req.LogLevel) // Validate checked it
		d.level.Set(logging.Level(int(v)))
		d.log.Info("log level", "level", req.LogLevel)
		d.send(d.fe, pb.Type_TYPE_LOG_LEVEL, &pb.LogLevel{Verbosity: v})
		d.send(d.en, pb.Type_TYPE_LOG_LEVEL, &pb.LogLevel{Verbosity: v})
		return nil
	}
	return fmt.Errorf("command %v is not the parent's", req.Command)
}

// reload re-reads the configuration (SIGHUP, dhcp6leasectl reload; SPEC
// 11). A file that does not parse changes nothing: the error, with
// file:line, is logged and returned. A good one goes to the children, which
// apply it uplink by uplink; until the engine says it has asked for every
// change, the policy also accepts the old plan, so that it can remove what
// the old plan configured.
func (d *daemon) reload() error {
	cfg, err := config.Load(d.opts.ConfigFile)
	if err != nil {
		d.log.Error("reload failed, keeping the running configuration", "err", err)
		return err
	}
	if !reflect.DeepEqual(cfg.DUID, d.cfg.DUID) {
		// Every lease is bound to the DUID: changing it means starting
		// over, which a reload must not do behind the operator's back.
		d.log.Warn("reload: a new duid takes effect at the next start")
		cfg.DUID = d.cfg.DUID
	}
	var text bytes.Buffer
	if err := cfg.Write(&text); err != nil {
		return err
	}
	leases := make(map[string]*pb.Lease)
	for name, l := range d.readLeases(cfg) {
		if d.cfg.Uplink(name) == nil {
			leases[name] = l // only added uplinks start from their file
		}
	}
	d.pol = policy{cfg: cfg, prev: d.cfg}
	d.cfg = cfg
	d.send(d.fe, pb.Type_TYPE_RELOAD, &pb.Config{Text: text.String(), Duid: d.duid})
	d.send(d.en, pb.Type_TYPE_RELOAD, &pb.Config{Text: text.String(), Duid: d.duid, Leases: leases})
	d.log.Info("configuration reloaded", "file", d.opts.ConfigFile)
	return nil
}

func (d *daemon) send(ch *imsg.Channel, t pb.Type, m proto.Message) {
	if err := ch.Send(t, m); err != nil {
		d.log.Error("send", "type", t, "err", err)
	}
}

// event runs the uplink's hook script, if it has one, and remembers the
// event for the STOP event at shutdown.
func (d *daemon) event(ev *pb.Event) {
	u := d.cfg.Uplink(ev.Uplink)
	if u == nil {
		d.log.Warn("refused event", "uplink", ev.Uplink, "err", "not a configured uplink")
		return
	}
	d.log.Debug("event", "uplink", ev.Uplink, "event", ev.Kind, "state", ev.State)
	d.last[ev.Uplink] = ev
	if u.Script != "" {
		d.hooks.run(u.Script, ev)
	}
}

// stopHooks runs the STOP event of every uplink with a script, with what
// it held last, and waits for the scripts to finish.
func (d *daemon) stopHooks() {
	for _, u := range d.cfg.Uplinks {
		if u.Script == "" {
			continue
		}
		ev := &pb.Event{Uplink: u.Name, State: "Down"}
		if last := d.last[u.Name]; last != nil {
			ev = proto.Clone(last).(*pb.Event)
			ev.OldPrefixes, ev.OldDownstreams = ev.Prefixes, ev.Downstreams
			ev.LinkPrevious, ev.LinkCurrent = "", ""
		}
		ev.Kind = "STOP"
		d.hooks.run(u.Script, ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	d.hooks.close(ctx)
}

func (d *daemon) saveLease(s *pb.SaveLease) {
	if d.cfg.Uplink(s.Uplink) == nil {
		d.log.Warn("refused lease", "uplink", s.Uplink, "err", "not a configured uplink")
		return
	}
	path := filepath.Join(d.opts.StateDir, lease.FileName(s.Uplink))
	if err := lease.Write(path, pb.LeaseFromPB(s.Lease)); err != nil {
		d.log.Error("save lease", "err", err)
	}
}

// makeDUID returns the client DUID of the configuration (SPEC 8).
func (d *daemon) makeDUID() ([]byte, error) {
	c := d.cfg.DUID
	switch c.Kind {
	case config.DUIDRaw:
		return c.Raw, nil
	case config.DUIDLL, config.DUIDLLT:
		ifi, err := net.InterfaceByName(c.Interface)
		if err != nil {
			return nil, fmt.Errorf("duid from %s: %w", c.Interface, err)
		}
		if len(ifi.HardwareAddr) == 0 {
			return nil, fmt.Errorf("duid from %s: no hardware address", c.Interface)
		}
		const hwEthernet = 1 // RFC 826 hardware type
		if c.Kind == config.DUIDLL {
			return dhcp6.DUIDLL(hwEthernet, ifi.HardwareAddr), nil
		}
		t, err := lease.LoadOrCreateLLTTime(d.opts.StateDir, time.Now())
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDLLT(hwEthernet, t, ifi.HardwareAddr), nil
	default:
		u, err := lease.LoadOrCreateUUID(d.opts.StateDir)
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDUUID(u), nil
	}
}

// readLeases loads the lease file of each uplink of cfg. A torn or garbage
// file is reported and ignored (SPEC 8).
func (d *daemon) readLeases(cfg *config.Config) map[string]*pb.Lease {
	out := make(map[string]*pb.Lease)
	for _, u := range cfg.Uplinks {
		path := filepath.Join(d.opts.StateDir, lease.FileName(u.Name))
		l, err := lease.Read(path)
		if err != nil {
			d.log.Warn("ignoring lease file", "err", err)
			continue
		}
		out[u.Name] = pb.LeaseToPB(openBSDIAIDs(l, u))
	}
	return out
}

// openBSDIAIDs maps the IAs of OpenBSD lease lines (no bound time) to
// ours: OpenBSD numbers an uplink's IAs 0, 1, 2 and sends that position as
// the IAID, where we derive IAIDs unique across the client (SPEC 4). The
// prefixes become Solicit hints for the IA at that position.
func openBSDIAIDs(l lease.Lease, u *config.Uplink) lease.Lease {
	for i, ia := range l.IAs {
		if ia.Bound.IsZero() && int(ia.IAID) < len(u.IAs) {
			l.IAs[i].IAID = u.IAs[ia.IAID].IAID
		}
	}
	return l
}

// cleanRoutes removes unreachable routes of ours that no lease file holds:
// leftovers of a crash or of an uplink removed from the config.
func (d *daemon) cleanRoutes(leases map[string]*pb.Lease) {
	held := make(map[netip.Prefix]bool)
	for _, l := range leases {
		for _, ia := range l.Ias {
			held[netip.PrefixFrom(netip.AddrFrom16([16]byte(ia.Prefix)), int(ia.PrefixLen))] = true
		}
	}
	routes, err := d.rt.ListUnreachable()
	if err != nil {
		d.log.Warn("list unreachable routes", "err", err)
		return
	}
	for _, r := range routes {
		if held[r] {
			continue
		}
		if err := d.rt.DeleteUnreachable(r); err != nil {
			d.log.Warn("remove stale route", "prefix", r, "err", err)
		}
	}
}

// listenControl creates the control socket, mode 0660 (SPEC 1), and
// returns its listening fd for the frontend. The lock is held, so a socket
// file left at the path is stale.
func listenControl(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	defer l.Close()
	if err := os.Chmod(path, 0o660); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	f, err := l.File()
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return f, nil
}
