// Command demo shows dhcp6leased at work in a throwaway lab: Kea delegates a
// prefix over the uplink up0 and the daemon numbers lan0 and lan1 from it.
//
//	go run ./tests/lab/demo -daemon bin/dhcp6leased -ctl bin/dhcp6leasectl
//
// It needs root. Everything it creates (namespaces, processes, files) is
// removed when it ends, also on Ctrl-C and on errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// daemonUser is the daemon's unprivileged user, which it refuses to start
// without.
const daemonUser = "_dhcp6leased"

// boundTimeout bounds the wait for the first address on lan0.
const boundTimeout = 30 * time.Second

// daemonConfig asks for one prefix on up0 for both downstreams, with Rapid
// Commit (RFC 8415 section 18.2.1).
const daemonConfig = "request rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n"

func main() {
	daemon := flag.String("daemon", "bin/dhcp6leased", "path of the dhcp6leased binary")
	ctl := flag.String("ctl", "bin/dhcp6leasectl", "path of the dhcp6leasectl binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *daemon, *ctl); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, daemon, ctl string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("need root privileges for network namespaces")
	}
	if daemon, err = binary(daemon); err != nil {
		return err
	}
	if ctl, err = binary(ctl); err != nil {
		return err
	}
	if err := lab.EnsureUser(ctx, daemonUser); err != nil {
		return err
	}

	topo, err := lab.NewTopology(ctx, lab.TopologyOptions{Uplink: "up0", Downstreams: []string{"lan0", "lan1"}})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, topo.Close()) }()
	kea, err := lab.StartKea(ctx, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, kea.Stop()) }()
	fmt.Printf("lab: server %s (Kea pid %d) <-> client %s: up0, lan0, lan1\n", topo.SRV.Name, kea.Pid(), topo.CLI.Name)

	conf := filepath.Join(topo.Dir, "dhcp6leased.conf")
	if err := os.WriteFile(conf, []byte(daemonConfig), 0o644); err != nil {
		return fmt.Errorf("write daemon config: %w", err)
	}
	stateDir := filepath.Join(topo.Dir, "state")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	sock := filepath.Join(topo.Dir, "dhcp6leased.sock")

	started := time.Now()
	proc, err := topo.CLI.Start(ctx, daemon, "-d", "-f", conf, "-L", stateDir, "-s", sock)
	if err != nil {
		return err
	}
	defer func() {
		select {
		case <-proc.Done():
			if err == nil { // an early exit is reported below already
				err = fmt.Errorf("daemon exited during the demo: %v\n%s", proc.Wait(), proc.Output())
			}
		default:
			if stopErr := proc.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("stop dhcp6leased: %w", stopErr))
			}
		}
	}()
	fmt.Printf("dhcp6leased: pid %d\n", proc.Pid())

	err = lab.WaitFor(ctx, boundTimeout, "a global address on lan0", func() (bool, error) {
		select {
		case <-proc.Done():
			return false, lab.Abort(fmt.Errorf("daemon exited early: %v", proc.Wait()))
		default:
		}
		addrs, err := topo.CLI.GlobalAddrs(ctx, "lan0")
		if err != nil {
			return false, err
		}
		return len(addrs) > 0, fmt.Errorf("lan0 has no global address")
	})
	if err != nil {
		return fmt.Errorf("%w\ndaemon output:\n%s", err, proc.Output())
	}
	fmt.Printf("first address on lan0 %v after exec\n\n", time.Since(started).Round(time.Millisecond))

	for _, step := range []struct {
		title string
		show  func() ([]byte, error)
	}{
		{"dhcp6leasectl show interface", func() ([]byte, error) {
			return topo.CLI.Run(ctx, ctl, "-s", sock, "show", "interface")
		}},
		{"ip -6 addr show dev lan0", func() ([]byte, error) { return topo.CLI.IP(ctx, "-6", "addr", "show", "dev", "lan0") }},
		{"ip -6 addr show dev lan1", func() ([]byte, error) { return topo.CLI.IP(ctx, "-6", "addr", "show", "dev", "lan1") }},
		{"ip -6 route show type unreachable", func() ([]byte, error) {
			return topo.CLI.IP(ctx, "-6", "route", "show", "type", "unreachable")
		}},
	} {
		out, err := step.show()
		if err != nil {
			return err
		}
		fmt.Printf("# %s\n%s\n", step.title, out)
	}
	return nil
}

// binary makes path absolute (ip netns exec would search PATH for a bare
// name) and checks that it exists.
func binary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("locate %s (run make build first?): %w", path, err)
	}
	return abs, nil
}
