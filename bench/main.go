// Command bench measures dhcp6leased beside dhcpcd and WIDE dhcp6c in
// network-namespace labs against Kea (issue 6), and writes the figures as a
// Markdown report and one SVG plot:
//
//	go run ./bench -daemon bin/dhcp6leased    (or: make bench)
//
// It measures the codec (through internal/dhcp6's benchmarks), the time from
// exec to the first prefix, link-up to Rebind and to Bound again, memory
// while bound beside the Go floor, scale to many uplinks, and idle cost. It
// needs root, Kea, tcpdump, dhcpcd and dhcp6c (bench/deps.sh installs the
// peers), and takes about ten minutes. Numbers go in
// the report only: nothing here passes or fails on them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// The clients' names in the report.
const (
	oursZeroName = "dhcp6leased, solicit delay 0"
	oursRFCName  = "dhcp6leased, RFC delay"
	oursFlapName = "dhcp6leased, link down delay " + linkDownDelay + " s"
	dhcpcdName   = "dhcpcd"
	wideName     = "WIDE dhcp6c"
)

// daemonUser is the unprivileged user dhcp6leased refuses to start without.
const daemonUser = "_dhcp6leased"

// settings are the command line's.
type settings struct {
	daemon, goTool string
	report, plot   string
	runs           int
	flaps          int
	uplinks        []int
	idleWindow     time.Duration
	// phases is how many traced cold starts show where the time goes.
	phases int
	// only, unless empty, names the parts to run (parts); the report
	// shows the others as not run.
	only map[string]bool
}

// parts are the measurements -only can pick; the Go floor always runs.
func parts() []string { return []string{"codec", "coldstart", "phases", "linkup", "scale", "idle"} }

// does reports whether the settings include part.
func (s settings) does(part string) bool { return len(s.only) == 0 || s.only[part] }

// results are everything one run measured.
type results struct {
	settings   settings
	machine    machine
	codec      []codecPair
	coldStarts []coldStartResult
	phases     phaseResult
	linkUps    []linkUpResult
	floor      memory
	// images are the read-only image sizes (imageSize) of the daemon
	// and of the Go floor, in bytes.
	daemonImage, floorImage int64
	scale                   []scaleResult
	idle                    []idleResult
}

func main() {
	var s settings
	var uplinks, only string
	flag.StringVar(&s.daemon, "daemon", "bin/dhcp6leased", "dhcp6leased binary to measure")
	flag.StringVar(&s.goTool, "go", "go", "go tool, for the codec benchmarks and the Go floor")
	flag.StringVar(&s.report, "out", "docs/PERFORMANCE.md", "report to write")
	flag.StringVar(&s.plot, "plot", "docs/performance.svg", "plot to write")
	flag.IntVar(&s.runs, "runs", 20, "cold starts per client")
	flag.IntVar(&s.flaps, "flaps", 10, "link flaps per client")
	flag.StringVar(&uplinks, "uplinks", "1,16,64,128", "uplink counts for the scale runs")
	flag.DurationVar(&s.idleWindow, "idle", time.Minute, "idle window")
	flag.IntVar(&s.phases, "phases", 20, "traced cold starts for the start-up phases")
	flag.StringVar(&only, "only", "", "parts to run, separated by commas ("+strings.Join(parts(), ", ")+"); all when empty")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	for _, f := range strings.Split(uplinks, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			log.Fatalf("-uplinks %q: want positive numbers separated by commas", uplinks)
		}
		s.uplinks = append(s.uplinks, n)
	}
	if only != "" {
		s.only = map[string]bool{}
		for _, p := range strings.Split(only, ",") {
			if !slices.Contains(parts(), p) {
				log.Fatalf("-only %q: %q is none of %s", only, p, strings.Join(parts(), ", "))
			}
			s.only[p] = true
		}
	}
	if s.runs < 1 {
		log.Fatalf("-runs %d: want at least 1", s.runs)
	}
	if s.phases < 1 {
		log.Fatalf("-phases %d: want at least 1", s.phases)
	}
	if s.flaps < 1 {
		log.Fatalf("-flaps %d: want at least 1", s.flaps)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	if err := benchmark(ctx, s); err != nil {
		log.Fatal(err)
	}
}

