package lab

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
)

// delegation is what a real DHCPv6 client obtained.
type delegation struct {
	prefix   netip.Prefix
	t1, t2   time.Duration
	clientID []byte
	serverID []byte
}

// requestPrefix runs a DHCPv6 client from outside the project
// (insomniacslk/dhcp) on ifname in ns: Solicit with IA_PD and Rapid Commit,
// and Request if the server Advertises instead.
func requestPrefix(t *testing.T, ns *Netns, ifname string) delegation {
	t.Helper()
	var c *nclient6.Client
	err := ns.Do(func() error {
		var err error
		c, err = nclient6.New(ifname, nclient6.WithTimeout(time.Second), nclient6.WithRetry(3))
		return err
	})
	if err != nil {
		t.Fatalf("DHCPv6 client on %s: %v", ifname, err)
	}
	defer c.Close()
	reply, err := c.RapidSolicit(t.Context(), dhcpv6.WithIAPD([4]byte{0, 0, 0, 1}))
	if err != nil {
		t.Fatalf("DHCPv6 exchange on %s: %v", ifname, err)
	}
	iapd := reply.Options.OneIAPD()
	if iapd == nil {
		t.Fatalf("reply without IA_PD: %v", reply.Summary())
	}
	prefixes := iapd.Options.Prefixes()
	if len(prefixes) != 1 {
		t.Fatalf("reply with %d prefixes, want 1: %v", len(prefixes), reply.Summary())
	}
	p, ok := netip.AddrFromSlice(prefixes[0].Prefix.IP)
	ones, _ := prefixes[0].Prefix.Mask.Size()
	if !ok {
		t.Fatalf("reply with prefix %v", prefixes[0].Prefix)
	}
	return delegation{
		prefix:   netip.PrefixFrom(p, ones),
		t1:       iapd.T1,
		t2:       iapd.T2,
		clientID: reply.Options.ClientID().ToBytes(),
		serverID: reply.Options.ServerID().ToBytes(),
	}
}

// exchanged lists the captured packets in order, a retransmission (the
// same type and transaction ID right after) counted once: the test client
// retransmits after 1 s, which a loaded machine's Kea can take to answer.
func exchanged(c *Capture) []Packet {
	var out []Packet
	for _, p := range c.Packets() {
		if n := len(out); n > 0 && out[n-1].Type == p.Type && out[n-1].XID == p.XID {
			continue
		}
		out = append(out, p)
	}
	return out
}

// waitPackets waits until the capture holds want, in order, and returns
// the packets as exchanged lists them.
func waitPackets(t *testing.T, c *Capture, want ...string) []Packet {
	t.Helper()
	var pkts []Packet
	WaitForT(t, 5*time.Second, fmt.Sprintf("packets %v", want), func() (bool, error) {
		pkts = exchanged(c)
		var got []string
		for _, p := range pkts {
			got = append(got, p.Type)
		}
		return slices.Equal(got, want), fmt.Errorf("packets %v", got)
	})
	return pkts
}

func TestKeaDelegatesPrefix(t *testing.T) {
	Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	capture := StartCaptureT(t, topo.CLI, "up0")
	kea := StartKeaT(t, topo, KeaOptions{ServerOptions: ServerOptions{RapidCommit: true, T1: 11 * time.Second, T2: 22 * time.Second}})

	d := requestPrefix(t, topo.CLI, "up0")
	pool := netip.MustParsePrefix("2001:db8:100::/40")
	if d.prefix.Bits() != 56 || !pool.Contains(d.prefix.Addr()) {
		t.Errorf("delegated %v, want a /56 from %v", d.prefix, pool)
	}
	if d.t1 != 11*time.Second || d.t2 != 22*time.Second {
		t.Errorf("T1, T2 = %v, %v; want 11s, 22s", d.t1, d.t2)
	}
	if !bytes.Equal(d.serverID, kea.ServerDUID()) {
		t.Errorf("server id %x, want %x", d.serverID, kea.ServerDUID())
	}
	leases, err := kea.Leases()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(leases, func(l ServerLease) bool { return l.Prefix == d.prefix })
	if i < 0 {
		t.Fatalf("lease file %s lacks %v: %+v", kea.LeaseFile(), d.prefix, leases)
	}
	if l := leases[i]; !bytes.Equal(l.DUID, d.clientID) || l.Valid != 60*time.Second || l.Preferred != 30*time.Second {
		t.Errorf("lease %+v, want DUID %x, valid 60s, preferred 30s", l, d.clientID)
	}

	// Rapid Commit: Reply answers Solicit directly (RFC 8415 section 18.3.1).
	pkts := waitPackets(t, capture, "solicit", "reply")
	if pkts[0].XID != pkts[1].XID || pkts[0].Src.Port() != 546 || pkts[1].Src.Port() != 547 {
		t.Errorf("exchange %+v", pkts)
	}
	if _, ok := capture.First("reply", pkts[0].Time); !ok {
		t.Errorf("First(reply, after solicit) found nothing in %+v", pkts)
	}

	// A different server: another MAC gives another DUID-LL.
	mac, _ := net.ParseMAC("02:6c:61:62:00:02")
	if err := topo.SetServerMAC(t.Context(), mac); err != nil {
		t.Fatal(err)
	}
	if err := kea.Restart(t.Context(), KeaOptions{}); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0, 3, 0, 1}, mac...)
	if d := requestPrefix(t, topo.CLI, "up0"); !bytes.Equal(d.serverID, want) || !bytes.Equal(kea.ServerDUID(), want) {
		t.Errorf("after new MAC: server id %x, ServerDUID %x, want %x", d.serverID, kea.ServerDUID(), want)
	}
	// Without Rapid Commit the four-message exchange follows.
	waitPackets(t, capture, "solicit", "reply", "solicit", "advertise", "request", "reply")
}

