package engine

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// RFC 3646: the DNS servers and search list of a Reply that binds are kept
// with the lease, shown, saved and passed to hooks; the next Reply's
// replace them, and a search list that does not decode is counted and
// ignored, the prefix kept.
func TestDNSOptions(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.u.SetReady(true)
		adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, grant1())
		adv.Preference, adv.HasPreference = 255, true
		h.u.receive(adv)
		reply := answer(dhcp6.Reply, h.last(dhcp6.Request), serverA, grant1())
		dns := []netip.Addr{netip.MustParseAddr("2001:db8::53")}
		reply.DNSServers = dns
		var err error
		if reply.DomainList, err = dhcp6.AppendDomainList(nil, "example.com", "lab.example.com"); err != nil {
			t.Fatal(err)
		}
		h.u.receive(reply)
		h.wantState(StateBound)
		st := h.u.Status()
		if !slices.Equal(st.DNSServers, dns) || !slices.Equal(st.DomainSearch, []string{"example.com", "lab.example.com"}) {
			t.Errorf("status DNS %v, search %v", st.DNSServers, st.DomainSearch)
		}
		calls := h.take()
		if save := calls[len(calls)-1]; save.op != "save" || !slices.Equal(save.lease.DNSServers, dns) || len(save.lease.DomainSearch) != 2 {
			t.Errorf("saved %+v, want the DNS options with the lease", save.lease)
		}
		if evs := h.env.events; len(evs) != 1 || !slices.Equal(evs[0].DNSServers, dns) || len(evs[0].DomainSearch) != 2 {
			t.Errorf("event %+v, want the DNS options", evs)
		}

		h.run(100 * time.Second)
		renew := answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA, grant1())
		renew.DomainList = []byte{3, 'c', 'o', 'm'} // no root label
		h.u.receive(renew)
		h.wantState(StateBound)
		st = h.u.Status()
		if len(st.DNSServers) != 0 || len(st.DomainSearch) != 0 {
			t.Errorf("after a Reply without DNS servers and a broken search list: %v, %v; want none", st.DNSServers, st.DomainSearch)
		}
		if h.u.Stats().Drops[DropDomainList] != 1 {
			t.Errorf("drops %v, want one %s", h.u.Stats().Drops, DropDomainList)
		}
	})
}

// RFC 6603: the excluded prefix goes to no downstream (the plan steps over
// it) and is left out of the unreachable routes, which cover the rest of
// the delegated prefix; an exclusion that does not fit its prefix makes
// the prefix unusable (section 4.2).
func TestPrefixExclude(t *testing.T) {
	delegated := netip.MustParsePrefix("2001:db8:1::/62")
	excluded := netip.MustParsePrefix("2001:db8:1::/64")
	withExclude := func(ex netip.Prefix) dhcp6.IAPD {
		p := iaprefix(delegated.String(), 200, 300)
		var err error
		if p.Exclude, err = dhcp6.NewPrefixExclude(delegated, ex); err != nil {
			t.Fatal(err)
		}
		return iapd(iaid1, 100, 160, p)
	}
	bubble(t, nil, func(h *harness) {
		h.bind(serverA, withExclude(excluded))
		h.take()
		h.run(100 * time.Second)
		h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Renew), serverA, withExclude(excluded)))
		want := []call{
			addr(iaid1, "lan0", "2001:db8:1:1::1/64", 200, 300),
			addr(iaid1, "lan1", "2001:db8:1:2::1/64", 200, 300),
			route("set-route", iaid1, "2001:db8:1:2::/63"),
			route("set-route", iaid1, "2001:db8:1:1::/64"),
		}
		calls := ops(h.take())
		if diff := cmp.Diff(want, calls[:len(calls)-1], cmpCalls()); diff != "" {
			h.t.Errorf("renewal with an exclusion (-want +got):\n%s", diff)
		}
		if save := calls[len(calls)-1]; save.lease.IAs[0].Excluded != excluded {
			h.t.Errorf("saved %+v, want the exclusion kept", save.lease.IAs)
		}
		if st := h.u.Status(); st.IAs[0].Excluded != excluded {
			h.t.Errorf("status %+v, want the exclusion shown", st.IAs[0])
		}
	})
	bubble(t, nil, func(h *harness) {
		bad := withExclude(excluded)
		bad.Prefixes[0].Exclude.PrefixLen = 62 // not longer than the prefix
		h.u.SetReady(true)
		adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), serverA, bad)
		adv.Preference, adv.HasPreference = 255, true
		h.u.receive(adv)
		h.wantState(StateInit)
		if n := h.u.Stats().Drops[DropPrefixExclude]; n != 1 {
			h.t.Errorf("drops %v, want one %s", h.u.Stats().Drops, DropPrefixExclude)
		}
	})
}

func TestWithout(t *testing.T) {
	got := without(netip.MustParsePrefix("2001:db8:1200::/56"), netip.MustParsePrefix("2001:db8:1200:ff::/64"))
	// The sibling of each ancestor of ff::/64: 00::/57 beside 80::/57,
	// 80::/58 beside c0::/58, ... fe::/64 beside ff::/64.
	want := []string{"2001:db8:1200::/57", "2001:db8:1200:80::/58", "2001:db8:1200:c0::/59", "2001:db8:1200:e0::/60",
		"2001:db8:1200:f0::/61", "2001:db8:1200:f8::/62", "2001:db8:1200:fc::/63", "2001:db8:1200:fe::/64"}
	var gs []string
	for _, p := range got {
		gs = append(gs, p.String())
	}
	if !slices.Equal(gs, want) {
		t.Errorf("without = %v, want %v", gs, want)
	}
}
