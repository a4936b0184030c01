package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// bindTimeout bounds a first bind: Kea answers in about a millisecond, the
// rest is the RFC 8415 retransmission schedule if a first message is lost.
const bindTimeout = 15 * time.Second

// server abstracts Kea and ISC dhcpd for the scenarios both must pass.
type server struct {
	name  string
	start func(t *testing.T, topo *lab.Topology, opts lab.ServerOptions)
	// leases reads the server's lease file; nil when the lab cannot (ISC
	// dhcpd), and the daemon's own lease file stands in.
	leases func() ([]lab.ServerLease, error)
}

// prefix waits until iaid holds a delegated prefix and returns it, from
// the server's records when it can.
func (s *server) prefix(t *testing.T, d *daemon, iaid uint32) netip.Prefix {
	t.Helper()
	if s.leases != nil {
		return serverPrefix(t, s.leases, iaid)
	}
	var got netip.Prefix
	lab.WaitForT(t, 10*time.Second, fmt.Sprintf("daemon lease for IAID %#x", iaid), func() (bool, error) {
		for _, ia := range d.lease("up0").IAs {
			if ia.IAID == iaid {
				got = ia.Prefix
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

func kea() *server {
	s := &server{name: "kea"}
	s.start = func(t *testing.T, topo *lab.Topology, opts lab.ServerOptions) {
		k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: opts})
		s.leases = k.Leases
	}
	return s
}

func dhcpd() *server {
	s := &server{name: "dhcpd"}
	s.start = func(t *testing.T, topo *lab.Topology, opts lab.ServerOptions) {
		lab.Require(t, "dhcpd")
		lab.StartDhcpdT(t, topo, opts)
	}
	return s
}

// servers returns the constructors of the servers the scenarios run
// against. Each subtest makes its own: a server remembers its lease file.
func servers() []func() *server { return []func() *server{kea, dhcpd} }

// messageTypes lists the DHCPv6 message types a capture saw, in order.
func messageTypes(c *lab.Capture) []string {
	var types []string
	for _, p := range c.Packets() {
		types = append(types, p.Type)
	}
	return types
}

// TestExchange checks SPEC 6's two ways to bind: Solicit, Advertise,
// Request, Reply; and with rapid commit on both sides, Solicit and Reply
// (RFC 8415 section 18.2.1).
func TestExchange(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	for _, newServer := range servers() {
		for _, rapid := range []bool{false, true} {
			srv := newServer()
			t.Run(fmt.Sprintf("%s/rapid=%v", srv.name, rapid), func(t *testing.T) {
				t.Parallel()
				topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
				srv.start(t, topo, lab.ServerOptions{RapidCommit: rapid})
				capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
				conf := "request prefix delegation on up0 for lan0\n"
				if rapid {
					conf = "request rapid commit\n" + conf
				}
				d := newDaemon(t, topo, "solicit delay 0\n"+conf)
				iaid := d.plan().Uplinks[0].IAs[0].IAID
				addr := d.waitAnyAddr("lan0", bindTimeout)
				pfx := srv.prefix(t, d, iaid)
				if want := sub64(pfx, 0); addr.Prefix != want {
					t.Fatalf("lan0 has %v, want %v (server delegated %v)", addr.Prefix, want, pfx)
				}
				want := []string{"solicit", "advertise", "request", "reply"}
				if rapid {
					want = []string{"solicit", "reply"}
				}
				lab.WaitForT(t, 5*time.Second, fmt.Sprintf("capture %v", want), func() (bool, error) {
					return strings.Join(messageTypes(capture), " ") == strings.Join(want, " "), nil
				})
			})
		}
	}
}

// TestPlan checks SPEC 5 and 7 on the kernel: two IA_PDs on one uplink,
// two downstreams each, every address where the plan puts it with the
// lease's lifetimes, and an unreachable route of ours per delegated prefix.
func TestPlan(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	for _, newServer := range servers() {
		srv := newServer()
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			downs := []string{"lan0", "lan1", "lan2", "lan3"}
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: downs})
			srv.start(t, topo, lab.ServerOptions{RapidCommit: true})
			d := newDaemon(t, topo, `solicit delay 0
request rapid commit
request prefix delegation on up0 for { lan0 lan1 }
request prefix delegation on up0 for { lan2 lan3 }
`)
			ias := d.plan().Uplinks[0].IAs
			p0 := srv.prefix(t, d, ias[0].IAID)
			p1 := srv.prefix(t, d, ias[1].IAID)
			if p0 == p1 {
				t.Fatalf("both IA_PDs got %v", p0)
			}
			want := map[string]netip.Prefix{"lan0": sub64(p0, 0), "lan1": sub64(p0, 1), "lan2": sub64(p1, 0), "lan3": sub64(p1, 1)}
			for _, ifname := range downs {
				a := d.waitAddr(ifname, want[ifname], bindTimeout)
				// Lifetimes count down from the server's 30 s / 60 s.
				if a.PreferredLft > 30*time.Second || a.PreferredLft < 20*time.Second ||
					a.ValidLft > 60*time.Second || a.ValidLft < 50*time.Second {
					t.Errorf("%s: %v preferred %v valid %v, want about 30 s and 60 s", ifname, a.Prefix, a.PreferredLft, a.ValidLft)
				}
				if n := len(d.globalAddrs(ifname)); n != 1 {
					t.Errorf("%s has %d global addresses, want 1", ifname, n)
				}
			}
			lab.WaitForT(t, 5*time.Second, fmt.Sprintf("unreachable routes for %v and %v", p0, p1), func() (bool, error) {
				routes, err := topo.CLI.Routes(t.Context())
				found := 0
				for _, r := range routes {
					if r.Type == "unreachable" && (r.Dst == p0 || r.Dst == p1) && r.Protocol == fmt.Sprint(rtnl.RouteProtocol) {
						found++
					}
				}
				return found == 2, err
			})
		})
	}
}