// benchmark measures everything, then writes the report and the plot.
func benchmark(ctx context.Context, s settings) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("the labs need root")
	}
	for _, tool := range []string{"ip", "kea-dhcp6", "tcpdump", "dhcpcd", "dhcp6c", s.goTool} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("need %s (bench/deps.sh installs the peers): %w", tool, err)
		}
	}
	daemon, err := filepath.Abs(s.daemon)
	if err != nil {
		return fmt.Errorf("daemon path %s: %w", s.daemon, err)
	}
	if err := lab.EnsureUser(ctx, daemonUser); err != nil {
		return err
	}
	// Processes a client leaves behind become this process's children,
	// which it can kill and reap (running.stop), not init's.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a subreaper: %w", err)
	}
	res := results{settings: s}
	if res.machine, err = describeMachine(ctx); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dhcp6leased-bench-")
	if err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()

	if s.does("codec") {
		log.Print("codec benchmarks")
		if res.codec, err = runCodec(ctx, s.goTool); err != nil {
			return err
		}
	}
	log.Print("Go floor")
	floorBin, err := buildFloor(ctx, s.goTool, tmp)
	if err != nil {
		return err
	}
	if res.floor, err = floorMemory(ctx, floorBin); err != nil {
		return err
	}
	if res.floorImage, err = imageSize(floorBin); err != nil {
		return err
	}
	if res.daemonImage, err = imageSize(daemon); err != nil {
		return err
	}

	oursZero := ours(oursZeroName, daemon, "solicit delay 0")
	if s.does("coldstart") {
		for _, c := range []client{oursZero, ours(oursRFCName, daemon), dhcpcd(), wide()} {
			log.Printf("cold starts: %s, %d runs", c.name, s.runs)
			r, err := coldStartSeries(ctx, c, s.runs)
			if err != nil {
				return err
			}
			res.coldStarts = append(res.coldStarts, r)
		}
	}
	if s.does("phases") {
		log.Printf("start-up phases: %s, %d traced runs", oursZero.name, s.phases)
		if res.phases, err = phaseSeries(ctx, oursZero, s.phases); err != nil {
			return err
		}
	}
	if s.does("linkup") {
		log.Printf("link flaps: %d per client", s.flaps)
		oursFlap := ours(oursFlapName, daemon, "solicit delay 0", "link down delay "+linkDownDelay)
		if res.linkUps, err = linkUps(ctx, []client{oursFlap, dhcpcd()}, s.flaps); err != nil {
			return err
		}
	}
	if s.does("scale") {
		for _, n := range s.uplinks {
			log.Printf("scale: %d uplinks", n)
			r, err := scale(ctx, n, []client{oursZero, dhcpcd()})
			if err != nil {
				return err
			}
			res.scale = append(res.scale, r...)
		}
	}
	if s.does("idle") {
		log.Printf("idle: %v", s.idleWindow)
		if res.idle, err = idle(ctx, []client{oursZero, dhcpcd(), wide()}, floorBin, s.idleWindow); err != nil {
			return err
		}
	}

	if res.machine.loadAfter, err = loadAverage(); err != nil {
		return err
	}
	log.Printf("writing %s and %s", s.report, s.plot)
	return writeOutputs(res)
}

// coldStartSeries runs the cold starts of one client in a lab of its own.
func coldStartSeries(ctx context.Context, c client, runs int) (_ coldStartResult, err error) {
	tb, err := newTestbed(ctx, 1, 2, false)
	if err != nil {
		return coldStartResult{}, err
	}
	defer func() { err = errors.Join(err, tb.Close()) }()
	return coldStarts(ctx, tb, c, runs)
}