func TestKeaEnterpriseServerID(t *testing.T) {
	Require(t, "kea-dhcp6")
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{})
	id := ServerID{Enterprise: 32473, Identifier: []byte{0xca, 0xfe}}
	pool := PDPool{Prefix: netip.MustParsePrefix("2001:db8:200::/48"), DelegatedLen: 60}
	kea := StartKeaT(t, topo, KeaOptions{ServerOptions: ServerOptions{Pools: []PDPool{pool}}, ServerID: id})

	d := requestPrefix(t, topo.CLI, "up0")
	want := []byte{0, 2, 0, 0, 0x7e, 0xd9, 0xca, 0xfe}
	if !bytes.Equal(d.serverID, want) || !bytes.Equal(kea.ServerDUID(), want) {
		t.Errorf("server id %x, ServerDUID %x, want %x", d.serverID, kea.ServerDUID(), want)
	}
	if d.prefix.Bits() != 60 || !pool.Prefix.Contains(d.prefix.Addr()) {
		t.Errorf("delegated %v, want a /60 from %v", d.prefix, pool.Prefix)
	}
}

func TestKeaOnBridgeServesEveryUplink(t *testing.T) {
	Require(t, "kea-dhcp6")
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{ExtraUplinks: []string{"up1", "up2"}})
	if topo.ServerIf != "br-s" {
		t.Fatalf("server interface %s, want br-s", topo.ServerIf)
	}
	kea := StartKeaT(t, topo, KeaOptions{ServerOptions: ServerOptions{RapidCommit: true}})
	seen := map[netip.Prefix]bool{}
	for _, up := range topo.Uplinks {
		d := requestPrefix(t, topo.CLI, up)
		if seen[d.prefix] {
			t.Errorf("%s got %v again", up, d.prefix)
		}
		seen[d.prefix] = true
		if !bytes.Equal(d.serverID, kea.ServerDUID()) {
			t.Errorf("%s: server id %x, want %x", up, d.serverID, kea.ServerDUID())
		}
	}
}

func TestDhcpdDelegatesPrefix(t *testing.T) {
	Require(t, "dhcpd")
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{})
	dhcpd := StartDhcpdT(t, topo, ServerOptions{T1: 12 * time.Second, T2: 24 * time.Second})

	d := requestPrefix(t, topo.CLI, "up0")
	pool := netip.MustParsePrefix("2001:db8:100::/40")
	if d.prefix.Bits() != 56 || !pool.Contains(d.prefix.Addr()) {
		t.Errorf("delegated %v, want a /56 from %v", d.prefix, pool)
	}
	if d.t1 != 12*time.Second || d.t2 != 24*time.Second {
		t.Errorf("T1, T2 = %v, %v; want 12s, 24s", d.t1, d.t2)
	}
	// dhcpd writes the lease after replying.
	WaitForT(t, 5*time.Second, "prefix in dhcpd lease file", func() (bool, error) {
		b, err := os.ReadFile(dhcpd.LeaseFile())
		return bytes.Contains(b, []byte("iaprefix "+d.prefix.String())), err
	})
}

