package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/lab"
)

// BenchmarkColdStart measures exec -> first address on a downstream against
// Kea with rapid commit, timed by the ip monitor line of the kernel's
// change. Every sample is a fresh lab; only the daemon's part is measured.
//
//	go test -run '^$' -bench ColdStart -benchtime 10x ./tests/e2e
func BenchmarkColdStart(b *testing.B) {
	for _, delay := range []string{"0", "rfc"} {
		b.Run("delay="+delay, func(b *testing.B) {
			lab.Require(b, "kea-dhcp6")
			conf := "request rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n"
			if delay == "0" {
				conf = "solicit delay 0\n" + conf
			}
			var samples []time.Duration
			for range b.N {
				samples = append(samples, coldStart(b, conf))
			}
			slices.Sort(samples)
			b.ReportMetric(0, "ns/op") // includes the lab's setup: meaningless
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(samples[len(samples)*95/100].Microseconds())/1000, "ms-p95")
		})
	}
}

// coldStart runs one sample in its own lab and tears it down.
func coldStart(b *testing.B, conf string) time.Duration {
	ctx := b.Context()
	topo, err := lab.NewTopology(ctx, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	if err != nil {
		b.Fatal(err)
	}
	defer topo.Close()
	k, err := lab.StartKea(ctx, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Stop()
	mon, err := lab.StartMonitor(ctx, topo.CLI)
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Stop()
	path := filepath.Join(topo.Dir, "dhcp6leased.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	p, err := topo.CLI.Start(ctx, bins.daemon, "-d", "-f", path, "-L", filepath.Join(topo.Dir, "state"), "-s", filepath.Join(topo.Dir, "sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	var first time.Time
	err = lab.WaitFor(ctx, bindTimeout, "address on lan0", func() (bool, error) {
		for _, e := range mon.AddrEvents("lan0") {
			if !e.Deleted && e.Prefix.Addr().IsGlobalUnicast() {
				first = e.Time
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		b.Fatalf("%v\n%s", err, p.Output())
	}
	return first.Sub(start)
}

// BenchmarkMemory reports the RSS of the three processes while bound.
//
//	go test -run '^$' -bench Memory -benchtime 1x ./tests/e2e
func BenchmarkMemory(b *testing.B) {
	lab.Require(b, "kea-dhcp6")
	topo := lab.NewTopologyT(b, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	lab.StartKeaT(b, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(b, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for { lan0 lan1 }\n")
	d.waitAnyAddr("lan0", bindTimeout)
	b.ReportMetric(0, "ns/op")
	for _, pid := range append([]int{d.proc.Pid()}, childPids(b, d.proc.Pid())...) {
		st, err := procStatus(pid)
		if err != nil {
			b.Fatal(err)
		}
		kb, err := strconv.Atoi(strings.Fields(st["VmRSS"])[0])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(kb), "kB-RSS-"+role(b, pid))
	}
}

// role names a daemon process by its hidden flag.
func role(b *testing.B, pid int) string {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		b.Fatal(err)
	}
	args := bytes.Split(cmdline, []byte{0})
	switch {
	case slices.ContainsFunc(args, func(a []byte) bool { return string(a) == "-F" }):
		return "frontend"
	case slices.ContainsFunc(args, func(a []byte) bool { return string(a) == "-E" }):
		return "engine"
	}
	return "parent"
}
