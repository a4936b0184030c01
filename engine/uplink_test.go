package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// secondIA adds IA iaid2 = { guest0/56 } to the uplink.
func secondIA(o *options) {
	o.cfg.Uplink.IAs = append(o.cfg.Uplink.IAs, plan(iaid2, entry("guest0", 56)))
}

// The tests' usual grant: 2001:db8:1::/63 with T1 100, T2 160, preferred
// 200, valid 300.
func grant1() dhcp6.IAPD { return iapd(iaid1, 100, 160, iaprefix("2001:db8:1::/63", 200, 300)) }

func TestSolicitTransmissions(t *testing.T) {
	delay := 300 * time.Millisecond
	bubble(t, func(o *options) {
		secondIA(o)
		o.cfg.RapidCommit = true
		o.cfg.SolicitDelay = &delay
	}, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		h.wantState(StateInit)
		h.run(delay - time.Millisecond)
		if c := h.take(); len(c) != 0 {
			t.Fatalf("calls before the Solicit delay: %+v", c)
		}
		h.run(5 * time.Second)
		tx := sent(h.take())
		if len(tx) != 3 {
			t.Fatalf("%d Solicits in 5 s, want 3", len(tx))
		}
		want := Transmit{
			Uplink: "eth0", Type: dhcp6.Solicit, XID: tx[0].tx.XID, RapidCommit: true, ReconfigureAccept: true,
			IAs: []TransmitIA{
				// The plan needs a /63: the hint is the nibble's /60.
				{IAID: iaid1, Prefix: netip.MustParsePrefix("::/60")},
				{IAID: iaid2, Prefix: netip.MustParsePrefix("::/56")},
			},
		}
		for i, c := range tx {
			want.Elapsed = uint16((c.at - tx[0].at) / (10 * time.Millisecond))
			if diff := cmp.Diff(want, c.tx, cmpCalls()); diff != "" {
				t.Errorf("Solicit %d (-want +got):\n%s", i, diff)
			}
		}
		if tx[0].at != delay {
			t.Errorf("first Solicit at %v, want %v", tx[0].at, delay)
		}
		// RFC 8415 section 18.2.1: the first RT is strictly above IRT.
		rt1, rt2 := tx[1].at-tx[0].at, tx[2].at-tx[1].at
		if rt1 <= time.Second || rt1 > 1100*time.Millisecond {
			t.Errorf("first RT %v, want in (1 s, 1.1 s]", rt1)
		}
		if rt2 < rt1*19/10 || rt2 > rt1*21/10 {
			t.Errorf("second RT %v after %v, want doubling within [1.9, 2.1]", rt2, rt1)
		}
	})
}

func TestSolicitRandomDelay(t *testing.T) {
	for range 20 {
		bubble(t, func(o *options) { o.cfg.SolicitDelay = nil }, func(h *harness) {
			h.u.SetReady(true)
			h.run(time.Second)
			tx := sent(h.take())
			if len(tx) != 1 || tx[0].at >= time.Second {
				h.t.Fatalf("Solicits in the first second: %+v, want one (SOL_MAX_DELAY 1 s)", tx)
			}
		})
	}
}

