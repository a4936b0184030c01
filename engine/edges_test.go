package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// Lease edges: what servers do at the borders of RFC 8415, each driven on
// the engine's virtual clock.

// renewReply binds grant1, lets T1 pass and answers the Renew with pds.
func (h *harness) renewReply(pds ...dhcp6.IAPD) {
	h.t.Helper()
	h.bind(serverA, grant1())
	h.env.events = nil
	h.run(100 * time.Second)
	renew := h.last(dhcp6.Renew)
	h.take()
	h.u.receive(answer(dhcp6.Reply, renew, serverA, pds...))
}

// RFC 8415 section 18.2.10.1: a Reply to Renew that withdraws the held
// prefix (valid lifetime 0), or says NoPrefixAvail for its IA, removes what
// it configured, and the hook hears of it (CHANGED, the prefix among the old
// ones only) so that it stops announcing it.
func TestWithdrawalIsAnEvent(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply dhcp6.IAPD
	}{
		{"valid lifetime 0", iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 0, 0))},
		{"NoPrefixAvail", withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoPrefixAvail)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				h.renewReply(tt.reply)
				calls := ops(h.take())
				want := []call{
					{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
					{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
					route("remove-route", iaid1, "2001:db8:1::/63"),
				}
				if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
					h.t.Errorf("withdrawal (-want +got):\n%s", diff)
				}
				evs := h.env.events
				if len(evs) != 1 || evs[0].Kind != EventChanged || len(evs[0].Prefixes) != 0 ||
					len(evs[0].OldPrefixes) != 1 || evs[0].OldPrefixes[0].Prefix != netip.MustParsePrefix("2001:db8:1::/63") {
					h.t.Errorf("events %+v, want one CHANGED with the withdrawn prefix among the old only", evs)
				}
				h.wantState(StateInit) // nothing held: start over
			})
		})
	}
}

