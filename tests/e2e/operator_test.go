package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestRouterAdvertisementsDropped: on a router's uplink with forwarding=1
// and the default accept_ra=1 the kernel drops the upstream's RAs and no
// default route comes; the daemon says so in the log and in show.
func TestRouterAdvertisementsDropped(t *testing.T) {
	lab.Require(t)
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	if _, err := topo.CLI.Run(t.Context(), "sysctl", "-qw", "net.ipv6.conf.up0.forwarding=1", "net.ipv6.conf.up0.accept_ra=1"); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, topo, flapConf)
	d.waitLog("the kernel drops router advertisements on the uplink", 1, 5*time.Second)
	out, err := d.ctl("show", "interface", "up0")
	if err != nil || !strings.Contains(out, "router advertisements dropped by the kernel: forwarding=1, accept_ra=1 (sysctl net.ipv6.conf.up0.accept_ra=2)") {
		t.Errorf("show interface: %v:\n%s", err, out)
	}
	// A sysctl is noticed with the next link change: the kernel reports
	// them with the link.
	setAcceptRA := func(v string) {
		t.Helper()
		if _, err := topo.CLI.Run(t.Context(), "sysctl", "-qw", "net.ipv6.conf.up0.accept_ra="+v); err != nil {
			t.Fatal(err)
		}
		if err := topo.CLI.SetLinkDown(t.Context(), "up0"); err != nil {
			t.Fatal(err)
		}
		if err := topo.CLI.SetLinkUp(t.Context(), "up0"); err != nil {
			t.Fatal(err)
		}
	}
	setAcceptRA("2")
	lab.WaitForT(t, 5*time.Second, "show -j to report RAs accepted", func() (bool, error) {
		out, err := d.ctl("-j", "show", "interface", "up0")
		if err != nil {
			return false, nil
		}
		var v control.ShowInterface
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			return false, err
		}
		ra := v.Interfaces[0].AcceptsRA
		return ra != nil && *ra, nil
	})
	// accept_ra=0 is a program's choice (systemd-networkd and
	// NetworkManager handle RAs themselves): shown, and no warning.
	setAcceptRA("0")
	const program = "\trouter advertisements left to a program by the kernel (accept_ra=0: systemd-networkd, NetworkManager)\n"
	lab.WaitForT(t, 5*time.Second, "show interface to say a program handles RAs", func() (bool, error) {
		out, err := d.ctl("show", "interface", "up0")
		return err == nil && strings.Contains(out, program), fmt.Errorf("%v: %s", err, out)
	})
	if n := strings.Count(d.proc.Output(), "the kernel drops router advertisements on the uplink"); n != 1 {
		t.Errorf("%d warnings of dropped RAs, want only the one for accept_ra=1", n)
	}
}

// TestMissingUplink: a misspelled uplink is named in the log and shown as
// missing, not only as down.
func TestMissingUplink(t *testing.T) {
	lab.Require(t)
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	d := newDaemon(t, topo, "request prefix delegation on upO for { lan0 lan9 }\n")
	d.waitLog("msg=\"uplink does not exist (yet): waiting for it\" proc=frontend uplink=upO", 1, 5*time.Second)
	d.waitLog("downstream=lan9", 1, 5*time.Second)
	if strings.Contains(d.proc.Output(), "downstream=lan0") {
		t.Error("lan0, which exists, was reported missing")
	}
	out, err := d.ctl("show", "interface")
	if err != nil || !strings.Contains(out, "upO [Down]\n") || !strings.Contains(out, "\tlink missing: no such interface (yet)\n") {
		t.Errorf("show interface: %v:\n%s", err, out)
	}
}

// TestKernelRefusal: when the kernel refuses the plan (here the parent
// runs without CAP_NET_ADMIN, as under a unit that dropped it), the lease
// is still Bound, and show interface and its JSON say what was refused
// and why instead of looking healthy.
func TestKernelRefusal(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "setpriv")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemonStopped(t, topo, flapConf)
	d.under = []string{"setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "--"}
	d.start()
	var out string
	lab.WaitForT(t, bindTimeout, "Bound, with the kernel's refusal shown", func() (bool, error) {
		d.checkAlive()
		var err error
		out, err = d.ctl("show", "interface", "up0")
		return err == nil && strings.HasPrefix(out, "up0 [Bound]\n") &&
			strings.Contains(out, "\tkernel refused the plan: ") && strings.Contains(out, "operation not permitted, "), nil
	})
	if got := d.globalAddrs("lan0"); len(got) != 0 {
		t.Errorf("lan0 has %v, yet the kernel refused", got)
	}
	js, err := d.ctl("-j", "show", "interface", "up0")
	if err != nil || !strings.Contains(js, `"kernel_error": {`) || !strings.Contains(js, "operation not permitted") {
		t.Errorf("show -j lacks the kernel error: %v\n%s", err, js)
	}
}
