package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with blanks and a ')' must not shift the fields.
	line := "1234 (dhcpcd: [manager) x) S 77 1234 1234 0 -1 4194560 300 0 0 0 12 7 3 2 20 0 1 0 5000 1000 200 18446744073709551615"
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{ppid: 77, cpu: (12 + 7 + 3 + 2) * 10 * time.Millisecond}
	if got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"1234 no name S 1",
		"1 (x) S 1 2 3",
		"1 (x) S ppid 1 1 0 -1 4 3 0 0 0 1 1 1 1 20",
		"1 (x) S 1 1 1 0 -1 4 3 0 0 0 1 1 x 1 20",
	} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestParseSmapsRollup(t *testing.T) {
	text := `55f798757000-7ffef7a2d000 ---p 00000000 00:00 0                          [rollup]
Rss:                6640 kB
Pss:                3165 kB
Pss_Dirty:          1432 kB
Pss_Anon:           1432 kB
Pss_File:           1733 kB
Pss_Shmem:             0 kB
`
	got, err := parseSmapsRollup(text)
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{RSS: 6640, PSS: 3165, PSSFile: 1733, PSSAnon: 1432}); got != want {
		t.Errorf("parseSmapsRollup = %+v, want %+v", got, want)
	}
	if _, err := parseSmapsRollup("Rss: 1 kB\nPss: 1 kB\nPss_Anon: 1 kB\n"); err == nil {
		t.Error("parseSmapsRollup without Pss_File succeeded")
	}
}