func TestAdvertiseSelection(t *testing.T) {
	offer := func(prefix string) dhcp6.IAPD { return iapd(iaid1, 0, 0, iaprefix(prefix, 200, 300)) }
	advertise := func(h *harness, server string, pref uint8, pds ...dhcp6.IAPD) {
		m := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), server, pds...)
		m.Preference = pref
		m.HasPreference = true
		h.u.receive(m)
	}
	const serverC = "\x00\x03\x00\x01\x02\x00\x00\x00\x00\xcc"
	tests := []struct {
		name       string
		exchange   func(h *harness)
		wantAt     time.Duration // of the Request; -1: the first RT
		wantServer string
		wantPrefix string
		wantDrops  map[DropReason]uint64
	}{{
		name: "preference 255 at once",
		exchange: func(h *harness) {
			advertise(h, serverA, 10, offer("2001:db8:a::/63"))
			advertise(h, serverB, 255, offer("2001:db8:b::/63"))
		},
		wantAt: 0, wantServer: serverB, wantPrefix: "2001:db8:b::/63",
	}, {
		name: "highest preference of the first RT, first on a tie",
		exchange: func(h *harness) {
			advertise(h, serverA, 10, offer("2001:db8:a::/63"))
			h.run(500 * time.Millisecond)
			advertise(h, serverB, 20, offer("2001:db8:b::/63"))
			advertise(h, serverC, 20, offer("2001:db8:c::/63"))
			advertise(h, serverA, 0)
			h.run(time.Second)
		},
		wantAt: -1, wantServer: serverB, wantPrefix: "2001:db8:b::/63",
		wantDrops: map[DropReason]uint64{DropNothingUsable: 1},
	}, {
		name: "without usable prefix ignored",
		exchange: func(h *harness) {
			advertise(h, serverA, 255, withStatus(offer("2001:db8:a::/63"), dhcp6.StatusNoPrefixAvail))
			advertise(h, serverB, 255, iapd(iaid1, 0, 0, iaprefix("2001:db8:b::/63", 0, 0)))
			advertise(h, serverC, 255)
			h.run(2 * time.Second)
			// After the first RT the first acceptable Advertise wins.
			advertise(h, serverC, 0, offer("2001:db8:c::/63"))
		},
		wantAt: 2 * time.Second, wantServer: serverC, wantPrefix: "2001:db8:c::/63",
		wantDrops: map[DropReason]uint64{DropNothingUsable: 3, DropPrefixUnheld: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				t := h.t
				h.u.SetReady(true)
				tx0 := h.last(dhcp6.Solicit)
				tt.exchange(h)
				h.wantState(StateRequesting)
				calls := sent(h.env.calls)
				req := calls[len(calls)-1]
				if tt.wantAt == -1 {
					// The Request follows the first RT, which the second
					// Solicit would have ended.
					if req.at <= time.Second || req.at > 1100*time.Millisecond {
						t.Errorf("Request at %v, want at the first RT, in (1 s, 1.1 s]", req.at)
					}
				} else if req.at != tt.wantAt {
					t.Errorf("Request at %v, want %v", req.at, tt.wantAt)
				}
				want := Transmit{
					Uplink: "eth0", Type: dhcp6.Request, XID: req.tx.XID, ServerID: []byte(tt.wantServer), ReconfigureAccept: true,
					IAs: []TransmitIA{{IAID: iaid1, Prefix: netip.MustParsePrefix(tt.wantPrefix)}},
				}
				if diff := cmp.Diff(want, req.tx, cmpCalls()); diff != "" {
					t.Errorf("Request (-want +got):\n%s", diff)
				}
				if req.tx.XID == tx0.XID {
					t.Error("Request reuses the Solicit's transaction id")
				}
				if diff := cmp.Diff(tt.wantDrops, h.u.Stats().Drops, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("drops (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestRequestReplyBinds(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1())
		adv.Preference = 255
		adv.HasPreference = true
		h.u.receive(adv)
		req := h.last(dhcp6.Request)
		h.run(500 * time.Millisecond)
		h.take()
		h.u.receive(answer(dhcp6.Reply, req, serverA, grant1()))
		h.wantState(StateBound)
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 200, 300),
			route("set-route", iaid1, "2001:db8:1::/63"),
			{op: "save", lease: lease.Lease{ServerID: []byte(serverA), IAs: []lease.IA{{
				IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"), Preferred: 200, Valid: 300,
				Bound: time.Now(), T1: 100, T2: 160, Downstreams: []string{"lan0", "lan1"},
			}}}},
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("binding (-want +got):\n%s", diff)
		}
		h.run(100 * time.Second)
		renew := sent(h.take())
		if len(renew) != 1 || renew[0].tx.Type != dhcp6.Renew || renew[0].at != 100500*time.Millisecond {
			t.Errorf("after binding at 0.5 s: %+v, want one Renew at T1 (100.5 s)", renew)
		}
	})
}

func TestRapidCommit(t *testing.T) {
	t.Run("binds with two messages", func(t *testing.T) {
		bubble(t, func(o *options) { o.cfg.RapidCommit = true }, func(h *harness) {
			h.u.SetReady(true)
			sol := h.last(dhcp6.Solicit)
			if !sol.RapidCommit {
				h.t.Error("Solicit without Rapid Commit")
			}
			plain := answer(dhcp6.Reply, sol, serverA, grant1())
			h.u.receive(plain)
			h.wantState(StateInit)
			rc := answer(dhcp6.Reply, sol, serverA, grant1())
			rc.RapidCommit = true
			h.u.receive(rc)
			h.wantState(StateBound)
			if n := len(sent(h.env.calls)); n != 1 {
				h.t.Errorf("%d messages sent, want the Solicit only", n)
			}
			if got := h.u.Stats().Drops; got[DropUnexpectedType] != 1 {
				h.t.Errorf("drops %v, want the Reply without Rapid Commit as unexpected-type", got)
			}
		})
	})
	t.Run("not asked for", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.u.SetReady(true)
			sol := h.last(dhcp6.Solicit)
			if sol.RapidCommit {
				h.t.Error("Solicit with Rapid Commit")
			}
			rc := answer(dhcp6.Reply, sol, serverA, grant1())
			rc.RapidCommit = true
			h.u.receive(rc)
			h.wantState(StateInit)
			if got := h.u.Stats().Drops; got[DropUnexpectedType] != 1 {
				h.t.Errorf("drops %v, want unexpected-type", got)
			}
		})
	})
}

