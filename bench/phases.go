package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// Where the time to prefix goes (issue 13): cold starts of dhcp6leased
// with solicit delay 0 like those of coldstart.go, each timed from outside
// at every step it takes on the way:
//
//   - kernel tracepoints, in a private ftrace instance (tracefs.go), for
//     what the three processes do: execs, the first system calls of their
//     code after the Go runtime's start and the packages' init, fsync,
//     chroot, the end of seccomp's set-up, the bind of the UDP socket,
//     and every context switch (CPU used and time spent waiting for one);
//   - tcpdump on up0 for the Solicit and the Reply;
//   - the lab's ip monitor, as for the time to prefix, for the address on
//     lan0, first added (tentative) and then usable.
//
// The milestones are system calls the code makes at those points; a
// milestone a run does not show (no fsync when the state directory holds a
// DUID already) merges its phase into the next one.

// milestone is a point on the way from exec to the address on lan0.
type milestone int

const (
	parentExec milestone = iota
	parentMain           // first geteuid: parent.Main's root check
	duidSync             // first fsync: the new DUID's file
	duidSynced           // return of the last fsync before the frontend's exec
	frontendExec
	frontendMain      // first recvmsg: waiting for the parent's messages
	frontendChroot    // chroot: the start of the sandbox, all fds there
	frontendSandboxed // seccomp returns: confined
	engineExec
	engineMain
	engineChroot
	engineSandboxed
	socketBound  // the parent binds the uplink's UDP socket (port 546)
	solicitSent  // tcpdump on up0
	replySeen    // tcpdump on up0
	addressAdded // ip monitor: the first global address on lan0
	addressReady // ip monitor: the same, no longer tentative
	milestones
)

// phase is a step of the critical path, from one milestone to the next.
type phase struct {
	from, to milestone
	what     string
}

// criticalPath is the chain of phases from exec to the address. The
// engine starts alongside the frontend; enginePath shows when it is ready.
func criticalPath() []phase {
	return []phase{
		{parentExec, parentMain, "parent: Go runtime start, package init"},
		{parentMain, duidSync, "parent: config, user, lock, state directory"},
		{duidSync, duidSynced, "parent: new DUID written, file and directory fsync'd"},
		{duidSynced, frontendExec, "parent: rtnetlink, own routes, control socket, fork and exec of the frontend"},
		{frontendExec, frontendMain, "frontend: Go runtime start, package init, user lookup"},
		{frontendMain, frontendChroot, "frontend: CONFIG and fds from the parent, config parse"},
		{frontendChroot, frontendSandboxed, "frontend: sandbox (chroot, setresuid, no_new_privs, Landlock, seccomp)"},
		{frontendSandboxed, socketBound, "frontend: rtnetlink dump, OPEN_UDP; parent binds port 546"},
		{socketBound, solicitSent, "socket to the frontend, LINK and UPLINK_READY to the engine, Solicit built and sent"},
		{solicitSent, replySeen, "server: Kea answers (Rapid Commit)"},
		{replySeen, addressAdded, "Reply to the engine, SET_ADDRESS to the parent, RTM_NEWADDR, ip monitor"},
	}
}

// enginePath is the engine's start, beside the frontend's.
func enginePath() []milestone {
	return []milestone{engineExec, engineMain, engineChroot, engineSandboxed}
}

func (m milestone) String() string {
	return [...]string{"parent exec", "parent main", "first fsync", "last fsync returns",
		"frontend exec", "frontend main", "frontend chroot", "frontend sandboxed",
		"engine exec", "engine main", "engine chroot", "engine sandboxed",
		"UDP socket bound", "Solicit on up0", "Reply on up0", "lan0 address added", "lan0 address usable"}[m]
}

// udpBindLen is bind(2)'s addrlen, as the trace prints it, for the
// uplink's socket: a sockaddr_in6 (28 bytes), where the parent's other
// binds are of netlink and unix sockets.
const udpBindLen = "0x1c"

// roles are the three processes, as the parent names them in argv[0].
var roles = []string{"parent", "frontend", "engine"}

// procCPU is what one process did on the CPUs from its exec to the
// address on lan0.
type procCPU struct {
	run  time.Duration // on a CPU
	wait time.Duration // runnable, waiting for a CPU
}

// phaseRun is one traced cold start.
type phaseRun struct {
	// at is each milestone's time since the parent's exec; ok whether the
	// run showed it.
	at [milestones]time.Duration
	ok [milestones]bool
	// cpu is per role, until the address was added.
	cpu map[string]procCPU
}

// phaseResult is the traced series.
type phaseResult struct {
	runs []phaseRun
	// toPrefix is exec -> first address on lan0 of each run, as in
	// coldStartResult but with tracing on.
	toPrefix distribution
}

