package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/hostile"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// hostileConf asks with Rapid Commit, so that both the Advertise and the
// Reply that each spoiled answer to a Solicit holds reach validation.
const hostileConf = "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n"

// Drop reasons (engine/validate.go) by what they discard: a message that
// does not decode, one IA_PD or IA Prefix of a decoded message, or a whole
// decoded message (every other reason).
func decodeReason(r string) bool {
	switch r {
	case "short", "option-overrun", "ia-pd-short", "ia-prefix-short", "option-short", "relay-message", "malformed":
		return true
	}
	return false
}

func partReason(r string) bool {
	switch r {
	case "ia-unknown-iaid", "ia-repeated-iaid", "ia-t1-above-t2", "prefix-length",
		"prefix-preferred-above-valid", "prefix-unheld-valid-zero":
		return true
	}
	return false
}

// hostileDrops are the drop reasons each mode must bring about, and the
// only ones: an Advertise and a Reply per Solicit, while the daemon holds
// nothing (SPEC 6, receive validation).
func hostileDrops(m hostile.Mode) []string {
	switch m {
	case hostile.TruncatedHeader:
		return []string{"short"}
	case hostile.TruncatedOption, hostile.OverrunMessage, hostile.OverrunParent:
		return []string{"option-overrun"}
	case hostile.ShortOption:
		return []string{"option-short"}
	case hostile.ShortIAPD:
		return []string{"ia-pd-short"}
	case hostile.ShortIAPrefix:
		return []string{"ia-prefix-short"}
	case hostile.WrongXID, hostile.UnsolicitedReply:
		return []string{"transaction-id"}
	case hostile.NoClientID:
		return []string{"client-id-missing"}
	case hostile.ForeignClientID:
		return []string{"client-id-mismatch"}
	case hostile.NoServerID:
		return []string{"server-id-missing"}
	case hostile.TwoServerIDs:
		return []string{"server-id-repeated"}
	case hostile.PrefixLen0, hostile.PrefixLen129, hostile.PrefixLen255:
		return []string{"prefix-length", "no-usable-prefix"}
	case hostile.PreferredAboveValid:
		return []string{"prefix-preferred-above-valid", "no-usable-prefix"}
	case hostile.ValidZero:
		return []string{"prefix-unheld-valid-zero", "no-usable-prefix"}
	case hostile.T1AboveT2:
		return []string{"ia-t1-above-t2", "no-usable-prefix"}
	case hostile.StatusNotOnLink:
		// The Reply starts over, which in Init is the Solicit going on.
		return []string{"status", "no-usable-prefix"}
	case hostile.StatusNoPrefixAvail, hostile.StatusNoBinding, hostile.StatusUseMulticast, hostile.StatusUnspecFail:
		return []string{"status"}
	case hostile.IAStatusNoPrefixAvail, hostile.IAStatusNoBinding, hostile.IAStatusUseMulticast,
		hostile.IAStatusUnspecFail, hostile.IAStatusNotOnLink:
		return []string{"no-usable-prefix"}
	case hostile.UnknownType:
		return []string{"unknown-type", "client-message", "relay-message"}
	case hostile.Reconfigure:
		// RFC 8415 18.2.11: no lease from this server holds a Reconfigure Key, so there is
		// nothing to check the message against.
		return []string{"reconfigure-no-key"}
	}
	return nil // Flood: all of the above
}

// stats is `dhcp6leasectl show stats` of one uplink, as counters returns it: section ("sent",
// "received", "dropped") to counter name to count.
type stats map[string]map[string]uint64

func (d *daemon) counters(uplink string) (stats, error) {
	out, err := d.ctl("show", "stats", uplink)
	if err != nil {
		return nil, fmt.Errorf("show stats %s: %w: %s", uplink, err, out)
	}
	s := make(stats)
	var section string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "\t\t") && len(f) == 2 && section != "":
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("show stats %s: %q: %w", uplink, line, err)
			}
			s[section][f[0]] = n
		case strings.HasPrefix(line, "\t") && len(f) > 0 && strings.HasSuffix(f[0], ":"):
			section = strings.TrimSuffix(f[0], ":")
			s[section] = make(map[string]uint64)
		}
	}
	return s, nil
}

// accounted is how many received datagrams the engine counted: decoded
// (received, per type) or not (dropped for a decoding reason).
func (s stats) accounted() uint64 {
	var n uint64
	for _, c := range s["received"] {
		n += c
	}
	for r, c := range s["dropped"] {
		if decodeReason(r) {
			n += c
		}
	}
	return n
}

// wholeDrops counts the decoded messages dropped as a whole.
func (s stats) wholeDrops() uint64 {
	var n uint64
	for r, c := range s["dropped"] {
		if !decodeReason(r) && !partReason(r) {
			n += c
		}
	}
	return n
}

// udpDrops returns how many UDP datagrams the kernel of ns dropped on
// receipt (a full socket buffer, Udp6InErrors in /proc/net/snmp6).
func udpDrops(t *testing.T, ns *lab.Netns) uint64 {
	t.Helper()
	out, err := ns.Run(t.Context(), "cat", "/proc/net/snmp6")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Udp6InErrors" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no Udp6InErrors in %s's /proc/net/snmp6", ns.Name)
	return 0
}

