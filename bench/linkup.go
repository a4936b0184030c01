package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// linkDownDelay is our `link down delay` in the flap runs: short, so that a
// flap acts after a fifth of a second (docs/LINK.md), the up-delay is the
// default 0.
const linkDownDelay = "0.2"

// flapPort is the lab's server end of up0, a port of the server's bridge:
// taking it down takes up0's carrier away while Kea keeps its address on
// the bridge (tests/e2e/flapbench_test.go).
const flapPort = "veth-s0"

// downTimeout bounds the wait for a client to act on a carrier loss: ours
// acts after its down-delay, dhcpcd at once.
const downTimeout = 10 * time.Second

// clientPort is the DHCPv6 client port (RFC 8415 section 7.2): the packets
// from it on the server's interface are the client's.
const clientPort = 546

// linkUpResult is one client's flaps (issue 6 item 3).
type linkUpResult struct {
	client string
	// toSent is, per flap, link-up -> the client's first message on the
	// wire, and toBound link-up -> lan0 has a preferred global address
	// again.
	toSent, toBound distribution
	// sent counts the types of those first messages ("rebind": 10).
	sent map[string]int
	// kept says what the client did to lan0's address while the link was
	// down, at the first flap: kept it deprecated, or deleted it.
	kept bool
}

// sentCell lists the first messages' types, as tcpdump names them, with
// their counts.
func (r linkUpResult) sentCell() string {
	var cells []string
	for typ, n := range r.sent {
		cells = append(cells, fmt.Sprintf("%s (%d)", typ, n))
	}
	slices.Sort(cells)
	return strings.Join(cells, ", ")
}

// linkUps runs flaps carrier flaps against each client, one after the
// other, in one lab whose server sits on a bridge, with tcpdump on the
// server's interface.
func linkUps(ctx context.Context, clients []client, flaps int) (_ []linkUpResult, err error) {
	tb, err := newTestbed(ctx, 1, 2, true)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, tb.Close()) }()
	capture, err := lab.StartCapture(ctx, tb.topo.SRV, tb.topo.ServerIf)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, capture.Stop()) }()
	var results []linkUpResult
	for _, c := range clients {
		res := linkUpResult{client: c.name, sent: map[string]int{}}
		var toSent, toBound []time.Duration
		err := tb.run(ctx, c, func(r *running) error {
			if _, err := tb.firstAddrs(ctx, r, []string{"lan0"}, boundTimeout); err != nil {
				return err
			}
			for i := range flaps {
				kept, err := tb.linkDown(ctx, r)
				if err != nil {
					return fmt.Errorf("flap %d: %w", i+1, err)
				}
				if i == 0 {
					res.kept = kept
				}
				sent, bound, err := tb.linkUp(ctx, r, capture)
				if err != nil {
					return fmt.Errorf("flap %d: %w", i+1, err)
				}
				res.sent[sent.typ]++
				toSent = append(toSent, sent.after)
				toBound = append(toBound, bound)
			}
			return nil
		})
		if err != nil {
			return results, fmt.Errorf("link flaps of %s: %w", c.name, err)
		}
		res.toSent, res.toBound = newDistribution(toSent), newDistribution(toBound)
		results = append(results, res)
	}
	return results, nil
}

// linkDown takes up0's carrier away and waits until the client has acted
// on it: lan0 has no preferred global address left. It reports whether
// lan0 kept its (deprecated) addresses.
func (tb *testbed) linkDown(ctx context.Context, r *running) (kept bool, err error) {
	if err := tb.topo.SRV.SetLinkDown(ctx, flapPort); err != nil {
		return false, err
	}
	err = lab.WaitFor(ctx, downTimeout, "lan0 without a preferred global address after link-down", func() (bool, error) {
		if err := r.exited(); err != nil {
			return false, lab.Abort(err)
		}
		addrs, err := tb.topo.CLI.GlobalAddrs(ctx, "lan0")
		if err != nil {
			return false, err
		}
		kept = len(addrs) > 0
		return preferred(addrs) == nil, nil
	})
	return kept, err
}

// firstSent is the client's first message after link-up.
type firstSent struct {
	typ   string
	after time.Duration
}

// linkUp gives up0 its carrier back and waits for the client's first
// message on the wire (tcpdump's time) and for lan0's preferred global
// address (the ip monitor's time of its addition), both timed from
// link-up.
func (tb *testbed) linkUp(ctx context.Context, r *running, capture *lab.Capture) (firstSent, time.Duration, error) {
	up := time.Now()
	if err := tb.topo.SRV.SetLinkUp(ctx, flapPort); err != nil {
		return firstSent{}, 0, err
	}
	var sent firstSent
	var bound time.Time
	err := lab.WaitFor(ctx, boundTimeout, "a message and a preferred global address on lan0 after link-up", func() (bool, error) {
		if err := r.exited(); err != nil {
			return false, lab.Abort(err)
		}
		if sent.typ == "" {
			for _, p := range capture.Packets() {
				if p.Src.Port() == clientPort && p.Time.After(up) {
					sent = firstSent{typ: p.Type, after: p.Time.Sub(up)}
					break
				}
			}
		}
		addrs, err := tb.topo.CLI.GlobalAddrs(ctx, "lan0")
		if err != nil {
			return false, err
		}
		a := preferred(addrs)
		if a == nil {
			return false, nil
		}
		// The address is preferred now; the monitor has the time it
		// was added or refreshed as such (the first line for it since
		// up without the deprecated flag: a client may have touched it,
		// still deprecated, before the Reply).
		for _, e := range tb.mon.AddrEvents("lan0") {
			if !e.Deleted && e.Prefix == a.Prefix && e.Time.After(up) && !strings.Contains(e.Line, " deprecated") {
				bound = e.Time
				break
			}
		}
		return sent.typ != "" && !bound.IsZero(), nil
	})
	return sent, bound.Sub(up), err
}

// preferred returns the first of addrs that is not deprecated, or nil.
func preferred(addrs []lab.Addr) *lab.Addr {
	for i := range addrs {
		if !addrs[i].Deprecated {
			return &addrs[i]
		}
	}
	return nil
}
