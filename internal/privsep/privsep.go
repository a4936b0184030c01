// Package privsep holds what the parent and its two children agree on to
// start a child: the hidden flags, the fd the parent channel arrives on, and
// the child's options.
package privsep

import (
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/sandbox"
)

// Hidden flags that make the binary run as a child (as OpenBSD's -E/-F).
const (
	FlagEngine   = "-E"
	FlagFrontend = "-F"
)

// ParentFD is the fd on which a child finds its channel to the parent
// (the first of exec.Cmd.ExtraFiles).
const ParentFD = 3

// ChrootDir is the empty directory the children chroot into.
const ChrootDir = "/var/empty"

// Options are what a child learns from its command line.
type Options struct {
	User       string
	Foreground bool
	Verbose    int
}

// Args returns the command line that starts a child with o; flag is
// FlagEngine or FlagFrontend.
func (o Options) Args(flag string) []string {
	args := []string{flag, "-u", o.User}
	if o.Foreground {
		args = append(args, "-d")
	}
	for range o.Verbose {
		args = append(args, "-v")
	}
	return args
}

// maxProcs is the children's GOMAXPROCS: one P each. A child's work is a
// message at a time, and the three processes share the CPUs already; each
// P keeps its own cache of partly used spans and has the runtime start
// threads to run on, so that one instead of two saves about 300 KiB
// resident per child and no time to prefix (docs/PERFORMANCE.md). It has
// to be in the environment at exec: set later (runtime.GOMAXPROCS), the
// second P has done its share of the start-up by then.
const maxProcs = "1"

// Env is the environment a child starts with: the parent's, with
// GOMAXPROCS set to maxProcs unless the parent's names one.
func Env() []string {
	env := os.Environ()
	if _, ok := os.LookupEnv("GOMAXPROCS"); !ok {
		env = append(env, "GOMAXPROCS="+maxProcs)
	}
	return env
}

// ParentChannel returns the file of the channel to the parent.
func ParentChannel() *os.File {
	return os.NewFile(ParentFD, "parent-channel-"+strconv.Itoa(ParentFD))
}

// Child is what a child process sets up before it hears from the parent:
// its logger (stderr or syslog, connected before any chroot), the
// unprivileged user (looked up while /etc/passwd is reachable) and its
// channel to the parent.
type Child struct {
	Log    *slog.Logger
	Level  *slog.LevelVar // dhcp6leasectl log changes it
	User   sandbox.User
	Parent *imsg.Channel
}

// StartChild sets up the child process proc ("engine", "frontend").
func StartChild(proc string, o Options) (*Child, error) {
	level := logging.LevelVar(o.Verbose)
	log, err := logging.New(proc, o.Foreground, level)
	if err != nil {
		return nil, err
	}
	user, err := sandbox.LookupUser(o.User)
	if err != nil {
		return nil, err
	}
	pc, err := imsg.New(ParentChannel())
	if err != nil {
		return nil, err
	}
	return &Child{Log: log, Level: level, User: user, Parent: pc}, nil
}

// shutdownGrace bounds how long a child waits for its parent's EOF after
// its peer's: the parent closes both channels when it stops.
const shutdownGrace = 2 * time.Second

// ParentFollows tells a child whose peer's channel just closed whether the
// parent is shutting down: at a clean stop the parent closes both
// children's channels, and the other child, exiting, can close its end
// before the parent's EOF arrives here. It waits up to shutdownGrace for
// an event of events that parentEOF recognises (anything else is dropped:
// with the peer gone nothing more can be done with it). false means the
// parent stays: the peer died, which is an error.
func ParentFollows[T any](events <-chan T, parentEOF func(T) bool) bool {
	timeout := time.After(shutdownGrace)
	for {
		select {
		case e := <-events:
			if parentEOF(e) {
				return true
			}
		case <-timeout:
			return false
		}
	}
}
