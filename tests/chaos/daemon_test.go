package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// The lab as every scenario starts it: one uplink up0 to Kea, one
// downstream lan0; Solicit at once with Rapid Commit so that a bind takes
// milliseconds, not the RFC's random delay.
const (
	uplink     = "up0"
	downstream = "lan0"
	baseConf   = "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n"
)

// Kea's lifetimes unless a scenario needs others: short, so that T1 and
// T2 come within a test, and the lab's defaults (LAB.md).
var keaLifetimes = lab.ServerOptions{RapidCommit: true,
	Preferred: 30 * time.Second, Valid: 60 * time.Second, T1: 10 * time.Second, T2: 20 * time.Second}

// bindTimeout bounds the first bind of a fresh daemon: Kea answers in
// about a millisecond, the rest is one retransmission (Solicit IRT 1 s)
// should the first message be lost, and a loaded machine.
const bindTimeout = 10 * time.Second

// waitTimeout bounds the waits whose real bound the scenario checks
// afterwards: long enough that a slow convergence is measured and
// reported against its bound rather than cut short by the wait.
const waitTimeout = 30 * time.Second

// daemon is one dhcp6leased in a topology's CLI namespace: its files stay
// across runs, so a restart finds its lease file, as under systemd.
type daemon struct {
	t                 testing.TB
	topo              *lab.Topology
	conf, state, sock string
	runs              []*lab.Proc // every run, the current one last
}

