// Command dhcp6leased is the DHCPv6 prefix delegation daemon. The same
// binary runs the root parent and, re-executed with a hidden flag, the
// unprivileged frontend (-F) and engine (-E).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/engine"
	"github.com/dhcp6leased/dhcp6leased/frontend"
	"github.com/dhcp6leased/dhcp6leased/internal/getopt"
	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	"github.com/dhcp6leased/dhcp6leased/internal/memtrim"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/version"
	"github.com/dhcp6leased/dhcp6leased/parent"
)

// trimDelay is how long after start each process drops the pages of its
// image (memtrim).
const trimDelay = time.Second

// counter is a repeatable boolean flag (-v -v).
type counter int

func (c *counter) String() string   { return fmt.Sprint(int(*c)) }
func (c *counter) Set(string) error { *c++; return nil }
func (c *counter) IsBoolFlag() bool { return true }

const usage = `usage: dhcp6leased [-dnv] [-f file] [-G group] [-L statedir] [-s socket] [-u user]
       dhcp6leased --version`

// cmdline is what the command line asks for.
type cmdline struct {
	opts     parent.Options
	isEngine bool
	isFront  bool
}

// parseArgs parses the command line. done means the process has nothing
// more to do and exits with status: --help and -h print the usage on
// stdout (0), --version prints the version (0), a bad command line prints
// the reason and the usage once on stderr (1).
func parseArgs(args []string, stdout, stderr io.Writer) (cl cmdline, status int, done bool) {
	var verbose counter
	fs := flag.NewFlagSet("dhcp6leased", flag.ContinueOnError)
	// The messages are ours: flag would print its own usage on every error.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&cl.opts.Foreground, "d", false, "foreground, log to stderr")
	fs.BoolVar(&cl.opts.CheckOnly, "n", false, "check the configuration and exit")
	fs.Var(&verbose, "v", "more verbose (repeatable)")
	fs.StringVar(&cl.opts.ConfigFile, "f", parent.DefaultConfig, "configuration file")
	fs.StringVar(&cl.opts.Group, "G", parent.DefaultGroup, "control socket group")
	fs.StringVar(&cl.opts.StateDir, "L", parent.DefaultStateDir, "state directory")
	fs.StringVar(&cl.opts.Socket, "s", control.DefaultSocket, "control socket")
	fs.StringVar(&cl.opts.User, "u", parent.DefaultUser, "unprivileged user")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(&cl.isEngine, "E", false, "") // internal: run as the engine
	fs.BoolVar(&cl.isFront, "F", false, "")  // internal: run as the frontend
	err := fs.Parse(getopt.Expand(args, "dnvEF", "fGLsu"))
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, usage)
		return cl, 0, true
	case err != nil:
		fmt.Fprintf(stderr, "dhcp6leased: %v\n%s\n", err, usage)
		return cl, 1, true
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "dhcp6leased: unexpected argument %q\n%s\n", fs.Arg(0), usage)
		return cl, 1, true
	case *showVersion:
		fmt.Fprintln(stdout, version.String("dhcp6leased"))
		return cl, 0, true
	}
	cl.opts.Verbose = int(verbose)
	return cl, 0, false
}

func main() {
	cl, status, done := parseArgs(os.Args[1:], os.Stdout, os.Stderr)
	if done {
		os.Exit(status)
	}
	opts, isEngine, isFront := cl.opts, cl.isEngine, cl.isFront
	// The error this process may exit with is an err line for the journal
	// too; asked now, before the children's sandbox forbids looking.
	errPrefix, warnPrefix := logging.Prefix(slog.LevelError), logging.Prefix(slog.LevelWarn)

	// One P, as the children have from their environment (privsep.Env):
	// the parent was started by someone else, so it sets its own now,
	// which saves about 350 KiB resident (docs/PERFORMANCE.md).
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}

	// A small, long-lived daemon whose heap stays far below Go's minimum
	// heap goal of 4 MiB: garbage from a burst (128 uplinks binding at
	// once) would stay resident in each of the three processes,
	// uncollected. A soft limit collects it once a process's Go memory
	// nears 8 MiB, and costs nothing while it is below (one uplink sits
	// near 4 MiB). GOMEMLIMIT in the environment still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(8 << 20)
	}
	// The image's pages only start-up touched go back to the page cache
	// a second after start (internal/memtrim): by then a daemon with
	// solicit delay 0 is bound, and with the RFC delay is at its first
	// exchange. Found now, before the children's chroot hides /proc.
	warn := func(err error) { fmt.Fprintf(os.Stderr, "%sdhcp6leased: %v\n", warnPrefix, err) }
	if image, err := memtrim.Find(); err != nil {
		warn(err)
	} else {
		image.DropAfter(trimDelay, warn)
	}

	// The parent stops on SIGTERM and SIGINT. The children stop on SIGTERM
	// or when the parent's channel closes: a Ctrl-C reaches the whole
	// process group, and the parent must be the one to decide.
	stopSignals := []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	if isEngine || isFront {
		signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
		stopSignals = stopSignals[:1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()

	child := privsep.Options{User: opts.User, Foreground: opts.Foreground, Verbose: opts.Verbose}
	var err error
	switch {
	case isEngine:
		err = engine.Main(ctx, child)
	case isFront:
		err = frontend.Main(ctx, child)
	default:
		err = parent.Main(ctx, opts)
	}
	if err != nil {
		// Every line of it: -n reports each error of a bad file on its own.
		fmt.Fprintf(os.Stderr, "%sdhcp6leased: %s\n", errPrefix, strings.ReplaceAll(err.Error(), "\n", "\n"+errPrefix))
		os.Exit(1)
	}
}
