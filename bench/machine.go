package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the figures came from.
type machine struct {
	cpus      int // as nproc: the CPUs this process may run on
	cpuModel  string
	kernel    string
	goVersion string
	date      time.Time
	// packages are the Debian packages of the peers and the server, with
	// their versions.
	packages [][2]string
	// loadBefore and loadAfter are the load averages (1, 5, 15 min)
	// when the run started and ended: the machine is shared, and other
	// work on its CPUs shows in the timings.
	loadBefore, loadAfter string
}

// loadAverage reads the 1, 5 and 15 minute load averages.
func loadAverage() (string, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", fmt.Errorf("read load average: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "", fmt.Errorf("read load average: %q", b)
	}
	return strings.Join(f[:3], " "), nil
}

// peerPackages are the Debian packages whose versions the report names.
func peerPackages() []string {
	return []string{"dhcpcd-base", "wide-dhcpv6-client", "kea-dhcp6-server"}
}

func describeMachine(ctx context.Context) (machine, error) {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(), date: time.Now().UTC()}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return m, fmt.Errorf("read CPU model: %w", err)
	}
	m.cpuModel = cpuModel(string(cpuinfo))
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return m, fmt.Errorf("read kernel release: %w", err)
	}
	m.kernel = strings.TrimSpace(string(kernel))
	if m.loadBefore, err = loadAverage(); err != nil {
		return m, err
	}
	for _, pkg := range peerPackages() {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
		if err != nil {
			return m, fmt.Errorf("version of %s: %w", pkg, err)
		}
		m.packages = append(m.packages, [2]string{pkg, string(out)})
	}
	return m, nil
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
