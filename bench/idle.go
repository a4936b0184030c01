package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// idleSettle is how long a bound client runs before its idle window opens:
// past the start-up's after-effects (garbage collection of start-up
// garbage, dhcpcd's hook scripts).
const idleSettle = 5 * time.Second

// idleResult is what a bound client did over the idle window (issue 6
// item 6).
type idleResult struct {
	client string
	window time.Duration
	did    activity
}

// idle binds each client in its own lab, all at the same time, waits
// idleSettle, and measures their context switches and CPU time over the
// same window, beside the Go floor's. Kea's T1 of an hour leaves a client
// nothing to do in the window.
func idle(ctx context.Context, clients []client, floorBin string, window time.Duration) (_ []idleResult, err error) {
	type bound struct {
		name  string
		procs func() (processes, error)
	}
	// Stopped and deleted in reverse order when idle returns.
	var cleanups []func() error
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			err = errors.Join(err, cleanups[i]())
		}
	}()
	var subjects []bound
	for _, c := range clients {
		var tb *testbed
		if tb, err = newTestbed(ctx, 1, 2, false); err != nil {
			return nil, fmt.Errorf("idle lab for %s: %w", c.name, err)
		}
		cleanups = append(cleanups, tb.Close)
		var r *running
		if r, err = tb.start(ctx, c, nil); err != nil {
			return nil, err
		}
		cleanups = append(cleanups, r.stop)
		if _, err = tb.firstAddrs(ctx, r, tb.uplinks[0].downstreams, boundTimeout); err != nil {
			return nil, fmt.Errorf("bind %s: %w", c.name, err)
		}
		subjects = append(subjects, bound{c.name, r.tree})
	}
	var f *goFloor
	if f, err = startFloor(floorBin); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, f.stop)
	subjects = append(subjects, bound{fmt.Sprintf("Go floor (%d processes)", floorProcs),
		func() (processes, error) { return f.procs(), nil }})

	if err := pause(ctx, idleSettle); err != nil {
		return nil, err
	}
	before := make([]activity, len(subjects))
	for i, s := range subjects {
		if before[i], err = activityOf(s.procs); err != nil {
			return nil, fmt.Errorf("activity of %s: %w", s.name, err)
		}
	}
	start := time.Now()
	if err := pause(ctx, window); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	results := make([]idleResult, len(subjects))
	for i, s := range subjects {
		after, err := activityOf(s.procs)
		if err != nil {
			return nil, fmt.Errorf("activity of %s: %w", s.name, err)
		}
		results[i] = idleResult{client: s.name, window: elapsed, did: after.sub(before[i])}
	}
	return results, nil
}

func activityOf(procs func() (processes, error)) (activity, error) {
	ps, err := procs()
	if err != nil {
		return activity{}, err
	}
	return ps.activity()
}