// A lease nobody renews: Renew from T1 until T2, Rebind from T2 until the
// valid lifetime ends, then everything is removed and Solicit begins.
func TestRenewRebindExpire(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		h.run(300*time.Second - time.Millisecond)
		tx := sent(h.take())
		var renews, rebinds []call
		for _, c := range tx {
			switch c.tx.Type {
			case dhcp6.Renew:
				renews = append(renews, c)
			case dhcp6.Rebind:
				rebinds = append(rebinds, c)
			default:
				t.Fatalf("%v sent before expiry", c.tx.Type)
			}
		}
		checkExchange(t, renews, 100*time.Second, 160*time.Second, 10*time.Second, []byte(serverA))
		checkExchange(t, rebinds, 160*time.Second, 300*time.Second, 10*time.Second, nil)
		if renews[0].tx.XID == rebinds[0].tx.XID {
			t.Error("Rebind reuses the Renew's transaction id")
		}

		h.run(time.Millisecond)
		h.wantState(StateInit)
		calls := h.take()
		want := []call{
			{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
			{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
			route("remove-route", iaid1, "2001:db8:1::/63"),
			{op: "save"},
		}
		if diff := cmp.Diff(want, ops(calls), cmpCalls()); diff != "" {
			t.Errorf("expiry (-want +got):\n%s", diff)
		}
		if sol := sent(calls); len(sol) != 1 || sol[0].tx.Type != dhcp6.Solicit ||
			sol[0].tx.IAs[0].Prefix != netip.MustParsePrefix("2001:db8:1::/63") {
			t.Errorf("after expiry sent %+v, want a Solicit hinting the old prefix", sol)
		}
	})
}

// checkExchange checks the transmissions of one exchange: the first at
// start, all before end, one transaction id, Server ID as want, each RT
// within RFC 8415 section 15's bounds from irt.
func checkExchange(t *testing.T, tx []call, start, end, irt time.Duration, server []byte) {
	t.Helper()
	if len(tx) < 2 || tx[0].at != start {
		t.Fatalf("transmissions %+v, want at least two from %v", tx, start)
	}
	var prev time.Duration
	for i, c := range tx {
		if c.at >= end || c.tx.XID != tx[0].tx.XID || string(c.tx.ServerID) != string(server) {
			t.Errorf("%v %d at %v: XID %x, server %x; want before %v, XID %x, server %x",
				c.tx.Type, i, c.at, c.tx.XID, c.tx.ServerID, end, tx[0].tx.XID, server)
		}
		if i == 0 {
			continue
		}
		got := c.at - tx[i-1].at
		lo, hi := irt*9/10, irt*11/10
		if i > 1 {
			lo, hi = prev*19/10, prev*21/10
		}
		if got < lo || got > hi {
			t.Errorf("%v RT %d = %v, want within [%v, %v]", c.tx.Type, i, got, lo, hi)
		}
		prev = got
	}
}

func TestRenewRefreshes(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		h.run(100 * time.Second)
		renew := h.last(dhcp6.Renew)
		h.wantState(StateRenewing)
		h.take()
		h.u.receive(answer(dhcp6.Reply, renew, serverA, iapd(iaid1, 50, 80, iaprefix("2001:db8:1::/63", 400, 500))))
		h.wantState(StateBound)
		calls := ops(h.take())
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 400, 500),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 400, 500),
			route("set-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("renewal (-want +got):\n%s", diff)
		}
		h.run(80*time.Second + time.Millisecond)
		tx := sent(h.take())
		if len(tx) < 2 || tx[0].tx.Type != dhcp6.Renew || tx[0].at != 150*time.Second ||
			tx[len(tx)-1].tx.Type != dhcp6.Rebind || tx[len(tx)-1].at != 180*time.Second {
			t.Errorf("after renewal: %+v, want Renew at 150 s (new T1) and Rebind at 180 s (new T2)", tx)
		}
	})
}

