package parent

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// clientPort is the DHCPv6 client port (RFC 8415 section 7.2).
const clientPort = 546

// openUDP opens the uplink's client socket: bound to its link-local
// address and port 546, tied to the device so that nothing arriving on
// another uplink is read here. IPV6_FREEBIND lets the bind succeed while
// the address is still tentative (DAD running), SPEC 6.
func openUDP(ifname string, ifindex int, ll netip.Addr) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("udp socket for %s: %w", ifname, err)
	}
	fail := func(op string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("udp socket for %s: %s: %w", ifname, op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_FREEBIND, 1); err != nil {
		return fail("IPV6_FREEBIND", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
		return fail("IPV6_V6ONLY", err)
	}
	if err := unix.BindToDevice(fd, ifname); err != nil {
		return fail("SO_BINDTODEVICE", err)
	}
	// Multicast to ff02::1:2 leaves through the uplink, with a hop limit
	// of 1 as for any link-scope traffic.
	if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
		return fail("IPV6_MULTICAST_IF", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
		return fail("IPV6_MULTICAST_LOOP", err)
	}
	sa := &unix.SockaddrInet6{Port: clientPort, Addr: ll.As16(), ZoneId: uint32(ifindex)}
	if err := unix.Bind(fd, sa); err != nil {
		op := fmt.Sprintf("bind [%v%%%s]:%d", ll, ifname, clientPort)
		if holders := portHolders(clientPort); errors.Is(err, unix.EADDRINUSE) && len(holders) > 0 {
			// Another DHCPv6 client, most likely: say which.
			err = fmt.Errorf("%w (held by %s)", err, strings.Join(holders, ", "))
		}
		return fail(op, err)
	}
	return os.NewFile(uintptr(fd), "udp-"+ifname), nil
}
