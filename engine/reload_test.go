package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// reconfigured returns the harness's configuration with IA iaid1's
// entries replaced.
func reconfigured(h *harness, entries ...config.Entry) UplinkConfig {
	cfg := h.u.cfg
	cfg.Uplink = &config.Uplink{Name: "eth0", IAs: []*config.IA{plan(iaid1, entries...)}}
	return cfg
}

func removeAddr(iaid uint32, ifname, prefix string) call {
	c := addr(iaid, ifname, prefix, 0, 0)
	c.op = "remove-address"
	return c
}

func TestReload(t *testing.T) {
	tests := []struct {
		name     string
		entries  []config.Entry
		want     []call
		exchange bool
	}{
		{"same plan: nothing", []config.Entry{entry("lan0", 64), entry("lan1", 64)}, nil, false},
		{"downstream swapped", []config.Entry{entry("lan0", 64), entry("lan2", 64)}, []call{
			removeAddr(iaid1, "lan1", "2001:db8:1:1::1/64"),
			addr(iaid1, "lan2", "2001:db8:1:1::1/64", 200, 300),
		}, false},
		{"downstream left for a reserve", []config.Entry{entry("lan0", 64), entry("", 64)}, []call{
			removeAddr(iaid1, "lan1", "2001:db8:1:1::1/64"),
		}, false},
		// lan2 does not fit the /63 until a bigger prefix comes.
		{"plan outgrows the held /63", []config.Entry{entry("lan0", 64), entry("lan1", 64), entry("lan2", 64)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, nil, func(h *harness) {
				h.bind(serverA, grant1())
				h.u.Reload(reconfigured(h, tt.entries...))
				// Solicits start at most once a second (RFC 8415 section 14.1).
				h.run(time.Second)
				calls := h.take()
				if diff := cmp.Diff(tt.want, ops(calls), cmpCalls()); diff != "" {
					t.Errorf("kernel changes (-want +got):\n%s", diff)
				}
				if tx := sent(calls); tt.exchange != (len(tx) > 0) {
					t.Errorf("transmissions %+v, want a new exchange: %v", tx, tt.exchange)
				}
			})
		})
	}
}

// TestReloadSolicits: a plan that outgrows the held
// prefix solicits with the held prefix widened to the new hint length, so
// that a server able to grow the delegation in place keeps the LANs'
// addresses, and keeps the addresses meanwhile.
func TestReloadSolicits(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.u.Reload(reconfigured(h, entry("lan0", 60), entry("lan1", 64)))
		h.run(time.Second)
		tx := sent(h.take())
		// The plan needs a /59 now: the hint is a /56, and 2001:db8:1::/63
		// widened to it is 2001:db8:1::/56.
		if len(tx) == 0 || tx[0].tx.Type != dhcp6.Solicit || tx[0].tx.IAs[0].Prefix.String() != "2001:db8:1::/56" {
			t.Fatalf("after outgrowing the prefix sent %+v, want a Solicit hinting 2001:db8:1::/56", tx)
		}
	})
}

// TestRemove: an uplink removed by a reload takes its addresses and routes
// with it, and stops for good.
func TestRemove(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, grant1())
		h.u.Remove()
		want := []call{
			removeAddr(iaid1, "lan0", "2001:db8:1::1/64"),
			removeAddr(iaid1, "lan1", "2001:db8:1:1::1/64"),
			route("remove-route", iaid1, "2001:db8:1::/63"),
		}
		if diff := cmp.Diff(want, ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("removal (-want +got):\n%s", diff)
		}
		h.run(time.Hour)
		if c := h.take(); len(c) != 0 {
			t.Errorf("calls after removal: %+v", c)
		}
	})
}