// startDaemon writes conf and starts the daemon on it. When the test
// ends the daemon is stopped, and on failure every run's output logged.
func startDaemon(t testing.TB, topo *lab.Topology, conf string) *daemon {
	t.Helper()
	d := &daemon{t: t, topo: topo}
	d.conf, d.state, d.sock = lab.DaemonPaths(t, conf)
	t.Cleanup(func() {
		if p := d.proc(); p != nil {
			if err := p.Stop(); err != nil {
				t.Errorf("stop the daemon: %v", err)
			}
		}
		if t.Failed() {
			for i, p := range d.runs {
				t.Logf("daemon run %d (pid %d):\n%s", i+1, p.Pid(), p.Output())
			}
		}
	})
	d.start()
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	p, err := d.topo.CLI.Start(d.t.Context(), bins.Daemon, "-d", "-v", "-f", d.conf, "-L", d.state, "-s", d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	d.runs = append(d.runs, p)
}

// proc is the current run.
func (d *daemon) proc() *lab.Proc {
	if len(d.runs) == 0 {
		return nil
	}
	return d.runs[len(d.runs)-1]
}

// alive returns an error that ends a lab.WaitFor when the current run has
// exited: nothing it waits for can happen then.
func (d *daemon) alive() error {
	select {
	case <-d.proc().Done():
		return lab.Abort(fmt.Errorf("daemon exited: %v", d.proc().Wait()))
	default:
		return nil
	}
}

// ctl runs dhcp6leasectl against the daemon's socket.
func (d *daemon) ctl(args ...string) (string, error) {
	out, err := exec.CommandContext(d.t.Context(), bins.Ctl, append([]string{"-s", d.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// status is what `dhcp6leasectl -j show interface up0` says, decoded with
// the field names docs/CONTROL.md documents (not the control package's
// types: a renamed field must fail here as it would in an operator's
// script).
type status struct {
	State string `json:"state"`
	IAPDs []struct {
		Prefix      netip.Prefix `json:"prefix"` // zero when null
		Downstreams []struct {
			Interface string       `json:"interface"`
			Address   netip.Prefix `json:"address"`
		} `json:"downstreams"`
	} `json:"ia_pds"`
	SocketError *struct {
		Error string `json:"error"`
		Retry *struct {
			Seconds int64 `json:"seconds"`
		} `json:"retry"`
	} `json:"socket_error"`
	Repaired struct {
		Addresses uint64  `json:"addresses"`
		Routes    uint64  `json:"routes"`
		Last      *string `json:"last"`
	} `json:"repaired"`
	KernelError *struct {
		Error string `json:"error"`
	} `json:"kernel_error"`
}

// prefix is the first IA_PD's delegated prefix, zero when none.
func (s status) prefix() netip.Prefix {
	if len(s.IAPDs) == 0 {
		return netip.Prefix{}
	}
	return s.IAPDs[0].Prefix
}

func (d *daemon) status() (status, error) {
	out, err := d.ctl("-j", "show", "interface", uplink)
	if err != nil {
		return status{}, fmt.Errorf("show interface -j: %v: %s", err, out)
	}
	var v struct{ Interfaces []status }
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Interfaces) != 1 {
		return status{}, fmt.Errorf("show interface -j: %v: %s", err, out)
	}
	return v.Interfaces[0], nil
}

// waitStatus waits until cond holds for the daemon's status and returns it.
func (d *daemon) waitStatus(timeout time.Duration, what string, cond func(status) bool) status {
	d.t.Helper()
	var s status
	lab.WaitForT(d.t, timeout, what, func() (bool, error) {
		if err := d.alive(); err != nil {
			return false, err
		}
		var err error
		if s, err = d.status(); err != nil {
			return false, err
		}
		return cond(s), fmt.Errorf("status %+v", s)
	})
	return s
}

// bound reports whether s is Bound with pfx (any prefix when pfx is zero)
// and the kernel holds the plan's address from it on lan0, preferred.
func (d *daemon) bound(s status, pfx netip.Prefix) (bool, error) {
	if s.State != "Bound" || !s.prefix().IsValid() || (pfx.IsValid() && s.prefix() != pfx) {
		return false, fmt.Errorf("status %+v", s)
	}
	a, ok, err := kernelAddr(d.t.Context(), d.topo, downstream, planAddr(s.prefix()))
	if !ok || a.Deprecated {
		return false, fmt.Errorf("status %+v; lan0 %+v (%v)", s, a, err)
	}
	return true, nil
}

// waitBound waits until the daemon is Bound with pfx (any prefix when pfx
// is zero) and the kernel agrees (bound), and returns the prefix.
func (d *daemon) waitBound(timeout time.Duration, pfx netip.Prefix) netip.Prefix {
	d.t.Helper()
	var got netip.Prefix
	lab.WaitForT(d.t, timeout, fmt.Sprintf("up0 Bound to %v with its address on lan0", pfx), func() (bool, error) {
		if err := d.alive(); err != nil {
			return false, err
		}
		s, err := d.status()
		if err != nil {
			return false, err
		}
		got = s.prefix()
		return d.bound(s, pfx)
	})
	return got
}

// logCount counts the current run's log lines that contain all of parts.
func (d *daemon) logCount(parts ...string) int {
	n := 0
	for _, line := range strings.Split(d.proc().Output(), "\n") {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			n++
		}
	}
	return n
}

// waitLog waits until the current run has logged more than after lines
// with all of parts.
func (d *daemon) waitLog(timeout time.Duration, after int, parts ...string) {
	d.t.Helper()
	lab.WaitForT(d.t, timeout, fmt.Sprintf("log line %d with %q", after+1, parts), func() (bool, error) {
		return d.logCount(parts...) > after, d.alive()
	})
}

// pids returns the current run's processes by role.
func (d *daemon) pids() map[string]int {
	d.t.Helper()
	parent := d.proc().Pid()
	var pids map[string]int
	lab.WaitForT(d.t, 5*time.Second, fmt.Sprintf("frontend and engine of pid %d", parent), func() (bool, error) {
		var err error
		pids, err = lab.DaemonProcesses(parent)
		return len(pids) == 3, err
	})
	return pids
}

// gone reports whether pid has exited: no such process, or a zombie (an
// orphan waits for init to reap it).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) STATE ...: comm may hold blanks, the state follows its ')'.
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// restartOnFailure plays systemd's Restart=on-failure for the unit in
// contrib/systemd (without its RestartSec, which only paces restarts): it
// waits until the run and every one of pids has exited, fails the test
// when the run exited with status 0 (systemd would not restart it), and
// starts the daemon again on the same state directory. It returns how the
// run exited.
func (d *daemon) restartOnFailure(pids map[string]int, timeout time.Duration) error {
	d.t.Helper()
	p := d.proc()
	lab.WaitForT(d.t, timeout, fmt.Sprintf("all of the daemon's processes %v exited", pids), func() (bool, error) {
		select {
		case <-p.Done():
		default:
			return false, errors.New("the parent still runs")
		}
		for role, pid := range pids {
			if !gone(pid) {
				return false, fmt.Errorf("the %s (pid %d) still runs", role, pid)
			}
		}
		return true, nil
	})
	exit := p.Wait()
	if exit == nil {
		d.t.Fatal("the daemon exited with status 0 after a process was killed: systemd's Restart=on-failure would leave it stopped")
	}
	d.start()
	return exit
}

// kill sends SIGKILL to pid.
func kill(t testing.TB, role string, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the %s (pid %d): %v", role, pid, err)
	}
}

// planAddr is the plan's address for lan0, the only entry of the plan:
// the first /64 of the delegated prefix with host part ::1 (SPEC 5),
// computed here, not by the config package under test.
func planAddr(p netip.Prefix) netip.Prefix {
	b := p.Masked().Addr().As16()
	b[15] = 1
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// kernelAddr returns addr as the kernel holds it on ifname in CLI.
func kernelAddr(ctx context.Context, topo *lab.Topology, ifname string, addr netip.Prefix) (lab.Addr, bool, error) {
	addrs, err := topo.CLI.GlobalAddrs(ctx, ifname)
	for _, a := range addrs {
		if a.Prefix == addr {
			return a, true, nil
		}
	}
	return lab.Addr{}, false, fmt.Errorf("%s holds %v (%v)", ifname, addrs, err)
}

// kernelRoute reports whether CLI has the daemon's unreachable route for
// pfx: type unreachable, table main, the daemon's own protocol number
// (SPEC 7).
func kernelRoute(ctx context.Context, topo *lab.Topology, pfx netip.Prefix) (bool, error) {
	routes, err := topo.CLI.Routes(ctx)
	for _, r := range routes {
		if r.Type == "unreachable" && r.Dst == pfx && r.Table == "main" && r.Protocol == strconv.Itoa(rtnl.RouteProtocol) {
			return true, nil
		}
	}
	return false, fmt.Errorf("no unreachable route for %v (%v)", pfx, err)
}
