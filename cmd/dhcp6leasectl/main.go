// Command dhcp6leasectl shows and steers a running dhcp6leased over its
// control socket (SPEC 10; the contract for scripts is docs/CONTROL.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/internal/getopt"
	"github.com/dhcp6leased/dhcp6leased/internal/version"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

const usage = `usage: dhcp6leasectl [-j] [-s socket] show interface [ifname]
       dhcp6leasectl [-j] [-s socket] show stats [ifname]
       dhcp6leasectl [-j] [-s socket] [-w maxwait] request ifname
       dhcp6leasectl [-s socket] reload
       dhcp6leasectl [-s socket] log brief|verbose|debug
       dhcp6leasectl [-jl] [-s socket] [-w maxwait] ifname
       dhcp6leasectl --version`

// commands is what an unknown command is told to pick from.
const commands = "show interface, show stats, request, reload, log"

const (
	// timeout bounds one exchange with the daemon.
	timeout = 5 * time.Second
	// defaultWait is how long request waits for Bound without -w, as
	// OpenBSD's dhcp6leasectl.
	defaultWait = 10 * time.Second
	// poll is how often request asks for the state while it waits.
	poll = 100 * time.Millisecond
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now))
}

// usageError is a bad command line: main prints the usage message after
// the reason, if any.
type usageError struct{ reason error }

func (e usageError) Error() string { return "bad command line" }

// run executes one command line and returns the exit status: 0, or 1
// after one line on stderr (SPEC 10). now is the clock the output's
// remaining times count from.
func run(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	err := parse(args, stdout, now)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, usage)
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		if ue.reason != nil {
			fmt.Fprintf(stderr, "dhcp6leasectl: %v\n", ue.reason)
		}
		fmt.Fprintln(stderr, usage)
	} else {
		fmt.Fprintf(stderr, "dhcp6leasectl: %v\n", err)
	}
	return 1
}

// ctl is one invocation's settings.
type ctl struct {
	socket string
	json   bool
	out    io.Writer
	now    func() time.Time
}

func parse(args []string, stdout io.Writer, now func() time.Time) error {
	c := &ctl{out: stdout, now: now}
	fs := flag.NewFlagSet("dhcp6leasectl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&c.json, "j", false, "print JSON")
	list := fs.Bool("l", false, "show the lease instead of requesting one")
	fs.StringVar(&c.socket, "s", control.DefaultSocket, "control socket")
	var maxwait *time.Duration
	fs.Func("w", "seconds to wait for Bound", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return errors.New("maxwait must be a whole number of seconds")
		}
		d := time.Duration(n) * time.Second
		maxwait = &d
		return nil
	})
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(getopt.Expand(args, "jl", "sw")); errors.Is(err, flag.ErrHelp) {
		return err
	} else if err != nil {
		return usageError{err}
	}
	if *showVersion {
		_, err := fmt.Fprintln(c.out, version.String("dhcp6leasectl"))
		return err
	}
	// waitFor is maxwait, or def when -w was not given.
	waitFor := func(def time.Duration) time.Duration {
		if maxwait != nil {
			return *maxwait
		}
		return def
	}
	a := fs.Args()
	switch {
	case *list && len(a) == 1:
		// OpenBSD's -l: no request, and no wait unless -w asks for one.
		return notACommand(c.waitBound(a[0], waitFor(0)))
	case *list: // -l goes with the OpenBSD form only
	case len(a) == 1 && a[0] == "reload" && maxwait == nil && !c.json:
		return c.command(&pb.CtlRequest{Command: pb.CtlRequest_COMMAND_RELOAD})
	case len(a) == 2 && a[0] == "log" && maxwait == nil && !c.json:
		if _, ok := pb.LogVerbosity(a[1]); !ok {
			return usageError{fmt.Errorf("log level %q: want brief, verbose or debug", a[1])}
		}
		return c.command(&pb.CtlRequest{Command: pb.CtlRequest_COMMAND_LOG, LogLevel: a[1]})
	case len(a) == 1 && !isCommand(a[0]):
		// The OpenBSD form: dhcp6leasectl [-w maxwait] ifname. A lone
		// command word is an incomplete command, not an interface name;
		// a word the daemon knows no uplink by may be a mistyped command.
		// It asks with show first, which anyone may, so that a non-root
		// caller who mistyped a command learns that and not that request
		// needs root.
		if err := c.uplink(a[0]); err != nil {
			return err
		}
		return c.request(a[0], waitFor(defaultWait))
	case len(a) == 2 && a[0] == "request":
		return c.request(a[1], waitFor(defaultWait))
	case maxwait != nil: // -w goes with the forms that request
	case len(a) >= 2 && len(a) <= 3 && a[0] == "show" && (a[1] == "interface" || a[1] == "stats"):
		var ifname string
		if len(a) == 3 {
			ifname = a[2]
		}
		if a[1] == "stats" {
			return c.showStats(ifname)
		}
		return c.showInterface(ifname)
	}
	if len(a) > 0 && !isCommand(a[0]) {
		return usageError{fmt.Errorf("unknown command %q: the commands are %s", a[0], commands)}
	}
	return usageError{}
}

