package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"
)

// scaleTimeout bounds the wait for all downstreams. dhcpcd leaves some
// uplinks unbound for good at 64 and more (see writeScale), so the wait
// ends and the result says how many were addressed.
const scaleTimeout = time.Minute

// sampleInterval is how often memory is sampled for its peak: often enough
// to catch a start-up of a few hundred milliseconds, rarely enough that
// reading smaps_rollup does not load the two shared cores. The sampler
// takes a last sample when it stops, after the settled reading.
const sampleInterval = 100 * time.Millisecond

// failureLines is how much of a client's output the log shows when the
// client leaves downstreams unaddressed.
const failureLines = 15

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitAfterN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "")
}

// scaleResult is one client on one number of uplinks (issue 6 item 5).
type scaleResult struct {
	client  string
	uplinks int
	// addressed is how many downstreams got an address, and lastAddr is
	// exec -> the last of those first addresses: the time until all are
	// Bound when addressed == uplinks.
	addressed int
	lastAddr  time.Duration
	// failure says why the others were not addressed: the client stopped
	// making progress or exited; exited, that nothing was measured after.
	failure string
	exited  bool
	// settled is the memory settleTime after lastAddr, and peak the
	// highest sampled from exec to then.
	peak, settled memory
	// cpu is the CPU time of all the client's processes at lastAddr (at
	// the timeout when not all were addressed).
	cpu   time.Duration
	procs int
}

// allBound reports whether every downstream was addressed.
func (s scaleResult) allBound() bool { return s.addressed == s.uplinks }

// scale runs each client on n uplinks with one downstream each, in one lab.
func scale(ctx context.Context, n int, clients []client) (_ []scaleResult, err error) {
	tb, err := newTestbed(ctx, n, 1, false)
	if err != nil {
		return nil, fmt.Errorf("lab with %d uplinks: %w", n, err)
	}
	defer func() { err = errors.Join(err, tb.Close()) }()
	var downstreams []string
	for _, u := range tb.uplinks {
		downstreams = append(downstreams, u.downstreams...)
	}
	var results []scaleResult
	for _, c := range clients {
		res := scaleResult{client: c.name, uplinks: n}
		err := tb.run(ctx, c, func(r *running) error {
			return res.measure(ctx, tb, r, downstreams)
		})
		if err != nil {
			return nil, fmt.Errorf("%s on %d uplinks: %w", c.name, n, err)
		}
		results = append(results, res)
	}
	return results, nil
}

// measure waits for the client's addresses and fills in res. A client that
// stalls or exits before it has addressed every downstream is a result,
// not an error: dhcpcd does both at this scale.
func (res *scaleResult) measure(ctx context.Context, tb *testbed, r *running, downstreams []string) error {
	s := startSampler(r)
	defer func() { res.peak = s.stop() }()
	first, err := tb.firstAddrs(ctx, r, downstreams, scaleTimeout)
	res.addressed = len(first)
	for _, t := range first {
		res.lastAddr = max(res.lastAddr, t.Sub(r.started))
	}
	select {
	case <-r.proc.Done():
		res.failure, res.exited = fmt.Sprintf("exited (%v)", r.proc.Wait()), true
	default:
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			res.failure = fmt.Sprintf("no more within %v", scaleTimeout)
		case err != nil:
			return err
		}
	}
	if res.failure != "" {
		log.Printf("%s on %d uplinks: %d addressed, then %s; its output begins:\n%s",
			res.client, res.uplinks, res.addressed, res.failure, firstLines(r.proc.Output(), failureLines))
	}
	if res.exited {
		return nil // nothing left to measure
	}
	procs, err := r.tree()
	if err != nil {
		return err
	}
	if res.cpu, err = procs.cpu(); err != nil {
		return err
	}
	if err := pause(ctx, settleTime); err != nil {
		return err
	}
	if procs, err = r.tree(); err != nil {
		return err
	}
	res.procs = len(procs)
	res.settled, err = procs.memory()
	return err
}

// sampler records the peak memory of a client's processes.
type sampler struct {
	r    *running
	done chan struct{}
	wg   sync.WaitGroup
	// peak holds the RSS and PSS peaks, each on its own; only the
	// sampling goroutine writes it until stop.
	peak memory
}

func startSampler(r *running) *sampler {
	s := &sampler{r: r, done: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(sampleInterval)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// sample reads the memory once. A sample that fails (the client is
// exiting) is skipped: the peak is over the samples read.
func (s *sampler) sample() {
	procs, err := s.r.tree()
	if err != nil {
		return
	}
	if m, err := procs.memory(); err == nil {
		s.peak = memory{RSS: max(s.peak.RSS, m.RSS), PSS: max(s.peak.PSS, m.PSS)}
	}
}

// stop ends the sampling with a last sample and returns the peak.
func (s *sampler) stop() memory {
	close(s.done)
	s.wg.Wait()
	s.sample()
	return s.peak
}
