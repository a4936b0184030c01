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

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
	"github.com/dhcp6leased/dhcp6leased/tests/reconfigure"
)

// What real ISPs send (issue 12), against Kea configured as ISPs configure
// it.

// TestDNS: the DNS servers and search list Kea sends (RFC 3646 options 23
// and 24, asked for in the ORO) are kept with the lease, shown, and passed
// to hooks.
func TestDNS(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	dns := []netip.Addr{netip.MustParseAddr("2001:db8:0:1::53"), netip.MustParseAddr("2001:db8:0:2::53")}
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true},
		DNSServers: dns, DomainSearch: []string{"isp.example", "home.isp.example"}})
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(dir, "events")
	script := writeHook(t, dir, 0o755, record)
	d := newDaemon(t, topo, fmt.Sprintf("script %q\n", script)+flapConf)
	d.waitAnyAddr("lan0", bindTimeout)
	lab.WaitForT(t, 5*time.Second, "the DNS options in show interface", func() (bool, error) {
		out, err := d.ctl("show", "interface", "up0")
		return err == nil && strings.Contains(out, "\tdns 2001:db8:0:1::53 2001:db8:0:2::53\n") &&
			strings.Contains(out, "\tdomain search isp.example home.isp.example\n"), nil
	})
	d.waitLease("up0", "the DNS options", func(l lease.Lease) bool {
		return slices.Equal(l.DNSServers, dns) && slices.Equal(l.DomainSearch, []string{"isp.example", "home.isp.example"})
	})
	env := waitEvents(t, record, "BOUND")["BOUND"]
	for _, want := range []string{"DHCP6LEASED_DNS_SERVERS=2001:db8:0:1::53 2001:db8:0:2::53", "DHCP6LEASED_DOMAIN_SEARCH=isp.example home.isp.example"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("hook environment lacks %s:\n%s", want, env)
		}
	}
}

// TestPrefixExclude (RFC 6603): Kea's pd-pool excludes a /64 of every /56
// it delegates. No LAN gets it; the unreachable routes cover the rest of
// the /56 and leave it reachable upstream.
func TestPrefixExclude(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	pool := lab.PDPool{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56,
		Excluded: netip.MustParsePrefix("2001:db8:100::/64")}
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true, Pools: []lab.PDPool{pool}}})
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n")
	a0, a1 := d.waitAnyAddr("lan0", bindTimeout), d.waitAnyAddr("lan1", bindTimeout)
	held := d.waitLease("up0", "an IA", func(l lease.Lease) bool { return len(l.IAs) > 0 }).IAs[0]
	if !held.Excluded.IsValid() || held.Excluded.Bits() != 64 || !held.Prefix.Contains(held.Excluded.Addr()) {
		t.Fatalf("lease %+v, want an excluded /64 inside the prefix", held)
	}
	t.Logf("delegated %v excluding %v; lan0 %v, lan1 %v", held.Prefix, held.Excluded, a0.Prefix, a1.Prefix)
	for _, a := range []lab.Addr{a0, a1} {
		if held.Excluded.Contains(a.Prefix.Addr()) {
			t.Errorf("%v is inside the excluded %v", a.Prefix, held.Excluded)
		}
	}
	routes := routesOf(t, topo)
	for _, r := range routes {
		if r.Overlaps(held.Excluded) && r.Bits() <= held.Excluded.Bits() {
			t.Errorf("unreachable route %v covers the excluded %v", r, held.Excluded)
		}
	}
	if len(routes) != held.Excluded.Bits()-held.Prefix.Bits() {
		t.Errorf("unreachable routes %v, want the %d pieces around the exclusion", routes, held.Excluded.Bits()-held.Prefix.Bits())
	}
	if out, _ := d.ctl("show", "interface", "up0"); !strings.Contains(out, "excluded by the server: "+held.Excluded.String()) {
		t.Errorf("show interface lacks the exclusion:\n%s", out)
	}
}

