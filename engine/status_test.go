package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/google/go-cmp/cmp"
)

func TestStatus(t *testing.T) {
	bubble(t, secondIA, func(h *harness) {
		t := h.t
		start := time.Now()
		if got := h.u.Status(); got.State != "Down" || len(got.IAs) != 2 || got.IAs[0].Prefix.IsValid() {
			t.Errorf("status before binding: %+v", got)
		}
		h.run(10 * time.Second)
		h.bind(serverA, grant1(), iapd(iaid2, 0, 0, iaprefix("2001:db8:100::/56", dhcp6.Infinity, dhcp6.Infinity)))
		bound := start.Add(10 * time.Second)
		want := Status{
			Uplink: "eth0",
			State:  "Bound",
			IAs: []IAStatus{{
				IAID:         iaid1,
				Prefix:       netip.MustParsePrefix("2001:db8:1::/63"),
				Server:       []byte(serverA),
				PreferredEnd: bound.Add(200 * time.Second),
				ValidEnd:     bound.Add(300 * time.Second),
				T1:           bound.Add(100 * time.Second),
				T2:           bound.Add(160 * time.Second),
				Downstreams: []Downstream{
					{Ifname: "lan0", Addr: netip.MustParsePrefix("2001:db8:1::1/64")},
					{Ifname: "lan1", Addr: netip.MustParsePrefix("2001:db8:1:1::1/64")},
				},
			}, {
				// Infinite lifetimes and T1/T2 left to the client: no end.
				IAID:        iaid2,
				Prefix:      netip.MustParsePrefix("2001:db8:100::/56"),
				Server:      []byte(serverA),
				Downstreams: []Downstream{{Ifname: "guest0", Addr: netip.MustParsePrefix("2001:db8:100::1/56")}},
			}},
		}
		if diff := cmp.Diff(want, h.u.Status(), cmpCalls()); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})
}

func TestStateString(t *testing.T) {
	want := []string{"Down", "Init", "Requesting", "Bound", "Renewing", "Rebinding", "Rebooting", "State(7)"}
	for s, w := range want {
		if got := State(s).String(); got != w {
			t.Errorf("State(%d) = %q, want %q", s, got, w)
		}
	}
}

// A delegated prefix smaller than the plan needs: the entries that fit get
// their address, Status lists the others.
func TestPrefixTooSmall(t *testing.T) {
	bubble(t, func(o *options) {
		o.cfg.Uplink.IAs[0] = plan(iaid1, entry("lan0", 64), config.Entry{PrefixLen: 64}, entry("lan1", 64), entry("lan2", 62))
	}, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		sol := h.last(dhcp6.Solicit)
		// The plan needs a /61; the hint is rounded to the nibble, /60.
		if sol.IAs[0].Prefix != netip.MustParsePrefix("::/60") {
			t.Errorf("Solicit hint %v, want ::/60", sol.IAs[0].Prefix)
		}
		small := iapd(iaid1, 100, 160, iaprefix("2001:db8:1::/62", 200, 300))
		adv := answer(dhcp6.Advertise, sol, serverA, small)
		adv.Preference = 255
		adv.HasPreference = true
		h.u.receive(adv)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, small))
		h.wantState(StateBound)
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:1:2::1/64", 200, 300),
			route("set-route", iaid1, "2001:db8:1::/62"),
		}
		calls := ops(h.take())
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("configured (-want +got):\n%s", diff)
		}
		ia := h.u.Status().IAs[0]
		if diff := cmp.Diff([]config.Entry{{Name: "lan2", PrefixLen: 62, Offset: config.Uint128{Hi: 4}}}, ia.Unfit); diff != "" {
			t.Errorf("unfit (-want +got):\n%s", diff)
		}
	})
}

func TestDownstreamAppeared(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.run(50 * time.Second)
		h.u.DownstreamAppeared("lan1")
		h.u.DownstreamAppeared("eth9")
		want := []call{addr(iaid1, "lan1", "2001:db8:1:1::1/64", 150, 250)}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			h.t.Errorf("hot-plug (-want +got):\n%s", diff)
		}
	})
}

// A downstream that appears, or whose IPv6 starts again, after the kernel
// refused part of the plan gets the whole plan applied again, and the
// refusal is no longer shown: it was most likely that downstream's
// (disable_ipv6, tests/chaos TestIPv6Toggled), and the parent reports it
// again if not.
func TestDownstreamAppearedAfterRefusal(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.u.KernelError("add 2001:db8:1::1/64 on lan0: IPv6 is disabled on this device")
		h.run(50 * time.Second)
		h.u.DownstreamAppeared("lan0")
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 150, 250),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 150, 250),
			route("set-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			h.t.Errorf("downstream back after a refusal (-want +got):\n%s", diff)
		}
		if s := h.u.Status(); s.KernelError != "" {
			h.t.Errorf("kernel error %q still shown after the plan was applied again", s.KernelError)
		}
	})
}

// Without a refusal RetryRefused changes nothing: the engine calls it on
// every socket that comes back, most of them after nothing went wrong.
func TestRetryRefusedWithoutRefusal(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		if h.u.RetryRefused() {
			h.t.Error("RetryRefused applied the plan again with no refusal shown")
		}
		if calls := ops(h.take()); len(calls) != 0 {
			h.t.Errorf("RetryRefused without a refusal: %v", calls)
		}
	})
}

// A refusal the parent reports shows in the status until the next Reply
// applies the plan again: Bound with no address on a LAN is not silent.
func TestKernelError(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		const refused = "add 2001:db8:1::1/64 on lan0: operation not permitted"
		h.u.KernelError(refused)
		if s := h.u.Status(); s.KernelError != refused || !s.KernelErrorAt.Equal(time.Now()) {
			h.t.Errorf("status kernel error %q at %v, want %q now", s.KernelError, s.KernelErrorAt, refused)
		}
		h.run(100 * time.Second) // T1
		renew := h.last(dhcp6.Renew)
		h.u.receive(answer(dhcp6.Reply, renew, serverA, grant1()))
		h.wantState(StateBound)
		if s := h.u.Status(); s.KernelError != "" {
			h.t.Errorf("kernel error %q after the Renew applied the plan again", s.KernelError)
		}
	})
}