// TestRenewInPlace checks that Renew at T1 refreshes the lifetimes of the
// same addresses without removing them (SPEC 7: replace semantics).
func TestRenewInPlace(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	for _, newServer := range servers() {
		srv := newServer()
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
			srv.start(t, topo, lab.ServerOptions{RapidCommit: true, Preferred: 12 * time.Second, Valid: 24 * time.Second, T1: 4 * time.Second, T2: 8 * time.Second})
			monitor := lab.StartMonitorT(t, topo.CLI)
			capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
			d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n")
			first := d.waitAnyAddr("lan0", bindTimeout)
			bound := time.Now()
			// Two renewals: T1 is 4 s after each Reply.
			var renewed time.Time
			lab.WaitForT(t, 15*time.Second, "two Renew/Reply exchanges", func() (bool, error) {
				d.checkAlive()
				n := 0
				for _, p := range capture.Packets() {
					if p.Type == "renew" {
						n++
					}
					if n == 2 && p.Type == "reply" {
						renewed = p.Time
						return true, nil
					}
				}
				return false, nil
			})
			if early := renewed.Sub(bound); early < 7*time.Second {
				t.Errorf("second renew reply %v after bind, want after 2*T1", early)
			}
			// The lifetimes were refreshed: more valid time left now than a
			// never-renewed address would have.
			a := d.waitAddr("lan0", first.Prefix, time.Second)
			if left := 24*time.Second - time.Since(bound); a.ValidLft <= left {
				t.Errorf("lan0 valid %v after renewals, not refreshed (would be %v)", a.ValidLft, left)
			}
			for _, ifname := range []string{"lan0", "lan1"} {
				if del := monitor.DeletedAddrs(ifname); len(del) > 0 {
					t.Errorf("%s: addresses deleted during renew: %v", ifname, del)
				}
			}
		})
	}
}