func TestAddrsRoutesMonitor(t *testing.T) {
	Require(t)
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{Downstreams: []string{"lan0"}})
	ctx := t.Context()
	monitor := StartMonitorT(t, topo.CLI)

	if _, err := topo.CLI.IP(ctx, "-6", "addr", "add", "2001:db8::1/64", "dev", "lan0", "preferred_lft", "30", "valid_lft", "60"); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.CLI.IP(ctx, "-6", "route", "add", "unreachable", "2001:db8:100::/56", "proto", "static"); err != nil {
		t.Fatal(err)
	}
	// Even with DAD off the kernel flags a new address tentative until its
	// DAD work item runs; wait for that.
	var addrs []Addr
	WaitForT(t, 5*time.Second, "one usable global address on lan0", func() (bool, error) {
		var err error
		addrs, err = topo.CLI.GlobalAddrs(ctx, "lan0")
		return len(addrs) == 1 && !addrs[0].Tentative, fmt.Errorf("addresses %+v (err %v)", addrs, err)
	})
	a := addrs[0]
	if a.Prefix != netip.MustParsePrefix("2001:db8::1/64") || a.Scope != "global" || a.Deprecated ||
		a.ValidLft > 60*time.Second || a.ValidLft < 55*time.Second ||
		a.PreferredLft > 30*time.Second || a.PreferredLft < 25*time.Second {
		t.Errorf("lan0 address %+v", a)
	}
	all, err := topo.CLI.Addrs(ctx, "lan0")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(all, func(a Addr) bool { return a.Scope == "link" }); i < 0 || all[i].ValidLft != Forever {
		t.Errorf("lan0 link-local address missing or not forever: %+v", all)
	}

	routes, err := topo.CLI.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Route{Type: "unreachable", Dst: netip.MustParsePrefix("2001:db8:100::/56"), Dev: "lo", Protocol: "static", Table: "main", Metric: 1024}
	if !slices.Contains(routes, want) {
		t.Errorf("routes %+v lack %+v", routes, want)
	}
	if !slices.ContainsFunc(routes, func(r Route) bool { return r.Type == "local" && r.Table == "local" && r.Dst.Bits() == 128 }) {
		t.Errorf("routes %+v lack local host routes", routes)
	}

	before := time.Now()
	if _, err := topo.CLI.IP(ctx, "-6", "addr", "del", "2001:db8::1/64", "dev", "lan0"); err != nil {
		t.Fatal(err)
	}
	WaitForT(t, 5*time.Second, "deletion of 2001:db8::1/64 seen by monitor", func() (bool, error) {
		d := monitor.DeletedAddrs("lan0")
		return len(d) == 1 && d[0].Prefix == a.Prefix && !d[0].Time.Before(before), fmt.Errorf("deleted %+v", d)
	})
	events := monitor.AddrEvents("lan0")
	last := len(events) - 1
	for i, e := range events {
		if e.Prefix != a.Prefix || e.Deleted != (i == last) {
			t.Errorf("address events on lan0, want additions then one deletion: %+v", events)
			break
		}
	}
}

func TestLinkHelpers(t *testing.T) {
	Require(t)
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{Uplink: "wan", Downstreams: []string{"lan0"}})
	ctx := t.Context()
	if err := topo.AddVethDownstream(ctx, "lan1"); err != nil {
		t.Fatal(err)
	}
	if got := topo.Downstreams(); !slices.Equal(got, []string{"lan0", "lan1"}) {
		t.Errorf("downstreams %v", got)
	}
	carrier := func(ns *Netns, ifname string) string {
		b, err := ns.Run(ctx, "cat", "/sys/class/net/"+ifname+"/carrier")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if c := carrier(topo.CLI, "lan1"); c != "1" {
		t.Errorf("lan1 carrier %s, want 1", c)
	}
	if err := topo.LAN.SetLinkDown(ctx, "lan1-p"); err != nil {
		t.Fatal(err)
	}
	if c := carrier(topo.CLI, "lan1"); c != "0" {
		t.Errorf("lan1 carrier with peer down %s, want 0", c)
	}
	if err := topo.LAN.SetLinkUp(ctx, "lan1-p"); err != nil {
		t.Fatal(err)
	}
	if c := carrier(topo.CLI, "lan1"); c != "1" {
		t.Errorf("lan1 carrier with peer up again %s, want 1", c)
	}
	if err := topo.CLI.DeleteLink(ctx, "lan1"); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.LAN.Addrs(ctx, "lan1-p"); err == nil {
		t.Error("lan1-p survived deleting lan1")
	}
	if _, err := topo.CLI.Addrs(ctx, "wan"); err != nil {
		t.Errorf("uplink wan: %v", err)
	}
}