// uplink checks that the daemon knows the OpenBSD form's ifname.
func (c *ctl) uplink(ifname string) error {
	_, err := control.Do(c.socket, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE, Ifname: ifname}, timeout)
	return notACommand(err)
}

// notACommand adds the command words to the daemon's answer that it knows
// no uplink by the OpenBSD form's word: it may be a mistyped command.
func notACommand(err error) error {
	var refused *control.DaemonError
	if errors.As(err, &refused) && strings.HasPrefix(refused.Msg, "unknown interface") {
		return fmt.Errorf("%w; nor is it a command: the commands are %s", err, commands)
	}
	return err
}

func isCommand(word string) bool {
	switch word {
	case "show", "request", "reload", "log":
		return true
	}
	return false
}

func (c *ctl) showInterface(ifname string) error {
	reply, err := control.Do(c.socket, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE, Ifname: ifname}, timeout)
	if err != nil {
		return err
	}
	return c.printInterfaces(reply.Interfaces)
}

func (c *ctl) showStats(ifname string) error {
	reply, err := control.Do(c.socket, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_STATS, Ifname: ifname}, timeout)
	if err != nil {
		return err
	}
	if c.json {
		return control.WriteJSON(c.out, control.NewShowStats(reply.Stats))
	}
	return control.WriteStats(c.out, reply.Stats)
}

func (c *ctl) printInterfaces(ifs []*pb.InterfaceStatus) error {
	if c.json {
		return control.WriteJSON(c.out, control.NewShowInterface(ifs, c.now()))
	}
	return control.WriteText(c.out, ifs, c.now())
}

// command sends a request that changes the daemon and prints nothing: a
// reload that fails comes back with the file:line error (SPEC 11).
func (c *ctl) command(req *pb.CtlRequest) error {
	_, err := control.Do(c.socket, req, timeout)
	return err
}

// request asks for a new lease, then waits for it.
func (c *ctl) request(ifname string, maxwait time.Duration) error {
	_, err := control.Do(c.socket, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_REQUEST, Ifname: ifname}, timeout)
	if err != nil {
		return err
	}
	return c.waitBound(ifname, maxwait)
}

// waitBound asks for ifname's state until it is Bound or maxwait has
// passed, and prints it. Not reaching Bound is no error: the state printed
// says what happened, as with OpenBSD's dhcp6leasectl.
func (c *ctl) waitBound(ifname string, maxwait time.Duration) error {
	deadline := time.Now().Add(maxwait)
	show := &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE, Ifname: ifname}
	for {
		reply, err := control.Do(c.socket, show, timeout)
		if err != nil {
			return err
		}
		if len(reply.Interfaces) != 1 {
			return fmt.Errorf("show interface %s: the daemon answered with %d interfaces", ifname, len(reply.Interfaces))
		}
		if reply.Interfaces[0].State == "Bound" || !time.Now().Before(deadline) {
			return c.printInterfaces(reply.Interfaces)
		}
		time.Sleep(poll)
	}
}
