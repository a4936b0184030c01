package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Require skips the test unless it runs as root and every program in tools
// (besides ip) is installed.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab needs root for network namespaces")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("lab needs %s: %v", tool, err)
		}
	}
}

// NewTopologyT is NewTopology for tests: it fails the test on error and
// closes the topology when the test ends.
func NewTopologyT(t testing.TB, opts TopologyOptions) *Topology {
	t.Helper()
	topo, err := NewTopology(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, topo.Close)
	return topo
}

// StartKeaT is StartKea for tests; Kea stops when the test ends.
func StartKeaT(t testing.TB, topo *Topology, opts KeaOptions) *Kea {
	t.Helper()
	k, err := StartKea(t.Context(), topo, opts)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, k.Stop)
	return k
}

// StartDhcpdT is StartDhcpd for tests; dhcpd stops when the test ends.
func StartDhcpdT(t testing.TB, topo *Topology, opts ServerOptions) *Dhcpd {
	t.Helper()
	d, err := StartDhcpd(t.Context(), topo, opts)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, d.Stop)
	return d
}

// StartMonitorT is StartMonitor for tests; it stops when the test ends.
func StartMonitorT(t testing.TB, ns *Netns) *Monitor {
	t.Helper()
	m, err := StartMonitor(t.Context(), ns)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, m.Stop)
	return m
}

// StartCaptureT is StartCapture for tests; it stops when the test ends.
func StartCaptureT(t testing.TB, ns *Netns, ifname string) *Capture {
	t.Helper()
	c, err := StartCapture(t.Context(), ns, ifname)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, c.Stop)
	return c
}

// WaitForT is WaitFor for tests: it fails the test when the wait fails.
func WaitForT(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := WaitFor(t.Context(), timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// cleanup registers stop to run when the test ends and reports its error.
func cleanup(t testing.TB, stop func() error) {
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
}

// DaemonPaths writes conf into a new temporary directory and returns where
// a daemon run on it keeps its files: the configuration, the state
// directory (-L) and the control socket (-s).
func DaemonPaths(t testing.TB, conf string) (confPath, state, sock string) {
	t.Helper()
	dir := t.TempDir()
	confPath = filepath.Join(dir, "dhcp6leased.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return confPath, filepath.Join(dir, "state"), filepath.Join(dir, "ctl.sock")
}