func TestClientDAD(t *testing.T) {
	Require(t)
	t.Parallel()
	topo := NewTopologyT(t, TopologyOptions{ClientDAD: true})
	linkLocal := func(tentative bool) func() (bool, error) {
		return func() (bool, error) {
			addrs, err := topo.CLI.Addrs(t.Context(), "up0")
			return slices.ContainsFunc(addrs, func(a Addr) bool { return a.Scope == "link" && a.Tentative == tentative }), fmt.Errorf("up0 has %+v (err %v)", addrs, err)
		}
	}
	// DAD takes at least one RetransTimer, a second (RFC 4861 section 10).
	WaitForT(t, 500*time.Millisecond, "tentative link-local on up0", linkLocal(true))
	WaitForT(t, 5*time.Second, "link-local on up0 after DAD", linkLocal(false))
	// The server side has DAD off.
	addrs, err := topo.SRV.Addrs(t.Context(), topo.ServerIf)
	if err != nil || slices.ContainsFunc(addrs, func(a Addr) bool { return a.Tentative }) {
		t.Errorf("server interface: %+v, %v", addrs, err)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	Require(t, "kea-dhcp6")
	t.Parallel()
	ctx := t.Context()
	topo, err := NewTopology(ctx, TopologyOptions{Downstreams: []string{"lan0"}})
	if err != nil {
		t.Fatal(err)
	}
	kea, err := StartKea(ctx, topo, KeaOptions{})
	if err != nil {
		t.Fatal(errors.Join(err, topo.Close()))
	}
	names := []string{topo.SRV.Name, topo.CLI.Name, topo.LAN.Name}
	for _, n := range names {
		if !strings.HasPrefix(n, fmt.Sprintf("lab%d-", os.Getpid())) {
			t.Errorf("namespace %s lacks the lab prefix and pid", n)
		}
	}
	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kea.proc.Done():
	default:
		t.Error("kea still runs after Close")
	}
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s left behind: %s", n, out)
		}
	}
	if _, err := os.Stat(topo.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind: %v", topo.Dir, err)
	}
	if err := topo.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNetnsNamesAreUnique(t *testing.T) {
	Require(t)
	t.Parallel()
	ctx := context.Background()
	a, err := NewNetns(ctx, "uniq", false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewNetns(ctx, "uniq", false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Name == b.Name {
		t.Errorf("two namespaces named %s", a.Name)
	}
	for _, ns := range []*Netns{a, b} {
		out, err := ns.Run(ctx, "sysctl", "-n", "net.ipv6.conf.default.accept_dad")
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("%s: default.accept_dad %q, %v; want 0", ns.Name, out, err)
		}
	}
}

func TestEnsureUser(t *testing.T) {
	Require(t, "useradd")
	const name = "_dhcp6leased"
	for range 2 { // the second call finds the user
		if err := EnsureUser(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		t.Errorf("user %s is root", name)
	}
}

func TestEnsureGroup(t *testing.T) {
	Require(t, "groupadd")
	var gids []uint32
	for range 2 { // the second call finds the group
		gid, err := EnsureGroup(t.Context(), SocketGroup)
		if err != nil {
			t.Fatal(err)
		}
		gids = append(gids, gid)
	}
	g, err := user.LookupGroup(SocketGroup)
	if err != nil {
		t.Fatal(err)
	}
	if g.Gid == "0" || fmt.Sprint(gids[0]) != g.Gid || gids[1] != gids[0] {
		t.Errorf("group %s: gid %s, EnsureGroup said %v", SocketGroup, g.Gid, gids)
	}
}

// TestBuildBinaries: both programs built static into a directory others
// may enter, and the daemon runs (-n checks a config and exits).
func TestBuildBinaries(t *testing.T) {
	b, err := BuildBinaries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(b.Dir)
	if st, err := os.Stat(b.Dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("directory %s: %v, %v; want mode 0755", b.Dir, st.Mode(), err)
	}
	for _, bin := range []string{b.Daemon, b.Ctl} {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		// A static binary asks for no dynamic loader.
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", bin)
			}
		}
		f.Close()
	}
	conf := filepath.Join(t.TempDir(), "conf")
	if err := os.WriteFile(conf, []byte("request prefix delegation on up0 for lan0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(b.Daemon, "-n", "-f", conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "configuration OK") {
		t.Errorf("%s -n: %v: %s", b.Daemon, err, out)
	}
}
