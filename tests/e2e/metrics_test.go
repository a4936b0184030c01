package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// textfile runs contrib/prometheus/dhcp6leased-textfile as cred against
// the daemon's socket and returns the file it wrote.
func textfile(t *testing.T, d *daemon, cred *syscall.Credential, out string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(moduleRoot(t), "contrib/prometheus/dhcp6leased-textfile"), "-s", d.sock, out)
	cmd.Env = append(os.Environ(), "DHCP6LEASECTL="+bins.Ctl)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dhcp6leased-textfile: %v\n%s", err, b)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v; want 0644, for the collector's user", out, info.Mode().Perm())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	metricHelp   = regexp.MustCompile(`^# HELP ([a-z_][a-z0-9_]*) \S.*$`)
	metricType   = regexp.MustCompile(`^# TYPE ([a-z_][a-z0-9_]*) (gauge|counter)$`)
	metricSample = regexp.MustCompile(`^([a-z_][a-z0-9_]*)(\{(?:[a-z_]+="[^"\\]*",)*[a-z_]+="[^"\\]*"\})? (\S+)$`)
)

// parseMetrics checks the text exposition format as node_exporter's
// textfile collector reads it (each family's HELP and TYPE once, before its
// samples, the samples together, counters ending in _total, values that
// parse) and returns each sample's value by "name{labels}".
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	samples := make(map[string]float64)
	typed := make(map[string]string)
	done := make(map[string]bool) // families whose samples ended
	var current string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if m := metricHelp.FindStringSubmatch(l); m != nil {
			continue
		}
		if m := metricType.FindStringSubmatch(l); m != nil {
			if typed[m[1]] != "" {
				t.Errorf("TYPE of %s twice", m[1])
			}
			if m[2] == "counter" && !strings.HasSuffix(m[1], "_total") {
				t.Errorf("counter %s does not end in _total", m[1])
			}
			typed[m[1]] = m[2]
			continue
		}
		m := metricSample.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a metric line: %q", l)
			continue
		}
		if typed[m[1]] == "" || done[m[1]] {
			t.Errorf("%q: its family has no TYPE before it, or its samples are not together", l)
		}
		if current != m[1] {
			done[current] = current != ""
			current = m[1]
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("%q: value: %v", l, err)
		}
		key := m[1] + m[2]
		if _, dup := samples[key]; dup {
			t.Errorf("%s twice", key)
		}
		samples[key] = v
	}
	return samples
}

// TestMetricsRecipe: the node_exporter textfile recipe of docs/METRICS.md,
// run as a member of the socket's group on the real `show -j` output of a
// daemon bound to Kea, writes the state, the prefix with its lifetimes and
// the counters; with the daemon gone it writes dhcp6leased_up 0 alone.
func TestMetricsRecipe(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "jq")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	const valid = 20 * time.Minute
	k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 10 * time.Minute, Valid: valid, T1: 5 * time.Minute, T2: 8 * time.Minute}})
	d := newDaemonStopped(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	d.publicSocket()
	d.start()
	d.waitAnyAddr("lan0", bindTimeout)
	iaid := d.plan().Uplinks[0].IAs[0].IAID
	pfx := serverPrefix(t, k.Leases, iaid)
	lab.WaitForT(t, 5*time.Second, "show interface up0 Bound", func() (bool, error) {
		out, err := d.ctl("show", "interface", "up0")
		return err == nil && strings.HasPrefix(out, "up0 [Bound]\n"), nil
	})
	// The collector's directory, writable by the recipe's user.
	out := filepath.Join(publicDir(t, 0o777), "dhcp6leased.prom")
	member := groupMember(t)
	before := time.Now()
	text := textfile(t, d, member, out)
	m := parseMetrics(t, text)
	ia := fmt.Sprintf(`{uplink="up0",iaid="%#08x",prefix="%s"}`, iaid, pfx)
	for key, want := range map[string]float64{
		"dhcp6leased_up": 1,
		`dhcp6leased_uplink_state{uplink="up0",state="Bound"}`:  1,
		`dhcp6leased_uplink_state{uplink="up0",state="Init"}`:   0,
		`dhcp6leased_uplink_link_up{uplink="up0"}`:              1,
		"dhcp6leased_prefix_info" + ia:                          1,
		`dhcp6leased_sent_total{uplink="up0",type="SOLICIT"}`:   1,
		`dhcp6leased_received_total{uplink="up0",type="REPLY"}`: 1,
		`dhcp6leased_retransmissions_total{uplink="up0"}`:       0,
		`dhcp6leased_repaired_addresses_total{uplink="up0"}`:    0,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	// Lifetimes are Unix times: the lease Kea gave a moment ago.
	for key, life := range map[string]time.Duration{
		"dhcp6leased_prefix_valid_timestamp_seconds" + ia:          valid,
		`dhcp6leased_lease_expiry_timestamp_seconds{uplink="up0"}`: valid,
		"dhcp6leased_prefix_preferred_timestamp_seconds" + ia:      10 * time.Minute,
		`dhcp6leased_t1_timestamp_seconds{uplink="up0"}`:           5 * time.Minute,
	} {
		got := time.Unix(int64(m[key]), 0)
		if lo, hi := before.Add(life-bindTimeout-2*time.Second), before.Add(life+time.Second); got.Before(lo) || got.After(hi) {
			t.Errorf("%s = %v, want within [%v, %v]", key, got, lo, hi)
		}
	}
	if t.Failed() {
		t.Logf("%s:\n%s", out, text)
	}

	d.stop()
	if text := textfile(t, d, member, out); strings.Count(text, "\n") != 3 || !strings.HasSuffix(text, "\ndhcp6leased_up 0\n") {
		t.Errorf("with the daemon stopped, %s:\n%s\nwant HELP, TYPE and dhcp6leased_up 0 alone", out, text)
	} else {
		parseMetrics(t, text)
	}
	if left, _ := filepath.Glob(out + ".*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
