package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// waitLog waits until the daemon's output has n lines containing s.
func (d *daemon) waitLog(s string, n int, timeout time.Duration) {
	d.t.Helper()
	lab.WaitForT(d.t, timeout, fmt.Sprintf("%d log lines with %q", n, s), func() (bool, error) {
		d.checkAlive()
		return strings.Count(d.proc.Output(), s) >= n, nil
	})
}

// sentStats returns the "sent:" section of show stats.
func (d *daemon) sentStats() string {
	d.t.Helper()
	out, err := d.ctl("show", "stats", "up0")
	if err != nil {
		d.t.Fatalf("show stats: %v: %s", err, out)
	}
	sent, _, _ := strings.Cut(out, "\treceived:")
	return sent
}

const flapConf = "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n"

// TestShortFlap: carrier lost for less than the down-delay (5 s, ifplugd's
// default): logged, ignored, no packet sent, no address touched (SPEC 9).
func TestShortFlap(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, flapConf)
	d.waitAnyAddr("lan0", bindTimeout)
	before := d.sentStats()
	monitor := lab.StartMonitorT(t, topo.CLI)
	if err := topo.SRV.SetLinkDown(t.Context(), "veth-s0"); err != nil {
		t.Fatal(err)
	}
	d.waitLog("link change, waiting", 1, 5*time.Second)
	if err := topo.SRV.SetLinkUp(t.Context(), "veth-s0"); err != nil {
		t.Fatal(err)
	}
	d.waitLog("link flap ignored", 1, 5*time.Second)
	if after := d.sentStats(); after != before {
		t.Errorf("packets sent during a short flap:\nbefore %s\nafter %s", before, after)
	}
	if ev := monitor.AddrEvents("lan0"); len(ev) > 0 {
		t.Errorf("lan0 addresses changed during a short flap: %v", ev)
	}
	if strings.Contains(d.proc.Output(), "link down: addresses deprecated") {
		t.Error("the short flap was acted on")
	}
}

// TestLongFlap: carrier lost for longer than the down-delay: the addresses
// are deprecated, never deleted; on link-up a Rebind of the held prefix
// goes out at once and the lease is Bound again with fresh lifetimes.
func TestLongFlap(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	d := newDaemon(t, topo, "link down delay 1\n"+flapConf)
	addr := d.waitAnyAddr("lan0", bindTimeout)
	monitor := lab.StartMonitorT(t, topo.CLI)
	if err := topo.SRV.SetLinkDown(t.Context(), "veth-s0"); err != nil {
		t.Fatal(err)
	}
	lab.WaitForT(t, 5*time.Second, "lan0 deprecated", func() (bool, error) {
		d.checkAlive()
		a := d.waitAddr("lan0", addr.Prefix, time.Second)
		return a.Deprecated && a.PreferredLft == 0, nil
	})
	if a := d.waitAddr("lan0", addr.Prefix, time.Second); a.ValidLft < 50*time.Second {
		t.Errorf("deprecated lan0 valid %v, want still counting down from 60 s", a.ValidLft)
	}
	up := time.Now()
	if err := topo.SRV.SetLinkUp(t.Context(), "veth-s0"); err != nil {
		t.Fatal(err)
	}
	var rebind lab.Packet
	lab.WaitForT(t, 5*time.Second, "a Rebind after link-up", func() (bool, error) {
		var ok bool
		rebind, ok = capture.First("rebind", up)
		return ok, nil
	})
	t.Logf("link up -> Rebind on the wire: %v", rebind.Time.Sub(up))
	if p, ok := capture.First("solicit", up); ok {
		t.Errorf("solicited after link-up (%s), want a Rebind of the held prefix", p.Line)
	}
	lab.WaitForT(t, 5*time.Second, "lan0 preferred again", func() (bool, error) {
		a := d.waitAddr("lan0", addr.Prefix, time.Second)
		return !a.Deprecated && a.PreferredLft > 25*time.Second, nil
	})
	if del := monitor.DeletedAddrs("lan0"); len(del) > 0 {
		t.Errorf("lan0 address deleted across the flap: %v", del)
	}
}

