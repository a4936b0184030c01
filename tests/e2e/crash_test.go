package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// crashRounds is how many times TestCrashDurability kills a process.
const crashRounds = 50

// crashSeedEnv replays a run of TestCrashDurability: set it to the seed
// the failed run logged.
const crashSeedEnv = "DHCP6LEASED_CRASH_SEED"

// maxKillDelay bounds the random wait between a bind and the kill; with
// T1 of 1 s the kills land before, during and after Renews and lease
// file writes.
const maxKillDelay = 1500 * time.Millisecond

// TestCrashDurability kills the parent, the frontend or the engine with
// SIGKILL at random moments, 50 times, restarting the daemon each time:
// the lease file always parses and holds the prefix, each restart binds
// the same prefix again (SPEC 8), and the downstream address is never
// removed (SPEC 2: nothing is deconfigured on a death).
func TestCrashDurability(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	// Each process dies the same number of times, in a random order.
	victims := make([]string, crashRounds)
	for i := range victims {
		victims[i] = []string{"parent", "frontend", "engine"}[i%3]
	}
	rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })

	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 10 * time.Second, Valid: 20 * time.Second, T1: time.Second, T2: 2 * time.Second}})
	monitor := lab.StartMonitorT(t, topo.CLI)
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	addr := d.waitAnyAddr("lan0", bindTimeout)
	pfx := serverPrefix(t, k.Leases, d.plan().Uplinks[0].IAs[0].IAID)
	if addr.Prefix != sub64(pfx, 0) {
		t.Fatalf("lan0 has %v, want %v", addr.Prefix, sub64(pfx, 0))
	}

	start := time.Now()
	for round, victim := range victims {
		d.waitBound("up0", pfx)
		pids := processes(t, d)
		select {
		case <-time.After(time.Duration(rng.Int64N(int64(maxKillDelay)))):
		case <-d.proc.Done():
			t.Fatalf("round %d: daemon exited before the kill: %v", round, d.proc.Wait())
		}
		if err := syscall.Kill(pids[victim], syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill %s %d: %v", round, victim, pids[victim], err)
		}
		lab.WaitForT(t, 5*time.Second, fmt.Sprintf("round %d: all three processes gone after the %s's death", round, victim), func() (bool, error) {
			select {
			case <-d.proc.Done():
			default:
				return false, nil
			}
			for _, pid := range pids {
				// A zombie has exited: orphans wait for init to reap them.
				if st, err := procStatus(pid); err == nil && !strings.HasPrefix(st["State"], "Z") {
					return false, fmt.Errorf("pid %d still runs: %s", pid, st["State"])
				}
			}
			return true, nil
		})
		if l := d.lease("up0"); len(l.IAs) != 1 || l.IAs[0].Prefix != pfx {
			t.Fatalf("round %d: lease file after the %s's death holds %+v, want %v", round, victim, l.IAs, pfx)
		}
		d.start()
		d.waitAddr("lan0", addr.Prefix, bindTimeout)
	}
	d.waitBound("up0", pfx)
	t.Logf("%d kills and restarts in %v", crashRounds, time.Since(start).Round(time.Millisecond))
	if del := monitor.DeletedAddrs("lan0"); len(del) > 0 {
		t.Errorf("lan0 addresses removed across the crashes: %v", del)
	}
}

// waitBound waits until uplink is Bound with pfx, and its lease file
// parses and holds pfx.
func (d *daemon) waitBound(uplink string, pfx netip.Prefix) {
	d.t.Helper()
	lab.WaitForT(d.t, bindTimeout, fmt.Sprintf("%s bound to %v", uplink, pfx), func() (bool, error) {
		d.checkAlive()
		out, err := d.ctl("show", "interface", uplink)
		if err != nil || !strings.HasPrefix(out, uplink+" [Bound]\n") || !strings.Contains(out, fmt.Sprintf("IA_PD 0: %v ", pfx)) {
			return false, fmt.Errorf("show interface: %v: %s", err, out)
		}
		l := d.lease(uplink)
		return len(l.IAs) == 1 && l.IAs[0].Prefix == pfx, fmt.Errorf("lease file holds %+v", l.IAs)
	})
}

// processes returns the pids of the daemon's parent, frontend and engine.
func processes(t *testing.T, d *daemon) map[string]int {
	t.Helper()
	var pids map[string]int
	lab.WaitForT(t, 5*time.Second, "the parent, the frontend and the engine", func() (bool, error) {
		d.checkAlive()
		var err error
		pids, err = lab.DaemonProcesses(d.proc.Pid())
		return len(pids) == 3, err
	})
	return pids
}
