package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// boundTimeout bounds the wait for a client's addresses; dhcpcd needs over
// a second for one uplink.
const boundTimeout = 30 * time.Second

// settleTime is how long a client runs after its last downstream got its
// address before its memory is read: long enough for what follows the
// exchange (dhcpcd's hook script, a lease file write) to be over.
const settleTime = 2 * time.Second

// coldStartResult is one client's cold starts (issue 6 items 2 and 4).
type coldStartResult struct {
	client string
	// toPrefix is, per run, exec -> first global address on lan0.
	toPrefix distribution
	// mem is the client's memory while bound, after its last run, and
	// procs the number of its processes then.
	mem   memory
	procs int
	// roles is, for dhcp6leased, each process's pages by what they hold
	// at the same time, by role.
	roles map[string]breakdown
	// goMem is what each of them says of its Go memory, read after.
	goMem map[string]goMemory
}

// coldStarts starts c runs times in tb, each time with no state (a new
// DUID, so Kea delegates a new prefix), and stops it once lan0 has its
// address. After the last run it waits for every downstream and reads
// the client's memory.
func coldStarts(ctx context.Context, tb *testbed, c client, runs int) (coldStartResult, error) {
	res := coldStartResult{client: c.name}
	var samples []time.Duration
	for i := range runs {
		last := i == runs-1
		err := tb.run(ctx, c, func(r *running) error {
			first, err := tb.firstAddrs(ctx, r, []string{"lan0"}, boundTimeout)
			if err != nil {
				return err
			}
			samples = append(samples, first["lan0"].Sub(r.started))
			if !last {
				return nil
			}
			if _, err := tb.firstAddrs(ctx, r, tb.uplinks[0].downstreams, boundTimeout); err != nil {
				return err
			}
			if err := pause(ctx, settleTime); err != nil {
				return err
			}
			procs, err := r.tree()
			if err != nil {
				return err
			}
			res.procs = len(procs)
			if res.mem, err = procs.memory(); err != nil {
				return err
			}
			if c.image == "" {
				return nil
			}
			if res.roles, err = roleBreakdowns(r, c.image); err != nil {
				return err
			}
			res.goMem, err = goMemories(ctx, r)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("cold start %d of %s: %w", i+1, c.name, err)
		}
	}
	res.toPrefix = newDistribution(samples)
	return res, nil
}

// run starts c in tb, calls measure, stops c and cleans up after it.
func (tb *testbed) run(ctx context.Context, c client, measure func(*running) error) error {
	return tb.runArmed(ctx, c, nil, measure)
}

// runArmed is run with start's armed.
func (tb *testbed) runArmed(ctx context.Context, c client, armed func(pid int) error, measure func(*running) error) error {
	r, err := tb.start(ctx, c, armed)
	if err != nil {
		return err
	}
	err = measure(r)
	if stopErr := r.stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	if err != nil {
		return fmt.Errorf("%w\n%s output:\n%s", err, c.name, r.proc.Output())
	}
	return tb.reset(ctx)
}

// pause waits for d unless ctx ends first: a measurement interval, not a
// wait for an event.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