func TestRenewTimes(t *testing.T) {
	inf := dhcp6.Infinity
	const s = time.Second
	tests := []struct {
		name                     string
		t1, t2, preferred, valid uint32
		want1, want2             time.Duration
	}{
		{"the server's", 100, 160, 200, 300, 100 * s, 160 * s},
		// RFC 8415 section 14.2: T1 = T2 = 0 leaves them to the client,
		// 0.5 and 0.8 of the preferred lifetime (section 21.21).
		{"the client's", 0, 0, 1000, 2000, 500 * s, 800 * s},
		{"only T2 the client's", 100, 0, 1000, 2000, 100 * s, 800 * s},
		{"deprecated: from the valid lifetime", 0, 0, 0, 1000, 500 * s, 800 * s},
		{"not below 1 s", 0, 0, 1, 1, s, 2 * s},
		{"infinite", 0, 0, inf, inf, lease.Forever, lease.Forever},
		{"infinite timers", inf, inf, 100, inf, lease.Forever, lease.Forever},
		// Past the valid lifetime the lease would end unrenewed (section
		// 18.2.5: Rebind until the valid lifetime ends).
		{"T1 beyond valid", 5000, 8000, 1000, 2000, 1000 * s, 1600 * s},
		{"T2 beyond valid", 500, 8000, 1000, 2000, 500 * s, 1600 * s},
		{"infinite timers, finite valid", inf, inf, 1000, 2000, 1000 * s, 1600 * s},
		// T1 = T2 leaves no time for the Renew (section 18.2.4).
		{"T1 = T2", 800, 800, 1000, 2000, 500 * s, 800 * s},
		{"T1 above the client's T2", 900, 0, 1000, 2000, 500 * s, 800 * s},
	}
	for _, tt := range tests {
		t1, t2 := renewTimes(lease.IA{T1: tt.t1, T2: tt.t2, Preferred: tt.preferred, Valid: tt.valid})
		if t1 != tt.want1 || t2 != tt.want2 {
			t.Errorf("%s: T1 %d, T2 %d, preferred %d, valid %d: got %v, %v; want %v, %v",
				tt.name, tt.t1, tt.t2, tt.preferred, tt.valid, t1, t2, tt.want1, tt.want2)
		}
	}
}

// T1 and T2 of 0 are the client's: 0.5 and 0.8 of the shortest preferred
// lifetime.
func TestDefaultT1T2(t *testing.T) {
	bubble(t, secondIA, func(h *harness) {
		h.bind(serverA,
			iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 1000, 2000)),
			iapd(iaid2, 0, 0, iaprefix("2001:db8:100::/56", 600, 2000)))
		h.run(480*time.Second + time.Millisecond)
		tx := sent(h.take())
		if len(tx) < 2 || tx[0].tx.Type != dhcp6.Renew || tx[0].at != 300*time.Second ||
			tx[len(tx)-1].tx.Type != dhcp6.Rebind || tx[len(tx)-1].at != 480*time.Second {
			h.t.Errorf("sent %+v, want Renew at 300 s and Rebind at 480 s", tx)
		}
	})
}

// heldLease is a lease file bound 100 s ago by serverA: 2001:db8:1::/63,
// preferred 500, valid 1000.
func heldLease(o *options) {
	o.held = lease.Lease{ServerID: []byte(serverA), IAs: []lease.IA{{
		IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"),
		Preferred: 500, Valid: 1000, Bound: time.Now().Add(-100 * time.Second), T1: 250, T2: 400,
	}}}
}

