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
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
	"github.com/dhcp6leased/dhcp6leased/internal/sdnotify"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// Defaults of SPEC 1 (the control socket's is control.DefaultSocket).
const (
	DefaultConfig   = "/etc/dhcp6leased.conf"
	DefaultStateDir = "/var/lib/dhcp6leased"
	DefaultUser     = "_dhcp6leased"
	// DefaultGroup is the control socket's group (contrib/systemd's
	// sysusers.d file creates it).
	DefaultGroup = "dhcp6leasectl"
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
	Group      string // of the control socket
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
	group, err := lookupSocketGroup(opts.Group)
	if err != nil {
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

	d := &daemon{opts: opts, group: group, log: log, level: level, cfg: cfg, pol: policy{cfg: cfg}, hooks: newHooks(log), last: make(map[string]*pb.Event),
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
	group socketGroup // the control socket's
	log   *slog.Logger
	level *slog.LevelVar
	cfg   *config.Config
	pol   policy
	rt    *rtnl.Conn
	fe    *imsg.Channel
	en    *imsg.Channel

	duid []byte    // the client's, fixed for the daemon's life
	boot bootClock // stamps and reckons lease times

	releasing bool // release on shutdown under way

	// What each child may send: frontendRules() and engineRules(), made
	// once.
	fromFrontend, fromEngine imsg.Rules
	hooks                    *hooks
	last                     map[string]*pb.Event // each uplink's last event, for STOP
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
	d.boot = newBootClock(d.log)
	held := d.readLeases(d.cfg, func(string) bool { return true })
	// An IA keeps the IAID its lease file gives it, found by its
	// downstreams, even if the config was reordered meanwhile (SPEC 4).
	d.cfg.InheritIAIDs(previousIAs(held))
	leases := leasesToPB(d.cfg, held)
	d.cleanRoutes(held)

	ctl, err := listenControl(d.opts.Socket, d.group)
	if err != nil {
		return err
	}
	if d.group.gid < 0 {
		d.log.Warn("control socket group does not exist: only root can use dhcp6leasectl", "group", d.group.name, "socket", d.opts.Socket)
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
				d.send(d.fe, pb.Type_TYPE_LOG_STATS, &pb.Empty{})
				logging.Runtime(d.log)
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
