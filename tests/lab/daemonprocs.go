package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DaemonProcesses finds the processes of the dhcp6leased whose parent is
// pid: "parent", and "frontend" and "engine", the children re-executed
// with -F and -E. A child that has not exec'd yet still shows the
// parent's command line and is not found: callers wait until all three
// are there.
func DaemonProcesses(pid int) (map[string]int, error) {
	kids, err := Children(pid)
	if err != nil {
		return nil, err
	}
	procs := map[string]int{"parent": pid}
	for _, kid := range kids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", kid))
		if err != nil {
			continue // gone meanwhile
		}
		args := strings.Split(string(cmdline), "\x00")
		switch {
		case slices.Contains(args, "-F"):
			procs["frontend"] = kid
		case slices.Contains(args, "-E"):
			procs["engine"] = kid
		}
	}
	return procs, nil
}

// Children lists the child processes of pid, from every thread's
// /proc/PID/task/TID/children (a Go program forks from any thread).
func Children(pid int) ([]int, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no tasks of pid %d: %v", pid, err)
	}
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}
