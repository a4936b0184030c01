package engine

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Uplink states a test can start a drop in; each returns the transmission
// the dropped message pretends to answer.
func soliciting(h *harness) Transmit {
	h.u.SetReady(true)
	return h.last(dhcp6.Solicit)
}

func requesting(h *harness) Transmit {
	adv := answer(dhcp6.Advertise, soliciting(h), serverA, grant1())
	adv.Preference = 255
	adv.HasPreference = true
	h.u.receive(adv)
	return h.last(dhcp6.Request)
}

func renewingState(h *harness) Transmit {
	h.bind(serverA, grant1())
	h.run(100 * time.Second)
	return h.last(dhcp6.Renew)
}

func rebinding(h *harness) Transmit {
	h.bind(serverA, grant1())
	h.run(160 * time.Second)
	return h.last(dhcp6.Rebind)
}

func bound(h *harness) Transmit {
	tx := requesting(h)
	h.u.receive(answer(dhcp6.Reply, tx, serverA, grant1()))
	return tx
}

// Every rule that drops a whole message, with its counter. The uplink's
// state and configuration must not change.
func TestDropMessage(t *testing.T) {
	tests := []struct {
		name  string
		state func(*harness) Transmit
		msg   func(tx Transmit) *dhcp6.Message
		want  DropReason
	}{
		{"unknown type", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.Type = 42
			return m
		}, DropUnknownType},
		{"type 0", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.Type = 0
			return m
		}, DropUnknownType},
		{"Solicit", soliciting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Solicit, tx, serverA, grant1())
		}, DropClientType},
		{"Request", requesting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Request, tx, serverA, grant1())
		}, DropClientType},
		{"Information-request", soliciting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.InformationRequest, tx, serverA)
		}, DropClientType},
		{"Relay-reply", soliciting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.RelayRepl, tx, serverA)
		}, DropRelay},
		{"Reconfigure", renewingState, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Reconfigure, tx, serverA)
		}, DropUnexpectedType},
		{"Advertise while Requesting", requesting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Advertise, tx, serverA, grant1())
		}, DropUnexpectedType},
		{"Advertise while Renewing", renewingState, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Advertise, tx, serverA, grant1())
		}, DropUnexpectedType},
		{"Reply while Bound", bound, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Reply, tx, serverA, grant1())
		}, DropUnexpectedType},
		{"transaction id", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.TransactionID[2] ^= 1
			return m
		}, DropTransactionID},
		{"old transaction id", renewingState, func(tx Transmit) *dhcp6.Message {
			tx.XID[0] ^= 0x80 // any but the Renew's
			return answer(dhcp6.Reply, tx, serverA, grant1())
		}, DropTransactionID},
		{"no Client ID", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.ClientID = nil
			return m
		}, DropNoClientID},
		{"other Client ID", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.ClientID = []byte(serverB)
			return m
		}, DropClientIDBad},
		{"no Server ID", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.ServerIDs = nil
			return m
		}, DropNoServerID},
		{"two Server IDs", soliciting, func(tx Transmit) *dhcp6.Message {
			m := answer(dhcp6.Advertise, tx, serverA, grant1())
			m.ServerIDs = append(m.ServerIDs, []byte(serverA))
			return m
		}, DropTwoServerIDs},
		{"Reply to Request from another server", requesting, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Reply, tx, serverB, grant1())
		}, DropServerIDBad},
		{"Reply to Renew from another server", renewingState, func(tx Transmit) *dhcp6.Message {
			return answer(dhcp6.Reply, tx, serverB, grant1())
		}, DropServerIDBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				tx := tt.state(h)
				state, status := h.u.state, h.u.Status()
				h.take()
				h.u.receive(tt.msg(tx))
				if diff := cmp.Diff(map[DropReason]uint64{tt.want: 1}, h.u.Stats().Drops); diff != "" {
					h.t.Errorf("drops (-want +got):\n%s", diff)
				}
				if c := h.take(); len(c) != 0 {
					h.t.Errorf("calls after the drop: %+v", c)
				}
				if h.u.state != state || !cmp.Equal(status, h.u.Status(), cmpCalls()) {
					h.t.Errorf("state %v, status %+v changed by the drop", h.u.state, h.u.Status())
				}
			})
		})
	}
}