func TestRebooting(t *testing.T) {
	held := []TransmitIA{{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63")}}

	t.Run("falls back to Solicit after 10 s keeping the addresses", func(t *testing.T) {
		bubble(t, heldLease, func(h *harness) {
			t := h.t
			h.take() // the restored addresses, TestRestore
			h.u.SetReady(true)
			h.wantState(StateRebooting)
			h.run(10 * time.Second)
			h.wantState(StateInit)
			calls := h.take()
			if c := ops(calls); len(c) != 0 {
				t.Errorf("Rebooting changed the configuration: %+v", c)
			}
			tx := sent(calls)
			last := tx[len(tx)-1]
			reboot := tx[:len(tx)-1]
			for _, c := range reboot {
				if c.tx.Type != dhcp6.Rebind || c.tx.ServerID != nil || c.tx.XID != reboot[0].tx.XID ||
					!cmp.Equal(held, c.tx.IAs, cmpCalls()) {
					t.Errorf("Rebooting sent %+v, want Rebind of the held prefix without Server ID", c.tx)
				}
			}
			if len(reboot) < 4 || reboot[0].at != 0 || reboot[1].at < 900*time.Millisecond || reboot[1].at > 1100*time.Millisecond {
				t.Errorf("Rebinds %+v, want from 0 with RT 1 s, at least 4 in 10 s", reboot)
			}
			if last.tx.Type != dhcp6.Solicit || last.at != 10*time.Second || !cmp.Equal(held, last.tx.IAs, cmpCalls()) {
				t.Errorf("after StateRebooting: %+v, want Solicit at 10 s hinting the held prefix", last)
			}

			// A new prefix from another server: the old addresses are
			// deprecated, not removed, with what is left of their valid
			// lifetime (1000 - 100 - 10 s).
			adv := answer(dhcp6.Advertise, last.tx, serverB, iapd(iaid1, 0, 0, iaprefix("2001:db8:2::/63", 300, 600)))
			adv.Preference = 255
			adv.HasPreference = true
			h.u.receive(adv)
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverB, iapd(iaid1, 0, 0, iaprefix("2001:db8:2::/63", 300, 600))))
			h.wantState(StateBound)
			calls = ops(h.take())
			want := []call{
				addr(iaid1, "lan0", "2001:db8:2::1/64", 300, 600),
				addr(iaid1, "lan1", "2001:db8:2:1::1/64", 300, 600),
				addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 890),
				addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 890),
				route("remove-route", iaid1, "2001:db8:1::/63"),
				route("set-route", iaid1, "2001:db8:2::/63"),
			}
			if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
				t.Errorf("prefix change after StateRebooting (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("any server's Reply binds", func(t *testing.T) {
		bubble(t, heldLease, func(h *harness) {
			t := h.t
			h.u.SetReady(true)
			h.run(1500 * time.Millisecond)
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Rebind), serverB, grant1()))
			h.wantState(StateBound)
			calls := h.take()
			if save := calls[len(calls)-1]; save.op != "save" || string(save.lease.ServerID) != serverB {
				t.Errorf("last call %+v, want the lease saved with server B", save)
			}
			h.run(100 * time.Second)
			if renew := h.last(dhcp6.Renew); string(renew.ServerID) != serverB {
				t.Errorf("Renew to server %x, want server B", renew.ServerID)
			}
		})
	})

	t.Run("expired lease solicits with hint", func(t *testing.T) {
		bubble(t, func(o *options) {
			heldLease(o)
			o.held.IAs[0].Bound = time.Now().Add(-2000 * time.Second)
		}, func(h *harness) {
			h.u.SetReady(true)
			h.wantState(StateInit)
			if sol := h.last(dhcp6.Solicit); !cmp.Equal(held, sol.IAs, cmpCalls()) {
				h.t.Errorf("Solicit IAs %+v, want the expired prefix as hint", sol.IAs)
			}
		})
	})
}

// Request gives up after REQ_MAX_RC (10) messages and solicits again.
func TestRequestMaxCount(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1())
		adv.Preference = 255
		adv.HasPreference = true
		h.take()
		h.u.receive(adv)
		h.run(250 * time.Second)
		tx := sent(h.take())
		for i, c := range tx[:10] {
			if c.tx.Type != dhcp6.Request || c.tx.XID != tx[0].tx.XID {
				t.Errorf("message %d: %v, want a retransmitted Request", i, c.tx.Type)
			}
		}
		if tx[10].tx.Type != dhcp6.Solicit {
			t.Errorf("message 11: %v, want Solicit", tx[10].tx.Type)
		}
		// The Solicit follows the last Request's RT, capped at REQ_MAX_RT,
		// and a restart wait of SOL_TIMEOUT (RFC 8415 section 15, continued
		// across Solicit exchanges).
		if gap := tx[10].at - tx[9].at; gap < 27900*time.Millisecond || gap > 34100*time.Millisecond {
			t.Errorf("Solicit %v after the last Request, want REQ_MAX_RT (30 s) + SOL_TIMEOUT (1 s), +-10%% each", gap)
		}
		h.wantState(StateInit)
	})
}

