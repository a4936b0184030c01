package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// rig is one scenario's lab: a topology, Kea, the daemon bound to it and
// an ip monitor started after the bind, so that every address or route
// event it saw came after.
type rig struct {
	t    *testing.T
	topo *lab.Topology
	kea  *lab.Kea
	opts lab.KeaOptions
	d    *daemon
	pfx  netip.Prefix // delegated at the first bind
	mon  *lab.Monitor
}

// newLab starts the topology (lan0 as its downstream) and Kea.
func newLab(t *testing.T, topo lab.TopologyOptions, opts lab.KeaOptions) *rig {
	t.Helper()
	lab.Require(t, "kea-dhcp6")
	topo.Downstreams = []string{downstream}
	r := &rig{t: t, topo: lab.NewTopologyT(t, topo), opts: opts}
	r.kea = lab.StartKeaT(t, r.topo, r.opts)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of Kea's log:\n%s", r.kea.LogTail())
		}
	})
	return r
}

// bind starts the daemon on conf, waits until it is bound, checks that
// the prefix is the one Kea recorded for it, and starts the monitor.
func (r *rig) bind(conf string) {
	r.t.Helper()
	r.d = startDaemon(r.t, r.topo, conf)
	r.pfx = r.d.waitBound(bindTimeout, netip.Prefix{})
	leases, err := r.kea.Leases()
	if err != nil {
		r.t.Fatal(err)
	}
	if !containsLease(leases, r.pfx) {
		r.t.Fatalf("the daemon holds %v, Kea's lease file %+v", r.pfx, leases)
	}
	r.mon = lab.StartMonitorT(r.t, r.topo.CLI)
}

// newRig is newLab and bind.
func newRig(t *testing.T, topo lab.TopologyOptions, srv lab.ServerOptions, conf string) *rig {
	t.Helper()
	r := newLab(t, topo, lab.KeaOptions{ServerOptions: srv})
	r.bind(conf)
	return r
}

func containsLease(leases []lab.ServerLease, pfx netip.Prefix) bool {
	for _, l := range leases {
		if l.Prefix == pfx && l.Valid > 0 {
			return true
		}
	}
	return false
}

// ip runs `ip -n CLI args...`.
func (r *rig) ip(args ...string) {
	r.t.Helper()
	if _, err := r.topo.CLI.IP(r.t.Context(), args...); err != nil {
		r.t.Fatal(err)
	}
}

// converged logs the scenario's one line, what it did and how long the
// daemon took to converge, and fails the test when that is past bound.
func converged(t testing.TB, what string, took, bound time.Duration) {
	t.Helper()
	t.Logf("%s: converged in %v (bound %v)", what, took.Round(time.Millisecond), bound)
	if took > bound {
		t.Errorf("%s: took %v, past the bound of %v", what, took.Round(time.Millisecond), bound)
	}
}

// event is an addition or removal the monitor saw.
type event struct {
	time    time.Time
	deleted bool
}

// addrEvents returns the monitor's events for addr on ifname.
func addrEvents(m *lab.Monitor, ifname string, addr netip.Prefix) []event {
	var out []event
	for _, e := range m.AddrEvents(ifname) {
		if e.Prefix == addr {
			out = append(out, event{e.Time, e.Deleted})
		}
	}
	return out
}

// routeEvents returns the monitor's events for the unreachable route of
// pfx:
//
//	[Deleted ]unreachable 2001:db8:100::/56 dev lo proto 214 metric 1024 pref medium
func routeEvents(m *lab.Monitor, pfx netip.Prefix) []event {
	var out []event
	for _, l := range m.Lines() {
		f := strings.Fields(l.Text)
		deleted := len(f) > 0 && f[0] == "Deleted"
		if deleted {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == "unreachable" && f[1] == pfx.String() {
			out = append(out, event{l.Time, deleted})
		}
	}
	return out
}

// outage finds the first removal after since and the first addition after
// that: how long the thing was gone. ok is false while either is missing.
func outage(events []event, since time.Time) (gap time.Duration, ok bool) {
	var removed time.Time
	for _, e := range events {
		switch {
		case e.time.Before(since):
		case e.deleted && removed.IsZero():
			removed = e.time
		case !e.deleted && !removed.IsZero():
			return e.time.Sub(removed), true
		}
	}
	return 0, false
}

// removals returns the removals among events.
func removals(events []event) []event {
	var out []event
	for _, e := range events {
		if e.deleted {
			out = append(out, e)
		}
	}
	return out
}

// checkNeverRemoved fails the test if the monitor saw lan0's address of
// pfx or the unreachable route of pfx removed.
func (r *rig) checkNeverRemoved(pfx netip.Prefix) {
	r.t.Helper()
	if del := removals(addrEvents(r.mon, downstream, planAddr(pfx))); len(del) > 0 {
		r.t.Errorf("lan0's %v removed %d times: %+v", planAddr(pfx), len(del), del)
	}
	if del := removals(routeEvents(r.mon, pfx)); len(del) > 0 {
		r.t.Errorf("the unreachable route of %v removed %d times: %+v", pfx, len(del), del)
	}
}

// portFreeTimeout bounds how long holdPort waits for a socket the daemon
// is letting go: the frontend closes its socket and then logs
// "link-local address gone", but the close completes once the socket's
// reader wakes, so the port can still be held for a moment after the line.
const portFreeTimeout = 2 * time.Second

// holdPort binds [::]:546 in ns, as another DHCPv6 client left running
// would; the daemon's bind to its link-local address then fails with
// EADDRINUSE. Closing the socket frees the port.
func holdPort(t testing.TB, ns *lab.Netns) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	lab.WaitForT(t, portFreeTimeout, "port 546 free to hold in "+ns.Name, func() (bool, error) {
		err := ns.Do(func() error {
			var err error
			c, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: 546})
			return err
		})
		if err != nil && !errors.Is(err, syscall.EADDRINUSE) {
			err = lab.Abort(err)
		}
		return err == nil, err
	})
	t.Cleanup(func() { c.Close() }) // an error means the test closed it
	return c
}

// holder is how the daemon names this test process when it holds the
// port: "comm (pid N)", from /proc as the parent reads it.
func holder(t testing.TB) string {
	t.Helper()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(comm)), os.Getpid())
}

// linkLocal returns the usable link-local address of ifname in ns.
func linkLocal(ctx context.Context, ns *lab.Netns, ifname string) (netip.Prefix, error) {
	addrs, err := ns.Addrs(ctx, ifname)
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, a := range addrs {
		if a.Scope == "link" && !a.Tentative {
			return a.Prefix, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%s has no link-local address: %+v", ifname, addrs)
}

// ifindex returns the interface index of ifname in ns.
func ifindex(ctx context.Context, ns *lab.Netns, ifname string) (int, error) {
	out, err := ns.IP(ctx, "-j", "link", "show", "dev", ifname)
	if err != nil {
		return 0, err
	}
	var links []struct {
		Index int `json:"ifindex"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("ip -j link show %s: %v: %s", ifname, err, out)
	}
	return links[0].Index, nil
}
