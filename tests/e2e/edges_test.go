package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/tests/hostile"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// Lease edges in the lab: what servers do at the borders of RFC 8415, and
// what the daemon must make of a configuration or a clock that moved.

// TestIAIDsFollowDownstreams (SPEC 4): reordering the request statements,
// across a restart and across a reload, keeps each IA's IAID, so each LAN
// keeps its prefix; nothing is removed on the reload.
func TestIAIDsFollowDownstreams(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 300 * time.Second, Valid: 600 * time.Second, T1: 150 * time.Second, T2: 240 * time.Second}})
	const head = "solicit delay 0\nrequest rapid commit\n"
	first := head + "request prefix delegation on up0 for lan0\nrequest prefix delegation on up0 for lan1\n"
	swapped := head + "request prefix delegation on up0 for lan1\nrequest prefix delegation on up0 for lan0\n"
	d := newDaemon(t, topo, first)
	lan0, lan1 := d.waitAnyAddr("lan0", bindTimeout), d.waitAnyAddr("lan1", bindTimeout)
	if lan0.Prefix.Masked() == lan1.Prefix.Masked() {
		t.Fatalf("lan0 and lan1 share %v", lan0.Prefix)
	}
	byIAID := func() map[uint32]netip.Prefix {
		out := make(map[uint32]netip.Prefix)
		for _, ia := range d.lease("up0").IAs {
			out[ia.IAID] = ia.Prefix
		}
		return out
	}
	lab.WaitForT(t, 5*time.Second, "both IAs in the lease file", func() (bool, error) { return len(byIAID()) == 2, nil })
	before := byIAID()

	// Restart on the reordered file: the lease file's "for" names carry
	// the IAIDs over.
	d.stop()
	if err := os.WriteFile(d.conf, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	d.waitLog("msg=bound", 2, bindTimeout)
	if got := d.globalAddrs("lan0"); len(got) != 1 || got[0].Prefix != lan0.Prefix {
		t.Errorf("lan0 after a reordered restart: %v, want %v", got, lan0.Prefix)
	}
	if got := d.globalAddrs("lan1"); len(got) != 1 || got[0].Prefix != lan1.Prefix {
		t.Errorf("lan1 after a reordered restart: %v, want %v", got, lan1.Prefix)
	}
	if after := byIAID(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("IAIDs and prefixes after a reordered restart: %v, want %v", after, before)
	}

	// Reorder back and reload: the engine sees the same IAs, nothing moves.
	monitor := lab.StartMonitorT(t, topo.CLI)
	if err := os.WriteFile(d.conf, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := d.ctl("reload"); err != nil {
		t.Fatalf("reload: %v: %s", err, out)
	}
	d.waitLog("configuration reloaded", 1, 5*time.Second)
	if ev := monitor.DeletedAddrs("lan0"); len(ev) > 0 {
		t.Errorf("lan0 addresses deleted by a reordering reload: %v", ev)
	}
	if ev := monitor.DeletedAddrs("lan1"); len(ev) > 0 {
		t.Errorf("lan1 addresses deleted by a reordering reload: %v", ev)
	}
}

// TestServerRenumbers: Kea restarted with another pool stops renewing the
// held prefix (Kea's Reply to Renew withdraws it with lifetimes 0, RFC 8415
// section 18.2.10.1) and delegates one from the new pool. The LAN gets the
// new prefix; the old address and route go; the hook hears CHANGED.
func TestServerRenumbers(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	opts := lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 30 * time.Second, Valid: 60 * time.Second, T1: 2 * time.Second, T2: 40 * time.Second}}
	k := lab.StartKeaT(t, topo, opts)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hookOut := filepath.Join(dir, "events")
	script := writeHook(t, dir, 0o755, hookOut)
	d := newDaemon(t, topo, fmt.Sprintf("script %q\n", script)+flapConf)
	old := d.waitAnyAddr("lan0", bindTimeout)
	oldPfx := d.heldPrefix("up0")

	opts.Pools = []lab.PDPool{{Prefix: netip.MustParsePrefix("2001:db8:9900::/40"), DelegatedLen: 56}}
	if err := k.Restart(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	renumbered := time.Now()
	var now lab.Addr
	lab.WaitForT(t, 15*time.Second, "an address from the new pool on lan0", func() (bool, error) {
		d.checkAlive()
		for _, a := range d.globalAddrs("lan0") {
			if opts.Pools[0].Prefix.Contains(a.Prefix.Addr()) {
				now = a
				return true, nil
			}
		}
		return false, nil
	})
	t.Logf("new prefix on lan0 %v after the server's change: %v", now.Prefix, time.Since(renumbered))
	for _, a := range d.globalAddrs("lan0") {
		if a.Prefix == old.Prefix && !a.Deprecated {
			t.Errorf("old address %v still preferred", a.Prefix)
		}
	}
	lab.WaitForT(t, 5*time.Second, "the route moved to the new prefix", func() (bool, error) {
		r := routesOf(t, topo)
		return !slicesContainsPrefix(r, oldPfx) && slicesContainsPrefix(r, netip.PrefixFrom(now.Prefix.Addr(), 56).Masked()), nil
	})
	lab.WaitForT(t, 5*time.Second, "the hook's CHANGED", func() (bool, error) {
		b, _ := os.ReadFile(hookOut)
		return strings.Contains(string(b), "ARGS=up0 CHANGED"), nil
	})
}