// RFC 8415 section 18.2.10.1 (graceful renumbering): the server offers a
// new prefix and gives the held one preferred lifetime 0. Both are used:
// the new one preferred, with the plan's addresses and the route; the old
// one's addresses deprecated with the server's valid lifetime and its
// route kept, until that lifetime ends.
func TestGracefulRenumbering(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.renewReply(iapd(iaid1, 100, 160,
			iaprefix("2001:db8:1::/63", 0, 250),
			iaprefix("2001:db8:2::/63", 200, 300)))
		h.wantState(StateBound)
		calls := ops(h.take())
		want := []call{
			addr(iaid1, "lan0", "2001:db8:2::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:2:1::1/64", 200, 300),
			addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 250),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 250),
			route("set-route", iaid1, "2001:db8:2::/63"),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("renumbering (-want +got):\n%s", diff)
		}
		save := calls[len(calls)-1]
		if len(save.lease.IAs) != 2 || save.lease.IAs[0].Prefix != netip.MustParsePrefix("2001:db8:2::/63") || save.lease.IAs[0].Retiring ||
			save.lease.IAs[1].Prefix != netip.MustParsePrefix("2001:db8:1::/63") || !save.lease.IAs[1].Retiring {
			t.Errorf("saved %+v, want the new prefix and the old one retiring", save.lease.IAs)
		}
		if evs := h.env.events; len(evs) != 1 || evs[0].Kind != EventChanged || len(evs[0].Prefixes) != 2 {
			t.Errorf("events %+v, want CHANGED with both prefixes", evs)
		}

		// The Renew carries both prefixes of the IA (section 18.2.4); the
		// Reply leaves the retiring one out, so it keeps its lifetimes.
		h.run(100 * time.Second)
		renew := h.last(dhcp6.Renew)
		wantIAs := []TransmitIA{
			{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:2::/63")},
			{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63")},
		}
		if diff := cmp.Diff(wantIAs, renew.IAs, cmpCalls()); diff != "" {
			t.Errorf("Renew IAs (-want +got):\n%s", diff)
		}
		h.take()
		h.u.receive(answer(dhcp6.Reply, renew, serverA, iapd(iaid1, 100, 160, iaprefix("2001:db8:2::/63", 200, 300))))
		calls = ops(h.take())
		want = []call{
			addr(iaid1, "lan0", "2001:db8:2::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:2:1::1/64", 200, 300),
			route("set-route", iaid1, "2001:db8:2::/63"),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("Reply without the retiring prefix (-want +got):\n%s", diff)
		}

		// The old prefix ends 250 s after the first Reply: its addresses
		// and route go, the new one stays bound.
		h.env.events = nil
		h.run(150*time.Second - time.Millisecond)
		if c := ops(h.take()); len(c) != 0 {
			t.Errorf("before the retiring prefix ends: %+v", c)
		}
		h.run(time.Millisecond)
		calls = ops(h.take())
		want = []call{
			{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
			{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
			route("remove-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("end of the retiring prefix (-want +got):\n%s", diff)
		}
		h.wantState(StateRenewing) // the Renew at 300 s, for the new prefix
		if evs := h.env.events; len(evs) != 1 || evs[0].Kind != EventExpire || len(evs[0].Prefixes) != 1 || len(evs[0].OldPrefixes) != 2 {
			t.Errorf("events %+v, want EXPIRE from two prefixes to one", evs)
		}
	})
}

// A retiring prefix is kept in the lease file and comes back, still
// deprecated, after a restart.
func TestRetiringRestored(t *testing.T) {
	bubble(t, func(o *options) {
		bound := time.Now().Add(-10 * time.Second)
		o.held = lease.Lease{ServerID: []byte(serverA), IAs: []lease.IA{
			{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:2::/63"), Preferred: 200, Valid: 300, Bound: bound},
			{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"), Preferred: 0, Valid: 100, Bound: bound, Retiring: true},
		}}
	}, func(h *harness) {
		want := []call{
			addr(iaid1, "lan0", "2001:db8:2::1/64", 190, 290),
			addr(iaid1, "lan1", "2001:db8:2:1::1/64", 190, 290),
			addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 90),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 90),
			route("set-route", iaid1, "2001:db8:2::/63"),
			route("set-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			h.t.Errorf("restored (-want +got):\n%s", diff)
		}
		h.u.SetReady(true)
		if rebind := h.last(dhcp6.Rebind); len(rebind.IAs) != 2 || rebind.IAs[1].Prefix != netip.MustParsePrefix("2001:db8:1::/63") {
			h.t.Errorf("Rebooting Rebind IAs %+v, want the current and the retiring prefix", rebind.IAs)
		}
	})
}

// A server that renumbers faster than old prefixes expire cannot make an
// IA hold more than lease.MaxRetiring of them.
func TestRetiringBounded(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		prev := "2001:db8:1::/63"
		for i := 2; i < 8; i++ {
			h.run(100 * time.Second)
			next := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 63).String()
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA,
				iapd(iaid1, 100, 160, iaprefix(prev, 0, 100000), iaprefix(next, 200, 300))))
			prev = next
		}
		ia := h.u.ias[0]
		if len(ia.retiring) != lease.MaxRetiring || ia.held.Prefix.String() != prev {
			h.t.Errorf("holds %v and retiring %+v, want %s and %d retiring", ia.held.Prefix, ia.retiring, prev, lease.MaxRetiring)
		}
	})
}

// RFC 8415 section 14.2: T1 = T2 = 0 leaves the times to the client, which
// must not renew at once nor in a storm. A deprecated prefix (preferred 0)
// renews at half its valid lifetime, not every second.
func TestDeprecatedPrefixRenewsByValid(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 0, 300)))
		h.run(150*time.Second - time.Millisecond)
		if tx := sent(h.take()); len(tx) != 0 {
			h.t.Fatalf("sent %d messages before 150 s, first %v at %v; want the Renew at 0.5 x valid", len(tx), tx[0].tx.Type, tx[0].at)
		}
		h.run(time.Millisecond)
		h.last(dhcp6.Renew)
	})
}

// RFC 8415 section 18.2.5: Rebind goes on until the valid lifetime ends; a
// T1 and T2 beyond it would let the lease end unrenewed. They are brought
// inside it.
func TestTimersBeyondValid(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, iapd(iaid1, 5000, 8000, iaprefix("2001:db8:1::/63", 200, 300)))
		h.run(300*time.Second - time.Millisecond)
		var renew, rebind bool
		for _, c := range sent(h.take()) {
			switch {
			case c.tx.Type == dhcp6.Renew && c.at == 150*time.Second:
				renew = true
			case c.tx.Type == dhcp6.Rebind && c.at == 240*time.Second:
				rebind = true
			}
		}
		if !renew || !rebind {
			h.t.Errorf("Renew at 150 s: %v, Rebind at 240 s: %v; want both (0.5 and 0.8 of the valid lifetime)", renew, rebind)
		}
	})
}

