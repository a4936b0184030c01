package main

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadActivity checks that CPU time spent by this process shows up in
// its activity as it does in the kernel's process CPU clock.
func TestReadActivity(t *testing.T) {
	cpuClock := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ts.Nano())
	}
	before, err := readActivity(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process has had 50 ms of CPU, however busy the
	// machine is.
	for start := cpuClock(); cpuClock()-start < 50*time.Millisecond; {
	}
	after, err := readActivity(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after.sub(before); d.cpu < 45*time.Millisecond {
		t.Errorf("50 ms of CPU by the process clock shows as %v in its activity", d.cpu)
	}
}

// TestProcessTree checks that a child and its memory are found.
func TestProcessTree(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep program: %v", err)
	}
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	tree, err := processTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree[0] != os.Getpid() || !slices.Contains(tree, cmd.Process.Pid) {
		t.Fatalf("tree of %d = %v, want it first and child %d in it", os.Getpid(), tree, cmd.Process.Pid)
	}
	m, err := processes(tree).memory()
	if err != nil {
		t.Fatal(err)
	}
	if m.PSS <= 0 || m.RSS < m.PSS {
		t.Errorf("memory of %v = %+v, want 0 < PSS <= RSS", tree, m)
	}
}

// TestImageSize checks the read-only image of this test binary: some code,
// and less than the whole file.
func TestImageSize(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	n, err := imageSize(exe)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if n < 100<<10 || n >= st.Size() {
		t.Errorf("image of %s = %d bytes, want at least 100 KiB and less than the file's %d", exe, n, st.Size())
	}
}