// TestGracefulRenumbering (RFC 8415 section 18.2.10.1): a Reply that
// deprecates the held prefix (preferred 0, valid kept) and grants a new one
// makes the daemon use both: the new address preferred, the old one
// deprecated with the server's valid lifetime, both unreachable routes.
func TestGracefulRenumbering(t *testing.T) {
	lab.Require(t)
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	srv, err := hostile.Start(topo.SRV, topo.ServerIf, hostile.Valid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	d := newDaemon(t, topo, flapConf)
	old := d.waitAnyAddr("lan0", bindTimeout)
	oldPfx := d.heldPrefix("up0")
	srv.SetMode(hostile.Renumber)
	// A Rebind now (Rebooting, SPEC 10) rather than at T1 (300 s).
	if out, err := d.ctl("request", "up0"); err != nil {
		t.Fatalf("request: %v: %s", err, out)
	}
	var fresh lab.Addr
	lab.WaitForT(t, 5*time.Second, "a second address on lan0", func() (bool, error) {
		for _, a := range d.globalAddrs("lan0") {
			if a.Prefix != old.Prefix {
				fresh = a
				return true, nil
			}
		}
		return false, nil
	})
	lab.WaitForT(t, 5*time.Second, "the old address deprecated", func() (bool, error) {
		for _, a := range d.globalAddrs("lan0") {
			if a.Prefix == old.Prefix {
				return a.Deprecated && a.ValidLft > time.Duration(hostile.ValidLifetime-10)*time.Second, nil
			}
		}
		return false, fmt.Errorf("old address %v removed", old.Prefix)
	})
	if fresh.Deprecated || fresh.PreferredLft < time.Duration(hostile.PreferredLifetime-10)*time.Second {
		t.Errorf("new address %+v, want preferred", fresh)
	}
	newPfx := netip.PrefixFrom(fresh.Prefix.Addr(), hostile.DelegatedLen).Masked()
	routes := routesOf(t, topo)
	if !slicesContainsPrefix(routes, oldPfx) || !slicesContainsPrefix(routes, newPfx) {
		t.Errorf("unreachable routes %v, want %v (retiring) and %v", routes, oldPfx, newPfx)
	}
	d.waitLease("up0", oldPfx.String()+" retiring", func(l lease.Lease) bool {
		return slices.ContainsFunc(l.IAs, func(ia lease.IA) bool { return ia.Retiring && ia.Prefix == oldPfx })
	})
	if out, _ := d.ctl("show", "interface", "up0"); !strings.Contains(out, "retiring "+oldPfx.String()) {
		t.Errorf("show interface lacks the retiring prefix:\n%s", out)
	}
}

// TestRefusedRequestsBackOff (RFC 8415 section 15): a server that
// advertises and then refuses every Request makes the daemon space its
// Solicit exchanges out, doubling from 1 s, instead of two messages a
// second for ever.
func TestRefusedRequestsBackOff(t *testing.T) {
	lab.Require(t, "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	srv, err := hostile.Start(topo.SRV, topo.ServerIf, hostile.RefuseRequests)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// No rapid commit: Advertise, Request, refusal, start over.
	d := newDaemon(t, topo, "solicit delay 0\nrequest prefix delegation on up0 for lan0\n")
	const watch = 20 * time.Second
	start := time.Now()
	lab.WaitForT(t, watch+5*time.Second, "20 s of refusals", func() (bool, error) {
		d.checkAlive()
		return time.Since(start) > watch, nil
	})
	var solicits, requests int
	for _, p := range capture.Packets() {
		switch {
		case p.Time.After(start.Add(watch)):
		case strings.Contains(p.Line, "solicit"):
			solicits++
		case strings.Contains(p.Line, "request"):
			requests++
		}
	}
	t.Logf("in %v: %d Solicits, %d Requests", watch, solicits, requests)
	// Exchanges at about 0, 2, 5, 10, 19 s (each 1 s of collecting
	// Advertises, then waits of 1, 2, 4, 8 s); one Solicit a second with a
	// Request each would be 40 messages.
	if solicits > 8 || requests > 8 || solicits < 3 {
		t.Errorf("%d Solicits and %d Requests in %v, want 3 to 8 of each", solicits, requests, watch)
	}
	if len(d.globalAddrs("lan0")) != 0 {
		t.Error("an address configured though every Request was refused")
	}
}

// TestClockBehindLease: after a reboot without a real-time clock the wall
// clock may be behind the lease file's bound time. The lease's age is then
// unknown: its prefix is only a hint, and nothing is configured with
// lifetimes counted from the future.
func TestClockBehindLease(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	d := newDaemonStopped(t, topo, flapConf)
	if err := os.MkdirAll(d.state, 0o700); err != nil {
		t.Fatal(err)
	}
	iaid := d.plan().Uplinks[0].IAs[0].IAID
	pfx := netip.MustParsePrefix("2001:db8:100::/56")
	l := lease.Lease{ServerID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}, IAs: []lease.IA{{
		IAID: iaid, Prefix: pfx, Preferred: 3600, Valid: 7200, Bound: time.Now().Add(30 * 24 * time.Hour),
		Boot: lease.Boot{ID: "an-earlier-boot", Time: time.Hour}, Downstreams: []string{"lan0"},
	}}}
	if err := lease.Write(filepath.Join(d.state, lease.FileName("up0")), l); err != nil {
		t.Fatal(err)
	}
	// No server yet: whatever appears on lan0 comes from the lease file.
	d.start()
	d.waitLog("lease bound in the future (clock behind?)", 1, 5*time.Second)
	d.waitLog("msg=soliciting", 1, 5*time.Second)
	if got := d.globalAddrs("lan0"); len(got) != 0 {
		t.Errorf("lan0 from a lease of unknown age: %+v, want nothing until a server answers", got)
	}
	// The hint is the old prefix; Kea grants what it is asked for.
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	a := d.waitAnyAddr("lan0", 15*time.Second)
	if !pfx.Contains(a.Prefix.Addr()) || a.ValidLft > 60*time.Second {
		t.Errorf("lan0 %+v, want an address in the hinted %v with Kea's 60 s", a, pfx)
	}
}

// TestStaleRouteRemovedAtStart: a route of ours whose lease ended while the
// daemon was not running has no lifetime for the kernel to end it by; the
// next start removes it.
func TestStaleRouteRemovedAtStart(t *testing.T) {
	lab.Require(t)
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	d := newDaemonStopped(t, topo, flapConf)
	if err := os.MkdirAll(d.state, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := netip.MustParsePrefix("2001:db8:4400::/56")
	l := lease.Lease{IAs: []lease.IA{{IAID: d.plan().Uplinks[0].IAs[0].IAID, Prefix: stale,
		Preferred: 30, Valid: 60, Bound: time.Now().Add(-time.Hour)}}}
	if err := lease.Write(filepath.Join(d.state, lease.FileName("up0")), l); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.CLI.IP(t.Context(), "-6", "route", "add", "unreachable", stale.String(), "proto", "214"); err != nil {
		t.Fatal(err)
	}
	d.start()
	lab.WaitForT(t, 5*time.Second, "the stale route removed", func() (bool, error) {
		d.checkAlive()
		return !slicesContainsPrefix(routesOf(t, topo), stale), nil
	})
}

// TestSolicitHint (issue 12): the Solicit asks for the plan's length
// rounded to a nibble, or for "length L"; a server that delegates less
// than the plan needs gets its LANs used in order, and the ones left out
// are logged and shown.
func TestSolicitHint(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	for _, tt := range []struct {
		name, stmt, hint string
	}{
		{"nibble", "request prefix delegation on up0 for { lan0 lan1 }", "::/60"},
		{"length", "request prefix delegation on up0 length 56 for { lan0 lan1 }", "::/56"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
			capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
			// The server delegates /64s only: lan1 does not fit.
			lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
				Pools: []lab.PDPool{{Prefix: netip.MustParsePrefix("2001:db8:100::/48"), DelegatedLen: 64}}}})
			d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\n"+tt.stmt+"\n")
			d.waitAnyAddr("lan0", bindTimeout)
			var sol lab.Packet
			lab.WaitForT(t, 5*time.Second, "the Solicit on the wire", func() (bool, error) {
				var ok bool
				sol, ok = capture.First("solicit", time.Time{})
				return ok, nil
			})
			if !strings.Contains(sol.Line, "IA_PD-prefix "+tt.hint+" ") {
				t.Errorf("Solicit %q, want the hint %s", sol.Line, tt.hint)
			}
			d.waitLog("delegated prefix too small for the plan", 1, 5*time.Second)
			d.waitLog("unassigned=lan1", 1, 5*time.Second)
			if out, _ := d.ctl("show", "interface", "up0"); !strings.Contains(out, "\t\tlan1 does not fit the delegated prefix\n") {
				t.Errorf("show interface lacks lan1 as unfit:\n%s", out)
			}
			if got := d.globalAddrs("lan1"); len(got) != 0 {
				t.Errorf("lan1 got %v from a /64 that only holds lan0", got)
			}
		})
	}
}
