package parent

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSocketsOn(t *testing.T) {
	// /proc/net/udp6 of a namespace where dhcpcd's network proxy (uid
	// 101) holds [::]:546 (inode 48211) and something else [::1]:5353.
	const table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  141: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 48211 2 0000000000000000 0
 1234: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 48999 2 0000000000000000 0
 1300: garbage
`
	got := socketsOn(strings.NewReader(table), 546)
	if !slices.Equal(got, []udpSocket{{inode: "48211", uid: "101"}}) {
		t.Errorf("socketsOn = %v, want inode 48211 of uid 101", got)
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

// A socket whose process the parent may not look into is named by its
// owner, by name when /etc/passwd has it.
func TestHiddenHolder(t *testing.T) {
	for _, tt := range []struct{ uid, want string }{
		{"0", "a process of user root (uid 0) that the daemon may not look into; ss -lupn 'sport = :546' names it"},
		{"4000000000", "a process of uid 4000000000 that the daemon may not look into; ss -lupn 'sport = :546' names it"},
	} {
		if got := hiddenHolder(tt.uid, 546); got != tt.want {
			t.Errorf("hiddenHolder(%s) = %q, want %q", tt.uid, got, tt.want)
		}
	}
}
