// Package chaos disturbs a real dhcp6leased bound to a real Kea in the
// namespace lab, the way other software on a router does (a port taken, an
// address flushed, a route deleted, the uplink's link-local address
// replaced, the uplink re-created, the server gone or renumbering, a
// process killed), and checks on the kernel and through dhcp6leasectl that
// the daemon converges on its plan again within a stated bound (issue 10,
// docs/CHAOS.md). TestSoak runs the disturbances at random for minutes
// and checks the processes for leaks; it runs only when DHCP6LEASED_SOAK
// says for how long (make soak).
package chaos

import (
	"os"
	"testing"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// bins holds the binaries TestMain builds.
var bins lab.Binaries

func TestMain(m *testing.M) { os.Exit(lab.MainWithBinaries(m, &bins)) }