// phaseSeries makes runs traced cold starts of c in a lab of its own.
func phaseSeries(ctx context.Context, c client, runs int) (_ phaseResult, err error) {
	tr, err := newTracer()
	if err != nil {
		return phaseResult{}, err
	}
	defer func() { err = errors.Join(err, tr.close()) }()
	tb, err := newTestbed(ctx, 1, 2, false)
	if err != nil {
		return phaseResult{}, err
	}
	defer func() { err = errors.Join(err, tb.Close()) }()
	capture, err := lab.StartCapture(ctx, tb.topo.CLI, tb.uplinks[0].name)
	if err != nil {
		return phaseResult{}, err
	}
	defer func() { err = errors.Join(err, capture.Stop()) }()
	var res phaseResult
	var samples []time.Duration
	for i := range runs {
		run, err := tracedColdStart(ctx, tb, tr, capture, c)
		if err != nil {
			return res, fmt.Errorf("traced cold start %d of %s: %w", i+1, c.name, err)
		}
		res.runs = append(res.runs, run)
		samples = append(samples, run.at[addressAdded])
	}
	res.toPrefix = newDistribution(samples)
	return res, nil
}

// tracedColdStart is one cold start with the tracer on the launcher.
func tracedColdStart(ctx context.Context, tb *testbed, tr *tracer, capture *lab.Capture, c client) (phaseRun, error) {
	var run phaseRun
	var pids map[string]int
	var added, ready time.Time
	err := tb.runArmed(ctx, c, tr.trace, func(r *running) error {
		first, err := tb.firstAddrs(ctx, r, []string{"lan0"}, boundTimeout)
		if err != nil {
			return err
		}
		added = first["lan0"]
		if ready, err = tb.usableAddr(ctx, r, "lan0", added); err != nil {
			return err
		}
		pids, err = rolePids(r)
		return err
	})
	if err != nil {
		return run, err
	}
	events, err := tr.events()
	if err != nil {
		return run, err
	}
	offset, err := monoOffset()
	if err != nil {
		return run, err
	}
	mono := func(t time.Time) time.Duration { return time.Duration(t.UnixNano()) - offset }
	var marks [milestones]time.Duration
	var ok [milestones]bool
	set := func(m milestone, at time.Duration) {
		if !ok[m] {
			marks[m], ok[m] = at, true
		}
	}
	for m, at := range traceMilestones(events, pids) {
		set(m, at)
	}
	if !ok[parentExec] {
		return run, fmt.Errorf("no exec of the parent (pid %d) in the trace", pids["parent"])
	}
	start := marks[parentExec]
	wall := time.Unix(0, int64(start+offset))
	if p, found := capture.First("solicit", wall); found {
		set(solicitSent, mono(p.Time))
		if p, found := capture.First("reply", p.Time); found {
			set(replySeen, mono(p.Time))
		}
	}
	set(addressAdded, mono(added))
	set(addressReady, mono(ready))
	for m := range milestones {
		run.at[m], run.ok[m] = marks[m]-start, ok[m]
	}
	run.cpu = cpuUntil(events, pids, marks[addressAdded])
	return run, nil
}

// traceMilestones finds the milestones the kernel's events mark, each
// the first of its kind, on the trace's clock.
func traceMilestones(events []traceEvent, pids map[string]int) map[milestone]time.Duration {
	marks := map[milestone]time.Duration{}
	first := func(m milestone, at time.Duration) {
		if _, seen := marks[m]; !seen {
			marks[m] = at
		}
	}
	parent := pids["parent"]
	perRole := map[string][4]milestone{
		"frontend": {frontendExec, frontendMain, frontendChroot, frontendSandboxed},
		"engine":   {engineExec, engineMain, engineChroot, engineSandboxed},
	}
	childStarted := false
	for _, e := range events {
		switch {
		case e.tgid == parent && e.name == "sched_process_exec" && e.field("pid") == fmt.Sprint(parent):
			first(parentExec, e.at)
		case e.tgid == parent && e.name == "sys_enter_geteuid":
			first(parentMain, e.at)
		case e.tgid == parent && e.name == "sys_enter_fsync" && !childStarted:
			first(duidSync, e.at)
		case e.tgid == parent && e.name == "sys_exit_fsync" && !childStarted:
			marks[duidSynced] = e.at // the last one before a child's exec
		case e.tgid == parent && e.name == "sys_enter_bind" && childStarted && e.field("addrlen") == udpBindLen:
			first(socketBound, e.at)
		}
		for role, ms := range perRole {
			if e.tgid != pids[role] {
				continue
			}
			switch e.name {
			case "sched_process_exec":
				first(ms[0], e.at)
				childStarted = true
			case "sys_enter_recvmsg":
				first(ms[1], e.at)
			case "sys_enter_chroot":
				first(ms[2], e.at)
			case "sys_exit_seccomp":
				first(ms[3], e.at)
			}
		}
	}
	return marks
}

