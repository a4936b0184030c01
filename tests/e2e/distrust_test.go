package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestCompromisedEngine plays a compromised engine: it takes a copy of the
// engine's end of its channel to the parent (pidfd_getfd, as a debugger
// could) and sends what the engine could send once subverted. Every
// out-of-policy request is refused, logged and leaves the kernel as it
// was; garbage closes the channel and the daemon stops, exiting non-zero
// with a line saying why (SPEC 2).
func TestCompromisedEngine(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "ss")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, flapConf)
	lan0 := d.waitAnyAddr("lan0", bindTimeout)
	iaid := d.plan().Uplinks[0].IAs[0].IAID
	held := d.heldPrefix("up0")
	raw := stealParentChannel(t, topo, d, "-E")
	dup, err := unix.Dup(raw)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := imsg.New(os.NewFile(uintptr(dup), "stolen"))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()

	mk := func(uplink string, iaid uint32, ifname, pfx string) *pb.Address {
		p := netip.MustParsePrefix(pfx)
		return &pb.Address{Uplink: uplink, Iaid: iaid, Ifname: ifname, Address: p.Addr().AsSlice(), PrefixLen: uint32(p.Bits()), Preferred: 30, Valid: 60}
	}
	route := func(pfx string) *pb.Route {
		p := netip.MustParsePrefix(pfx)
		return &pb.Route{Uplink: "up0", Iaid: iaid, Prefix: p.Addr().AsSlice(), PrefixLen: uint32(p.Bits())}
	}
	inPlan := sub64(held, 0) // lan0's own address, in other shapes below
	requests := []struct {
		what string
		typ  pb.Type
		msg  imsg.Payload
		want string // in the parent's refusal
	}{
		{"address on the uplink itself", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "up0", "2001:db8:dead::1/64"), "up0 is not a downstream"},
		{"address on a link outside the plan", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "lo", "2001:db8:dead::1/64"), "lo is not a downstream"},
		{"wrong prefix length", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "lan0", netip.PrefixFrom(inPlan.Addr(), 48).String()), "plan says /64"},
		{"wrong host part", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "lan0", netip.PrefixFrom(inPlan.Addr().Next(), 64).String()), "host part is not"},
		{"unique local address", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "lan0", "fd00:1::1/64"), "not global unicast"},
		{"link-local address", pb.Type_TYPE_SET_ADDRESS, mk("up0", iaid, "lan0", "fe80::1/64"), "not global unicast"},
		{"removal of the live address under another IA", pb.Type_TYPE_REMOVE_ADDRESS, mk("up0", iaid+1, "lan0", lan0.Prefix.String()), "no IA_PD with IAID"},
		{"unknown uplink", pb.Type_TYPE_SET_ADDRESS, mk("eth9", iaid, "lan0", lan0.Prefix.String()), "not configured"},
		{"route too short for the IA", pb.Type_TYPE_SET_ROUTE, route("2000::/8"), "carries /16 to /64"},
		{"route longer than any entry", pb.Type_TYPE_SET_ROUTE, route("2001:db8:dead::/96"), "carries /16 to /64"},
		{"route outside global unicast", pb.Type_TYPE_SET_ROUTE, route("fd00::/48"), "not global unicast"},
		{"removal of the held prefix's route under another uplink", pb.Type_TYPE_REMOVE_ROUTE,
			&pb.Route{Uplink: "up9", Iaid: iaid, Prefix: held.Addr().AsSlice(), PrefixLen: uint32(held.Bits())}, "not configured"},
	}
	addrsBefore := kernelState(t, topo)
	for i, r := range requests {
		if err := ch.Send(r.typ, r.msg); err != nil {
			t.Fatalf("%s: %v", r.what, err)
		}
		d.waitLog("msg=\"refused ", i+1, 5*time.Second)
	}
	out := d.proc.Output()
	for _, r := range requests {
		if !strings.Contains(out, r.want) {
			t.Errorf("%s: no refusal saying %q", r.what, r.want)
		}
	}
	if after := kernelState(t, topo); after != addrsBefore {
		t.Errorf("the kernel changed:\nbefore:\n%s\nafter:\n%s", addrsBefore, after)
	}
	d.checkAlive()

	// Garbage: a datagram shorter than the imsg header.
	if _, err := unix.Write(raw, []byte{0xde, 0xad, 0xbe, 0xef, 0x00}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.proc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the parent still runs after garbage on its channel")
	}
	if d.proc.Wait() == nil {
		t.Error("the parent exited 0 after garbage on its channel")
	}
	if out := d.proc.Output(); !strings.Contains(out, "imsg protocol violation") || strings.Contains(out, "panic") {
		t.Errorf("the parent's last words do not name the violation:\n%s", out)
	}
	if _, err := os.Stat(d.sock); err == nil {
		t.Error("control socket left behind")
	}
	if got := d.globalAddrs("lan0"); len(got) != 1 || got[0].Prefix != lan0.Prefix {
		t.Errorf("lan0 after the stop: %v, want %v kept (SPEC 2: nothing is deconfigured)", got, lan0.Prefix)
	}
}

// kernelState is CLI's global addresses and routes as text.
func kernelState(t *testing.T, topo *lab.Topology) string {
	t.Helper()
	out, err := topo.CLI.Run(t.Context(), "sh", "-c", "ip -6 -o addr show scope global | sed 's/ valid_lft.*//'; ip -6 route show table all | grep -v ' proto kernel' | sed 's/ expires.*//'")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// stealParentChannel returns a copy of the fd of the channel between the
// daemon's parent and its child started with flag (-E or -F), the child's
// end; it is closed when the test ends.
func stealParentChannel(t *testing.T, topo *lab.Topology, d *daemon, flag string) int {
	t.Helper()
	parent := d.proc.Pid()
	child := processes(t, d)[map[string]string{"-E": "engine", "-F": "frontend"}[flag]]
	// ss lists each unix socket with its inode, its peer's inode and the
	// processes holding it: the child's fd whose peer the parent holds.
	out, err := topo.CLI.Run(t.Context(), "ss", "-x", "-a", "-p", "-n")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`\* (\d+)\s+\* (\d+)\s+users:\((.*)\)`)
	holder := regexp.MustCompile(`pid=(\d+),fd=(\d+)`)
	type end struct{ inode, peer string }
	fds := make(map[end]int) // the child's fds
	parentInodes := make(map[string]bool)
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for _, h := range holder.FindAllStringSubmatch(m[3], -1) {
			var pid, fd int
			fmt.Sscan(h[1], &pid)
			fmt.Sscan(h[2], &fd)
			switch pid {
			case child:
				fds[end{m[1], m[2]}] = fd
			case parent:
				parentInodes[m[1]] = true
			}
		}
	}
	target := -1
	for e, fd := range fds {
		if parentInodes[e.peer] {
			target = fd
		}
	}
	if target < 0 {
		t.Fatalf("no socket of %d (%s) peers with %d:\n%s", child, flag, parent, out)
	}
	pidfd, err := unix.PidfdOpen(child, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", child, err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, target, 0)
	if err != nil {
		t.Fatalf("pidfd_getfd %d fd %d: %v", child, target, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
