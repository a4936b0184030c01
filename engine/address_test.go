package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

const iaidNA = 0x2001

// withAddress adds "request address on eth0" to the uplink.
func withAddress(o *options) {
	o.cfg.Uplink.Address = &config.IA{IAID: iaidNA, RequiredLen: 128, HintLen: 128}
}

func iana(iaid, t1, t2 uint32, addr string, preferred, valid uint32) dhcp6.IANA {
	return dhcp6.IANA{IAID: iaid, T1: t1, T2: t2, Addresses: []dhcp6.IAAddress{
		{Address: netip.MustParseAddr(addr), Preferred: preferred, Valid: valid}}}
}

// Issue 12 (RFC 8415 section 21.4): the uplink's IA_NA goes in the same
// exchanges as the IA_PDs; its address is configured on the uplink as a
// /128 with its lifetimes, renewed with the prefixes, and ends on its own.
func TestAddress(t *testing.T) {
	bubble(t, withAddress, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		sol := h.last(dhcp6.Solicit)
		wantIAs := []TransmitIA{
			{IAID: iaid1, Prefix: netip.MustParsePrefix("::/60")},
			{IAID: iaidNA, Prefix: netip.MustParsePrefix("::/128"), NA: true},
		}
		if diff := cmp.Diff(wantIAs, sol.IAs, cmpCalls()); diff != "" {
			t.Fatalf("Solicit IAs (-want +got):\n%s", diff)
		}
		adv := answer(dhcp6.Advertise, sol, serverA, grant1())
		adv.IANAs = []dhcp6.IANA{iana(iaidNA, 100, 160, "2001:db8:0:1::5", 200, 100)} // preferred > valid: dropped
		adv.Preference, adv.HasPreference = 255, true
		h.u.receive(adv)
		reply := answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, grant1())
		reply.IANAs = []dhcp6.IANA{iana(iaidNA, 100, 160, "2001:db8:0:1::5", 150, 250)}
		h.u.receive(reply)
		h.wantState(StateBound)
		if h.u.Stats().Drops[DropPrefixLifetimes] != 1 {
			t.Errorf("drops %v, want the Advertise's bad IA Address counted", h.u.Stats().Drops)
		}
		calls := ops(h.take())
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:1:1::1/64", 200, 300),
			route("set-route", iaid1, "2001:db8:1::/63"),
			addr(iaidNA, "eth0", "2001:db8:0:1::5/128", 150, 250),
		}
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			t.Errorf("bound (-want +got):\n%s", diff)
		}
		if save := calls[len(calls)-1]; len(save.lease.IAs) != 2 || !save.lease.IAs[1].NA {
			t.Errorf("saved %+v, want the IA_NA's address as NA", save.lease.IAs)
		}
		if a := h.u.Status().Address; a == nil || a.Prefix != netip.MustParsePrefix("2001:db8:0:1::5/128") || len(h.u.Status().IAs) != 1 {
			t.Errorf("status address %+v, IAs %d", a, len(h.u.Status().IAs))
		}
		if ev := h.env.events[len(h.env.events)-1]; len(ev.Addresses) != 1 || len(ev.Prefixes) != 1 || len(ev.Downstreams) != 2 {
			t.Errorf("event %+v, want the address apart from the prefix and the downstreams", ev)
		}

		// T1 of both IAs: the Renew at 100 s
		// carries the address.
		h.run(100 * time.Second)
		renew := h.last(dhcp6.Renew)
		if got := renew.IAs[len(renew.IAs)-1]; !got.NA || got.Prefix != netip.MustParsePrefix("2001:db8:0:1::5/128") {
			t.Errorf("Renew IA %+v, want the held address", got)
		}
		// NoAddrsAvail for the IA_NA: its address goes, the prefix stays.
		h.take()
		noAddr := answer(dhcp6.Reply, renew, serverA, grant1())
		noAddr.IANAs = []dhcp6.IANA{{IAID: iaidNA, Status: &dhcp6.Status{Code: dhcp6.StatusNoAddrsAvail}}}
		h.u.receive(noAddr)
		h.wantState(StateBound)
		calls = ops(h.take())
		if i := len(calls) - 2; i < 0 || calls[i].op != "remove-address" || calls[i].addr.Ifname != "eth0" {
			t.Errorf("after NoAddrsAvail %+v, want the uplink's address removed", calls)
		}
	})
}

// An IA_NA answer for an IAID that is an IA_PD's is not ours.
func TestAddressKindMismatch(t *testing.T) {
	bubble(t, withAddress, func(h *harness) {
		h.u.SetReady(true)
		reply := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1())
		reply.IANAs = []dhcp6.IANA{iana(iaid1, 100, 160, "2001:db8:0:1::5", 50, 80)}
		h.u.receive(reply)
		if h.u.Stats().Drops[DropIAUnknown] != 1 {
			h.t.Errorf("drops %v, want one %s", h.u.Stats().Drops, DropIAUnknown)
		}
	})
}

// An uplink with `request address` and no IA_PD binds on the IA_NA alone.
func TestAddressOnly(t *testing.T) {
	bubble(t, func(o *options) { withAddress(o); o.cfg.Uplink.IAs = nil }, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		sol := h.last(dhcp6.Solicit)
		if len(sol.IAs) != 1 || !sol.IAs[0].NA {
			t.Fatalf("Solicit IAs %+v, want the IA_NA alone", sol.IAs)
		}
		adv := answer(dhcp6.Advertise, sol, serverA)
		adv.IANAs = []dhcp6.IANA{iana(iaidNA, 100, 160, "2001:db8:0:1::5", 150, 250)}
		adv.Preference, adv.HasPreference = 255, true
		h.u.receive(adv)
		reply := answer(dhcp6.Reply, h.last(dhcp6.Request), serverA)
		reply.IANAs = adv.IANAs
		h.u.receive(reply)
		h.wantState(StateBound)
		calls := ops(h.take())
		if len(calls) < 1 || calls[0].op != "set-address" || calls[0].addr.Ifname != "eth0" {
			t.Errorf("bound %+v, want the address on eth0", calls)
		}
		h.run(100 * time.Second)
		if renew := h.last(dhcp6.Renew); len(renew.IAs) != 1 || !renew.IAs[0].NA {
			t.Errorf("Renew IAs %+v, want the IA_NA", renew.IAs)
		}
	})
}
