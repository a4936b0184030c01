package engine

import (
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// kinds lists the recorded events' kinds and takes them.
func (h *harness) kinds() []string {
	var k []string
	for _, e := range h.env.events {
		k = append(k, e.Kind)
	}
	h.env.events = nil
	return k
}

func TestEvents(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		evs := h.env.events
		if got := h.kinds(); len(got) != 1 || got[0] != EventBound {
			t.Fatalf("events after bind: %v, want [BOUND]", got)
		}
		e := evs[0]
		if e.State != "Bound" || len(e.Prefixes) != 1 || e.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:1::/63") ||
			len(e.OldPrefixes) != 0 || len(e.Downstreams) != 2 || e.Downstreams[1].Addr != netip.MustParsePrefix("2001:db8:1:1::1/64") {
			t.Errorf("BOUND event %+v", e)
		}

		h.run(100 * time.Second)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA, grant1()))
		if got := h.kinds(); len(got) != 1 || got[0] != EventRenew {
			t.Errorf("events after renew: %v, want [RENEW]", got)
		}

		h.run(100 * time.Second)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA, iapd(iaid1, 100, 160, iaprefix("2001:db8:2::/63", 200, 300))))
		evs = h.env.events
		if got := h.kinds(); len(got) != 1 || got[0] != EventChanged {
			t.Fatalf("events after a new prefix: %v, want [CHANGED]", got)
		}
		if e := evs[0]; e.OldPrefixes[0].Prefix != netip.MustParsePrefix("2001:db8:1::/63") || e.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:2::/63") {
			t.Errorf("CHANGED event old %v new %v", e.OldPrefixes, e.Prefixes)
		}

		h.run(300 * time.Second)
		evs = h.env.events
		if got := h.kinds(); len(got) == 0 || got[len(got)-1] != EventExpire {
			t.Fatalf("events at the valid lifetime: %v, want EXPIRE last", got)
		}
		if e := evs[len(evs)-1]; len(e.Prefixes) != 0 || len(e.OldPrefixes) != 1 || e.State != "Init" {
			t.Errorf("EXPIRE event %+v", e)
		}
	})
}

// TestDeprecate: link down deprecates without deleting; a downstream that
// appears meanwhile gets the deprecated lifetimes; the next Reply restores
// them (SPEC 9).
func TestDeprecate(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		h.run(50 * time.Second)
		h.take()
		h.u.SetReady(false)
		h.u.Deprecate()
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 250),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 250),
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("deprecation (-want +got):\n%s", diff)
		}
		h.u.DownstreamAppeared("lan1")
		if diff := cmp.Diff(want[1:], ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("downstream appearing while deprecated (-want +got):\n%s", diff)
		}
		h.u.SetReady(true)
		h.wantState(StateRebooting)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Rebind), serverA, grant1()))
		h.wantState(StateBound)
		h.take()
		h.u.DownstreamAppeared("lan0")
		if diff := cmp.Diff([]call{addr(iaid1, "lan0", "2001:db8:1::1/64", 200, 300)}, ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("downstream after rebind (-want +got):\n%s", diff)
		}
	})
}

type plugStep struct {
	at       time.Duration
	up, gone bool
}

// TestLinkPlug drives the debounce in virtual time with the defaults: up
// delay 0, down delay 5 s (ifplugd's).
func TestLinkPlug(t *testing.T) {
	tests := []struct {
		name  string
		steps []plugStep
		want  []plugStep // what acted, when
	}{
		{"up at once", []plugStep{{0, true, false}}, []plugStep{{0, true, false}}},
		{"flap shorter than the down delay",
			[]plugStep{{0, true, false}, {time.Second, false, false}, {4 * time.Second, true, false}},
			[]plugStep{{0, true, false}}},
		{"down held for the delay",
			[]plugStep{{0, true, false}, {time.Second, false, false}, {9 * time.Second, true, false}},
			[]plugStep{{0, true, false}, {6 * time.Second, false, false}, {9 * time.Second, true, false}}},
		{"repeated reports do not restart the delay",
			[]plugStep{{0, true, false}, {time.Second, false, false}, {3 * time.Second, false, false}},
			[]plugStep{{0, true, false}, {6 * time.Second, false, false}}},
		{"departure acts at once",
			[]plugStep{{0, true, false}, {time.Second, false, true}},
			[]plugStep{{0, true, false}, {time.Second, false, true}}},
		{"departure during a pending down",
			[]plugStep{{0, true, false}, {time.Second, false, false}, {2 * time.Second, false, true}},
			[]plugStep{{0, true, false}, {2 * time.Second, false, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex // the test goroutine and timer callbacks
				start := time.Now()
				var acted []plugStep
				p := &linkPlug{
					after: func(d time.Duration, f func()) func() bool {
						return time.AfterFunc(d, func() { mu.Lock(); defer mu.Unlock(); f() }).Stop
					},
					log:  slog.New(slog.DiscardHandler),
					down: 5 * time.Second,
					act:  func(up, gone bool) { acted = append(acted, plugStep{time.Since(start), up, gone}) },
				}
				for _, s := range tt.steps {
					time.Sleep(s.at - time.Since(start))
					synctest.Wait()
					mu.Lock()
					p.set(s.up, s.gone)
					mu.Unlock()
				}
				time.Sleep(time.Minute)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				if diff := cmp.Diff(tt.want, acted, cmp.AllowUnexported(plugStep{})); diff != "" {
					t.Errorf("acted (-want +got):\n%s", diff)
				}
			})
		})
	}
}
