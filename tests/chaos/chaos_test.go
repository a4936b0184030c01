package chaos

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// The scenarios of issue 10 item 5, one test each on its own lab. Their
// bounds sit beside the disturbances (disturb_test.go), which the soak
// shares.

// TestPortHeld (scenario 1): port 546 taken by another program when the
// daemon starts. While it is held, `dhcp6leasectl show interface` and its
// JSON say why, naming the holder; the daemon retries with backoff and
// binds once the port is free, without the operator; `request` makes it
// try at once.
func TestPortHeld(t *testing.T) {
	t.Run("backoff", func(t *testing.T) {
		t.Parallel()
		r := newLab(t, lab.TopologyOptions{}, lab.KeaOptions{ServerOptions: keaLifetimes})
		port := holdPort(t, r.topo.CLI)
		r.d = startDaemon(t, r.topo, baseConf)
		started := time.Now()
		r.checkNotBound(r.checkHeld())
		time.Sleep(time.Until(started.Add(portHold))) // the disturbance's stated length
		port.Close()
		released := time.Now()
		r.d.waitBound(waitTimeout, netip.Prefix{})
		converged(t, fmt.Sprintf("port 546 held %v from the daemon's start: Bound after the release", portHold),
			time.Since(released), portBound)
		if s, err := r.d.status(); err != nil || s.SocketError != nil {
			t.Errorf("bound, yet: %v, socket_error %+v", err, s.SocketError)
		}
	})
	t.Run("request", func(t *testing.T) {
		t.Parallel()
		r := newLab(t, lab.TopologyOptions{}, lab.KeaOptions{ServerOptions: keaLifetimes})
		port := holdPort(t, r.topo.CLI)
		r.d = startDaemon(t, r.topo, baseConf)
		r.checkNotBound(r.checkHeld())
		s := r.waitRetry()
		port.Close()
		took := r.request("after the port was freed")
		r.d.waitBound(time.Second, netip.Prefix{}) // the kernel agrees
		converged(t, "port 546 held from the daemon's start, freed, then dhcp6leasectl request up0: Bound", took, requestBound)
		r.checkBeforeRetry(s, took)
	})
}

// checkNotBound fails the test when a daemon that never had a socket
// claims a lease.
func (r *rig) checkNotBound(s status) {
	r.t.Helper()
	if s.State == "Bound" || s.prefix().IsValid() {
		r.t.Errorf("bound without ever having a socket: %+v", s)
	}
}

// TestAddressFlush (scenario 2): `ip -6 addr flush dev lan0 scope global`
// removes the plan's address; it is back within repairBound with the
// lease's lifetimes, and dhcp6leasectl counts it.
func TestAddressFlush(t *testing.T) {
	t.Parallel()
	r := newRig(t, lab.TopologyOptions{}, keaLifetimes, baseConf)
	back := r.flushAddresses()
	if back.Deprecated || back.ValidLft <= 0 || back.ValidLft > keaLifetimes.Valid || back.PreferredLft > keaLifetimes.Preferred {
		t.Errorf("put back as %+v, want the lease's lifetimes (preferred <= %v, valid <= %v)", back, keaLifetimes.Preferred, keaLifetimes.Valid)
	}
	r.checkRepaired(1, 0, "1 address, 0 routes")
}

// TestRouteDelete (scenario 3): the unreachable route of the delegated
// prefix (the daemon's protocol 214) deleted by hand is back within
// repairBound, and counted.
func TestRouteDelete(t *testing.T) {
	t.Parallel()
	r := newRig(t, lab.TopologyOptions{}, keaLifetimes, baseConf)
	if ok, err := kernelRoute(t.Context(), r.topo, r.pfx); !ok {
		t.Fatal(err)
	}
	r.deleteRoute()
	r.checkRepaired(0, 1, "0 addresses, 1 route")
}

// checkRepaired waits until dhcp6leasectl counts addrs addresses and
// routes routes put back, in JSON and text (text: "1 address, 0 routes").
func (r *rig) checkRepaired(addrs, routes uint64, text string) {
	r.t.Helper()
	r.d.waitStatus(5*time.Second, fmt.Sprintf("repaired %d addresses, %d routes", addrs, routes), func(s status) bool {
		return s.Repaired.Addresses == addrs && s.Repaired.Routes == routes && s.Repaired.Last != nil
	})
	out, err := r.d.ctl("show", "interface", uplink)
	if want := "\tput back after removal: " + text + ", last "; err != nil || !strings.Contains(out, want) {
		r.t.Errorf("show interface up0 lacks %q: %v\n%s", want, err, out)
	}
}