func TestStatusCodes(t *testing.T) {
	// renewing binds eth0 and lets T1 pass: the uplink is Renewing.
	renewing := func(h *harness, pds ...dhcp6.IAPD) Transmit {
		h.bind(serverA, pds...)
		h.run(100 * time.Second)
		h.wantState(StateRenewing)
		renew := h.last(dhcp6.Renew)
		h.take()
		return renew
	}

	t.Run("NoBinding to Renew sends Request", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			renew := renewing(h, grant1())
			h.u.receive(answer(dhcp6.Reply, renew, serverA, withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoBinding)))
			h.wantState(StateRequesting)
			want := Transmit{
				Uplink: "eth0", Type: dhcp6.Request, XID: h.last(dhcp6.Request).XID, ServerID: []byte(serverA), ReconfigureAccept: true,
				IAs: []TransmitIA{{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63")}},
			}
			if diff := cmp.Diff(want, h.last(dhcp6.Request), cmpCalls()); diff != "" {
				h.t.Errorf("Request (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("NoBinding to Rebind sends Request to the replying server", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			renewing(h, grant1())
			h.run(60 * time.Second)
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Rebind), serverB, withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoBinding)))
			h.wantState(StateRequesting)
			if req := h.last(dhcp6.Request); string(req.ServerID) != serverB {
				h.t.Errorf("Request to %x, want server B", req.ServerID)
			}
		})
	})

	for _, notOnLink := range []struct {
		name  string
		reply func(*dhcp6.Message)
	}{
		{"NotOnLink", func(m *dhcp6.Message) { m.Status = &dhcp6.Status{Code: dhcp6.StatusNotOnLink} }},
		{"NotOnLink in IA_PD", func(m *dhcp6.Message) { m.IAPDs[0].Status = &dhcp6.Status{Code: dhcp6.StatusNotOnLink} }},
	} {
		t.Run(notOnLink.name+" solicits", func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				renew := renewing(h, grant1())
				m := answer(dhcp6.Reply, renew, serverA, grant1())
				notOnLink.reply(m)
				h.u.receive(m)
				h.wantState(StateInit)
				h.last(dhcp6.Solicit)
				if c := ops(h.take()); len(c) != 0 {
					h.t.Errorf("NotOnLink changed the configuration: %+v", c)
				}
			})
		})
	}

	for _, code := range []dhcp6.StatusCode{dhcp6.StatusUnspecFail, dhcp6.StatusUseMulticast} {
		t.Run(code.String()+" retries", func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				renew := renewing(h, grant1())
				m := answer(dhcp6.Reply, renew, serverA, grant1())
				m.Status = &dhcp6.Status{Code: code}
				h.u.receive(m)
				h.wantState(StateRenewing)
				h.run(12 * time.Second)
				if again := h.last(dhcp6.Renew); again.XID != renew.XID {
					h.t.Error("the Renew was not retransmitted")
				}
				if c := ops(h.take()); len(c) != 0 {
					h.t.Errorf("%v changed the configuration: %+v", code, c)
				}
				if got := h.u.Stats().Drops[DropStatus]; got != 1 {
					h.t.Errorf("status drops %d, want 1", got)
				}
			})
		})
	}

	t.Run("NoPrefixAvail for one IA", func(t *testing.T) {
		bubble(t, secondIA, func(h *harness) {
			t := h.t
			// Partial delegation: IA 2 gets nothing and is asked for again
			// at the next Renew.
			h.bind(serverA, grant1(), withStatus(iapd(iaid2, 0, 0), dhcp6.StatusNoPrefixAvail))
			if st := h.u.Status(); st.IAs[1].Prefix.IsValid() {
				t.Errorf("IA 2 holds %v, want nothing", st.IAs[1].Prefix)
			}
			h.run(100 * time.Second)
			renew := h.last(dhcp6.Renew)
			wantIAs := []TransmitIA{
				{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63")},
				{IAID: iaid2, Prefix: netip.MustParsePrefix("::/56")},
			}
			if diff := cmp.Diff(wantIAs, renew.IAs, cmpCalls()); diff != "" {
				t.Errorf("Renew IAs (-want +got):\n%s", diff)
			}
			h.take()
			h.u.receive(answer(dhcp6.Reply, renew, serverA,
				withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoPrefixAvail),
				iapd(iaid2, 100, 160, iaprefix("2001:db8:100::/56", 200, 300))))
			h.wantState(StateBound)
			want := []call{
				{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
				{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
				route("remove-route", iaid1, "2001:db8:1::/63"),
				addr(iaid2, "guest0", "2001:db8:100::1/56", 200, 300),
				route("set-route", iaid2, "2001:db8:100::/56"),
				{op: "save", lease: lease.Lease{ServerID: []byte(serverA), IAs: []lease.IA{{
					IAID: iaid2, Prefix: netip.MustParsePrefix("2001:db8:100::/56"), Preferred: 200, Valid: 300,
					Bound: time.Now(), T1: 100, T2: 160, Downstreams: []string{"guest0"},
				}}}},
			}
			if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
				t.Errorf("Reply (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("valid lifetime 0 removes the prefix", func(t *testing.T) {
		bubble(t, secondIA, func(h *harness) {
			renew := renewing(h, grant1(), iapd(iaid2, 100, 160, iaprefix("2001:db8:100::/56", 200, 300)))
			h.u.receive(answer(dhcp6.Reply, renew, serverA,
				iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 0, 0)),
				iapd(iaid2, 100, 160, iaprefix("2001:db8:100::/56", 200, 300))))
			h.wantState(StateBound)
			calls := ops(h.take())
			want := []call{
				{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
				{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
				route("remove-route", iaid1, "2001:db8:1::/63"),
				addr(iaid2, "guest0", "2001:db8:100::1/56", 200, 300),
				route("set-route", iaid2, "2001:db8:100::/56"),
			}
			if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
				h.t.Errorf("Reply (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("IA left out keeps its lifetimes", func(t *testing.T) {
		bubble(t, secondIA, func(h *harness) {
			t := h.t
			renew := renewing(h, grant1(), iapd(iaid2, 200, 300, iaprefix("2001:db8:100::/56", 400, 600)))
			before := h.u.Status().IAs[1]
			h.u.receive(answer(dhcp6.Reply, renew, serverA, iapd(iaid1, 100, 160, iaprefix("2001:db8:1::/63", 200, 300))))
			h.wantState(StateBound)
			if diff := cmp.Diff(before, h.u.Status().IAs[1], cmpCalls()); diff != "" {
				t.Errorf("IA left out (-before +after):\n%s", diff)
			}
			// Renew follows the refreshed IA's T1 only.
			h.run(100 * time.Second)
			if tx := sent(h.take()); len(tx) == 0 || tx[0].tx.Type != dhcp6.Renew || tx[0].at != 200*time.Second {
				t.Errorf("sent %+v, want Renew at 200 s", tx)
			}
		})
	})

	t.Run("Reply without anything usable keeps retransmitting", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			renew := renewing(h, grant1())
			h.u.receive(answer(dhcp6.Reply, renew, serverA))
			h.wantState(StateRenewing)
			h.run(12 * time.Second)
			if again := h.last(dhcp6.Renew); again.XID != renew.XID {
				h.t.Error("the Renew was not retransmitted")
			}
			if got := h.u.Stats().Drops[DropNothingUsable]; got != 1 {
				h.t.Errorf("no-usable-prefix drops %d, want 1", got)
			}
		})
	})

	t.Run("Request refused solicits", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			h.u.SetReady(true)
			adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1())
			adv.Preference = 255
			adv.HasPreference = true
			h.u.receive(adv)
			h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, withStatus(iapd(iaid1, 0, 0), dhcp6.StatusNoPrefixAvail)))
			h.wantState(StateInit)
			// RFC 8415 sections 14.1 and 15: not sooner than SOL_TIMEOUT
			// (+-10%) after the previous Solicit.
			h.take()
			h.run(1100 * time.Millisecond)
			if tx := sent(h.take()); len(tx) != 1 || tx[0].tx.Type != dhcp6.Solicit ||
				tx[0].at < 900*time.Millisecond || tx[0].at > 1100*time.Millisecond {
				h.t.Errorf("sent %+v, want one Solicit after 0.9 to 1.1 s", tx)
			}
		})
	})
}