// TestRebindAndExpiry: the server stops, so Renew goes unanswered and a
// Rebind follows at T2; a server with a different DUID answers the Rebind
// and the lease goes on; when no server comes back, the addresses and the
// route go when the valid lifetime ends (SPEC 6, 7).
func TestRebindAndExpiry(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	opts := lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true, Preferred: 8 * time.Second, Valid: 16 * time.Second, T1: 3 * time.Second, T2: 6 * time.Second}}
	k := lab.StartKeaT(t, topo, opts)
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	addr := d.waitAnyAddr("lan0", bindTimeout)
	pfx := netip.PrefixFrom(addr.Prefix.Addr(), 56).Masked()
	firstServer := d.lease("up0").ServerID
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	lab.WaitForT(t, 10*time.Second, "a Rebind after T2", func() (bool, error) {
		d.checkAlive()
		_, ok := capture.First("rebind", stopped)
		return ok, nil
	})
	if p, _ := capture.First("renew", stopped); p.Time.IsZero() {
		t.Error("no Renew before the Rebind")
	}
	// Another server (DUID-EN instead of DUID-LL) with the same leases.
	opts.ServerID = lab.ServerID{Enterprise: 32473, Identifier: []byte("other-server")}
	if err := k.Restart(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	lab.WaitForT(t, 20*time.Second, "lease rebound from the new server", func() (bool, error) {
		d.checkAlive()
		l := d.lease("up0")
		return len(l.IAs) == 1 && l.IAs[0].Prefix == pfx && string(l.ServerID) != string(firstServer), nil
	})
	if a := d.waitAddr("lan0", addr.Prefix, time.Second); a.ValidLft < 10*time.Second {
		t.Errorf("lan0 valid %v after rebind, want refreshed to about 16 s", a.ValidLft)
	}
	// Gone for good: the lease ends at the valid lifetime.
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	lab.WaitForT(t, 25*time.Second, "addresses and route gone at the valid lifetime", func() (bool, error) {
		d.checkAlive()
		routes, err := topo.CLI.Routes(t.Context())
		for _, r := range routes {
			if r.Dst == pfx {
				return false, err
			}
		}
		return len(d.globalAddrs("lan0")) == 0, err
	})
}

