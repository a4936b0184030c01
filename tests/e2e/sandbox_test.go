package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestSandbox: while bound, frontend and engine run under a seccomp filter
// on every thread (SPEC 2) and hold no file or directory of the parent's:
// only sockets, pipes, the runtime's anonymous inodes and /dev/null. What
// the filter and Landlock refuse from inside is internal/sandbox's test;
// uid, capabilities, no_new_privs and the chroot are TestPrivileges'.
func TestSandbox(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	d.waitAnyAddr("lan0", bindTimeout)
	// The control path runs through the sandboxed frontend and engine.
	if out, err := d.ctl("show", "interface", "up0"); err != nil || !strings.HasPrefix(out, "up0 [Bound]") {
		t.Errorf("show interface up0: %v: %q", err, out)
	}
	for _, pid := range childPids(t, d.proc.Pid()) {
		st, err := procStatus(pid)
		if err != nil {
			t.Fatal(err)
		}
		if st["Seccomp"] != "2" || st["Seccomp_filters"] != "1" {
			t.Errorf("child %d: Seccomp %q, Seccomp_filters %q; want 2 (filter) and 1", pid, st["Seccomp"], st["Seccomp_filters"])
		}
		threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range threads {
			// /proc/TID is each thread's own view, though not listed.
			var tid int
			if _, err := fmt.Sscan(th.Name(), &tid); err != nil {
				t.Fatal(err)
			}
			tst, err := procStatus(tid)
			if err != nil {
				t.Fatal(err)
			}
			if tst["Seccomp"] != "2" {
				t.Errorf("child %d thread %s: Seccomp %q, want 2", pid, th.Name(), tst["Seccomp"])
			}
		}
		for _, fd := range openFiles(t, pid) {
			if !strings.HasPrefix(fd, "socket:") && !strings.HasPrefix(fd, "pipe:") &&
				!strings.HasPrefix(fd, "anon_inode:") && fd != "/dev/null" {
				t.Errorf("child %d holds %s", pid, fd)
			}
		}
	}
}

// openFiles returns what pid's fds point to.
func openFiles(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, target)
	}
	return targets
}