// A prefix change configures the new addresses first, then deprecates the
// old ones (preferred 0, valid at most 2 h, RFC 7084 L-13), then moves the
// route. A withdrawn old prefix (valid 0) is removed instead.
func TestPrefixChange(t *testing.T) {
	newGrant := iapd(iaid1, 1000, 1600, iaprefix("2001:db8:2::/63", 2000, 3000))
	tests := []struct {
		name    string
		reply   dhcp6.IAPD
		wantOld []call
	}{{
		name:  "deprecates",
		reply: newGrant,
		wantOld: []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 7200),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 7200),
		},
	}, {
		name:  "withdrawn",
		reply: iapd(iaid1, 1000, 1600, iaprefix("2001:db8:1::/63", 0, 0), newGrant.Prefixes[0]),
		wantOld: []call{
			{op: "remove-address", addr: addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 0).addr},
			{op: "remove-address", addr: addr(iaid1, "lan1", "2001:db8:1:1::1/64", 0, 0).addr},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				h.bind(serverA, iapd(iaid1, 100, 160, iaprefix("2001:db8:1::/63", 20000, 30000)))
				h.run(100 * time.Second)
				renew := h.last(dhcp6.Renew)
				h.take()
				h.u.receive(answer(dhcp6.Reply, renew, serverA, tt.reply))
				h.wantState(StateBound)
				want := []call{
					addr(iaid1, "lan0", "2001:db8:2::1/64", 2000, 3000),
					addr(iaid1, "lan1", "2001:db8:2:1::1/64", 2000, 3000),
				}
				want = append(want, tt.wantOld...)
				want = append(want,
					route("remove-route", iaid1, "2001:db8:1::/63"),
					route("set-route", iaid1, "2001:db8:2::/63"))
				calls := ops(h.take())
				if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
					h.t.Errorf("prefix change (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// The deprecated addresses of a replaced prefix keep what is left of their
// valid lifetime when that is under 2 h.
func TestPrefixChangeShortValid(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.run(100 * time.Second)
		renew := h.last(dhcp6.Renew)
		h.take()
		h.u.receive(answer(dhcp6.Reply, renew, serverA, iapd(iaid1, 100, 160, iaprefix("2001:db8:2::/63", 200, 300))))
		calls := ops(h.take())
		if got, want := calls[2], addr(iaid1, "lan0", "2001:db8:1::1/64", 0, 200); !cmp.Equal(got, want, cmpCalls()) {
			h.t.Errorf("deprecation %+v, want %+v", got, want)
		}
	})
}