// TestUplinkRecreated: the uplink veth deleted and created again under the
// same name is a new interface (new ifindex, new socket) and re-binds the
// held prefix; the downstream keeps its address throughout.
func TestUplinkRecreated(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}, Bridge: true})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	d := newDaemon(t, topo, flapConf)
	addr := d.waitAnyAddr("lan0", bindTimeout)
	held := d.heldPrefix("up0")
	monitor := lab.StartMonitorT(t, topo.CLI)
	recreated := time.Now()
	if err := topo.RecreateUplink(t.Context(), "up0"); err != nil {
		t.Fatal(err)
	}
	lab.WaitForT(t, 10*time.Second, "a Rebind answered on the new uplink", func() (bool, error) {
		d.checkAlive()
		_, rebind := capture.First("rebind", recreated)
		_, reply := capture.First("reply", recreated)
		return rebind && reply, nil
	})
	d.waitLog("msg=bound", 2, 5*time.Second)
	if l := d.lease("up0"); len(l.IAs) != 1 || l.IAs[0].Prefix != held {
		t.Errorf("lease after re-creation %+v, want %v again", l, held)
	}
	if a := d.waitAddr("lan0", addr.Prefix, time.Second); a.PreferredLft < 25*time.Second {
		t.Errorf("lan0 preferred %v after rebinding, want fresh", a.PreferredLft)
	}
	if del := monitor.DeletedAddrs("lan0"); len(del) > 0 {
		t.Errorf("lan0 address deleted: %v", del)
	}
}

// TestDownstreamHotplug: a downstream created after Bound gets its address
// at once; deleting it leaves the daemon and the other downstream alone.
func TestDownstreamHotplug(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n")
	lan0 := d.waitAnyAddr("lan0", bindTimeout)
	created := time.Now()
	if err := topo.AddVethDownstream(t.Context(), "lan1"); err != nil {
		t.Fatal(err)
	}
	lan1 := d.waitAddr("lan1", sub64(lan0.Prefix, 1), 5*time.Second)
	t.Logf("downstream created -> address: %v", time.Since(created))
	monitor := lab.StartMonitorT(t, topo.CLI)
	if err := topo.CLI.DeleteLink(t.Context(), "lan1"); err != nil {
		t.Fatal(err)
	}
	// The daemon hears of the deletion; then it must still answer and
	// still hold lan0.
	lab.WaitForT(t, 5*time.Second, "show interface after the deletion", func() (bool, error) {
		d.checkAlive()
		out, err := d.ctl("show", "interface", "up0")
		return err == nil && strings.Contains(out, "[Bound]"), nil
	})
	d.waitAddr("lan0", lan0.Prefix, time.Second)
	if ev := monitor.AddrEvents("lan0"); len(ev) > 0 {
		t.Errorf("lan0 touched by lan1's deletion: %v", ev)
	}
	if strings.Contains(d.proc.Output(), "level=ERROR") {
		t.Errorf("errors logged for a downstream going away (lan1 had %v)", lan1.Prefix)
	}
}

// TestDADAtStart: the uplink's link-local address is still tentative when
// the daemon starts: it binds once the address is usable, no restart.
func TestDADAtStart(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}, ClientDAD: true})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, flapConf)
	d.waitAnyAddr("lan0", bindTimeout)
	if n := len(d.procs); n != 1 {
		t.Errorf("daemon started %d times", n)
	}
}

