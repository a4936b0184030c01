package e2e

import (
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// reload writes conf and sends SIGHUP, then waits for the daemon to log
// the outcome: n lines with want in all.
func (d *daemon) reload(conf, want string, n int) {
	d.t.Helper()
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := d.proc.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
	d.waitLog(want, n, 5*time.Second)
}

// stats returns show stats for one uplink.
func (d *daemon) stats(uplink string) string {
	d.t.Helper()
	out, err := d.ctl("show", "stats", uplink)
	if err != nil {
		d.t.Fatalf("show stats %s: %v: %s", uplink, err, out)
	}
	return out
}

// routes returns the unreachable routes of ours in CLI.
func routesOf(t *testing.T, topo *lab.Topology) []netip.Prefix {
	t.Helper()
	routes, err := topo.CLI.Routes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Type == "unreachable" {
			out = append(out, r.Dst)
		}
	}
	return out
}

// TestReload: SIGHUP applies a new configuration uplink by uplink (SPEC
// 11): the unchanged uplink sees no packet and no kernel change, the
// changed plan reaches the kernel, invalid files keep the running
// configuration, a removed uplink takes what it configured with it, and an
// added one binds.
func TestReload(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Uplink: "up0", ExtraUplinks: []string{"up1"}, Downstreams: []string{"lan0", "lan1", "lan2"}})
	// Long lifetimes: a Renew of up0 during the test is no reload's doing.
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 300 * time.Second, Valid: 600 * time.Second, T1: 150 * time.Second, T2: 240 * time.Second}})
	const up0 = "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n"
	d := newDaemon(t, topo, up0+"request prefix delegation on up1 for lan1\n")
	lan0 := d.waitAnyAddr("lan0", bindTimeout)
	lan1 := d.waitAnyAddr("lan1", bindTimeout)
	d.waitLog("msg=bound", 2, 5*time.Second)
	up0Stats := d.stats("up0")
	monitor := lab.StartMonitorT(t, topo.CLI)
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	up0LL := linkLocal(t, topo, "up0")
	quiet := func() {
		t.Helper()
		for _, p := range capture.Packets() {
			if p.Src.Addr() == up0LL || p.Dst.Addr() == up0LL {
				t.Errorf("up0 exchanged packets during reloads of up1: %s", p.Line)
			}
		}
	}

	// A new downstream on up1: its address appears, lan1's is untouched.
	d.reload(up0+"request prefix delegation on up1 for { lan1 lan2 }\n", "configuration reloaded", 1)
	d.waitAddr("lan2", sub64(lan1.Prefix, 1), 5*time.Second)

	// Twenty reloads, every other one of a broken file.
	good := up0 + "request prefix delegation on up1 for { lan1 lan2 }\n"
	for i := range 20 {
		if i%2 == 1 {
			d.reload(good, "configuration reloaded", 2+i/2)
		} else {
			d.reload(good+"request prefix delegation on up1 for lan1 lan2 oops {\n", "reload failed, keeping the running configuration", 1+i/2)
		}
	}
	if out := d.proc.Output(); !strings.Contains(out, d.conf+":5:") {
		t.Errorf("a failed reload does not name %s:5:\n%s", d.conf, out)
	}
	if ev := monitor.AddrEvents("lan0"); len(ev) > 0 {
		t.Errorf("reloads touched up0's lan0: %v", ev)
	}
	if ev := monitor.AddrEvents("lan1"); len(ev) > 0 {
		t.Errorf("reloads touched lan1, which stayed in the plan: %v", ev)
	}
	if got := d.stats("up0"); got != up0Stats {
		t.Errorf("up0 exchanged packets during the reloads of up1:\nbefore %s\nafter %s", up0Stats, got)
	}
	quiet()

	// up1 removed: its addresses and route go; up0 stays.
	p1 := netip.PrefixFrom(lan1.Prefix.Addr(), 56).Masked()
	d.reload(up0, "configuration reloaded", 11)
	lab.WaitForT(t, 5*time.Second, "up1's addresses and route gone", func() (bool, error) {
		d.checkAlive()
		return len(d.globalAddrs("lan1")) == 0 && len(d.globalAddrs("lan2")) == 0 &&
			!slicesContainsPrefix(routesOf(t, topo), p1), nil
	})
	d.waitAddr("lan0", lan0.Prefix, time.Second)
	if out, err := d.ctl("show", "interface", "up1"); err == nil {
		t.Errorf("up1 still shown after its removal:\n%s", out)
	}

	// up1 added back: it binds again.
	d.reload(good, "configuration reloaded", 12)
	d.waitAnyAddr("lan2", bindTimeout)
	if ev := monitor.AddrEvents("lan0"); len(ev) > 0 {
		t.Errorf("reloads touched up0's lan0: %v", ev)
	}

	// dhcp6leasectl reload reports a bad file's error and changes nothing.
	if err := os.WriteFile(d.conf, []byte(good+"request prefix delegation on up9 for lan0 lan0 {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.ctl("reload")
	if err == nil || !strings.HasPrefix(out, "dhcp6leasectl: "+d.conf+":5: ") || strings.Count(out, "\n") != 1 {
		t.Errorf("dhcp6leasectl reload of a bad file: %v, %q; want exit 1 and one line naming %s:5", err, out, d.conf)
	}
	if err := os.WriteFile(d.conf, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := d.ctl("reload"); err != nil || out != "" {
		t.Errorf("dhcp6leasectl reload: %v, %q", err, out)
	}
	if out, err := d.ctl("log", "brief"); err != nil || out != "" {
		t.Errorf("dhcp6leasectl log brief: %v, %q", err, out)
	}
	d.waitLog("log level", 1, 5*time.Second)
	if ev := monitor.AddrEvents("lan0"); len(ev) > 0 {
		t.Errorf("reloads touched up0's lan0: %v", ev)
	}
	d.checkAlive()
}

// linkLocal returns the link-local address of ifname in CLI.
func linkLocal(t *testing.T, topo *lab.Topology, ifname string) netip.Addr {
	t.Helper()
	addrs, err := topo.CLI.Addrs(t.Context(), ifname)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.Prefix.Addr().IsLinkLocalUnicast() {
			return a.Prefix.Addr()
		}
	}
	t.Fatalf("%s has no link-local address", ifname)
	return netip.Addr{}
}

func slicesContainsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