func TestDown(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		h.u.SetReady(false)
		h.wantState(StateDown)
		h.run(300*time.Second - time.Millisecond)
		if c := h.take(); len(c) != 0 {
			t.Errorf("calls while StateDown before expiry: %+v", c)
		}
		// The lease expires while Down; nothing is sent.
		h.run(time.Millisecond)
		h.wantState(StateDown)
		calls := h.take()
		if len(sent(calls)) != 0 || len(calls) != 4 || calls[3].op != "save" || calls[3].lease.IAs != nil {
			t.Errorf("expiry while StateDown: %+v, want addresses and route removed and an empty lease saved", calls)
		}
		h.u.SetReady(true)
		h.wantState(StateInit)
	})
}

func TestDownThenUp(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.run(50 * time.Second)
		h.u.SetReady(false)
		h.u.SetReady(true)
		h.wantState(StateRebooting)
		if rebind := h.last(dhcp6.Rebind); rebind.ServerID != nil || rebind.IAs[0].Prefix != netip.MustParsePrefix("2001:db8:1::/63") {
			h.t.Errorf("Rebind %+v, want the held prefix without Server ID", rebind)
		}
	})
}

func TestRequestCommand(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.u.Request()
		h.wantState(StateDown)
		h.bind(serverA, grant1())
		h.u.Request()
		h.wantState(StateRebooting)
		h.last(dhcp6.Rebind)

		h.run(20 * time.Second) // Rebooting gives up at 10 s: Init
		h.wantState(StateInit)
		before := h.last(dhcp6.Solicit)
		h.u.Request()
		h.wantState(StateInit)
		h.run(time.Second)
		if again := h.last(dhcp6.Solicit); again.XID == before.XID || again.Elapsed != 0 {
			t.Errorf("Solicit after request %+v, want a new exchange", again)
		}
	})
}

func TestSolMaxRT(t *testing.T) {
	tests := []struct {
		secs uint32
		want time.Duration
	}{
		{100, 100 * time.Second},
		{59, 3600 * time.Second},
		{86401, 3600 * time.Second},
		{86400, 86400 * time.Second},
	}
	for _, tt := range tests {
		bubble(t, nil, func(h *harness) {
			h.u.SetReady(true)
			// An Advertise that is otherwise ignored still sets SOL_MAX_RT
			// (RFC 8415 section 18.2.9).
			m := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA)
			m.SolMaxRT = tt.secs
			h.u.receive(m)
			if got := h.u.ex.backoff.s.mrt; got != tt.want {
				h.t.Errorf("SOL_MAX_RT %d: Solicit MRT %v, want %v", tt.secs, got, tt.want)
			}
			if tt.want != 100*time.Second {
				return
			}
			h.run(1000 * time.Second)
			tx := sent(h.take())
			if gap := tx[len(tx)-1].at - tx[len(tx)-2].at; gap < 90*time.Second || gap > 110*time.Second {
				h.t.Errorf("Solicit RT %v, want capped at 100 s +-10%%", gap)
			}
		})
	}
}

func TestStats(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.u.SetReady(true)
		h.run(1500 * time.Millisecond)
		h.u.receive(answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1()))
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, grant1()))
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, grant1()))
		want := Stats{
			Sent:            map[dhcp6.MessageType]uint64{dhcp6.Solicit: 2, dhcp6.Request: 1},
			Received:        map[dhcp6.MessageType]uint64{dhcp6.Advertise: 1, dhcp6.Reply: 2},
			Drops:           map[DropReason]uint64{DropUnexpectedType: 1},
			Retransmissions: 1,
		}
		got := h.u.Stats()
		if diff := cmp.Diff(want, got); diff != "" {
			h.t.Errorf("stats (-want +got):\n%s", diff)
		}
		got.Sent[dhcp6.Solicit] = 99
		if h.u.Stats().Sent[dhcp6.Solicit] != 2 {
			h.t.Error("Stats shares its maps with the uplink")
		}
	})
}