// TestIPv6Toggled: IPv6 switched off on lan0 and on again, by sysctl and
// by an MTU below 1280; the plan's address is back within repairBound of
// the switch on, and the refusal meanwhile says why. On the uplink the
// same takes its link-local address and socket (a flap the link-plug
// monitor ignores) and the IA_NA's address ("request address"), which is
// back within repairBound too.
func TestIPv6Toggled(t *testing.T) {
	for _, sw := range ipv6Switches(downstream) {
		t.Run("lan0 "+sw.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, lab.TopologyOptions{}, keaLifetimes, baseConf)
			r.toggleIPv6(sw, downstream, planAddr(r.pfx))
		})
	}
	t.Run("up0", func(t *testing.T) {
		t.Parallel()
		pool := netip.MustParsePrefix("2001:db8:0:1::1000/116")
		r := newLab(t, lab.TopologyOptions{}, lab.KeaOptions{ServerOptions: keaLifetimes, AddressPool: pool})
		r.bind("request address on up0\n" + baseConf)
		var na netip.Prefix
		lab.WaitForT(t, waitTimeout, "an address from the pool on up0", func() (bool, error) {
			addrs, err := r.topo.CLI.GlobalAddrs(t.Context(), uplink)
			for _, a := range addrs {
				if pool.Contains(a.Prefix.Addr()) && a.Prefix.Bits() == 128 {
					na = a.Prefix
					return true, nil
				}
			}
			return false, fmt.Errorf("up0 has %v (%v)", addrs, err)
		})
		r.toggleIPv6(ipv6Switches(uplink)[0], uplink, na)
	})
}

// TestLinkLocalChange (scenario 4): the uplink's fe80:: address removed
// and another added: a socket on the new address at once, and the next
// exchange (`dhcp6leasectl request`) goes out from it and reaches Bound.
func TestLinkLocalChange(t *testing.T) {
	lab.Require(t, "tcpdump")
	t.Parallel()
	r := newRig(t, lab.TopologyOptions{}, keaLifetimes, baseConf)
	capture := lab.StartCaptureT(t, r.topo.SRV, r.topo.ServerIf)
	next := netip.MustParsePrefix("fe80::c4a0:5/64")
	old, requested := r.replaceLinkLocal(next)
	// tcpdump hands packets over in batches: wait for the exchange.
	lab.WaitForT(t, 5*time.Second, fmt.Sprintf("an exchange from %v on the wire", next.Addr()), func() (bool, error) {
		var from, to bool
		for _, p := range capture.Packets() {
			if !p.Time.Before(requested) {
				from = from || p.Src.Addr() == next.Addr()
				to = to || (p.Type == "reply" && p.Dst.Addr() == next.Addr())
			}
		}
		return from && to, fmt.Errorf("sent %v, answered %v: %v", from, to, capture.Packets())
	})
	for _, p := range capture.Packets() {
		if !p.Time.Before(requested) && p.Src.Addr() == old.Addr() {
			t.Errorf("sent from the removed address: %s", p.Line)
		}
	}
}

// TestUplinkRecreated (scenario 5): up0 deleted and created again under
// its name is a new interface; the daemon binds it again, to the same
// prefix, and lan0 keeps its address throughout.
func TestUplinkRecreated(t *testing.T) {
	t.Parallel()
	r := newRig(t, lab.TopologyOptions{Bridge: true}, keaLifetimes, baseConf)
	r.recreateUplink()
	r.checkNeverRemoved(r.pfx)
}

// TestServerGone (scenario 6): Kea stopped for longer than T2 and less
// than the valid lifetime, then restarted with its lease file: the daemon
// is Bound again with the same prefix, and lan0's address and the route
// were never removed meanwhile.
func TestServerGone(t *testing.T) {
	t.Parallel()
	r := newRig(t, lab.TopologyOptions{}, goneLifetimes, baseConf)
	r.stopServer()
	r.checkNeverRemoved(r.pfx)
}

