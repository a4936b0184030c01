package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// BenchmarkFlap measures, over b.N carrier flaps longer than the down
// delay: link-up -> Rebind on the wire (tcpdump's timestamp) and link-up ->
// Bound again (the kernel's address refresh on lan0, from ip monitor).
//
//	go test -run '^$' -bench Flap -benchtime 10x ./tests/e2e
func BenchmarkFlap(b *testing.B) {
	lab.Require(b, "kea-dhcp6", "tcpdump")
	// The server sits on a bridge and the flap is of the bridge port: the
	// client loses carrier while the server keeps its address, as when a
	// CE router's cable is pulled. (Flapping the server's own veth takes
	// its link-local address away, and Kea's first Reply after link-up
	// then fails for want of a usable source address.)
	topo := lab.NewTopologyT(b, lab.TopologyOptions{Downstreams: []string{"lan0"}, Bridge: true})
	lab.StartKeaT(b, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	capture := lab.StartCaptureT(b, topo.SRV, topo.ServerIf)
	monitor := lab.StartMonitorT(b, topo.CLI)
	d := newDaemon(b, topo, "link down delay 0.2\n"+flapConf)
	addr := d.waitAnyAddr("lan0", bindTimeout)
	var toRebind, toBound []time.Duration
	for range b.N {
		downs := strings.Count(d.proc.Output(), "link down: addresses deprecated")
		if err := topo.SRV.SetLinkDown(b.Context(), "veth-s0"); err != nil {
			b.Fatal(err)
		}
		d.waitLog("link down: addresses deprecated", downs+1, 5*time.Second)
		up := time.Now()
		if err := topo.SRV.SetLinkUp(b.Context(), "veth-s0"); err != nil {
			b.Fatal(err)
		}
		var rebind lab.Packet
		var bound time.Time
		lab.WaitForT(b, 5*time.Second, "Rebind and Bound after link-up", func() (bool, error) {
			var ok bool
			if rebind, ok = capture.First("rebind", up); !ok {
				return false, nil
			}
			for _, e := range monitor.AddrEvents("lan0") {
				if !e.Deleted && e.Prefix == addr.Prefix && e.Time.After(up) {
					bound = e.Time
					return true, nil
				}
			}
			return false, nil
		})
		toRebind = append(toRebind, rebind.Time.Sub(up))
		toBound = append(toBound, bound.Sub(up))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(median(toRebind)), "ms-to-rebind-median")
	b.ReportMetric(ms(median(toBound)), "ms-to-bound-median")
}

// median returns the middle of samples (sorted in place).
func median(samples []time.Duration) time.Duration {
	slices.Sort(samples)
	return samples[len(samples)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
