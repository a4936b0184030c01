package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: the kernel reports
// them in USER_HZ, fixed at 100 for user space on every Linux architecture
// Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const userHZ = 100

// processTree returns root and all its live descendants. This kernel has no
// /proc/PID/task/TID/children, so parents are looked up in every
// /proc/PID/stat.
func processTree(root int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		st, err := readStat(pid)
		if err != nil {
			continue // exited since the listing
		}
		children[st.ppid] = append(children[st.ppid], pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree, nil
}

// procStat is what the benchmarks use of /proc/PID/stat.
type procStat struct {
	ppid int
	// cpu is user plus system time of all the process's threads, with
	// that of its waited-for children (dhcpcd's hook scripts).
	cpu time.Duration
}

func readStat(pid int) (procStat, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, fmt.Errorf("read %s: %w", path, err)
	}
	st, err := parseStat(string(b))
	if err != nil {
		return procStat{}, fmt.Errorf("read %s: %w", path, err)
	}
	return st, nil
}

// parseStat decodes a /proc/PID/stat line (proc(5)). The command name may
// hold blanks and parentheses, so the fields are counted from after its
// last ')': state is field 3, ppid 4, utime 14, stime 15, cutime 16,
// cstime 17.
func parseStat(line string) (procStat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse stat %q: no command name", line)
	}
	f := strings.Fields(line[i+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse stat %q: %d fields after the name", line, len(f))
	}
	field := func(n int) (int64, error) { return strconv.ParseInt(f[n-3], 10, 64) }
	ppid, err := field(4)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat ppid: %w", err)
	}
	var ticks int64
	for n := 14; n <= 17; n++ {
		v, err := field(n)
		if err != nil {
			return procStat{}, fmt.Errorf("parse stat field %d: %w", n, err)
		}
		ticks += v
	}
	return procStat{ppid: int(ppid), cpu: time.Duration(ticks) * time.Second / userHZ}, nil
}

// memory is resident memory in kB.
type memory struct {
	RSS int64 // resident set size: every page counted fully
	// PSS is the proportional set size: each page divided by the number
	// of processes mapping it, so that PSS adds up across processes.
	PSS int64
	// PSSFile is the part of PSS from mapped files (the program and its
	// libraries), PSSAnon the part from anonymous memory (heap, stacks).
	PSSFile, PSSAnon int64
}

func (m memory) add(o memory) memory {
	return memory{RSS: m.RSS + o.RSS, PSS: m.PSS + o.PSS, PSSFile: m.PSSFile + o.PSSFile, PSSAnon: m.PSSAnon + o.PSSAnon}
}

func readMemory(pid int) (memory, error) {
	path := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return memory{}, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := parseSmapsRollup(string(b))
	if err != nil {
		return memory{}, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// parseSmapsRollup takes Rss, Pss, Pss_File and Pss_Anon from
// /proc/PID/smaps_rollup.
func parseSmapsRollup(text string) (memory, error) {
	var m memory
	var seen int
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		var dst *int64
		switch f[0] {
		case "Rss:":
			dst = &m.RSS
		case "Pss:":
			dst = &m.PSS
		case "Pss_File:":
			dst = &m.PSSFile
		case "Pss_Anon:":
			dst = &m.PSSAnon
		default:
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("parse smaps_rollup %s: %w", f[0], err)
		}
		*dst = v
		seen++
	}
	if seen != 4 {
		return memory{}, fmt.Errorf("parse smaps_rollup: want Rss, Pss, Pss_File and Pss_Anon, found %d of them", seen)
	}
	return m, nil
}

// activity is what a process has done so far: context switches and time
// on a CPU, summed over its threads.
type activity struct {
	switches int64
	cpu      time.Duration
}

func (a activity) sub(o activity) activity {
	return activity{switches: a.switches - o.switches, cpu: a.cpu - o.cpu}
}

// readActivity sums over the process's threads: voluntary and involuntary
// context switches from each /proc/PID/task/TID/status (the process's own
// status counts its main thread only), and the run time in nanoseconds from
// each schedstat, which is exact where stat's CPU times come in 10 ms ticks.
func readActivity(pid int) (activity, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return activity{}, fmt.Errorf("list threads of %d: %w", pid, err)
	}
	var sum activity
	for _, t := range tasks {
		a, err := readTaskActivity(filepath.Join(dir, t.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread exited since the listing
		}
		if err != nil {
			return activity{}, err
		}
		sum.switches += a.switches
		sum.cpu += a.cpu
	}
	return sum, nil
}

func readTaskActivity(dir string) (activity, error) {
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return activity{}, fmt.Errorf("read %s/status: %w", dir, err)
	}
	sched, err := os.ReadFile(filepath.Join(dir, "schedstat"))
	if err != nil {
		return activity{}, fmt.Errorf("read %s/schedstat: %w", dir, err)
	}
	a, err := parseTaskActivity(string(status), string(sched))
	if err != nil {
		return activity{}, fmt.Errorf("read %s: %w", dir, err)
	}
	return a, nil
}

// parseTaskActivity takes the context switch counts from a thread's status
// and its run time from its schedstat ("run-ns wait-ns timeslices").
func parseTaskActivity(status, schedstat string) (activity, error) {
	var a activity
	var seen int
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "voluntary_ctxt_switches" && k != "nonvoluntary_ctxt_switches") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return activity{}, fmt.Errorf("parse status %s: %w", k, err)
		}
		a.switches += n
		seen++
	}
	if seen != 2 {
		return activity{}, fmt.Errorf("parse status: want both context switch counts, found %d", seen)
	}
	f := strings.Fields(schedstat)
	if len(f) != 3 {
		return activity{}, fmt.Errorf("parse schedstat %q: want 3 fields", schedstat)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return activity{}, fmt.Errorf("parse schedstat run time: %w", err)
	}
	a.cpu = time.Duration(ns)
	return a, nil
}

// processes is a set of processes measured together: a client's process
// tree, or the Go floor's processes.
type processes []int

// memory sums the memory of the processes; one that has exited since the
// list was made (a hook script) counts nothing.
func (ps processes) memory() (memory, error) {
	var sum memory
	for _, pid := range ps {
		m, err := readMemory(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return memory{}, err
		}
		sum = sum.add(m)
	}
	return sum, nil
}

// cpu sums the processes' CPU time from /proc/PID/stat, which includes
// threads that have exited.
func (ps processes) cpu() (time.Duration, error) {
	var sum time.Duration
	for _, pid := range ps {
		st, err := readStat(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		sum += st.cpu
	}
	return sum, nil
}

// activity sums the processes' activity.
func (ps processes) activity() (activity, error) {
	var sum activity
	for _, pid := range ps {
		a, err := readActivity(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return activity{}, err
		}
		sum.switches += a.switches
		sum.cpu += a.cpu
	}
	return sum, nil
}