func TestParseTaskActivity(t *testing.T) {
	status := "Name:\tdhcp6leased\nvoluntary_ctxt_switches:\t40\nnonvoluntary_ctxt_switches:\t2\n"
	got, err := parseTaskActivity(status, "1500000 200 7\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (activity{switches: 42, cpu: 1500 * time.Microsecond}); got != want {
		t.Errorf("parseTaskActivity = %+v, want %+v", got, want)
	}
	if _, err := parseTaskActivity("voluntary_ctxt_switches:\t1\n", "1 2 3"); err == nil {
		t.Error("parseTaskActivity without involuntary switches succeeded")
	}
	if _, err := parseTaskActivity(status, "1 2"); err == nil {
		t.Error("parseTaskActivity with a short schedstat succeeded")
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkUnmarshalReply-2              	 3512317	       501.8 ns/op	       0 B/op	       0 allocs/op
BenchmarkInsomniacslkDecodeReply-2     	  197479	      6630 ns/op	    1688 B/op	      34 allocs/op
BenchmarkUnmarshalReply-2              	 3512317	       900.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkUnmarshalReply-2              	 3512317	       480.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkNoMem-2                       	  197479	      6630 ns/op
PASS
`
	got := parseBench(out)
	want := map[string]benchResult{
		"UnmarshalReply":          {nsPerOp: 501.8}, // the median of three runs
		"InsomniacslkDecodeReply": {nsPerOp: 6630, bytesPerOp: 1688, allocsPerOp: 34},
	}
	if len(got) != len(want) {
		t.Fatalf("parseBench = %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("parseBench[%s] = %+v, want %+v", k, got[k], w)
		}
	}
}

func TestDistribution(t *testing.T) {
	var samples []time.Duration
	for i := 20; i >= 1; i-- { // unsorted on purpose
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	d := newDistribution(samples)
	if got, want := d.median(), 10500*time.Microsecond; got != want {
		t.Errorf("median of 1..20 ms = %v, want %v", got, want)
	}
	if got, want := d.p95(), 19*time.Millisecond; got != want {
		t.Errorf("p95 of 1..20 ms = %v, want %v", got, want)
	}
	if d.min() != time.Millisecond || d.max() != 20*time.Millisecond {
		t.Errorf("min, max = %v, %v", d.min(), d.max())
	}
	odd := newDistribution([]time.Duration{3, 1, 2})
	if odd.median() != 2 || odd.p95() != 3 {
		t.Errorf("median, p95 of 1,2,3 = %v, %v", odd.median(), odd.p95())
	}
}

func TestFirstLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "a\nb\n"},
		{"a\nb", 5, "a\nb"},
		{"", 3, ""},
	} {
		if got := firstLines(c.in, c.n); got != c.want {
			t.Errorf("firstLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// sampleResults is a run's results, small but complete.
func sampleResults() results {
	ms := func(v ...int) distribution {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return newDistribution(d)
	}
	return results{
		settings: settings{runs: 3, flaps: 3, uplinks: []int{1, 128}, idleWindow: time.Minute},
		machine:  machine{cpus: 2, cpuModel: "AMD <EPYC>", kernel: "6.18", goVersion: "go1.26.8", date: time.Unix(0, 0).UTC()},
		codec: []codecPair{{op: "decode a Reply with two IA_PDs", oursR: benchResult{nsPerOp: 500},
			theirR: benchResult{nsPerOp: 6000, allocsPerOp: 34}}},
		coldStarts: []coldStartResult{
			{client: oursZeroName, toPrefix: ms(4, 5, 6), mem: memory{RSS: 20000, PSS: 9000}, procs: 3,
				roles: map[string]breakdown{
					"parent":   {text: imagePart{pss: 300, resident: 900, size: 2800}, anon: 1800, data: 150, stack: 16},
					"frontend": {text: imagePart{pss: 300, resident: 900, size: 2800}, anon: 1200, data: 160, stack: 12},
					"engine":   {text: imagePart{pss: 300, resident: 900, size: 2800}, anon: 1300, data: 150, stack: 16},
				},
				goMem: map[string]goMemory{"parent": {goroutines: 7, heapLive: 800 << 10, stacks: 512 << 10}}},
			{client: oursRFCName, toPrefix: ms(100, 500, 900), mem: memory{RSS: 20000, PSS: 9000}, procs: 3},
			{client: dhcpcdName, toPrefix: ms(1050, 1060, 1100), mem: memory{RSS: 7000, PSS: 1500}, procs: 4},
			{client: wideName, toPrefix: ms(40, 400, 800), mem: memory{RSS: 2000, PSS: 500}, procs: 1},
		},
		linkUps: []linkUpResult{
			{client: oursFlapName, toSent: ms(3, 4, 5), toBound: ms(5, 6, 30), sent: map[string]int{"rebind": 3}, kept: true},
			{client: dhcpcdName, toSent: ms(1000, 1000, 1100), toBound: ms(1000, 1200, 1300), sent: map[string]int{"rebind": 2, "solicit": 1}},
		},
		phases: phaseResult{toPrefix: ms(10, 12), runs: []phaseRun{
			phaseRunAt(map[milestone]time.Duration{parentExec: 0, parentMain: 2 * time.Millisecond, frontendExec: 5 * time.Millisecond,
				solicitSent: 9 * time.Millisecond, replySeen: 10 * time.Millisecond, addressAdded: 11 * time.Millisecond}),
			phaseRunAt(map[milestone]time.Duration{parentExec: 0, parentMain: 3 * time.Millisecond, frontendExec: 6 * time.Millisecond,
				solicitSent: 10 * time.Millisecond, replySeen: 11 * time.Millisecond, addressAdded: 13 * time.Millisecond}),
		}},
		floor:       memory{RSS: 6000, PSS: 3300, PSSFile: 1400, PSSAnon: 1900},
		daemonImage: 5 << 20,
		floorImage:  1 << 20,
		scale: []scaleResult{
			{client: oursZeroName, uplinks: 1, addressed: 1, lastAddr: 5 * time.Millisecond, settled: memory{PSS: 9000}},
			{client: oursZeroName, uplinks: 128, addressed: 128, lastAddr: time.Second, settled: memory{PSS: 9000 + 127*50}},
			{client: dhcpcdName, uplinks: 128, addressed: 80, lastAddr: 9 * time.Second, failure: "exited (signal: bad system call)"},
		},
		idle: []idleResult{{client: oursZeroName, window: time.Minute, did: activity{switches: 30, cpu: time.Millisecond}}},
	}
}

// phaseRunAt is a traced run that showed the milestones given.
func phaseRunAt(at map[milestone]time.Duration) phaseRun {
	var r phaseRun
	for m, d := range at {
		r.at[m], r.ok[m] = d, true
	}
	r.cpu = map[string]procCPU{"parent": {run: 5 * time.Millisecond, wait: time.Millisecond}}
	return r
}

func TestReport(t *testing.T) {
	r := report(sampleResults(), "performance.svg")
	for _, want := range []string{
		"| decode a Reply with two IA_PDs | 500.0 | 0 | 0 | 6000.0 | 34 | 0 | 12.00x |",
		"| 2 time to prefix, solicit delay 0 | median <= 50.0 ms | 5.0 ms | met |",
		"| 4 memory while bound | total PSS <= 1.2x the Go floor | 8.79 MiB = 2.73x of 3.22 MiB | **missed** |",
		"| 5 scale, 128 uplinks | all Bound <= 3.00 s | 1000.0 ms | met |",
		"| 5 scale, 1 -> 128 uplinks | <= 64 KiB PSS per extra uplink | 50.0 KiB | met |",
		"80 of 128 addressed by 9000.0 ms, then exited (signal: bad system call)",
		"| Go floor | 3 | 5.86 MiB | 3.22 MiB | 1.37 MiB | 1.86 MiB | 1.00x |",
		"read-only image is 5.00 MiB, the Go floor's 1.00 MiB",
		"| 2 time to prefix, solicit delay 0 (issue 13) | median <= 20.0 ms | 5.0 ms | met |",
		"| 4 memory while bound (issue 13) | total PSS <= 6.00 MiB | 8.79 MiB | **missed** |",
		// Phases no run showed (the DUID's fsync) merge into the one before.
		"| parent: Go runtime start, package init | parent exec -> parent main | 2.5 ms | 3.0 ms |",
		"| parent main -> frontend exec | 3.0 ms | 3.0 ms |",
		"| frontend exec -> Solicit on up0 | 4.0 ms | 4.0 ms |",
		"| server: Kea answers (Rapid Commit) | Solicit on up0 -> Reply on up0 | 1.0 ms | 1.0 ms |",
		"| parent | 5.0 ms | 5.0 ms | 1.0 ms | 1.0 ms |",
		"| parent | 300 (900 / 2800) | 0 (0 / 0) | 0 (0 / 0) | 0 (0 / 0) | 150 | 16 | 1800 | 0 | 2266 |",
		"| all three | 900 | 0 | 0 | 0 | 460 | 44 | 4300 | 0 | 5704 |",
		"| parent | 7 | 800 | 0 | 0 | 512 | 0 | 0 |",
		"| 3 link up -> Bound | median <= 20.0 ms after the up-delay (0) | 6.0 ms (p95 30.0 ms) | met |",
		"| dhcp6leased, link down delay 0.2 s | kept, deprecated | rebind (3) | 4.0 ms | 5.0 ms | 6.0 ms | 30.0 ms | 0.004x, 0.005x |",
		"| dhcpcd | deleted | rebind (2), solicit (1) | 1000.0 ms | 1100.0 ms | 1200.0 ms | 1300.0 ms | 1.000x, 1.000x |",
		"delay-0 median, 505.0 ms (0.48x of dhcpcd's), with a standard error of about\n288.7 ms",
		"![time to prefix per client, and memory while bound](performance.svg)",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
}

// TestPlot checks that the plot is well-formed XML with a dot per sample.
func TestPlot(t *testing.T) {
	res := sampleResults()
	svg := plot(res)
	dec := xml.NewDecoder(strings.NewReader(svg))
	circles := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot is not XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "circle" {
			circles++
		}
	}
	want := 0
	for _, c := range res.coldStarts {
		want += len(c.toPrefix)
	}
	if circles != want {
		t.Errorf("plot has %d dots, want one per sample: %d", circles, want)
	}
}

// TestParseTrace: the lines of a trace instance, the system call
// tracepoints in their own formats (as this kernel prints them), and the
// fields the phases read.
func TestParseTrace(t *testing.T) {
	text := `# tracer: nop
#           TASK-PID       TGID    CPU#  |||||  TIMESTAMP  FUNCTION
     dhcp6leased-3188    (   3188) [000] ..... 29779.601581: sched_process_exec: filename=/bin/dhcp6leased pid=3188 old_pid=3188
     dhcp6leased-3203    (   3188) [001] ..... 29779.609088: sys_fsync -> 0x0
     dhcp6leased-3206    (   3188) [001] ..... 29779.615847: sys_bind(fd: 7, umyaddr: 0x3807ae65805c, addrlen: 0x1c)
             exe-3221    (   3211) [000] .N... 29779.614489: sys_seccomp -> 0x0
          <idle>-0       (-------) [001] d..2. 29779.6150: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_state=R ==> next_comm=exe next_pid=3221
`
	got := parseTrace(text)
	want := []struct {
		tid, tgid int
		at        time.Duration
		name      string
		field     [2]string
	}{
		{3188, 3188, 29779601581 * time.Microsecond, "sched_process_exec", [2]string{"pid", "3188"}},
		{3203, 3188, 29779609088 * time.Microsecond, "sys_exit_fsync", [2]string{"ret", "0x0"}},
		{3206, 3188, 29779615847 * time.Microsecond, "sys_enter_bind", [2]string{"addrlen", "0x1c"}},
		{3221, 3211, 29779614489 * time.Microsecond, "sys_exit_seccomp", [2]string{"ret", "0x0"}},
		{0, 0, 29779615000 * time.Microsecond, "sched_switch", [2]string{"next_pid", "3221"}},
	}
	if len(got) != len(want) {
		t.Fatalf("parseTrace: %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.tid != w.tid || g.tgid != w.tgid || g.at != w.at || g.name != w.name || g.field(w.field[0]) != w.field[1] {
			t.Errorf("event %d = %+v (%s=%q), want %+v", i, g, w.field[0], g.field(w.field[0]), w)
		}
	}
}
