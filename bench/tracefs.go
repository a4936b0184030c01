package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tracefsRoot is where the kernel's tracing file system is mounted.
const tracefsRoot = "/sys/kernel/tracing"

// tracer is a private ftrace instance (tracefs instances/NAME): its own
// buffer, clock and event selection, so that it neither disturbs nor sees
// other users of the global trace. The kernel writes the events from its
// tracepoints, with no ptrace and no change to the traced program; the
// events used are listed in traceEvents.
type tracer struct {
	dir string
}

// traceEvents are the tracepoints the phase measurement reads (phases.go
// says which milestone each marks).
func traceEvents() []string {
	return []string{
		"sched/sched_process_exec",
		"sched/sched_switch",
		"sched/sched_wakeup",
		"syscalls/sys_enter_geteuid",
		"syscalls/sys_enter_fsync",
		"syscalls/sys_exit_fsync",
		"syscalls/sys_enter_recvmsg",
		"syscalls/sys_enter_chroot",
		"syscalls/sys_exit_seccomp",
		"syscalls/sys_enter_bind",
	}
}

// newTracer creates the instance, mounting tracefs first if nothing has
// (as perf does). Timestamps are CLOCK_MONOTONIC (trace_clock mono), to be
// compared with the other observers' wall-clock times (monoOffset).
// Events of a process are recorded once trace adds its pid.
func newTracer() (_ *tracer, err error) {
	if _, err := os.Stat(filepath.Join(tracefsRoot, "instances")); err != nil {
		if err := unix.Mount("nodev", tracefsRoot, "tracefs", 0, ""); err != nil {
			return nil, fmt.Errorf("mount tracefs on %s: %w", tracefsRoot, err)
		}
	}
	t := &tracer{dir: filepath.Join(tracefsRoot, "instances", fmt.Sprintf("dhcp6leased-bench-%d", os.Getpid()))}
	if err := os.Mkdir(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create trace instance: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	settings := [][2]string{
		// Nothing is recorded until trace names a pid: without a pid
		// filter the instance would record every process.
		{"tracing_on", "0"},
		{"trace_clock", "mono"},
		// Each line names the process (thread group) as well as the thread.
		{"options/record-tgid", "1"},
		// Processes and threads the traced pid starts are traced too.
		{"options/event-fork", "1"},
		{"buffer_size_kb", "4096"},
	}
	for _, e := range traceEvents() {
		settings = append(settings, [2]string{filepath.Join("events", e, "enable"), "1"})
	}
	for _, s := range settings {
		if err := t.write(s[0], s[1]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *tracer) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(t.dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("trace instance %s: %w", file, err)
	}
	return nil
}

// trace starts recording the events of pid and of everything it starts,
// after clearing what was recorded before. The kernel applies a new pid
// filter to a task when it is next scheduled: pid must be waiting (the
// launcher at its gate), not running.
func (t *tracer) trace(pid int) error {
	if err := t.write("trace", ""); err != nil {
		return err
	}
	if err := t.write("set_event_pid", strconv.Itoa(pid)); err != nil {
		return err
	}
	return t.write("tracing_on", "1")
}

// events stops recording and returns what was recorded.
func (t *tracer) events() ([]traceEvent, error) {
	if err := t.write("tracing_on", "0"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(t.dir, "trace"))
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	return parseTrace(string(b)), nil
}

// close removes the instance; disabling the events first lets the kernel
// free it.
func (t *tracer) close() error {
	var errs []error
	for _, e := range traceEvents() {
		errs = append(errs, t.write(filepath.Join("events", e, "enable"), "0"))
	}
	if err := os.Remove(t.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove trace instance: %w", err))
	}
	return errors.Join(errs...)
}

// traceEvent is one line of an instance's trace file.
type traceEvent struct {
	tid, tgid int
	// at is the CLOCK_MONOTONIC time of the event.
	at     time.Duration
	name   string // sched_process_exec, sys_enter_fsync, ...
	fields string // the rest of the line
}

// traceLine matches a trace line with record-tgid:
//
//	dhcp6leased-1234    (   1234) [001] .....  8826.925402: sched_process_exec: filename=... pid=1234 old_pid=1234
//	dhcp6leased-1234    (   1234) [001] .....  8826.925410: sys_fsync(fd: 6)
//	dhcp6leased-1234    (   1234) [001] .....  8826.926410: sys_fsync -> 0x0
//
// The system call tracepoints print the call (sys_enter_NAME) and its
// return (sys_exit_NAME) in their own formats.
var traceLine = regexp.MustCompile(`^\s*.*?-(\d+)\s+\(\s*(\d+|-+)\)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d+):\s+(.*)$`)

var (
	eventBody   = regexp.MustCompile(`^(\w+):\s*(.*)$`)
	syscallBody = regexp.MustCompile(`^sys_(\w+)\((.*)\)$`)
	returnBody  = regexp.MustCompile(`^sys_(\w+) -> (\S+)$`)
)

func parseTrace(text string) []traceEvent {
	var events []traceEvent
	for _, line := range strings.Split(text, "\n") {
		m := traceLine.FindStringSubmatch(line)
		if m == nil {
			continue // a comment, or an event of no thread group
		}
		tid, _ := strconv.Atoi(m[1])
		tgid, err := strconv.Atoi(m[2])
		if err != nil {
			tgid = tid // "-----": the kernel had not recorded it
		}
		sec, _ := strconv.ParseInt(m[3], 10, 64)
		frac, _ := strconv.ParseInt((m[4] + "000000000")[:9], 10, 64)
		e := traceEvent{tid: tid, tgid: tgid, at: time.Duration(sec)*time.Second + time.Duration(frac)}
		if b := syscallBody.FindStringSubmatch(m[5]); b != nil {
			e.name, e.fields = "sys_enter_"+b[1], strings.ReplaceAll(b[2], ": ", "=")
		} else if b := returnBody.FindStringSubmatch(m[5]); b != nil {
			e.name, e.fields = "sys_exit_"+b[1], "ret="+b[2]
		} else if b := eventBody.FindStringSubmatch(m[5]); b != nil {
			e.name, e.fields = b[1], b[2]
		} else {
			continue
		}
		events = append(events, e)
	}
	return events
}

// field returns the value of name=value in an event's fields (separated
// by blanks, or by commas and blanks in a system call's arguments).
func (e traceEvent) field(name string) string {
	for _, f := range strings.Fields(e.fields) {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(f, ","), name+"="); ok {
			return v
		}
	}
	return ""
}

// monoOffset is CLOCK_REALTIME minus CLOCK_MONOTONIC now: a wall-clock time
// (tcpdump's, ip monitor's) minus it is on the trace's clock. Of a few
// readings, the pair read closest together.
func monoOffset() (time.Duration, error) {
	best, bestSpan := time.Duration(0), time.Duration(-1)
	for range 5 {
		var m0, r, m1 unix.Timespec
		if err := errors.Join(unix.ClockGettime(unix.CLOCK_MONOTONIC, &m0), unix.ClockGettime(unix.CLOCK_REALTIME, &r),
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)); err != nil {
			return 0, fmt.Errorf("read clocks: %w", err)
		}
		mono0, mono1 := time.Duration(m0.Nano()), time.Duration(m1.Nano())
		if span := mono1 - mono0; bestSpan < 0 || span < bestSpan {
			best, bestSpan = time.Duration(r.Nano())-(mono0+mono1)/2, span
		}
	}
	return best, nil
}
