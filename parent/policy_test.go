package parent

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func testPolicy(t *testing.T) policy {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
request prefix delegation on up0 for { lan0 lan1/60 reserve }
request prefix delegation on up1 for lan2
request address on up1
`), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	return policy{cfg: cfg}
}

func addrMsg(uplink string, iaid uint32, ifname, pfx string) *pb.Address {
	p := netip.MustParsePrefix(pfx)
	return &pb.Address{Uplink: uplink, Iaid: iaid, Ifname: ifname, Address: p.Addr().AsSlice(), PrefixLen: uint32(p.Bits()), Preferred: 30, Valid: 60}
}

func TestPolicyAddress(t *testing.T) {
	p := testPolicy(t)
	up0 := p.cfg.Uplink("up0").IAs[0].IAID
	up1 := p.cfg.Uplink("up1").IAs[0].IAID
	na1 := p.cfg.Uplink("up1").Address.IAID
	tests := []struct {
		name string
		req  *pb.Address
		ok   bool
	}{
		{"plan address", addrMsg("up0", up0, "lan0", "2001:db8:0:100::1/64"), true},
		{"plan /60", addrMsg("up0", up0, "lan1", "2001:db8:0:110::1/60"), true},
		{"unknown uplink", addrMsg("up9", up0, "lan0", "2001:db8:0:100::1/64"), false},
		{"iaid of another uplink", addrMsg("up0", up1, "lan2", "2001:db8:0:100::1/64"), false},
		{"interface outside the plan", addrMsg("up0", up0, "eth9", "2001:db8:0:100::1/64"), false},
		{"downstream of another uplink", addrMsg("up0", up0, "lan2", "2001:db8:0:100::1/64"), false},
		{"uplink itself", addrMsg("up0", up0, "up0", "2001:db8:0:100::1/64"), false},
		{"wrong prefix length", addrMsg("up0", up0, "lan0", "2001:db8:0:100::1/48"), false},
		{"wrong host part", addrMsg("up0", up0, "lan0", "2001:db8:0:100::2/64"), false},
		{"link-local", addrMsg("up0", up0, "lan0", "fe80::1/64"), false},
		{"unique local", addrMsg("up0", up0, "lan0", "fd00:0:0:100::1/64"), false},
		{"multicast", addrMsg("up0", up0, "lan0", "ff02:0:0:100::1/64"), false},
		{"IA_NA address on its uplink", addrMsg("up1", na1, "up1", "2001:db8:0:1::5/128"), true},
		{"IA_NA address on a downstream", addrMsg("up1", na1, "lan2", "2001:db8:0:1::5/128"), false},
		{"IA_NA address as a /64", addrMsg("up1", na1, "up1", "2001:db8:0:1::5/64"), false},
		{"IA_NA address link-local", addrMsg("up1", na1, "up1", "fe80::5/128"), false},
		{"uplink without IA_NA", addrMsg("up0", na1, "up0", "2001:db8:0:1::5/128"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.address(tt.req)
			if (err == nil) != tt.ok {
				t.Fatalf("address(%v) error %v, want ok=%v", tt.req, err, tt.ok)
			}
		})
	}
}

func routeMsg(uplink string, iaid uint32, pfx string) *pb.Route {
	p := netip.MustParsePrefix(pfx)
	return &pb.Route{Uplink: uplink, Iaid: iaid, Prefix: p.Addr().AsSlice(), PrefixLen: uint32(p.Bits())}
}

func TestPolicyRoute(t *testing.T) {
	p := testPolicy(t)
	up0 := p.cfg.Uplink("up0").IAs[0].IAID
	tests := []struct {
		name string
		req  *pb.Route
		ok   bool
	}{
		{"delegated /56", routeMsg("up0", up0, "2001:db8:100::/56"), true},
		{"too small but holds lan0", routeMsg("up0", up0, "2001:db8:100::/64"), true},
		{"longer than any entry", routeMsg("up0", up0, "2001:db8:100::/65"), false},
		{"shorter than /16", routeMsg("up0", up0, "2000::/8"), false},
		{"host bits", routeMsg("up0", up0, "2001:db8:100::1/56"), false},
		{"not global", routeMsg("up0", up0, "fd00::/56"), false},
		{"unknown iaid", routeMsg("up0", up0+1, "2001:db8:100::/56"), false},
		{"unknown uplink", routeMsg("up9", up0, "2001:db8:100::/56"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.route(tt.req)
			if (err == nil) != tt.ok {
				t.Fatalf("route(%v) error %v, want ok=%v", tt.req, err, tt.ok)
			}
		})
	}
}

// TestPolicyDuringReload: until the engine is done with a reload, the old
// plan's addresses may still be removed; afterwards only the new plan's.
func TestPolicyDuringReload(t *testing.T) {
	old := testPolicy(t).cfg
	cfg, err := config.Parse(strings.NewReader("request prefix delegation on up0 for { lan0 lan9 }\n"), "new.conf")
	if err != nil {
		t.Fatal(err)
	}
	iaid := cfg.Uplink("up0").IAs[0].IAID
	lan1 := addrMsg("up0", iaid, "lan1", "2001:db8:0:110::1/60")
	lan9 := addrMsg("up0", iaid, "lan9", "2001:db8:0:101::1/64")
	p := policy{cfg: cfg, prev: old}
	if _, err := p.address(lan1); err != nil {
		t.Errorf("old plan's lan1 refused during the reload: %v", err)
	}
	if _, err := p.address(lan9); err != nil {
		t.Errorf("new plan's lan9 refused: %v", err)
	}
	p.prev = nil
	if _, err := p.address(lan1); err == nil {
		t.Error("old plan's lan1 accepted after the reload")
	}
}