// TestNewPrefix (scenario 7): Kea restarted with another pd-pool. lan0
// gets the plan's address from the new prefix, the old one is deprecated
// or removed (SPEC 6, RFC 8415 section 18.2.10.1), the unreachable route
// covers the new prefix, and the hook hears of the change.
func TestNewPrefix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	record := filepath.Join(dir, "events")
	r := newRig(t, lab.TopologyOptions{}, goneLifetimes, fmt.Sprintf("script %q\n%s", writeHook(t, dir, record), baseConf))
	old := r.renumber(pools[1])
	oldAddr, present, _ := kernelAddr(t.Context(), r.topo, downstream, planAddr(old))
	switch {
	case !present:
		t.Logf("the old address %v was removed", planAddr(old))
	case oldAddr.PreferredLft == 0:
		t.Logf("the old address %v is deprecated, valid %v", planAddr(old), oldAddr.ValidLft)
	default:
		t.Errorf("the old address is still preferred: %+v", oldAddr)
	}
	if ok, err := kernelRoute(t.Context(), r.topo, r.pfx); !ok {
		t.Error(err)
	}
	env := waitHook(t, record, func(env string) bool {
		return strings.Contains(env, "\nDHCP6LEASED_PREFIXES="+r.pfx.String()+",") &&
			strings.Contains(env, "\nDHCP6LEASED_OLD_PREFIXES="+old.String()+",")
	})
	if !strings.Contains(env, "\nDHCP6LEASED_DOWNSTREAMS=lan0="+planAddr(r.pfx).String()) {
		t.Errorf("the hook's event for the change lacks lan0's new address:\n%s", env)
	}
	t.Logf("hook event for the change: %s", hookEvent(env))
}

// writeHook writes a hook script that appends each event's environment to
// record, and returns its path. The daemon runs only a root-owned script
// not writable by group or others (docs/HOOKS.md).
func writeHook(t *testing.T, dir, record string) string {
	t.Helper()
	path := filepath.Join(dir, "hook")
	script := fmt.Sprintf("#!/bin/sh\n{ env | sort; echo ---; } >> %q\n", record)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// waitHook waits until the record holds an event for which match holds,
// and returns its environment, each line after a newline.
func waitHook(t *testing.T, record string, match func(env string) bool) string {
	t.Helper()
	var found string
	lab.WaitForT(t, 10*time.Second, "a hook event for the change", func() (bool, error) {
		b, err := os.ReadFile(record)
		for _, env := range strings.Split(string(b), "---\n") {
			if match("\n" + env) {
				found = "\n" + env
				return true, nil
			}
		}
		return false, fmt.Errorf("events so far (%v):\n%s", err, b)
	})
	return found
}

// hookEvent is the DHCP6LEASED_EVENT of an event's environment.
func hookEvent(env string) string {
	_, rest, _ := strings.Cut(env, "\nDHCP6LEASED_EVENT=")
	ev, _, _ := strings.Cut(rest, "\n")
	return ev
}

// restartBound bounds SIGKILL -> Bound again after the restart: the
// others see EOF on their channels and exit, the parent within its 0.5 s
// wait for the second child (parent/children.go); the restart re-binds
// from the lease file with a Rebind (Rebooting) that Kea answers in
// milliseconds, one lost first message costing its IRT, 1 s.
const restartBound = 3 * time.Second

// TestKilled (scenario 8): SIGKILL of the frontend, the engine or the
// parent: the others exit, the daemon's exit is a failure, so systemd's
// Restart=on-failure (played by the test) starts it again on the same
// state directory, and it is Bound again to the same prefix; lan0's
// address was never removed.
func TestKilled(t *testing.T) {
	for _, victim := range []string{"frontend", "engine", "parent"} {
		t.Run(victim, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, lab.TopologyOptions{}, keaLifetimes, baseConf)
			pids := r.d.pids()
			killed := time.Now()
			kill(t, victim, pids[victim])
			exit := r.d.restartOnFailure(pids, 5*time.Second)
			exited := time.Since(killed)
			if dead := r.d.runs[len(r.d.runs)-2].Output(); victim != "parent" && !strings.Contains(dead, victim+" exited: signal: killed") {
				t.Errorf("the parent's log does not name the dead %s:\n%s", victim, dead)
			}
			r.d.waitLog(waitTimeout, 0, "msg=bound")
			r.d.waitBound(waitTimeout, r.pfx)
			converged(t, fmt.Sprintf("SIGKILL %s: all exited after %v (%v), restarted: Bound to %v again",
				victim, exited.Round(time.Millisecond), exit, r.pfx), time.Since(killed), restartBound)
			r.checkNeverRemoved(r.pfx)
		})
	}
}
