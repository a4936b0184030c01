package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Targets from issue 6.
const (
	codecSpeedupTarget    = 5.0
	decodeAllocsTarget    = 1
	delayZeroMedianTarget = 50 * time.Millisecond
	rfcToDhcpcdTarget     = 0.6
	floorPSSRatioTarget   = 1.2
	scaleUplinksTarget    = 128
	scaleAllBoundTarget   = 3 * time.Second
	pssPerUplinkTargetKB  = 64
	linkUpBoundTarget     = 20 * time.Millisecond
)

// Targets from issue 13.
const (
	delayZeroMedianTarget13 = 20 * time.Millisecond
	totalPSSTargetKB        = 6 << 10
)

// writeOutputs writes the report and the plot it shows.
func writeOutputs(res results) error {
	plotRef, err := filepath.Rel(filepath.Dir(res.settings.report), res.settings.plot)
	if err != nil {
		return fmt.Errorf("plot path relative to the report: %w", err)
	}
	if err := os.WriteFile(res.settings.plot, []byte(plot(res)), 0o644); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	if err := os.WriteFile(res.settings.report, []byte(report(res, plotRef)), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// table is a Markdown table.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	line := func(cells []string) { fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | ")) }
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	b.WriteString("\n")
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func mib(kb int64) string         { return fmt.Sprintf("%.2f MiB", float64(kb)/1024) }
func ratio(x float64) string      { return fmt.Sprintf("%.2fx", x) }
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// coldStart finds a client's cold starts by name.
func (res results) coldStart(name string) (coldStartResult, bool) {
	for _, c := range res.coldStarts {
		if c.client == name {
			return c, true
		}
	}
	return coldStartResult{}, false
}

// linkUp finds a client's flaps by name.
func (res results) linkUp(name string) (linkUpResult, bool) {
	for _, l := range res.linkUps {
		if l.client == name {
			return l, true
		}
	}
	return linkUpResult{}, false
}

// scaleOf returns the scale result of client on n uplinks.
func (res results) scaleOf(client string, n int) (scaleResult, bool) {
	for _, s := range res.scale {
		if s.client == client && s.uplinks == n {
			return s, true
		}
	}
	return scaleResult{}, false
}

// pssPerExtraUplink is the growth of our PSS while bound from 1 uplink to
// the most uplinks measured, per added uplink, in kB.
func (res results) pssPerExtraUplink(client string) (float64, int, bool) {
	n := res.settings.uplinks[len(res.settings.uplinks)-1]
	one, ok1 := res.scaleOf(client, 1)
	most, ok2 := res.scaleOf(client, n)
	if !ok1 || !ok2 || n == 1 || !one.allBound() || !most.allBound() {
		return 0, n, false
	}
	return float64(most.settled.PSS-one.settled.PSS) / float64(n-1), n, true
}

func report(res results, plotRef string) string {
	var b strings.Builder
	m := res.machine
	b.WriteString("# Performance\n\n")
	b.WriteString("dhcp6leased beside dhcpcd and WIDE dhcp6c, measured in network-namespace labs\n")
	b.WriteString("against Kea with Rapid Commit (issue 6). Written by `make bench` (bench/) from\n")
	fmt.Fprintf(&b, "one run on %s; do not edit by hand.\n\n", m.date.Format("2006-01-02 15:04 UTC"))

	b.WriteString("## Machine\n\n")
	mt := table{head: []string{"what", "value"}}
	mt.add("CPUs (nproc)", fmt.Sprint(m.cpus))
	mt.add("CPU model", m.cpuModel)
	mt.add("kernel", m.kernel)
	mt.add("Go", m.goVersion)
	mt.add("date", m.date.Format(time.RFC3339))
	mt.add("load average before / after (1, 5, 15 min)", m.loadBefore+" / "+m.loadAfter)
	for _, p := range m.packages {
		mt.add(p[0], p[1])
	}
	mt.write(&b)
	b.WriteString("The machine is shared: other work on its CPUs (the load averages above) slows\n")
	b.WriteString("the timings and widens their spread, the medians less than the tails.\n\n")

	fmt.Fprintf(&b, "![time to prefix per client, and memory while bound](%s)\n\n", plotRef)

	writeTargets(&b, res)
	writeCodec(&b, res)
	writeColdStarts(&b, res)
	writePhases(&b, res)
	writeLinkUp(&b, res)
	writeMemory(&b, res)
	writeScale(&b, res)
	writeIdle(&b, res)
	writeHowTo(&b)
	return b.String()
}

func writeTargets(b *strings.Builder, res results) {
	b.WriteString("## Targets\n\n")
	t := table{head: []string{"item", "target", "measured", ""}}
	for _, p := range res.codec {
		t.add("1 codec: "+p.op, fmt.Sprintf(">= %.0fx faster than insomniacslk/dhcp", codecSpeedupTarget),
			ratio(p.speedup()), verdict(p.speedup() >= codecSpeedupTarget))
		if strings.HasPrefix(p.op, "decode") {
			t.add("1 codec: "+p.op, fmt.Sprintf("<= %d allocation", decodeAllocsTarget),
				fmt.Sprint(p.oursR.allocsPerOp), verdict(p.oursR.allocsPerOp <= decodeAllocsTarget))
		}
	}
	zero, okZero := res.coldStart(oursZeroName)
	if okZero {
		med := zero.toPrefix.median()
		t.add("2 time to prefix, solicit delay 0", "median <= "+ms(delayZeroMedianTarget), ms(med), verdict(med <= delayZeroMedianTarget))
		t.add("2 time to prefix, solicit delay 0 (issue 13)", "median <= "+ms(delayZeroMedianTarget13), ms(med), verdict(med <= delayZeroMedianTarget13))
	}
	rfc, okRFC := res.coldStart(oursRFCName)
	ref, okRef := res.coldStart(dhcpcdName)
	if okRFC && okRef {
		r := float64(rfc.toPrefix.median()) / float64(ref.toPrefix.median())
		t.add("2 time to prefix, RFC delay", fmt.Sprintf("median <= %.1fx dhcpcd's", rfcToDhcpcdTarget),
			fmt.Sprintf("%s = %s of %s", ms(rfc.toPrefix.median()), ratio(r), ms(ref.toPrefix.median())), verdict(r <= rfcToDhcpcdTarget))
	}
	if l, ok := res.linkUp(oursFlapName); ok {
		med := l.toBound.median()
		t.add("3 link up -> Bound", fmt.Sprintf("median <= %s after the up-delay (0)", ms(linkUpBoundTarget)),
			fmt.Sprintf("%s (p95 %s)", ms(med), ms(l.toBound.p95())), verdict(med <= linkUpBoundTarget))
	}
	if okZero {
		r := float64(zero.mem.PSS) / float64(res.floor.PSS)
		t.add("4 memory while bound", fmt.Sprintf("total PSS <= %.1fx the Go floor", floorPSSRatioTarget),
			fmt.Sprintf("%s = %s of %s", mib(zero.mem.PSS), ratio(r), mib(res.floor.PSS)), verdict(r <= floorPSSRatioTarget))
		t.add("4 memory while bound (issue 13)", "total PSS <= "+mib(totalPSSTargetKB), mib(zero.mem.PSS), verdict(zero.mem.PSS <= totalPSSTargetKB))
	}
	name := oursZeroName
	if s, ok := res.scaleOf(name, scaleUplinksTarget); ok {
		t.add(fmt.Sprintf("5 scale, %d uplinks", scaleUplinksTarget), "all Bound <= "+secs(scaleAllBoundTarget),
			s.boundCell(), verdict(s.allBound() && s.lastAddr <= scaleAllBoundTarget))
	} else {
		t.add(fmt.Sprintf("5 scale, %d uplinks", scaleUplinksTarget), "all Bound <= "+secs(scaleAllBoundTarget), "not run (-uplinks)", "")
	}
	if kb, n, ok := res.pssPerExtraUplink(name); ok {
		t.add(fmt.Sprintf("5 scale, 1 -> %d uplinks", n), fmt.Sprintf("<= %d KiB PSS per extra uplink", pssPerUplinkTargetKB),
			fmt.Sprintf("%.1f KiB", kb), verdict(kb <= pssPerUplinkTargetKB))
	}
	t.write(b)
}

func writeCodec(b *strings.Builder, res results) {
	b.WriteString("## 1. Codec\n\n")
	fmt.Fprintf(b, "`go test -run '^$' -bench . -benchmem -count %d %s`\n", codecCount, codecPackage)
	b.WriteString("(internal/dhcp6/bench_test.go): our codec and insomniacslk/dhcp on the same\n")
	fmt.Fprintf(b, "messages in the same run; of the %d runs of each benchmark, the median.\n\n", codecCount)
	t := table{head: []string{"operation", "ours ns/op", "ours allocs/op", "ours B/op",
		"insomniacslk ns/op", "insomniacslk allocs/op", "insomniacslk B/op", "speed-up"}}
	for _, p := range res.codec {
		t.add(p.op, fmt.Sprintf("%.1f", p.oursR.nsPerOp), fmt.Sprint(p.oursR.allocsPerOp), fmt.Sprint(p.oursR.bytesPerOp),
			fmt.Sprintf("%.1f", p.theirR.nsPerOp), fmt.Sprint(p.theirR.allocsPerOp), fmt.Sprint(p.theirR.bytesPerOp),
			ratio(p.speedup()))
	}
	t.write(b)
}

func writeColdStarts(b *strings.Builder, res results) {
	b.WriteString("## 2. Time to prefix\n\n")
	fmt.Fprintf(b, "%d cold starts per client, each with an empty state directory (a new DUID), in\n", res.settings.runs)
	b.WriteString("one lab per client: uplink up0 to Kea (Rapid Commit), downstreams lan0 and lan1.\n")
	b.WriteString("Timed from the exec of the client (a launcher waits at a FIFO inside the\n")
	b.WriteString("namespace, so `ip netns exec` and the peers' private mounts are not counted) to\n")
	b.WriteString("the `ip monitor` line of the first global address on lan0. p95 is the nearest\n")
	fmt.Fprintf(b, "rank (the 19th of 20). Ratios are to %s's median.\n\n", dhcpcdName)
	ref, okRef := res.coldStart(dhcpcdName)
	t := table{head: []string{"client", "median", "p95", "min", "max", "median / " + dhcpcdName}}
	for _, c := range res.coldStarts {
		r := "-"
		if okRef {
			r = ratio(float64(c.toPrefix.median()) / float64(ref.toPrefix.median()))
		}
		t.add(c.client, ms(c.toPrefix.median()), ms(c.toPrefix.p95()), ms(c.toPrefix.min()), ms(c.toPrefix.max()), r)
	}
	t.write(b)
	b.WriteString("The RFC delay is RFC 8415 section 18.2.1's random 0..1 s before the first\n")
	b.WriteString("Solicit; dhcpcd waits about a second before it too, WIDE dhcp6c a random\n")
	b.WriteString("0..1 s. The exchange itself takes about a millisecond.\n\n")
	zero, okZero := res.coldStart(oursZeroName)
	if okZero && okRef {
		// The median of n uniform draws from 0..1 s has a standard
		// error of about 1/(2 sqrt(n)) s.
		expected := time.Second/2 + zero.toPrefix.median()
		stderr := time.Duration(float64(time.Second) / (2 * math.Sqrt(float64(res.settings.runs))))
		fmt.Fprintf(b, "With the RFC delay the median of %d runs is expected at 500 ms plus the\n", res.settings.runs)
		fmt.Fprintf(b, "delay-0 median, %s (%s of dhcpcd's), with a standard error of about\n",
			ms(expected), ratio(float64(expected)/float64(ref.toPrefix.median())))
		fmt.Fprintf(b, "%s: one run's median can land on either side of a target near it.\n\n", ms(stderr))
	}
}

func writePhases(b *strings.Builder, res results) {
	b.WriteString("### Where the time goes\n\n")
	if len(res.phases.runs) == 0 {
		b.WriteString("Not run (-only).\n\n")
		return
	}
	fmt.Fprintf(b, "%d more cold starts of %s, in a lab of their own, each traced from\n", len(res.phases.runs), oursZeroName)
	b.WriteString("outside: kernel tracepoints in a private ftrace instance (bench/tracefs.go)\n")
	b.WriteString("for the three processes' execs, the first system call each makes at a\n")
	b.WriteString("known point of its code, and every context switch; tcpdump on up0 for the\n")
	b.WriteString("Solicit and the Reply; the `ip monitor` line for lan0's address. Phases are\n")
	b.WriteString("the critical path from the parent's exec; each row is the median and p95 of\n")
	b.WriteString("that phase alone (medians of phases need not add up to the median total).\n")
	fmt.Fprintf(b, "Time to prefix with tracing on: median %s, p95 %s.\n\n", ms(res.phases.toPrefix.median()), ms(res.phases.toPrefix.p95()))
	t := table{head: []string{"phase", "from -> to", "median", "p95"}}
	for _, p := range res.phases.criticalPhases() {
		if d, ok := res.phases.phaseStat(p.from, p.to); ok {
			t.add(p.what, p.from.String()+" -> "+p.to.String(), ms(d.median()), ms(d.p95()))
		}
	}
	t.write(b)
	b.WriteString("The engine starts beside the frontend, off the critical path unless it is\n")
	b.WriteString("late for the first Solicit (time since the parent's exec):\n\n")
	et := table{head: []string{"milestone", "median", "p95"}}
	for _, m := range append(enginePath(), frontendSandboxed, addressAdded, addressReady) {
		if d, ok := res.phases.milestoneStat(m); ok {
			et.add(m.String(), ms(d.median()), ms(d.p95()))
		}
	}
	et.write(b)
	b.WriteString("CPU from exec to lan0's address, per process: time on a CPU, and time\n")
	b.WriteString("runnable but waiting for one (the machine has " + fmt.Sprint(res.machine.cpus) + " CPUs for three\n")
	b.WriteString("processes, each with several runtime threads):\n\n")
	ct := table{head: []string{"process", "on CPU median", "p95", "waiting for a CPU median", "p95"}}
	for _, role := range roles {
		run, wait := res.phases.cpuStat(role, false), res.phases.cpuStat(role, true)
		ct.add(role, ms(run.median()), ms(run.p95()), ms(wait.median()), ms(wait.p95()))
	}
	run, wait := res.phases.totalCPU(false), res.phases.totalCPU(true)
	ct.add("all three", ms(run.median()), ms(run.p95()), ms(wait.median()), ms(wait.p95()))
	ct.write(b)
}

func writeLinkUp(b *strings.Builder, res results) {
	b.WriteString("## 3. Link up -> Rebind -> Bound\n\n")
	fmt.Fprintf(b, "%d carrier flaps per client, one client after the other, in one lab whose\n", res.settings.flaps)
	b.WriteString("server sits on a bridge: the bridge port facing up0 goes down, which takes\n")
	b.WriteString("up0's carrier away while Kea keeps its address. Once the client has acted\n")
	b.WriteString("on it (lan0 has no preferred global address left: ours deprecates it after\n")
	fmt.Fprintf(b, "its down-delay, `link down delay %s`, up-delay the default 0; dhcpcd deletes\n", linkDownDelay)
	b.WriteString("it), the port comes up at T. Timed from T to the client's first message on\n")
	b.WriteString("the wire (tcpdump on the server's interface) and to the `ip monitor` line\n")
	b.WriteString("that makes lan0's global address preferred again (Bound). p95 is the\n")
	b.WriteString("nearest rank.\n\n")
	ref, okRef := res.linkUp(dhcpcdName)
	t := table{head: []string{"client", "lan0 while down", "first message", "-> message median", "p95",
		"-> Bound median", "p95", "median / " + dhcpcdName + "'s (message, Bound)"}}
	for _, l := range res.linkUps {
		down := "deleted"
		if l.kept {
			down = "kept, deprecated"
		}
		r := "-"
		if okRef {
			// Three decimals: ours is a few thousandths of dhcpcd's.
			r = fmt.Sprintf("%.3fx, %.3fx", float64(l.toSent.median())/float64(ref.toSent.median()),
				float64(l.toBound.median())/float64(ref.toBound.median()))
		}
		t.add(l.client, down, l.sentCell(), ms(l.toSent.median()), ms(l.toSent.p95()),
			ms(l.toBound.median()), ms(l.toBound.p95()), r)
	}
	t.write(b)
}

func writeMemory(b *strings.Builder, res results) {
	b.WriteString("## 4. Memory while bound\n\n")
	fmt.Fprintf(b, "RSS and PSS from /proc/PID/smaps_rollup, summed over all of a client's processes,\n")
	fmt.Fprintf(b, "%s after its last cold start had addressed lan0 and lan1. PSS divides each\n", secs(settleTime))
	b.WriteString("shared page among the processes that map it, so it adds up across processes:\n")
	b.WriteString("our three processes share one binary's pages, dhcpcd's share libc with the\n")
	fmt.Fprintf(b, "whole machine. The Go floor is %d copies of bench/gofloor (a Go program that\n", floorProcs)
	b.WriteString("only waits for SIGTERM), built with CGO_ENABLED=0 in the same run.\n\n")
	t := table{head: []string{"client", "processes", "RSS", "PSS", "PSS of files", "PSS anonymous", "PSS / Go floor"}}
	row := func(name string, procs int, m memory) {
		t.add(name, fmt.Sprint(procs), mib(m.RSS), mib(m.PSS), mib(m.PSSFile), mib(m.PSSAnon), ratio(float64(m.PSS)/float64(res.floor.PSS)))
	}
	for _, c := range res.coldStarts {
		row(c.client, c.procs, c.mem)
	}
	row("Go floor", floorProcs, res.floor)
	t.write(b)
	b.WriteString("PSS of files is mostly the programs' code and read-only data. The kernel\n")
	b.WriteString("maps a file's pages around each page fault in 64 KiB blocks, so that start-up\n")
	b.WriteString("maps nearly all of an image:\n")
	fmt.Fprintf(b, "dhcp6leased's read-only image is %s, the Go floor's %s\n", mib(res.daemonImage/1024), mib(res.floorImage/1024))
	b.WriteString("(ELF segments without write permission). Each of dhcp6leased's\n")
	b.WriteString("processes drops those mappings a second after its start (internal/memtrim):\n")
	b.WriteString("the pages stay in the page cache, and what a bound daemon runs faults back\n")
	b.WriteString("in. PSS anonymous is heap, stacks and the Go runtime's own structures.\n\n")
	writeRoles(b, res)
}

// writeRoles breaks dhcp6leased's PSS down by process and by what the
// pages hold.
func writeRoles(b *strings.Builder, res results) {
	zero, ok := res.coldStart(oursZeroName)
	if !ok || zero.roles == nil {
		return
	}
	b.WriteString("### dhcp6leased's pages by process\n\n")
	b.WriteString("The same reading, per process of " + oursZeroName + ", from /proc/PID/smaps by\n")
	b.WriteString("mapping and, for the binary's read-only image, by ELF section from\n")
	b.WriteString("/proc/PID/pagemap and /proc/kpagecount (bench/smaps.go): PSS in KiB, and\n")
	b.WriteString("for the image's parts resident / size. The three processes run the same\n")
	b.WriteString("binary (the parent re-executes /proc/self/exe), so each page of its image is\n")
	b.WriteString("counted a third to each process that touched it. .gopclntab holds the\n")
	b.WriteString("function tables the runtime reads for stack walks and the GC; data is the\n")
	b.WriteString("image's writable segment with .bss; anonymous is the Go heap, goroutine\n")
	b.WriteString("stacks and the runtime's own structures.\n\n")
	t := table{head: []string{"process", ".text", ".rodata", ".gopclntab", "other image", "data, bss", "main stack", "anonymous", "other", "PSS"}}
	part := func(p imagePart) string { return fmt.Sprintf("%.0f (%d / %d)", p.pss, p.resident, p.size) }
	kib := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	var sum breakdown
	for _, role := range roles {
		r := zero.roles[role]
		t.add(role, part(r.text), part(r.rodata), part(r.pclntab), part(r.imageOther), kib(float64(r.data)),
			kib(float64(r.stack)), kib(float64(r.anon)), kib(float64(r.other)), kib(r.total()))
		sum = sum.add(r)
	}
	t.add("all three", kib(sum.text.pss), kib(sum.rodata.pss), kib(sum.pclntab.pss), kib(sum.imageOther.pss), kib(float64(sum.data)),
		kib(float64(sum.stack)), kib(float64(sum.anon)), kib(float64(sum.other)), kib(sum.total()))
	t.write(b)
	if zero.goMem == nil {
		return
	}
	b.WriteString("What each process's Go runtime says of its memory right after (SIGUSR1,\n")
	b.WriteString("internal/logging.Runtime), in KiB: mapped by the runtime's account, not\n")
	b.WriteString("all of it resident. Live heap is the allocated objects (garbage not yet\n")
	b.WriteString("swept included); heap spans are the spans holding them; free spans are\n")
	b.WriteString("retained but not returned to the kernel.\n\n")
	gt := table{head: []string{"process", "goroutines", "live heap", "heap spans", "free spans", "goroutine stacks", "runtime structures", "GC cycles"}}
	k := func(v int64) string { return fmt.Sprintf("%.0f", float64(v)/1024) }
	for _, role := range roles {
		g := zero.goMem[role]
		gt.add(role, fmt.Sprint(g.goroutines), k(g.heapLive), k(g.heapInuse), k(g.heapFree), k(g.stacks), k(g.runtime), fmt.Sprint(g.gcCycles))
	}
	gt.write(b)
}

func writeScale(b *strings.Builder, res results) {
	b.WriteString("## 5. Scale\n\n")
	b.WriteString("N uplinks up0..upN-1 (veth pairs whose server ends hang off one bridge, Kea\n")
	b.WriteString("on the bridge), each with one downstream lanK. dhcp6leased has one `request\n")
	b.WriteString("prefix delegation on upK for lanK` line per uplink, with `solicit delay 0`;\n")
	b.WriteString("dhcpcd one `ia_pd` per uplink, run after ours in the same lab. All Bound: exec\n")
	fmt.Fprintf(b, "-> the last downstream's first address, waited for up to %v. Settled memory\n", scaleTimeout)
	fmt.Fprintf(b, "is read %s after all Bound; peak memory is the highest of samples taken\n", secs(settleTime))
	fmt.Fprintf(b, "every %v from exec to then. CPU is user + system time of all the client's\n", sampleInterval)
	b.WriteString("processes at all Bound, from /proc/PID/stat (10 ms ticks).\n\n")
	t := table{head: []string{"uplinks", "client", "all Bound", "peak RSS", "peak PSS", "settled PSS", "CPU", "processes"}}
	dhcpcdFailed := false
	for _, s := range res.scale {
		settled, cpu, procs := mib(s.settled.PSS), secs(s.cpu), fmt.Sprint(s.procs)
		if s.exited {
			settled, cpu, procs = "-", "-", "-"
		}
		t.add(fmt.Sprint(s.uplinks), s.client, s.boundCell(), mib(s.peak.RSS), mib(s.peak.PSS), settled, cpu, procs)
		dhcpcdFailed = dhcpcdFailed || (s.client == dhcpcdName && !s.allBound())
	}
	t.write(b)
	for _, c := range []string{oursZeroName, dhcpcdName} {
		if kb, n, ok := res.pssPerExtraUplink(c); ok {
			fmt.Fprintf(b, "- %s: %.1f KiB PSS per uplink added (1 -> %d).\n\n", c, kb, n)
		}
	}
	if dhcpcdFailed {
		b.WriteString("Where dhcpcd 9.4.1 leaves downstreams unaddressed, the run's log quotes the\n")
		b.WriteString("start of its output. With 64 uplinks it logs `if_learnaddrs: if_addrflags6:\n")
		b.WriteString("fe80::...%upK: No such process` at start-up for many uplinks and then\n")
		b.WriteString("addresses some downstreams or none (0 to 38 of 64 in the runs made while\n")
		b.WriteString("bench/ was written); with 128 its manager is killed by its own seccomp\n")
		b.WriteString("filter (SIGSYS, \"bad system call\") before it addresses any.\n\n")
	}
}

// boundCell is the all-Bound time, or how many downstreams were addressed.
func (s scaleResult) boundCell() string {
	if s.allBound() {
		return ms(s.lastAddr)
	}
	return fmt.Sprintf("%d of %d addressed by %s, then %s", s.addressed, s.uplinks, ms(s.lastAddr), s.failure)
}

func writeIdle(b *strings.Builder, res results) {
	b.WriteString("## 6. Idle while bound\n\n")
	b.WriteString("Each client bound in a lab of its own (Kea's T1 is an hour, so nothing is due),\n")
	fmt.Fprintf(b, "all at once, then %s to settle, then one window for all. Context switches\n", secs(idleSettle))
	b.WriteString("are voluntary + involuntary, and CPU time is from schedstat (nanoseconds),\n")
	b.WriteString("both summed over every thread of every process of the client.\n\n")
	t := table{head: []string{"client", "window", "context switches", "per minute", "CPU time"}}
	for _, r := range res.idle {
		perMin := float64(r.did.switches) / r.window.Minutes()
		t.add(r.client, secs(r.window), fmt.Sprint(r.did.switches), fmt.Sprintf("%.1f", perMin),
			fmt.Sprintf("%.3f ms", float64(r.did.cpu)/float64(time.Millisecond)))
	}
	t.write(b)
}

func writeHowTo(b *strings.Builder) {
	b.WriteString("## Running the benchmarks (bench/)\n\n")
	b.WriteString("    make bench\n\n")
	b.WriteString("installs the peers (bench/deps.sh: dhcpcd-base, wide-dhcpv6-client, on top of\n")
	b.WriteString("tests/deps.sh), builds the daemon and runs `go run ./bench`, which measures\n")
	b.WriteString("everything above in one run (about ten minutes, as root) and rewrites this file\n")
	b.WriteString("and the plot. Flags, for a quicker partial run: `-runs N` cold starts per\n")
	b.WriteString("client, `-flaps N` link flaps per client, `-uplinks 1,16` scale points,\n")
	b.WriteString("`-idle 10s` idle window, `-phases N` traced cold starts, `-only\n")
	b.WriteString("coldstart,phases` some of the parts (" + strings.Join(parts(), ", ") + "),\n")
	b.WriteString("`-out` and `-plot` output paths. Nothing in bench/\n")
	b.WriteString("passes or fails on a figure; targets are only reported.\n\n")
	b.WriteString("| file | what |\n| --- | --- |\n")
	b.WriteString("| bench/main.go | flags, the order of the measurements |\n")
	b.WriteString("| bench/clients.go | how each client is configured and launched (FIFO gate, private mounts for the peers' fixed state paths) |\n")
	b.WriteString("| bench/testbed.go | a lab (tests/lab) with Kea and an ip monitor; first-address times |\n")
	b.WriteString("| bench/codec.go | runs and pairs internal/dhcp6's benchmarks |\n")
	b.WriteString("| bench/coldstart.go, linkup.go, scale.go, idle.go, floor.go | items 2, 3, 5, 6 and the Go floor of item 4 |\n")
	b.WriteString("| bench/phases.go, tracefs.go | where the time to prefix goes: a private ftrace instance, milestones, CPU per process |\n")
	b.WriteString("| bench/procfs.go | RSS/PSS, CPU time, context switches, process trees from /proc |\n")
	b.WriteString("| bench/smaps.go, gomem.go | our processes' pages by mapping and ELF section (smaps, pagemap, kpagecount); their runtime's own figures (SIGUSR1) |\n")
	b.WriteString("| bench/report.go, plot.go | this file and the SVG plot |\n")
	b.WriteString("| bench/gofloor | the Go floor program |\n")
	b.WriteString("| bench/deps.sh | installs the peers |\n\n")
	b.WriteString("Peer configuration: dhcpcd runs as `dhcpcd -B -6 -M -f CONF` with\n")
	b.WriteString("`allowinterfaces`, `nodev`, `noipv6rs`, `option rapid_commit`, hooks that\n")
	b.WriteString("touch the host off, and `ia_pd K lanK/0/64`; dhcp6c as `dhcp6c -f -c CONF -p\n")
	b.WriteString("PIDFILE up0` with `send ia-pd`, `send rapid-commit` and a `prefix-interface`\n")
	b.WriteString("per downstream (sla-len 8). /run and /var/lib/dhcpcd (dhcpcd) and\n")
	b.WriteString("/var/lib/dhcpv6 (dhcp6c) are bind-mounted from the run's own directory in the\n")
	b.WriteString("client's private mount namespace.\n")
}
