// Package e2e runs the real daemon in network namespaces against real
// DHCPv6 servers (Kea, ISC dhcpd) and checks what the kernel really holds.
package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// bins holds the binaries TestMain builds.
var bins lab.Binaries

// TestMain builds the binaries; other users run them too
// (TestCheckConfig), which lab.BuildBinaries allows.
func TestMain(m *testing.M) { os.Exit(lab.MainWithBinaries(m, &bins)) }

// daemon is one dhcp6leased running in a topology's CLI namespace.
type daemon struct {
	t     testing.TB
	topo  *lab.Topology
	conf  string
	state string
	sock  string
	under []string    // a program the daemon runs under (setpriv ...), or none
	proc  *lab.Proc   // the current run
	procs []*lab.Proc // every run, for the failure log
}

// goSyntax finds a log line with a value as Go's %v prints a map, a
// struct, a pointer to one, or a bad verb: every e2e daemon's output is
// checked for it.
var goSyntax = regexp.MustCompile(`(?m)^.*(map\[|&\{|="?\{|%!).*$`)

// newDaemon writes conf and starts the daemon on it; it is stopped and its
// output logged (on failure) when the test ends.
func newDaemon(t testing.TB, topo *lab.Topology, conf string) *daemon {
	t.Helper()
	d := newDaemonStopped(t, topo, conf)
	d.start()
	return d
}

// newDaemonStopped is newDaemon without the start, for tests that prepare
// the state directory first.
func newDaemonStopped(t testing.TB, topo *lab.Topology, conf string) *daemon {
	t.Helper()
	d := &daemon{t: t, topo: topo}
	d.conf, d.state, d.sock = lab.DaemonPaths(t, conf)
	t.Cleanup(func() {
		d.stop()
		if m := goSyntax.FindString(d.output()); m != "" {
			t.Errorf("a log line prints a Go value (one format, issue 11.4: hex IAIDs, no map or struct syntax): %q", m)
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", d.output())
		}
	})
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	argv := append(append([]string{}, d.under...), bins.Daemon, "-d", "-v", "-f", d.conf, "-L", d.state, "-s", d.sock)
	p, err := d.topo.CLI.Start(d.t.Context(), argv...)
	if err != nil {
		d.t.Fatal(err)
	}
	d.procs = append(d.procs, p)
	d.proc = p
}

func (d *daemon) output() string {
	var b strings.Builder
	for i, p := range d.procs {
		fmt.Fprintf(&b, "--- run %d (pid %d)\n%s", i+1, p.Pid(), p.Output())
	}
	return b.String()
}

func (d *daemon) stop() {
	if d.proc != nil {
		d.proc.Stop()
	}
}

// ctl runs dhcp6leasectl against the daemon's socket.
func (d *daemon) ctl(args ...string) (string, error) {
	out, err := exec.CommandContext(d.t.Context(), bins.Ctl, append([]string{"-s", d.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// globalAddrs returns the global addresses on a downstream.
func (d *daemon) globalAddrs(ifname string) []lab.Addr {
	d.t.Helper()
	addrs, err := d.topo.CLI.GlobalAddrs(d.t.Context(), ifname)
	if err != nil {
		d.t.Fatal(err)
	}
	return addrs
}

// waitAddr waits until ifname holds addr and returns it as the kernel
// reports it.
func (d *daemon) waitAddr(ifname string, addr netip.Prefix, timeout time.Duration) lab.Addr {
	d.t.Helper()
	var got lab.Addr
	lab.WaitForT(d.t, timeout, fmt.Sprintf("%v on %s", addr, ifname), func() (bool, error) {
		d.checkAlive()
		addrs, err := d.topo.CLI.GlobalAddrs(d.t.Context(), ifname)
		for _, a := range addrs {
			if a.Prefix == addr {
				got = a
				return true, nil
			}
		}
		return false, err
	})
	return got
}

// waitAnyAddr waits until ifname has a global address.
func (d *daemon) waitAnyAddr(ifname string, timeout time.Duration) lab.Addr {
	d.t.Helper()
	var got lab.Addr
	lab.WaitForT(d.t, timeout, "a global address on "+ifname, func() (bool, error) {
		d.checkAlive()
		addrs, err := d.topo.CLI.GlobalAddrs(d.t.Context(), ifname)
		if len(addrs) > 0 {
			got = addrs[0]
			return true, nil
		}
		return false, err
	})
	return got
}

// checkAlive fails the test at once when the daemon has exited.
func (d *daemon) checkAlive() {
	select {
	case <-d.proc.Done():
		d.t.Fatalf("daemon exited: %v", d.proc.Wait())
	default:
	}
}

// lease reads the daemon's lease file for uplink.
func (d *daemon) lease(uplink string) lease.Lease {
	d.t.Helper()
	l, err := lease.Read(filepath.Join(d.state, lease.FileName(uplink)))
	if err != nil {
		d.t.Fatal(err)
	}
	return l
}

// waitLease waits until the lease file of uplink is as ok wants it and
// returns it. The parent writes the file after it configured the
// addresses the same Reply brought, so a test that saw them must still
// wait for the file.
func (d *daemon) waitLease(uplink, what string, ok func(lease.Lease) bool) lease.Lease {
	d.t.Helper()
	var l lease.Lease
	// No checkAlive: tests read the file of a daemon they stopped, too.
	lab.WaitForT(d.t, 5*time.Second, "the lease file of "+uplink+" with "+what, func() (bool, error) {
		l = d.lease(uplink)
		return ok(l), nil
	})
	return l
}

// heldPrefix waits until the lease file of uplink holds its first IA and
// returns its prefix.
func (d *daemon) heldPrefix(uplink string) netip.Prefix {
	d.t.Helper()
	return d.waitLease(uplink, "an IA", func(l lease.Lease) bool { return len(l.IAs) > 0 }).IAs[0].Prefix
}

// plan parses the daemon's config, for its IAIDs.
func (d *daemon) plan() *config.Config {
	d.t.Helper()
	cfg, err := config.Load(d.conf)
	if err != nil {
		d.t.Fatal(err)
	}
	return cfg
}

// sub64 returns the n-th /64 of prefix p with host part ::1, as the plan
// places entries of a list of /64s (SPEC 5): computed here by hand, not by
// the config package under test.
func sub64(p netip.Prefix, n int) netip.Prefix {
	b := p.Masked().Addr().As16()
	v := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	v += uint64(n)
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
	for i := 8; i < 15; i++ {
		b[i] = 0
	}
	b[15] = 1
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// serverPrefix waits until the server's lease file delegates a live prefix
// to iaid and returns it.
func serverPrefix(t testing.TB, leases func() ([]lab.ServerLease, error), iaid uint32) netip.Prefix {
	t.Helper()
	var got netip.Prefix
	lab.WaitForT(t, 10*time.Second, fmt.Sprintf("server lease for IAID %#x", iaid), func() (bool, error) {
		ls, err := leases()
		for _, l := range ls {
			if l.IAID == iaid && l.Valid > 0 {
				got = l.Prefix
				return true, nil
			}
		}
		return false, err
	})
	return got
}