// TestRestartAfterKill: the daemon is SIGKILLed while bound and started
// again: it Rebinds the same prefix from its lease file (Rebooting, SPEC
// 6, 8), and the downstream address is never removed in between.
func TestRestartAfterKill(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	monitor := lab.StartMonitorT(t, topo.CLI)
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	addr := d.waitAnyAddr("lan0", bindTimeout)
	children := childPids(t, d.proc.Pid())
	if err := d.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.proc.Done()
	lab.WaitForT(t, 5*time.Second, "children gone with the parent", func() (bool, error) {
		for _, pid := range children {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
	restarted := time.Now()
	d.start()
	lab.WaitForT(t, 10*time.Second, "a Rebind and its Reply after the restart", func() (bool, error) {
		d.checkAlive()
		_, ok := capture.First("reply", restarted)
		return ok, nil
	})
	if p, ok := capture.First("solicit", restarted); ok {
		t.Errorf("solicited after restart (%s), want a Rebind of the held prefix", p.Line)
	}
	if _, ok := capture.First("rebind", restarted); !ok {
		t.Error("no Rebind after restart")
	}
	a := d.waitAddr("lan0", addr.Prefix, 5*time.Second)
	if a.ValidLft < 50*time.Second {
		t.Errorf("lan0 valid %v after rebind, want refreshed to about 60 s", a.ValidLft)
	}
	if del := monitor.DeletedAddrs("lan0"); len(del) > 0 {
		t.Errorf("lan0 address deleted across the restart: %v", del)
	}
}

// childPids returns the pids whose parent is pid.
func childPids(t testing.TB, pid int) []int {
	t.Helper()
	var out []int
	lab.WaitForT(t, 5*time.Second, fmt.Sprintf("two children of %d", pid), func() (bool, error) {
		out = out[:0]
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return false, err
		}
		for _, e := range entries {
			var child int
			if _, err := fmt.Sscan(e.Name(), &child); err != nil {
				continue
			}
			if st, err := procStatus(child); err == nil && st["PPid"] == fmt.Sprint(pid) {
				out = append(out, child)
			}
		}
		return len(out) == 2, nil
	})
	return out
}

// procStatus reads /proc/PID/status into its fields.
func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// TestPrivileges: three processes; frontend and engine run as the
// unprivileged user, chrooted, with no capabilities and no_new_privs
// (SPEC 2).
func TestPrivileges(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	d.waitAnyAddr("lan0", bindTimeout)
	parent, err := procStatus(d.proc.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if uid := strings.Fields(parent["Uid"])[0]; uid != "0" {
		t.Errorf("parent uid %s, want 0", uid)
	}
	for _, pid := range childPids(t, d.proc.Pid()) {
		st, err := procStatus(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range append(strings.Fields(st["Uid"]), strings.Fields(st["Gid"])...) {
			if id == "0" {
				t.Errorf("child %d (%s): Uid %q Gid %q: root left", pid, st["Name"], st["Uid"], st["Gid"])
			}
		}
		for k, want := range map[string]string{"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "NoNewPrivs": "1"} {
			if st[k] != want {
				t.Errorf("child %d (%s): %s %s, want %s", pid, st["Name"], k, st[k], want)
			}
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || root != "/var/empty" {
			t.Errorf("child %d: root %q (%v), want chroot /var/empty", pid, root, err)
		}
	}
}

// TestShowInterface: `dhcp6leasectl show interface` prints the state, each
// IA_PD prefix, the downstream address and the remaining lease.
func TestShowInterface(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	addr := d.waitAnyAddr("lan0", bindTimeout)
	pfx := serverPrefix(t, k.Leases, d.plan().Uplinks[0].IAs[0].IAID)
	var out string
	lab.WaitForT(t, 5*time.Second, "show interface up0 Bound", func() (bool, error) {
		var err error
		out, err = d.ctl("show", "interface", "up0")
		return err == nil && strings.HasPrefix(out, "up0 [Bound]\n"), nil
	})
	for _, want := range []string{
		fmt.Sprintf("\tIA_PD 0: %v", pfx),
		fmt.Sprintf("\t\tlan0 %v\n", addr.Prefix),
		"\tlease ",
		"\tserver 00:03:00:01:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show interface up0 lacks %q:\n%s", want, out)
		}
	}
	if out, err := d.ctl("show", "interface", "nosuch0"); err == nil || out != "dhcp6leasectl: unknown interface nosuch0\n" {
		t.Errorf("show interface nosuch0: %v, %q; want one error line", err, out)
	}
	// One Solicit with rapid commit, one Reply, nothing dropped.
	stats, err := d.ctl("show", "stats", "up0")
	if err != nil {
		t.Fatalf("show stats: %v: %s", err, stats)
	}
	want := "up0\n\tsent:\n\t\tSOLICIT                        1\n\treceived:\n\t\tREPLY                          1\n\tdropped: none\n\tretransmissions: 0\n\tput back after removal: 0 addresses, 0 routes\n"
	if stats != want {
		t.Errorf("show stats up0:\n%s\nwant:\n%s", stats, want)
	}
	// SIGUSR1 logs the same counters (SPEC 11).
	if err := d.proc.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	d.waitLog("msg=stats proc=engine uplink=up0 sent=SOLICIT:1 received=REPLY:1", 1, 5*time.Second)
}

// TestChildDeath: when a child dies, the parent says which and how, and
// exits non-zero; the other child follows; nothing is deconfigured (SPEC 2).
func TestChildDeath(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	for _, victim := range []string{"engine", "frontend"} {
		t.Run(victim, func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
			lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
			d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
			addr := d.waitAnyAddr("lan0", bindTimeout)
			procs := processes(t, d)
			pid := procs[victim]
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.proc.Done():
			case <-time.After(5 * time.Second):
				ps, _ := exec.Command("ps", "-o", "pid,ppid,stat,wchan:20,args", "--ppid", fmt.Sprint(d.proc.Pid()), "-p", fmt.Sprint(d.proc.Pid())).CombinedOutput()
				t.Fatalf("parent still running 5 s after the child died:\n%s", ps)
			}
			if err := d.proc.Wait(); err == nil {
				t.Error("parent exited 0 after a child died")
			}
			if out := d.proc.Output(); !strings.Contains(out, victim+" exited: signal: killed") {
				t.Errorf("parent output does not name the dead child:\n%s", out)
			}
			lab.WaitForT(t, 5*time.Second, "the other child gone", func() (bool, error) {
				for _, c := range []int{procs["engine"], procs["frontend"]} {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d", c)); err == nil {
						return false, nil
					}
				}
				return true, nil
			})
			if got := d.globalAddrs("lan0"); len(got) != 1 || got[0].Prefix != addr.Prefix {
				t.Errorf("lan0 after the crash: %v, want %v kept", got, addr.Prefix)
			}
		})
	}
}