// Nothing is expected before the first Solicit has gone out.
func TestDropBeforeFirstSolicit(t *testing.T) {
	delay := time.Second
	bubble(t, func(o *options) { o.cfg.SolicitDelay = &delay }, func(h *harness) {
		h.u.SetReady(true)
		h.u.receive(answer(dhcp6.Advertise, h.u.ex.msg, serverA, grant1()))
		if got := h.u.Stats().Drops[DropUnexpectedType]; got != 1 {
			h.t.Errorf("unexpected-type drops %d, want 1", got)
		}
	})
}

// A Reply to Rebind may come from any server (RFC 8415 section 18.2.5).
func TestRebindReplyFromAnyServer(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.u.receive(answer(dhcp6.Reply, rebinding(h), serverB, grant1()))
		h.wantState(StateBound)
	})
}

// Discarded IA Prefix and IA_PD options leave the rest of the message to
// act on.
func TestDropParts(t *testing.T) {
	good := iaprefix("2001:db8:1::/63", 200, 300)
	tests := []struct {
		name      string
		pds       []dhcp6.IAPD
		want      []lease.IA // held after the Reply
		wantDrops map[DropReason]uint64
	}{{
		name: "prefixes",
		pds: []dhcp6.IAPD{iapd(iaid1, 100, 160,
			dhcp6.IAPrefix{Preferred: 200, Valid: 300, PrefixLen: 0, Prefix: netip.MustParseAddr("2001:db8:9::")},
			dhcp6.IAPrefix{Preferred: 200, Valid: 300, PrefixLen: 129, Prefix: netip.MustParseAddr("2001:db8:9::")},
			iaprefix("2001:db8:9::/63", 301, 300),
			iaprefix("2001:db8:9::/63", 0, 0),
			good,
		)},
		want: []lease.IA{{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"), Preferred: 200, Valid: 300, T1: 100, T2: 160, Downstreams: []string{"lan0", "lan1"}}},
		wantDrops: map[DropReason]uint64{
			DropPrefixLen: 2, DropPrefixLifetimes: 1, DropPrefixUnheld: 1,
		},
	}, {
		name: "host bits are cleared",
		pds:  []dhcp6.IAPD{iapd(iaid1, 100, 160, iaprefix("2001:db8:1::5/63", 200, 300))},
		want: []lease.IA{{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"), Preferred: 200, Valid: 300, T1: 100, T2: 160, Downstreams: []string{"lan0", "lan1"}}},
	}, {
		name: "infinite lifetimes",
		pds:  []dhcp6.IAPD{iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", dhcp6.Infinity, dhcp6.Infinity))},
		want: []lease.IA{{IAID: iaid1, Prefix: netip.MustParsePrefix("2001:db8:1::/63"), Preferred: dhcp6.Infinity, Valid: dhcp6.Infinity, Downstreams: []string{"lan0", "lan1"}}},
	}, {
		name: "IA_PDs",
		pds: []dhcp6.IAPD{
			iapd(iaid1, 200, 100, good),                                  // T1 > T2
			iapd(0x999, 100, 160, good),                                  // not asked for
			iapd(iaid2, 100, 0, iaprefix("2001:db8:100::/56", 200, 300)), // T2 0: client's choice
			iapd(iaid2, 100, 160, iaprefix("2001:db8:200::/56", 200, 300)),
		},
		want: []lease.IA{{IAID: iaid2, Prefix: netip.MustParsePrefix("2001:db8:100::/56"), Preferred: 200, Valid: 300, T1: 100, Downstreams: []string{"guest0"}}},
		wantDrops: map[DropReason]uint64{
			DropIATimes: 1, DropIAUnknown: 1, DropIARepeated: 1,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, secondIA, func(h *harness) {
				tx := requesting(h)
				h.take()
				h.u.receive(answer(dhcp6.Reply, tx, serverA, tt.pds...))
				h.wantState(StateBound)
				var held []lease.IA
				for _, c := range h.take() {
					if c.op == "save" {
						held = c.lease.IAs
					}
				}
				if diff := cmp.Diff(tt.want, held, cmpCalls(), cmpopts.IgnoreFields(lease.IA{}, "Bound")); diff != "" {
					h.t.Errorf("held (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantDrops, h.u.Stats().Drops, cmpopts.EquateEmpty()); diff != "" {
					h.t.Errorf("drops (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Receive decodes the wire format and counts each decoding error under its
// own reason.
func TestReceiveWire(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"short", []byte{0x02, 0x01, 0x02}, DropShort},
		{"relay", []byte{0x0d, 0x00, 0x00, 0x00}, DropRelay},
		{"option overrun", []byte{
			0x02, 0x01, 0x02, 0x03,
			0x00, 0x07, 0x00, 0x08, 0xff, // Preference claiming 8 bytes
		}, DropOptionOverrun},
		{"IA_PD short", []byte{
			0x02, 0x01, 0x02, 0x03,
			0x00, 0x19, 0x00, 0x04, 0x00, 0x00, 0x10, 0x01,
		}, DropIAPDShort},
		{"IA_PREFIX short", []byte{
			0x02, 0x01, 0x02, 0x03,
			0x00, 0x19, 0x00, 0x14, 0x00, 0x00, 0x10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
			0x00, 0x1a, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
		}, DropIAPrefixShort},
		{"option short", []byte{
			0x02, 0x01, 0x02, 0x03,
			0x00, 0x07, 0x00, 0x00, // Preference without its byte
		}, DropOptionShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				soliciting(h)
				h.u.Receive(tt.b)
				st := h.u.Stats()
				if diff := cmp.Diff(map[DropReason]uint64{tt.want: 1}, st.Drops); diff != "" {
					h.t.Errorf("drops (-want +got):\n%s", diff)
				}
				if len(st.Received) != 0 {
					h.t.Errorf("received %v, want nothing counted", st.Received)
				}
			})
		})
	}

	t.Run("valid Advertise", func(t *testing.T) {
		bubble(t, nil, func(h *harness) {
			adv := answer(dhcp6.Advertise, soliciting(h), serverA, grant1())
			adv.Preference = 255
			adv.HasPreference = true
			b, err := adv.Marshal()
			if err != nil {
				h.t.Fatal(err)
			}
			h.u.Receive(b)
			h.wantState(StateRequesting)
			if req := h.last(dhcp6.Request); string(req.ServerID) != serverA {
				h.t.Errorf("Request to %x, want server A", req.ServerID)
			}
		})
	})
}

// Whatever arrives, in any state, the uplink does not panic. The fuzzer's
// transaction id is replaced by the current one so that it reaches the
// checks behind it.
func FuzzReceive(f *testing.F) {
	for _, m := range []*dhcp6.Message{
		answer(dhcp6.Advertise, Transmit{}, serverA, grant1()),
		answer(dhcp6.Reply, Transmit{}, serverA, grant1(), withStatus(iapd(iaid2, 0, 0), dhcp6.StatusNoBinding)),
		answer(dhcp6.Reply, Transmit{}, serverB, iapd(iaid1, 0, 0, iaprefix("2001:db8:1::/63", 0, 0))),
	} {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	states := []func(*harness) Transmit{soliciting, requesting, renewingState, rebinding, bound}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, state := range states {
			bubble(t, secondIA, func(h *harness) {
				tx := state(h)
				b := slices.Clone(b)
				if len(b) >= 4 {
					copy(b[1:4], tx.XID[:])
				}
				h.u.Receive(b)
				h.run(time.Hour)
			})
		}
	})
}

func TestLogBudget(t *testing.T) {
	var b logBudget
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range logBurst {
		if ok, _ := b.take(start.Add(time.Duration(i) * time.Millisecond)); !ok {
			t.Fatalf("line %d refused, want %d per window", i, logBurst)
		}
	}
	for range 5 {
		if ok, _ := b.take(start.Add(500 * time.Millisecond)); ok {
			t.Fatal("line beyond the burst allowed")
		}
	}
	ok, suppressed := b.take(start.Add(logWindow))
	if !ok || suppressed != 5 {
		t.Errorf("first line of the next window: ok %v, suppressed %d; want true, 5", ok, suppressed)
	}
	if _, suppressed := b.take(start.Add(logWindow)); suppressed != 0 {
		t.Errorf("suppressed %d reported twice", suppressed)
	}
}
