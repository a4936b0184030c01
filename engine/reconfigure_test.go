package engine

import (
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

var testKey = [16]byte{'r', 'e', 'c', 'o', 'n', 'f', 'i', 'g', 'u', 'r', 'e', ' ', 'k', 'e', 'y', '!'}

// bindWithKey binds grant1 through a Reply that carries testKey with
// replay detection 1 (RFC 8415 section 20.4.1).
func (h *harness) bindWithKey() {
	h.t.Helper()
	h.u.SetReady(true)
	sol := h.last(dhcp6.Solicit)
	if !sol.ReconfigureAccept {
		h.t.Fatal("Solicit without Reconfigure Accept")
	}
	adv := answer(dhcp6.Advertise, sol, serverA, grant1())
	adv.Preference, adv.HasPreference = 255, true
	h.u.receive(adv)
	reply := answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, grant1())
	reply.HasAuth, reply.Auth = true, dhcp6.ReconfigureKeyAuth(1, testKey)
	h.u.receive(reply)
	h.wantState(StateBound)
	if !h.u.Status().ReconfigureKey {
		h.t.Fatal("the key was not kept")
	}
	h.take()
}

// reconfigureWire encodes a Reconfigure from server asking for msg, signed
// with key, with replay detection replay.
func reconfigureWire(t *testing.T, server string, msg dhcp6.MessageType, replay uint64, key [16]byte) []byte {
	t.Helper()
	m := dhcp6.Message{Type: dhcp6.Reconfigure, ClientID: []byte(clientDUID), ServerIDs: [][]byte{[]byte(server)},
		ReconfMsg: uint8(msg), HasAuth: true, Auth: dhcp6.ReconfigureDigestAuth(replay)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := dhcp6.SignReconfigure(b, key); err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8415 sections 18.2.11 and 20.4: a Reconfigure counts only with the
// key's HMAC-MD5, from the lease's server, for this client, with a replay
// detection value above the last one seen, while no exchange runs; then
// the client does what it says.
func TestReconfigure(t *testing.T) {
	otherKey := testKey
	otherKey[0] ^= 1
	for _, tt := range []struct {
		name string
		wire func(t *testing.T) []byte
		drop DropReason
	}{
		{"wrong key", func(t *testing.T) []byte { return reconfigureWire(t, serverA, dhcp6.Renew, 2, otherKey) }, DropReconfigureAuth},
		{"replayed", func(t *testing.T) []byte { return reconfigureWire(t, serverA, dhcp6.Renew, 1, testKey) }, DropReconfigureReplay},
		{"another server", func(t *testing.T) []byte { return reconfigureWire(t, serverB, dhcp6.Renew, 2, testKey) }, DropServerIDBad},
		{"a Solicit asked for", func(t *testing.T) []byte { return reconfigureWire(t, serverA, dhcp6.Solicit, 2, testKey) }, DropReconfigureMessage},
		{"no Reconfigure Message", func(t *testing.T) []byte { return reconfigureWire(t, serverA, 0, 2, testKey) }, DropReconfigureMessage},
		{"no Authentication", func(t *testing.T) []byte {
			m := dhcp6.Message{Type: dhcp6.Reconfigure, ClientID: []byte(clientDUID), ServerIDs: [][]byte{[]byte(serverA)}, ReconfMsg: uint8(dhcp6.Renew)}
			b, _ := m.Marshal()
			return b
		}, DropReconfigureAuth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				h.bindWithKey()
				h.u.Receive(tt.wire(h.t))
				if got := h.u.Stats().Drops[tt.drop]; got != 1 {
					h.t.Errorf("drops %v, want one %s", h.u.Stats().Drops, tt.drop)
				}
				if tx := sent(h.take()); len(tx) != 0 {
					h.t.Errorf("a dropped Reconfigure made the client send %v", tx[0].tx.Type)
				}
				h.wantState(StateBound)
			})
		})
	}

	for _, msg := range []dhcp6.MessageType{dhcp6.Renew, dhcp6.Rebind, dhcp6.InformationRequest} {
		t.Run("obeyed: "+msg.String(), func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				h.bindWithKey()
				h.run(10 * time.Second)
				h.u.Receive(reconfigureWire(h.t, serverA, msg, 2, testKey))
				tx := h.last(msg)
				if msg == dhcp6.Rebind && tx.ServerID != nil || msg != dhcp6.Rebind && string(tx.ServerID) != serverA {
					h.t.Errorf("%v Server ID %x", msg, tx.ServerID)
				}
				if msg == dhcp6.InformationRequest && len(tx.IAs) != 0 {
					h.t.Errorf("Information-request with IAs %+v", tx.IAs)
				}
				saves := ops(h.take())
				if len(saves) != 1 || saves[0].op != "save" || saves[0].lease.Reconfigure == nil || saves[0].lease.Reconfigure.Replay != 2 {
					h.t.Errorf("after the Reconfigure %+v, want one save with the replay counter 2", saves)
				}
				// While the exchange runs, another Reconfigure is dropped.
				h.u.Receive(reconfigureWire(h.t, serverA, msg, 3, testKey))
				if h.u.Stats().Drops[DropReconfigureBusy] != 1 {
					h.t.Errorf("drops %v, want one %s", h.u.Stats().Drops, DropReconfigureBusy)
				}
				// A replay meanwhile is counted as a replay, not as busy.
				h.u.Receive(reconfigureWire(h.t, serverA, msg, 2, testKey))
				if d := h.u.Stats().Drops; d[DropReconfigureReplay] != 1 || d[DropReconfigureBusy] != 1 {
					h.t.Errorf("drops %v, want one %s during the exchange", d, DropReconfigureReplay)
				}
				// The same Reconfigure once more, after the answer, is a replay.
				reply := answer(dhcp6.Reply, tx, serverA, grant1())
				reply.DNSServers = nil
				h.u.receive(reply)
				h.wantState(StateBound)
				h.u.Receive(reconfigureWire(h.t, serverA, msg, 2, testKey))
				if h.u.Stats().Drops[DropReconfigureReplay] != 2 {
					h.t.Errorf("drops %v, want a second %s", h.u.Stats().Drops, DropReconfigureReplay)
				}
			})
		})
	}

	t.Run("not accepted", func(t *testing.T) {
		bubble(t, func(o *options) { o.cfg.ReconfigureAccept = false }, func(h *harness) {
			h.bind(serverA, grant1())
			if sol := sent(h.env.calls); len(sol) > 0 {
				h.t.Fatalf("unexpected %v", sol)
			}
			h.u.Receive(reconfigureWire(h.t, serverA, dhcp6.Renew, 2, testKey))
			if h.u.Stats().Drops[DropReconfigureNoKey] != 1 {
				h.t.Errorf("drops %v, want one %s", h.u.Stats().Drops, DropReconfigureNoKey)
			}
		})
	})
}
