package parent

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSocketInodes(t *testing.T) {
	// /proc/net/udp6 of a namespace where dhcpcd holds [::]:546 (inode
	// 48211) and something else [::1]:5353.
	const table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  141: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 48211 2 0000000000000000 0
 1234: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 48999 2 0000000000000000 0
 1300: garbage
`
	got := socketInodes(strings.NewReader(table), 546)
	if !slices.Equal(got, []string{"48211"}) {
		t.Errorf("socketInodes = %v, want [48211]", got)
	}
}

// portHolders finds this test process holding a UDP port.
func TestPortHolders(t *testing.T) {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	want := "(pid " + strconv.Itoa(os.Getpid()) + ")"
	if got := portHolders(port); !slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, want) }) {
		t.Errorf("portHolders(%d) = %v, want one ending %q", port, got, want)
	}
}
