package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Drift: what the plan holds and someone else removed is put back once the
// removals of a burst have arrived (repairDelay), with the lifetimes left.
func TestRepair(t *testing.T) {
	lan0 := netip.MustParsePrefix("2001:db8:1::1/64")
	lan1 := netip.MustParsePrefix("2001:db8:1:1::1/64")
	held := netip.MustParsePrefix("2001:db8:1::/63")

	t.Run("a flush and the route", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.bind(serverA, grant1())
			h.run(10 * time.Second)
			h.take()
			h.u.AddressGone("lan0", lan0)
			h.u.AddressGone("lan1", lan1)
			h.u.RouteGone(held)
			h.u.AddressGone("lan0", lan0) // reported twice: put back once
			h.run(repairDelay - time.Millisecond)
			if c := ops(h.take()); len(c) != 0 {
				h.t.Fatalf("repaired before the burst could end: %+v", c)
			}
			h.run(time.Millisecond)
			want := []call{
				addr(iaid1, "lan0", "2001:db8:1::1/64", 189, 289), // 10.1 s after the Reply
				addr(iaid1, "lan1", "2001:db8:1:1::1/64", 189, 289),
				route("set-route", iaid1, "2001:db8:1::/63"),
			}
			if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
				h.t.Errorf("repair (-want +got):\n%s", diff)
			}
			st := h.u.Status()
			if st.RepairedAddresses != 2 || st.RepairedRoutes != 1 || !st.LastRepair.Equal(time.Now()) {
				h.t.Errorf("status counts %d addresses, %d routes, last %v; want 2, 1, now", st.RepairedAddresses, st.RepairedRoutes, st.LastRepair)
			}
		})
	})

	t.Run("not the plan's", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.bind(serverA, grant1())
			h.u.AddressGone("lan0", netip.MustParsePrefix("2001:db8:1::2/64"))
			h.u.AddressGone("lan2", lan0)
			h.u.AddressGone("lan0", netip.MustParsePrefix("2001:db8:1::1/128"))
			h.u.RouteGone(netip.MustParsePrefix("2001:db8:1::/64"))
			h.run(time.Second)
			if c := ops(h.take()); len(c) != 0 {
				h.t.Errorf("repaired what the plan does not hold: %+v", c)
			}
		})
	})

	t.Run("the downstream went away", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.bind(serverA, grant1())
			h.u.AddressGone("lan0", lan0)
			h.u.DownstreamGone("lan0")
			h.run(time.Second)
			if c := ops(h.take()); len(c) != 0 {
				h.t.Errorf("repaired on a deleted interface: %+v", c)
			}
		})
	})

	t.Run("what the engine removed itself", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.renewReply(iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 0, 0)))
			h.take()
			// The kernel's reports of the withdrawal come after it.
			h.u.AddressGone("lan0", lan0)
			h.u.RouteGone(held)
			h.run(time.Second)
			if c := ops(h.take()); len(c) != 0 {
				h.t.Errorf("put back a withdrawn prefix: %+v", c)
			}
		})
	})

	// Another program that removes the address again at once cannot drive
	// a loop: repairBurst repairs, then one per RepairEvery.
	t.Run("rate limited", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.bind(serverA, grant1())
			var at []time.Duration
			for len(at) < repairBurst+3 {
				h.u.AddressGone("lan0", lan0)
				for len(ops(h.env.calls)) == 0 {
					h.run(10 * time.Millisecond)
				}
				at = append(at, h.take()[0].at)
			}
			for i := 1; i < repairBurst; i++ {
				if gap := at[i] - at[i-1]; gap > repairDelay+20*time.Millisecond {
					h.t.Errorf("repair %d %v after the previous, want at once (%v)", i, gap, repairDelay)
				}
			}
			for i := repairBurst; i < len(at); i++ {
				if gap := at[i] - at[i-1]; gap < RepairEvery-time.Second || gap > RepairEvery+time.Second {
					h.t.Errorf("repair %d %v after the previous, want about %v once the burst is spent", i, gap, RepairEvery)
				}
			}
		})
	})
}
