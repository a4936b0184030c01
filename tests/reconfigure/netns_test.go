package reconfigure

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestNamespace runs the server as end-to-end tests do, in the lab's
// server namespace, and a client socket where the daemon's would be: the
// uplink's link-local address, port 546. A Solicit to ff02::1:2 binds, and
// a Reconfigure comes back to port 546 signed with the key of the Reply.
func TestNamespace(t *testing.T) {
	lab.Require(t)
	topo := lab.NewTopologyT(t, lab.TopologyOptions{})
	s, err := Start(topo.SRV, topo.ServerIf, Config{RapidCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	fd, ifindex := clientSocket(t, topo.CLI, topo.Uplinks[0])
	duid := dhcp6.DUIDUUID([16]byte{5, 4, 6})

	solicit := dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1, 2, 3}, ClientID: duid,
		RapidCommit: true, ReconfAccept: true, IAPDs: []dhcp6.IAPD{{IAID: 1}}}
	b, err := solicit.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	group := &unix.SockaddrInet6{Port: 547, Addr: netip.MustParseAddr("ff02::1:2").As16(), ZoneId: ifindex}
	if err := unix.Sendto(fd, b, 0, group); err != nil {
		t.Fatalf("send Solicit: %v", err)
	}
	_, reply := receive(t, fd)
	key, err := reply.ReconfigureKey()
	if reply.Type != dhcp6.Reply || len(reply.IAPDs) != 1 || err != nil {
		t.Fatalf("answer %+v, key error %v", reply, err)
	}
	if want := netip.MustParsePrefix("2001:db8:200::/56"); netip.PrefixFrom(reply.IAPDs[0].Prefixes[0].Prefix, 56) != want {
		t.Errorf("delegated %v, want %v", reply.IAPDs[0].Prefixes[0].Prefix, want)
	}

	if err := s.SendReconfigure(duid, dhcp6.Renew, Valid); err != nil {
		t.Fatal(err)
	}
	wire, m := receive(t, fd)
	if err := m.VerifyReconfigure(wire, key); err != nil || m.Type != dhcp6.Reconfigure || m.ReconfMsg != uint8(dhcp6.Renew) ||
		!bytes.Equal(m.ServerIDs[0], dhcp6.DUIDLL(1, topo.ServerMAC())) {
		t.Errorf("Reconfigure %+v: %v", m, err)
	}
}

// clientSocket opens a UDP socket in ns bound to ifname's link-local
// address, port 546, and returns it with ifname's index.
func clientSocket(t *testing.T, ns *lab.Netns, ifname string) (int, uint32) {
	t.Helper()
	var fd int
	var ifindex uint32
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		var ll netip.Addr
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() {
				ll = p.Addr()
			}
		}
		if !ll.IsValid() {
			return &net.AddrError{Err: "no link-local address", Addr: ifname}
		}
		if fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP); err != nil {
			return err
		}
		ifindex = uint32(ifi.Index)
		return unix.Bind(fd, &unix.SockaddrInet6{Port: 546, Addr: ll.As16(), ZoneId: ifindex})
	})
	if fd > 0 {
		t.Cleanup(func() { unix.Close(fd) })
	}
	if err != nil {
		t.Fatalf("client socket on %s in %s: %v", ifname, ns.Name, err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
		t.Fatal(err)
	}
	return fd, ifindex
}

// receive reads one datagram from port 547 on fd and decodes it.
func receive(t *testing.T, fd int) ([]byte, *dhcp6.Message) {
	t.Helper()
	buf := make([]byte, 65536)
	start := time.Now()
	n, from, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		t.Fatalf("receive after %v: %v", time.Since(start), err)
	}
	if sa, ok := from.(*unix.SockaddrInet6); !ok || sa.Port != 547 {
		t.Fatalf("datagram from %+v", from)
	}
	var m dhcp6.Message
	if err := m.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return buf[:n], &m
}