// TestHooks: a hook script sees the events with the documented environment
// (docs/HOOKS.md); a world-writable script is refused and logged, and the
// daemon binds all the same.
func TestHooks(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Run("events", func(t *testing.T) {
		t.Parallel()
		topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
		lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
			Preferred: 8 * time.Second, Valid: 16 * time.Second, T1: 2 * time.Second, T2: 4 * time.Second}})
		dir := t.TempDir()
		record := filepath.Join(dir, "events")
		script := writeHook(t, dir, 0o755, record)
		d := newDaemon(t, topo, fmt.Sprintf("script %q\nlink down delay 1\n%s", script, flapConf))
		addr := d.waitAnyAddr("lan0", bindTimeout)
		waitEvents(t, record, "LINK_UP", "BOUND", "RENEW")
		if err := topo.SRV.SetLinkDown(t.Context(), "veth-s0"); err != nil {
			t.Fatal(err)
		}
		waitEvents(t, record, "LINK_DOWN")
		if err := topo.SRV.SetLinkUp(t.Context(), "veth-s0"); err != nil {
			t.Fatal(err)
		}
		waitEvents(t, record, "LINK_UP", "BOUND")
		d.stop()
		evs := waitEvents(t, record, "STOP")
		pfx := d.heldPrefix("up0")
		checks := map[string][]string{
			"BOUND": {"ARGS=up0 BOUND", "DHCP6LEASED_STATE=Bound", "DHCP6LEASED_UPLINK=up0",
				"DHCP6LEASED_PREFIXES=" + pfx.String() + ",", "DHCP6LEASED_DOWNSTREAMS=lan0=" + addr.Prefix.String(),
				"DHCP6LEASED_SERVER=00:03:00:01:"},
			"RENEW":     {"DHCP6LEASED_EVENT=RENEW", "DHCP6LEASED_OLD_PREFIXES=" + pfx.String() + ","},
			"LINK_DOWN": {"IFPLUGD_PREVIOUS=up", "IFPLUGD_CURRENT=down", "DHCP6LEASED_STATE=Down"},
			"LINK_UP":   {"IFPLUGD_CURRENT=up"},
			"STOP":      {"DHCP6LEASED_EVENT=STOP", "DHCP6LEASED_PREFIXES=" + pfx.String() + ","},
		}
		for kind, wants := range checks {
			env := evs[kind]
			for _, w := range wants {
				if !strings.Contains(env, "\n"+w) {
					t.Errorf("%s event lacks %q:\n%s", kind, w, env)
				}
			}
		}
		if strings.Contains(evs["BOUND"], "IFPLUGD_") {
			t.Errorf("a lease event carries IFPLUGD_ variables:\n%s", evs["BOUND"])
		}
	})
	t.Run("world-writable refused", func(t *testing.T) {
		t.Parallel()
		topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
		lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
		dir := t.TempDir()
		record := filepath.Join(dir, "events")
		script := writeHook(t, dir, 0o777, record)
		d := newDaemon(t, topo, fmt.Sprintf("script %q\n%s", script, flapConf))
		d.waitAnyAddr("lan0", bindTimeout)
		d.waitLog("hook refused", 1, 5*time.Second)
		if out := d.proc.Output(); !strings.Contains(out, script+": writable by group or others") {
			t.Errorf("the refusal does not name the script and why:\n%s", out)
		}
		if _, err := os.Stat(record); err == nil {
			t.Error("the world-writable script ran")
		}
	})
}

// writeHook writes a script that appends its arguments and environment to
// record, one block per event, and gives it mode.
func writeHook(t *testing.T, dir string, mode os.FileMode, record string) string {
	t.Helper()
	path := filepath.Join(dir, "hook")
	text := fmt.Sprintf("#!/bin/sh\n{ echo \"ARGS=$1 $2\"; env | sort; echo ---; } >> %s\n", record)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// waitEvents waits until the record holds the events kinds, in that order,
// after those already checked, and returns the last environment of each
// kind seen so far.
func waitEvents(t *testing.T, record string, kinds ...string) map[string]string {
	t.Helper()
	last := make(map[string]string)
	lab.WaitForT(t, 15*time.Second, fmt.Sprintf("hook events %v", kinds), func() (bool, error) {
		b, err := os.ReadFile(record)
		if err != nil {
			return false, nil
		}
		var seen []string
		for _, block := range strings.Split(string(b), "---\n") {
			for _, line := range strings.Split(block, "\n") {
				if k, ok := strings.CutPrefix(line, "DHCP6LEASED_EVENT="); ok {
					seen = append(seen, k)
					last[k] = "\n" + block
				}
			}
		}
		return containsInOrder(seen, kinds), nil
	})
	return last
}

// containsInOrder reports whether want appears in seen as a subsequence.
func containsInOrder(seen, want []string) bool {
	i := 0
	for _, s := range seen {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}