// SPEC 6: the lease of each prefix runs to its own valid lifetime. The
// first IA's end removes only its prefix; the other IA stays bound, and
// the next Renew asks for the emptied IA again (RFC 8415 section 18.2.4).
func TestExpiryPerIA(t *testing.T) {
	bubble(t, secondIA, func(h *harness) {
		t := h.t
		h.bind(serverA,
			iapd(iaid1, 1000, 1600, iaprefix("2001:db8:1::/63", 50, 100)),
			iapd(iaid2, 1000, 1600, iaprefix("2001:db8:100::/56", 2000, 3000)))
		// The server's T1 and T2 are beyond the first IA's valid lifetime,
		// so the Renew goes out at 0.5 x 100 s; the Reply refreshes only
		// the second IA, and leaves the first out (it keeps its lifetimes).
		h.run(50 * time.Second)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA,
			iapd(iaid2, 1000, 1600, iaprefix("2001:db8:100::/56", 2000, 3000))))
		h.wantState(StateBound)
		h.take()
		h.env.events = nil
		h.run(50 * time.Second)
		calls := ops(h.take())
		want := []call{
			{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
			{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
			route("remove-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("first IA's end (-want +got):\n%s", diff)
		}
		if save := calls[len(calls)-1]; len(save.lease.IAs) != 1 || save.lease.IAs[0].IAID != iaid2 {
			t.Errorf("saved %+v, want the second IA only", save.lease)
		}
		h.wantState(StateBound)
		if evs := h.env.events; len(evs) != 1 || evs[0].Kind != EventExpire || len(evs[0].Prefixes) != 1 {
			t.Errorf("events %+v, want EXPIRE leaving one prefix", evs)
		}
		// The next Renew, at the second IA's T1, carries both IAs, the
		// first with its old prefix as the hint.
		h.run(1000 * time.Second)
		renew := h.last(dhcp6.Renew)
		wantIAs := []TransmitIA{
			{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63")},
			{IAID: iaid2, Prefix: netip.MustParsePrefix("2001:db8:100::/56")},
		}
		if diff := cmp.Diff(wantIAs, renew.IAs, cmpCalls()); diff != "" {
			t.Errorf("Renew IAs (-want +got):\n%s", diff)
		}
	})
}

// RFC 8415 section 15, with section 14.1's rate limiting: a server that
// advertises and then refuses every Request must not keep the client at two
// messages a second. Each new Solicit exchange waits the next RT of a
// backoff continued across them.
func TestRefusingServerBacksOff(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		var solicits []time.Duration
		end := 10 * time.Minute
		for time.Duration(len(solicits)) < 100 {
			sol := h.last(dhcp6.Solicit)
			solicits = append(solicits, time.Since(h.env.start))
			adv := answer(dhcp6.Advertise, sol, serverA, grant1())
			adv.Preference = 255
			adv.HasPreference = true
			h.u.receive(adv)
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoPrefixAvail)))
			h.wantState(StateInit)
			h.take()
			before := time.Since(h.env.start)
			for len(sent(h.env.calls)) == 0 && time.Since(h.env.start) < end {
				h.run(100 * time.Millisecond)
			}
			if time.Since(h.env.start) >= end {
				break
			}
			if d := time.Since(h.env.start) - before; d > 3700*time.Second {
				t.Fatalf("a wait of %v, want at most SOL_MAX_RT (3600 s) +10%%", d)
			}
		}
		t.Logf("Solicit exchanges at %v", solicits)
		// Doubling from 1 s: 1 + 2 + 4 + ... 256 s is under 10 minutes with
		// ten exchanges; at a fixed 1 s there would be hundreds.
		if len(solicits) > 11 || len(solicits) < 8 {
			t.Errorf("%d Solicit exchanges in %v (at %v), want 8 to 11", len(solicits), end, solicits)
		}
		for i := 2; i < len(solicits); i++ {
			prev, gap := solicits[i-1]-solicits[i-2], solicits[i]-solicits[i-1]
			if gap < prev*17/10 {
				t.Errorf("gap %d %v after %v, want about double", i, gap, prev)
			}
		}
		// The operator's request starts over at once.
		h.take()
		h.u.Request()
		if tx := sent(h.take()); len(tx) != 1 || tx[0].tx.Type != dhcp6.Solicit {
			t.Errorf("after dhcp6leasectl request: %+v, want a Solicit at once", tx)
		}
	})
}

// The held prefixes are configured as soon as the uplink is made from its
// lease file, with what is left of their lifetimes: after a reboot the
// kernel has none of them.
func TestRestore(t *testing.T) {
	bubble(t, heldLease, func(h *harness) {
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 400, 900),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 400, 900),
			route("set-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			h.t.Errorf("restored (-want +got):\n%s", diff)
		}
	})
}