// cpuUntil sums, per role, the time its threads spent on a CPU and waiting
// for one (woken or preempted, not yet running) before until, from the
// context switches and wake-ups in events.
func cpuUntil(events []traceEvent, pids map[string]int, until time.Duration) map[string]procCPU {
	roleOf := map[int]string{} // tid -> role, learnt from the lines a thread writes
	for role, pid := range pids {
		roleOf[pid] = role
	}
	for _, e := range events {
		for role, pid := range pids {
			if e.tgid == pid {
				roleOf[e.tid] = role
			}
		}
	}
	cpu := map[string]procCPU{}
	onSince := map[int]time.Duration{}       // running threads
	runnableSince := map[int]time.Duration{} // threads waiting for a CPU
	add := func(tid int, d time.Duration, running bool) {
		role, ok := roleOf[tid]
		if !ok {
			return
		}
		c := cpu[role]
		if running {
			c.run += d
		} else {
			c.wait += d
		}
		cpu[role] = c
	}
	for _, e := range events {
		if e.at > until {
			break
		}
		switch e.name {
		case "sched_wakeup":
			var tid int
			if _, err := fmt.Sscan(e.field("pid"), &tid); err == nil {
				if _, waiting := runnableSince[tid]; !waiting {
					runnableSince[tid] = e.at
				}
			}
		case "sched_switch":
			var prev, next int
			_, err1 := fmt.Sscan(e.field("prev_pid"), &prev)
			_, err2 := fmt.Sscan(e.field("next_pid"), &next)
			if err1 != nil || err2 != nil {
				continue
			}
			if since, on := onSince[prev]; on {
				add(prev, e.at-since, true)
				delete(onSince, prev)
			}
			// Preempted ("R", "R+"): it waits for a CPU from now on.
			if strings.HasPrefix(e.field("prev_state"), "R") {
				runnableSince[prev] = e.at
			}
			if since, waiting := runnableSince[next]; waiting {
				add(next, e.at-since, false)
				delete(runnableSince, next)
			}
			onSince[next] = e.at
		}
	}
	for tid, since := range onSince {
		add(tid, until-since, true)
	}
	for tid, since := range runnableSince {
		add(tid, until-since, false)
	}
	return cpu
}

// rolePids maps each role to its pid, from the process titles the parent
// gives its children ("dhcp6leased: frontend").
func rolePids(r *running) (map[string]int, error) {
	procs, err := r.tree()
	if err != nil {
		return nil, err
	}
	pids := map[string]int{"parent": r.proc.Pid()}
	for _, pid := range procs[1:] {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return nil, fmt.Errorf("role of %d: %w", pid, err)
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		for _, role := range roles[1:] {
			if strings.HasSuffix(argv0, ": "+role) {
				pids[role] = pid
			}
		}
	}
	for _, role := range roles {
		if _, ok := pids[role]; !ok {
			return nil, fmt.Errorf("no %s among processes %v", role, procs)
		}
	}
	return pids, nil
}

// usableAddr waits for the ip monitor line that shows the global address
// on ifname added at added without the tentative flag (DAD over; at once
// in the lab, which switches DAD off), and returns its time.
func (tb *testbed) usableAddr(ctx context.Context, r *running, ifname string, added time.Time) (time.Time, error) {
	var at time.Time
	err := lab.WaitFor(ctx, boundTimeout, ifname+"'s address usable", func() (bool, error) {
		if err := r.exited(); err != nil {
			return false, lab.Abort(err)
		}
		for _, e := range tb.mon.AddrEvents(ifname) {
			if !e.Deleted && e.Prefix.Addr().IsGlobalUnicast() && !e.Time.Before(added) && !strings.Contains(e.Line, "tentative") {
				at = e.Time
				return true, nil
			}
		}
		return false, nil
	})
	return at, err
}

// phaseStat is the median and p95 of one phase over the runs that showed
// both its ends.
func (res phaseResult) phaseStat(from, to milestone) (distribution, bool) {
	var d []time.Duration
	for _, r := range res.runs {
		if r.ok[from] && r.ok[to] {
			d = append(d, r.at[to]-r.at[from])
		}
	}
	return newDistribution(d), len(d) > 0
}

// milestoneStat is the time since exec of one milestone over the runs.
func (res phaseResult) milestoneStat(m milestone) (distribution, bool) {
	return res.phaseStat(parentExec, m)
}

// cpuStat is the distribution of one role's CPU figure over the runs.
func (res phaseResult) cpuStat(role string, wait bool) distribution {
	var d []time.Duration
	for _, r := range res.runs {
		c := r.cpu[role]
		if wait {
			d = append(d, c.wait)
		} else {
			d = append(d, c.run)
		}
	}
	return newDistribution(d)
}

// totalCPU is the distribution of the three processes' CPU time summed.
func (res phaseResult) totalCPU(wait bool) distribution {
	var d []time.Duration
	for _, r := range res.runs {
		var sum time.Duration
		for _, role := range roles {
			if wait {
				sum += r.cpu[role].wait
			} else {
				sum += r.cpu[role].run
			}
		}
		d = append(d, sum)
	}
	return newDistribution(d)
}

// criticalPhases is criticalPath with the phases whose start no run showed
// merged into the one before.
func (res phaseResult) criticalPhases() []phase {
	var out []phase
	for _, p := range criticalPath() {
		seen := slices.ContainsFunc(res.runs, func(r phaseRun) bool { return r.ok[p.from] })
		if !seen && len(out) > 0 {
			out[len(out)-1].to = p.to
			out[len(out)-1].what += "; " + p.what
			continue
		}
		out = append(out, p)
	}
	return out
}
