package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestShutdown: SIGTERM leaves the lease in place by default (RFC 9096:
// addresses keep their lifetimes, no Release); with `release on shutdown
// yes` the daemon sends a Release, and removes the addresses and the route
// once the server answered (SPEC 6).
func TestShutdown(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	for _, release := range []bool{false, true} {
		name := map[bool]string{false: "keep", true: "release"}[release]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
			k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
			capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
			conf := flapConf
			if release {
				conf = "release on shutdown yes\n" + conf
			}
			d := newDaemon(t, topo, conf)
			addr := d.waitAnyAddr("lan0", bindTimeout)
			pfx := d.heldPrefix("up0")
			stopped := time.Now()
			if err := d.proc.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			checkCleanExit(t, d)
			_, sentRelease := capture.First("release", stopped)
			routes := routesOf(t, topo)
			if !release {
				if sentRelease {
					t.Error("a Release was sent without release on shutdown")
				}
				if got := d.globalAddrs("lan0"); len(got) != 1 || got[0].Prefix != addr.Prefix {
					t.Errorf("lan0 after shutdown: %v, want %v kept", got, addr.Prefix)
				}
				if !slicesContainsPrefix(routes, pfx) {
					t.Errorf("route %v removed at shutdown", pfx)
				}
				return
			}
			lab.WaitForT(t, 5*time.Second, "the Release and its Reply on the wire", func() (bool, error) {
				_, rel := capture.First("release", stopped)
				_, rep := capture.First("reply", stopped)
				return rel && rep, nil
			})
			if got := d.globalAddrs("lan0"); len(got) != 0 {
				t.Errorf("lan0 after release: %v, want nothing", got)
			}
			if slicesContainsPrefix(routes, pfx) {
				t.Errorf("route %v left after release", pfx)
			}
			if l := d.lease("up0"); len(l.IAs) != 0 {
				t.Errorf("lease file after release: %+v", l)
			}
			leases, err := k.Leases()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range leases {
				if l.Prefix == pfx && l.Valid != 0 {
					t.Errorf("Kea still holds %v for %v", pfx, l.Valid)
				}
			}
			if !strings.Contains(d.proc.Output(), "leases released") {
				t.Error("no log line for the release")
			}
		})
	}
}

// checkCleanExit checks what a clean SIGTERM leaves (issue 10): exit
// status 0, no error line from any of the three processes, a lease file
// that parses.
func checkCleanExit(t *testing.T, d *daemon) {
	t.Helper()
	if err := d.proc.Wait(); err != nil {
		t.Errorf("daemon exit after SIGTERM: %v, want status 0", err)
	}
	for _, line := range strings.Split(d.proc.Output(), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.HasPrefix(line, "dhcp6leased:") {
			t.Errorf("error at shutdown: %s", line)
		}
	}
	if _, err := lease.Read(filepath.Join(d.state, lease.FileName("up0"))); err != nil {
		t.Errorf("lease file after shutdown: %v", err)
	}
}
