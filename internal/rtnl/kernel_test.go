package rtnl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// These tests change a real kernel, each inside a network namespace of its
// own holding a veth pair v0/v1, removed when the test ends.

// waitLimit bounds every wait for the kernel or ip(8).
const waitLimit = 10 * time.Second

// newNetns creates the test's namespace with lo up, duplicate address
// detection off (addresses are usable at once) and a veth pair v0/v1, both
// down.
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2")
	}
	name := fmt.Sprintf("rtnltest-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	run(t, "ip", "netns", "exec", name, "sysctl", "-qw",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	run(t, "ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	return name
}

// run runs a command and returns its standard output.
func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// dialIn opens a Conn inside the namespace.
func dialIn(t *testing.T, ns string) *Conn {
	t.Helper()
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nc, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(f.Fd()), Strict: true})
	if err != nil {
		t.Fatalf("dial rtnetlink in %s: %v", ns, err)
	}
	c := NewConn(nc)
	t.Cleanup(func() { c.Close() })
	return c
}

// eventsIn opens an event socket inside the namespace as the parent would
// (its network namespace is fixed when it is created), and reads it as the
// frontend does, from an *os.File.
func eventsIn(t *testing.T, ns string) *Events {
	t.Helper()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer self.Close()
	target, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns, err)
	}
	f, openErr := OpenEventSocket()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the test namespace: it stays locked and
		// ends with this goroutine.
		t.Fatalf("setns back: %v", err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		t.Fatal(openErr)
	}
	defer f.Close()
	ev, err := EventsFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	return ev
}

// waitEvent receives events until one satisfies match.
func waitEvent(ctx context.Context, t *testing.T, ev *Events, what string, match func(Event) bool) {
	t.Helper()
	for {
		evs, err := ev.Receive(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if slices.ContainsFunc(evs, match) {
			return
		}
	}
}

// ipAddr is one address in "ip -j addr" output.
type ipAddr struct {
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Preferred uint32 `json:"preferred_life_time"`
	Valid     uint32 `json:"valid_life_time"`
}

// lookupAddr returns addr as ip(8) shows it on dev, if it is there.
func lookupAddr(t *testing.T, ns, dev string, addr netip.Prefix) (ipAddr, bool) {
	t.Helper()
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns, "-j", "-6", "addr", "show", "dev", dev)), &links); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Local == addr.Addr().String() && a.PrefixLen == addr.Bits() {
				return a, true
			}
		}
	}
	return ipAddr{}, false
}

// checkLifetimes checks the lifetimes ip(8) shows, which count down from
// what was set.
func checkLifetimes(t *testing.T, ns string, addr netip.Prefix, preferred, valid uint32) {
	t.Helper()
	a, ok := lookupAddr(t, ns, "v0", addr)
	near := func(got, want uint32) bool { return got <= want && want-got <= 5 }
	if !ok || !near(a.Preferred, preferred) || !near(a.Valid, valid) {
		t.Errorf("ip addr shows %+v (present: %v), want preferred %d, valid %d", a, ok, preferred, valid)
	}
}

// monitor runs "ip monitor address" in the namespace and returns its lines.
func monitor(t *testing.T, ns string) <-chan string {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-o", "monitor", "address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		for s := bufio.NewScanner(out); s.Scan(); {
			lines <- s.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range lines {
		}
		cmd.Wait()
	})
	return lines
}

// readUntil returns the lines up to and including the first that contains
// all of parts.
func readUntil(t *testing.T, lines <-chan string, parts ...string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(waitLimit)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("ip monitor ended; saw %q", seen)
			}
			seen = append(seen, l)
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no ip monitor line with %q within %v; saw %q", parts, waitLimit, seen)
		}
	}
}