// TestReconfigureMessages (RFC 8415 sections 18.2.11, 20.4): against a
// scripted server (Kea sends no Reconfigure) that gave the daemon a
// Reconfigure Key, a Reconfigure counts only with the key's HMAC-MD5 and a
// replay detection value above the last; then the daemon Renews, Rebinds
// or sends an Information-request as it says. Everything else is dropped
// and counted.
func TestReconfigureMessages(t *testing.T) {
	lab.Require(t)
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	srv, err := reconfigure.Start(topo.SRV, topo.ServerIf, reconfigure.Config{RapidCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	d := newDaemon(t, topo, flapConf)
	d.waitAnyAddr("lan0", bindTimeout)
	u, err := lease.LoadOrCreateUUID(d.state)
	if err != nil {
		t.Fatal(err)
	}
	duid := dhcp6.DUIDUUID(u)
	lab.WaitForT(t, 5*time.Second, "the key in the lease file", func() (bool, error) {
		r := d.lease("up0").Reconfigure
		key, ok := srv.Key(duid)
		return r != nil && ok && r.Key == key, nil
	})
	if out, _ := d.ctl("show", "interface", "up0"); !strings.Contains(out, "\treconfigure accepted (the server gave a key)\n") {
		t.Errorf("show interface:\n%s", out)
	}
	stats := func() string {
		out, err := d.ctl("show", "stats", "up0")
		if err != nil {
			t.Fatalf("show stats: %v: %s", err, out)
		}
		return out
	}
	for _, tt := range []struct {
		msg   dhcp6.MessageType
		fault reconfigure.Fault
		drop  string // the drop reason; "" when obeyed
	}{
		{dhcp6.Renew, reconfigure.WrongKey, "reconfigure-auth"},
		{dhcp6.Renew, reconfigure.NoAuth, "reconfigure-auth"},
		{dhcp6.Solicit, reconfigure.Valid, "reconfigure-message"},
		{dhcp6.Renew, reconfigure.Valid, ""},
		{dhcp6.Renew, reconfigure.Replayed, "reconfigure-replay"},
		{dhcp6.Rebind, reconfigure.Valid, ""},
		{dhcp6.InformationRequest, reconfigure.Valid, ""},
	} {
		before := srv.Received(tt.msg)
		// The hook event (RENEW, REBIND, INFORM) of the exchange's Reply:
		// until it is processed a Reconfigure meets the exchange and is
		// dropped as reconfigure-busy.
		const event = "msg=event proc=parent uplink=up0"
		events := strings.Count(d.proc.Output(), event)
		if err := srv.SendReconfigure(duid, tt.msg, tt.fault); err != nil {
			t.Fatal(err)
		}
		if tt.drop == "" {
			lab.WaitForT(t, 5*time.Second, fmt.Sprintf("the %v a Reconfigure asked for", tt.msg), func() (bool, error) {
				d.checkAlive()
				return srv.Received(tt.msg) > before, nil
			})
			d.waitLog(event, events+1, 5*time.Second)
			continue
		}
		lab.WaitForT(t, 5*time.Second, fmt.Sprintf("a %s Reconfigure (%v) dropped", tt.fault, tt.msg), func() (bool, error) {
			d.checkAlive()
			return strings.Contains(stats(), "\t\t"+tt.drop+" "), nil
		})
	}
	d.waitLog("msg=\"reconfigure from the server\" proc=engine uplink=up0 do=INFORMATION-REQUEST", 1, 5*time.Second)
	d.waitLease("up0", "the replay counter of the last Reconfigure obeyed", func(l lease.Lease) bool {
		return l.Reconfigure != nil && l.Reconfigure.Replay >= 3
	})
	for _, m := range []dhcp6.MessageType{dhcp6.Renew, dhcp6.Rebind} {
		if n := srv.Received(m); n != 1 {
			t.Errorf("the server got %d %v, want 1: a dropped Reconfigure made the daemon send", n, m)
		}
	}
}

// TestUplinkAddress (issue 12): "request address on up0" asks Kea for an
// IA_NA in the same exchange as the IA_PD; the address goes on the uplink
// as a /128 with its lifetimes and is renewed with the prefix.
func TestUplinkAddress(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	pool := netip.MustParsePrefix("2001:db8:0:1::1000/116")
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 6 * time.Second, Valid: 20 * time.Second, T1: 2 * time.Second, T2: 4 * time.Second}, AddressPool: pool})
	d := newDaemon(t, topo, "request address on up0\n"+flapConf)
	d.waitAnyAddr("lan0", bindTimeout)
	var a lab.Addr
	lab.WaitForT(t, 5*time.Second, "an address from the pool on up0", func() (bool, error) {
		for _, g := range d.globalAddrs("up0") {
			if pool.Contains(g.Prefix.Addr()) && g.Prefix.Bits() == 128 {
				a = g
				return true, nil
			}
		}
		return false, nil
	})
	if a.ValidLft > 20*time.Second || a.ValidLft < 10*time.Second {
		t.Errorf("up0 %+v, want Kea's 20 s valid lifetime", a)
	}
	// A Renew at T1 (2 s) refreshes it: its valid lifetime, counting down in whole seconds,
	// climbs back above the lowest seen.
	lowest := a.ValidLft
	lab.WaitForT(t, 10*time.Second, "the address renewed", func() (bool, error) {
		d.checkAlive()
		for _, g := range d.globalAddrs("up0") {
			if g.Prefix != a.Prefix {
				continue
			}
			if g.ValidLft > lowest {
				return true, nil
			}
			lowest = g.ValidLft
		}
		return false, nil
	})
	if out, _ := d.ctl("show", "interface", "up0"); !strings.Contains(out, "\tIA_NA: "+a.Prefix.String()) {
		t.Errorf("show interface lacks the address:\n%s", out)
	}
	d.waitLease("up0", "the address", func(l lease.Lease) bool {
		return slices.ContainsFunc(l.IAs, func(ia lease.IA) bool { return ia.NA && ia.Prefix == a.Prefix })
	})
}
