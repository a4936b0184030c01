// Command dhcp6leased is the DHCPv6 prefix delegation daemon. The same
// binary runs the root parent and, re-executed with a hidden flag, the
// unprivileged frontend (-F) and engine (-E).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/engine"
	"github.com/dhcp6leased/dhcp6leased/frontend"
	"github.com/dhcp6leased/dhcp6leased/internal/getopt"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
	"github.com/dhcp6leased/dhcp6leased/internal/version"
	"github.com/dhcp6leased/dhcp6leased/parent"
)

const usage = "usage: dhcp6leased [-dnv] [-f file] [-L statedir] [-s socket] [-u user]\n" +
	"       dhcp6leased --version"

// counter is a repeatable boolean flag (-v -v).
type counter int

func (c *counter) String() string   { return fmt.Sprint(int(*c)) }
func (c *counter) Set(string) error { *c++; return nil }
func (c *counter) IsBoolFlag() bool { return true }

func main() {
	var (
		opts     parent.Options
		verbose  counter
		isEngine bool
		isFront  bool
	)
	fs := flag.NewFlagSet("dhcp6leased", flag.ContinueOnError)
	// flag prints its own complaint and nothing else: the usage comes
	// once, from here.
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {}
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(&opts.Foreground, "d", false, "foreground, log to stderr")
	fs.BoolVar(&opts.CheckOnly, "n", false, "check the configuration and exit")
	fs.Var(&verbose, "v", "more verbose (repeatable)")
	fs.StringVar(&opts.ConfigFile, "f", parent.DefaultConfig, "configuration file")
	fs.StringVar(&opts.StateDir, "L", parent.DefaultStateDir, "state directory")
	fs.StringVar(&opts.Socket, "s", control.DefaultSocket, "control socket")
	fs.StringVar(&opts.User, "u", parent.DefaultUser, "unprivileged user")
	fs.BoolVar(&isEngine, "E", false, "") // internal: run as the engine
	fs.BoolVar(&isFront, "F", false, "")  // internal: run as the frontend
	switch err := fs.Parse(getopt.Expand(os.Args[1:], "dnvEF", "fLsu")); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Println(usage)
		os.Exit(0)
	case err == nil && fs.NArg() != 0:
		fmt.Fprintf(os.Stderr, "dhcp6leased: unexpected argument %q\n", fs.Arg(0))
		fallthrough
	case err != nil:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(1)
	case *showVersion:
		fmt.Println(version.String("dhcp6leased"))
		os.Exit(0)
	}
	opts.Verbose = int(verbose)

	// A small, long-lived daemon whose heap stays far below Go's minimum
	// heap goal of 4 MiB: garbage from a burst (128 uplinks binding at
	// once) would stay resident in each of the three processes,
	// uncollected. A soft limit collects it once a process's Go memory
	// nears 8 MiB, and costs nothing while it is below (one uplink sits
	// near 4 MiB). GOMEMLIMIT in the environment still wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(8 << 20)
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
		fmt.Fprintf(os.Stderr, "dhcp6leased: %v\n", err)
		os.Exit(1)
	}
}