func TestKernelAddress(t *testing.T) {
	ns := newNetns(t)
	run(t, "ip", "-n", ns, "link", "set", "v1", "up")
	run(t, "ip", "-n", ns, "link", "set", "v0", "up")
	c := dialIn(t, ns)

	idx, err := c.LinkIndex("v0")
	if err != nil {
		t.Fatalf("LinkIndex: %v", err)
	}
	var links []struct {
		Ifindex int `json:"ifindex"`
	}
	if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns, "-j", "link", "show", "v0")), &links); err != nil || len(links) != 1 || links[0].Ifindex != idx {
		t.Fatalf("LinkIndex(v0) = %d; ip link shows %+v (%v)", idx, links, err)
	}
	if _, err := c.LinkIndex("nonesuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LinkIndex(nonesuch) error = %v, want ErrNotFound", err)
	}

	addr := netip.MustParsePrefix("2001:db8:1::1/64")
	if err := c.AddAddress(idx, addr, 3600, 7200); err != nil {
		t.Fatalf("AddAddress: %v", err)
	}
	checkLifetimes(t, ns, addr, 3600, 7200)
	// IFA_F_NOPREFIXROUTE is not set: the kernel adds the on-link route.
	if out := run(t, "ip", "-n", ns, "-6", "route", "show", "2001:db8:1::/64", "dev", "v0", "proto", "kernel"); !strings.Contains(out, "2001:db8:1::/64") {
		t.Errorf("no kernel route for 2001:db8:1::/64 on v0: %q", out)
	}

	// A renewal refreshes the lifetimes in place: ip monitor shows the
	// update and no deletion. A marker address added before and deleted
	// after brackets the monitor's view.
	lines := monitor(t, ns)
	marker := "2001:db8:ffff::1/128"
	for {
		// ip monitor subscribes after it starts: repeat the marker until it
		// is seen.
		run(t, "ip", "-n", ns, "addr", "replace", marker, "dev", "v0")
		select {
		case l := <-lines:
			if !strings.Contains(l, marker) {
				t.Fatalf("unexpected ip monitor line %q", l)
			}
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	if err := c.AddAddress(idx, addr, 1800, 3600); err != nil {
		t.Fatalf("AddAddress again: %v", err)
	}
	run(t, "ip", "-n", ns, "addr", "del", marker, "dev", "v0")
	seen := readUntil(t, lines, "Deleted", marker)
	updated := false
	for _, l := range seen {
		if strings.Contains(l, addr.String()) {
			if strings.HasPrefix(l, "Deleted") {
				t.Errorf("renewal deleted the address: %q", l)
			}
			updated = true
		}
	}
	if !updated {
		t.Errorf("ip monitor showed no update of %v: %q", addr, seen)
	}
	checkLifetimes(t, ns, addr, 1800, 3600)

	if err := c.AddAddress(idx, addr, 0xffffffff, 0xffffffff); err != nil {
		t.Fatalf("AddAddress forever: %v", err)
	}
	checkLifetimes(t, ns, addr, 0xffffffff, 0xffffffff)

	for i := range 2 {
		if err := c.DeleteAddress(idx, addr); err != nil {
			t.Errorf("DeleteAddress #%d: %v", i+1, err)
		}
	}
	if a, ok := lookupAddr(t, ns, "v0", addr); ok {
		t.Errorf("address still there after DeleteAddress: %+v", a)
	}
	if err := c.DeleteAddress(idx+100, addr); err != nil {
		t.Errorf("DeleteAddress on a missing link: %v", err)
	}
}

func TestKernelUnreachable(t *testing.T) {
	ns := newNetns(t)
	c := dialIn(t, ns)
	ours := netip.MustParsePrefix("2001:db8:1200::/56")
	theirs := netip.MustParsePrefix("2001:db8:9900::/56")
	show := func(proto string) string {
		return run(t, "ip", "-n", ns, "-6", "route", "show", "type", "unreachable", "proto", proto)
	}

	for i := range 2 {
		if err := c.AddUnreachable(ours); err != nil {
			t.Fatalf("AddUnreachable #%d: %v", i+1, err)
		}
	}
	if out := show("214"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "unreachable "+ours.String()+" ") {
		t.Errorf("ip route shows %q, want one unreachable route for %v", out, ours)
	}

	run(t, "ip", "-n", ns, "-6", "route", "add", "unreachable", theirs.String(), "proto", "static")
	got, err := c.ListUnreachable()
	if err != nil || len(got) != 1 || got[0] != ours {
		t.Errorf("ListUnreachable = %v, %v; want [%v]", got, err, ours)
	}

	for i := range 2 {
		if err := c.DeleteUnreachable(ours); err != nil {
			t.Errorf("DeleteUnreachable #%d: %v", i+1, err)
		}
	}
	if out := show("214"); out != "" {
		t.Errorf("ip route still shows %q", out)
	}
	// Not ours: the request names our protocol, so nothing is removed.
	if err := c.DeleteUnreachable(theirs); err != nil {
		t.Errorf("DeleteUnreachable of another protocol's route: %v", err)
	}
	if out := show("static"); !strings.Contains(out, theirs.String()) {
		t.Errorf("another protocol's route was removed: ip route shows %q", out)
	}
	if got, err := c.ListUnreachable(); err != nil || len(got) != 0 {
		t.Errorf("ListUnreachable = %v, %v; want none", got, err)
	}
}

func TestKernelEvents(t *testing.T) {
	ns := newNetns(t)
	ev := eventsIn(t, ns)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()

	evs, err := ev.Dump(ctx)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	var v0 Link
	names := map[string]bool{}
	for _, e := range evs {
		if l, ok := e.(Link); ok {
			names[l.Name] = true
			if l.Name == "v0" {
				v0 = l
			}
		}
	}
	if !names["lo"] || !names["v0"] || !names["v1"] || v0.Up() {
		t.Fatalf("Dump = %+v, want lo, v1 and v0 (down)", evs)
	}
	if !slices.ContainsFunc(evs, func(e Event) bool { a, ok := e.(Addr); return ok && a.Prefix.Addr() == netip.IPv6Loopback() }) {
		t.Errorf("Dump = %+v, want lo's ::1", evs)
	}
	isV0 := func(match func(Link) bool) func(Event) bool {
		return func(e Event) bool { l, ok := e.(Link); return ok && l.Index == v0.Index && match(l) }
	}

	run(t, "ip", "-n", ns, "link", "set", "v1", "up")
	run(t, "ip", "-n", ns, "link", "set", "v0", "up")
	waitEvent(ctx, t, ev, "v0 up and running", isV0(func(l Link) bool { return l.Up() && l.Running() }))
	run(t, "ip", "-n", ns, "link", "set", "v1", "down")
	waitEvent(ctx, t, ev, "v0 without carrier", isV0(func(l Link) bool { return l.Up() && !l.Running() }))
	run(t, "ip", "-n", ns, "link", "set", "v0", "down")
	waitEvent(ctx, t, ev, "v0 down", isV0(func(l Link) bool { return !l.Up() }))

	addr := netip.MustParsePrefix("2001:db8::1/64")
	isAddr := func(deleted bool) func(Event) bool {
		return func(e Event) bool {
			a, ok := e.(Addr)
			return ok && a.Index == v0.Index && a.Prefix == addr && a.Deleted == deleted
		}
	}
	run(t, "ip", "-n", ns, "addr", "add", addr.String(), "dev", "v0")
	waitEvent(ctx, t, ev, "address added", isAddr(false))
	run(t, "ip", "-n", ns, "addr", "del", addr.String(), "dev", "v0")
	waitEvent(ctx, t, ev, "address deleted", isAddr(true))

	run(t, "ip", "-n", ns, "link", "del", "v0")
	waitEvent(ctx, t, ev, "v0 deleted", isV0(func(l Link) bool { return l.Deleted }))
}

func TestKernelLinkLocal(t *testing.T) {
	ns := newNetns(t)
	c := dialIn(t, ns)
	ev := eventsIn(t, ns)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	// Only the addresses added below, and DAD for them.
	run(t, "ip", "netns", "exec", ns, "sysctl", "-qw",
		"net.ipv6.conf.v0.addr_gen_mode=1", "net.ipv6.conf.v0.accept_dad=1")
	run(t, "ip", "-n", ns, "link", "set", "v0", "up")
	idx, err := c.LinkIndex("v0")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.LinkLocal(idx); !errors.Is(err, ErrNotFound) {
		t.Errorf("LinkLocal without addresses: error %v, want ErrNotFound", err)
	}

	run(t, "ip", "-n", ns, "addr", "add", "fe80::d/64", "dev", "v0", "preferred_lft", "0")
	run(t, "ip", "-n", ns, "addr", "add", "fe80::1/64", "dev", "v0")
	// v1 is down, so v0 has no carrier and DAD cannot run yet.
	got, tentative, err := c.LinkLocal(idx)
	if err != nil || got != netip.MustParseAddr("fe80::1") || !tentative {
		t.Errorf("LinkLocal = %v, %v, %v; want fe80::1, tentative", got, tentative, err)
	}

	run(t, "ip", "-n", ns, "link", "set", "v1", "up")
	waitEvent(ctx, t, ev, "fe80::1 past DAD", func(e Event) bool {
		a, ok := e.(Addr)
		return ok && a.Prefix.Addr() == netip.MustParseAddr("fe80::1") && !a.Tentative()
	})
	got, tentative, err = c.LinkLocal(idx)
	if err != nil || got != netip.MustParseAddr("fe80::1") || tentative {
		t.Errorf("LinkLocal = %v, %v, %v; want fe80::1, not tentative", got, tentative, err)
	}
}
