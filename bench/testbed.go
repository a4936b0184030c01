package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// serverOptions are Kea's for every measurement: Rapid Commit, and
// lifetimes of hours so that no Renew falls into a measurement and an idle
// client has nothing to do (T1 1 h).
func serverOptions() lab.ServerOptions {
	return lab.ServerOptions{
		RapidCommit: true,
		T1:          time.Hour,
		T2:          2 * time.Hour,
		Preferred:   3 * time.Hour,
		Valid:       4 * time.Hour,
	}
}

// testbed is a lab with Kea on the server side and an ip monitor in CLI.
// Clients run in it one after the other, each in its own directory.
type testbed struct {
	topo    *lab.Topology
	kea     *lab.Kea
	mon     *lab.Monitor
	uplinks []uplink
}

// newTestbed builds a lab with uplinks up0..upN-1, each with perUplink
// downstreams numbered on from lan0 (one uplink with two: lan0 and lan1).
// With bridge, the server sits on a bridge even with one uplink, so that
// a port of it can be flapped while the server keeps its address.
func newTestbed(ctx context.Context, uplinks, perUplink int, bridge bool) (_ *testbed, err error) {
	opts := lab.TopologyOptions{Bridge: bridge}
	for i := 1; i < uplinks; i++ {
		opts.ExtraUplinks = append(opts.ExtraUplinks, fmt.Sprintf("up%d", i))
	}
	topo, err := lab.NewTopology(ctx, opts)
	if err != nil {
		return nil, err
	}
	tb := &testbed{topo: topo}
	defer func() {
		if err != nil {
			err = errors.Join(err, tb.Close())
		}
	}()
	for i, up := range topo.Uplinks {
		u := uplink{name: up}
		for j := range perUplink {
			d := fmt.Sprintf("lan%d", i*perUplink+j)
			if err := topo.AddVethDownstream(ctx, d); err != nil {
				return nil, err
			}
			u.downstreams = append(u.downstreams, d)
		}
		tb.uplinks = append(tb.uplinks, u)
	}
	if tb.kea, err = lab.StartKea(ctx, topo, lab.KeaOptions{ServerOptions: serverOptions()}); err != nil {
		return nil, err
	}
	if tb.mon, err = lab.StartMonitor(ctx, topo.CLI); err != nil {
		return nil, err
	}
	return tb, nil
}

// Close stops Kea and the monitor and deletes the lab.
func (tb *testbed) Close() error {
	var errs []error
	if tb.mon != nil {
		errs = append(errs, tb.mon.Stop())
	}
	if tb.kea != nil {
		errs = append(errs, tb.kea.Stop())
	}
	return errors.Join(append(errs, tb.topo.Close())...)
}

// start prepares c in a new directory and starts it; armed is start's.
func (tb *testbed) start(ctx context.Context, c client, armed func(pid int) error) (*running, error) {
	dir, err := os.MkdirTemp(tb.topo.Dir, "client-")
	if err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", c.name, err)
	}
	l, err := c.prepare(dir, tb.uplinks)
	if err != nil {
		return nil, err
	}
	return start(ctx, tb.topo.CLI, dir, l, armed)
}

// firstAddrs waits until each of the downstreams has had a global address
// added since the client started, and returns when each first appeared, by
// the ip monitor's clock; on error, those that did appear. It looks at one
// downstream at a time, in order: the times come from the events, so the
// order of looking changes nothing, and each poll reads the monitor's
// lines only once per downstream found.
func (tb *testbed) firstAddrs(ctx context.Context, r *running, downstreams []string, timeout time.Duration) (map[string]time.Time, error) {
	first := map[string]time.Time{}
	pending := downstreams
	err := lab.WaitFor(ctx, timeout, fmt.Sprintf("global addresses on %d downstreams", len(downstreams)), func() (bool, error) {
		if err := r.exited(); err != nil {
			return false, lab.Abort(err)
		}
		for len(pending) > 0 {
			t, ok := firstGlobalAdd(tb.mon.AddrEvents(pending[0]), r.started)
			if !ok {
				return false, fmt.Errorf("%d of %d downstreams addressed, not %s", len(first), len(downstreams), pending[0])
			}
			first[pending[0]] = t
			pending = pending[1:]
		}
		return true, nil
	})
	return first, err
}

// firstGlobalAdd returns the time of the first global address added at or
// after since.
func firstGlobalAdd(events []lab.AddrEvent, since time.Time) (time.Time, bool) {
	for _, e := range events {
		if !e.Deleted && e.Prefix.Addr().IsGlobalUnicast() && !e.Time.Before(since) {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

// reset removes what a stopped client left in CLI: global addresses (a
// client that does not release on shutdown leaves them, as RFC 9096
// advises) and the routes for delegated prefixes and downstream /64s, so
// that the next client starts from a clean kernel state.
func (tb *testbed) reset(ctx context.Context) error {
	if _, err := tb.topo.CLI.IP(ctx, "-6", "addr", "flush", "scope", "global"); err != nil {
		return fmt.Errorf("reset %s: %w", tb.topo.CLI.Name, err)
	}
	// Every route of the main table inside 2000::/3, whatever its type.
	if _, err := tb.topo.CLI.IP(ctx, "-6", "route", "flush", "root", "2000::/3"); err != nil {
		return fmt.Errorf("reset %s: %w", tb.topo.CLI.Name, err)
	}
	return nil
}