// TestHostile runs the daemon against each hostile mode of
// tests/hostile, one topology each: the daemon and both children live
// on, the engine accounts for every datagram the server sent (or the
// kernel dropped it), drops each for the reason the mode calls for, and
// configures nothing; then a good server binds at once.
func TestHostile(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	for _, mode := range hostile.Hostile() {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
			monitor := lab.StartMonitorT(t, topo.CLI)
			srv, err := hostile.Start(topo.SRV, topo.ServerIf, mode)
			if err != nil {
				t.Fatal(err)
			}
			stopServer := func() {
				if srv != nil {
					if err := srv.Close(); err != nil {
						t.Error(err)
					}
					srv = nil
				}
			}
			t.Cleanup(stopServer)
			d := newDaemon(t, topo, hostileConf)
			procs := processes(t, d)

			var peak map[string]uint64
			switch mode {
			case hostile.Flood:
				peak = sampleRSS(t, procs, srv.BackgroundDone(), hostile.FloodTime+bindTimeout)
			case hostile.UnsolicitedReply:
				lab.WaitForT(t, bindTimeout, "the unsolicited Replies sent", func() (bool, error) {
					select {
					case <-srv.BackgroundDone():
						return true, nil
					default:
						return false, nil
					}
				})
			}
			// Every datagram sent is counted by the engine or dropped by the
			// kernel: wait until the engine has caught up.
			var st stats
			var sent, kernel uint64
			lab.WaitForT(t, 30*time.Second, "engine counts every hostile datagram", func() (bool, error) {
				d.checkAlive()
				sent = srv.Hostile()
				var err error
				if st, err = d.counters("up0"); err != nil {
					return false, err
				}
				kernel = udpDrops(t, topo.CLI)
				return sent > 0 && sent == srv.Hostile() && st.accounted()+kernel == sent,
					fmt.Errorf("sent %d, engine counted %d, kernel dropped %d: %v", sent, st.accounted(), kernel, st)
			})
			hostileEnd := time.Now()
			if n := st.wholeDrops(); n != sumValues(st["received"]) {
				t.Errorf("%d messages received, %d dropped whole: %v", sumValues(st["received"]), n, st)
			}
			if want := hostileDrops(mode); want != nil {
				var got []string
				for r, c := range st["dropped"] {
					if c > 0 {
						got = append(got, r)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("drop reasons %v, want %v: %v", got, want, st)
				}
			}
			t.Logf("%v: sent %d, kernel dropped %d, engine: %v", mode, sent, kernel, st)
			for role, kb := range peak {
				t.Logf("%v: peak VmRSS of the %s: %d kB", mode, role, kb)
			}

			for role, pid := range procs {
				if _, err := procStatus(pid); err != nil {
					t.Fatalf("%s (%d) gone after %v: %v", role, pid, mode, err)
				}
			}
			for _, l := range monitor.Lines() {
				if strings.Contains(l.Text, "unreachable") || strings.Contains(l.Text, "scope global") {
					t.Errorf("kernel changed while only %v answered: %s", mode, l.Text)
				}
			}

			// A good server now: the flood's aftermath meets Kea, the other
			// modes the server's own Valid mode.
			var delegated func() (netip.Prefix, bool)
			iaid := d.plan().Uplinks[0].IAs[0].IAID
			if mode == hostile.Flood {
				stopServer()
				k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
				delegated = func() (netip.Prefix, bool) { return serverPrefix(t, k.Leases, iaid), true }
			} else {
				srv.SetMode(hostile.Valid)
				delegated = func() (netip.Prefix, bool) { return srv.Delegated(iaid) }
			}
			// Solicit again now rather than at the next retransmission.
			if out, err := d.ctl("request", "up0"); err != nil {
				t.Fatalf("request up0: %v: %s", err, out)
			}
			addr := d.waitAnyAddr("lan0", bindTimeout)
			pfx, ok := delegated()
			if !ok || addr.Prefix != sub64(pfx, 0) {
				t.Fatalf("lan0 has %v, want %v (delegated %v)", addr.Prefix, sub64(pfx, 0), pfx)
			}
			for _, e := range monitor.AddrEvents("lan0") {
				if e.Prefix.Addr().IsGlobalUnicast() && (e.Time.Before(hostileEnd) || e.Prefix != addr.Prefix) {
					t.Errorf("lan0 address event from no valid lease: %s", e.Line)
				}
			}
			for _, l := range monitor.Lines() {
				if strings.Contains(l.Text, "unreachable") && !strings.Contains(l.Text, "unreachable "+pfx.String()+" ") {
					t.Errorf("route from no valid lease: %s", l.Text)
				}
			}
		})
	}
}

func sumValues(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// rssInterval is how often sampleRSS reads the processes' memory.
const rssInterval = 50 * time.Millisecond

// sampleRSS reads VmRSS of the processes (role to pid) until done is
// closed, at most for timeout, and returns each one's peak in kB.
func sampleRSS(t *testing.T, pids map[string]int, done <-chan struct{}, timeout time.Duration) map[string]uint64 {
	t.Helper()
	peak := make(map[string]uint64)
	tick := time.NewTicker(rssInterval)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		for role, pid := range pids {
			st, err := procStatus(pid)
			if err != nil {
				t.Fatalf("%s (%d) gone during the flood: %v", role, pid, err)
			}
			kb, err := strconv.ParseUint(strings.TrimSuffix(st["VmRSS"], " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s (%d): VmRSS %q: %v", role, pid, st["VmRSS"], err)
			}
			peak[role] = max(peak[role], kb)
		}
		select {
		case <-done:
			return peak
		case <-deadline:
			t.Fatalf("still sampling after %v", timeout)
		case <-tick.C:
		}
	}
}
