package parent

import (
	"fmt"
	"net/netip"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// globalUnicast is the IPv6 global unicast space (RFC 4291 section 2.4):
// delegated prefixes come from it, and nothing else may be configured.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// minRouteLen bounds the unreachable route: no delegation is shorter than
// a /16, and a compromised engine must not black-hole a large part of the
// address space with one request.
const minRouteLen = 16

// excludedLen is the longest route piece allowed around an exclusion: RFC
// 6603 exclusions number a link, a /64.
const excludedLen = 64

// policy is the parent's distrust of its children (SPEC 2): every kernel
// change a child asks for is checked against the configuration before it
// is made. It holds no state but the config, so a reload swaps it whole.
//
// During a reload, until the engine has asked for every change it implies,
// prev is the configuration being replaced: the engine removes what the old
// plan configured under it.
type policy struct {
	cfg, prev *config.Config
}

// configs returns the configurations a request may match: the current
// one, and during a reload the one being replaced.
func (p policy) configs() []*config.Config {
	if p.prev == nil {
		return []*config.Config{p.cfg}
	}
	return []*config.Config{p.cfg, p.prev}
}

// check runs fn against each configuration and accepts what any of them
// allows, reporting the current configuration's objection otherwise.
func (p policy) check(fn func(*config.Config) (netip.Prefix, error)) (netip.Prefix, error) {
	var first error
	for _, cfg := range p.configs() {
		pfx, err := fn(cfg)
		if err == nil {
			return pfx, nil
		}
		if first == nil {
			first = err
		}
	}
	return netip.Prefix{}, first
}

func findIA(cfg *config.Config, uplink string, iaid uint32) (*config.IA, error) {
	u := cfg.Uplink(uplink)
	if u == nil {
		return nil, fmt.Errorf("uplink %s not configured", uplink)
	}
	for _, ia := range u.IAs {
		if ia.IAID == iaid {
			return ia, nil
		}
	}
	return nil, fmt.Errorf("uplink %s has no IA_PD with IAID %#x", uplink, iaid)
}

// address checks a request to add or remove a downstream address: the
// interface must be an entry of that IA on that uplink, the length the
// plan's, the host part the configured one, the address global unicast.
func (p policy) address(a *pb.Address) (netip.Prefix, error) {
	return p.check(func(cfg *config.Config) (netip.Prefix, error) { return addressIn(cfg, a) })
}

func addressIn(cfg *config.Config, a *pb.Address) (netip.Prefix, error) {
	if u := cfg.Uplink(a.Uplink); u != nil && u.Address != nil && u.Address.IAID == a.Iaid {
		return uplinkAddressIn(a)
	}
	ia, err := findIA(cfg, a.Uplink, a.Iaid)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr := netip.AddrFrom16([16]byte(a.Address))
	pfx := netip.PrefixFrom(addr, int(a.PrefixLen))
	var entry *config.Entry
	for i := range ia.Entries {
		// A reserve entry has no name and never matches.
		if ia.Entries[i].Name != "" && ia.Entries[i].Name == a.Ifname {
			entry = &ia.Entries[i]
			break
		}
	}
	if entry == nil {
		return netip.Prefix{}, fmt.Errorf("address %v: %s is not a downstream of IA_PD %#x on %s", pfx, a.Ifname, a.Iaid, a.Uplink)
	}
	if int(a.PrefixLen) != entry.PrefixLen {
		return netip.Prefix{}, fmt.Errorf("address %v on %s: plan says /%d", pfx, a.Ifname, entry.PrefixLen)
	}
	if !globalUnicast.Contains(addr) {
		return netip.Prefix{}, fmt.Errorf("address %v on %s: not global unicast", pfx, a.Ifname)
	}
	if want := config.HostAddress(pfx.Masked(), cfg.HostPart); want != pfx {
		return netip.Prefix{}, fmt.Errorf("address %v on %s: host part is not %v", pfx, a.Ifname, cfg.HostPart)
	}
	return pfx, nil
}

// uplinkAddressIn checks an address of an uplink's IA_NA: only on the
// uplink itself, a /128, global unicast.
func uplinkAddressIn(a *pb.Address) (netip.Prefix, error) {
	pfx := netip.PrefixFrom(netip.AddrFrom16([16]byte(a.Address)), int(a.PrefixLen))
	switch {
	case a.Ifname != a.Uplink:
		return netip.Prefix{}, fmt.Errorf("address %v: the IA_NA of %s is for %s, not %s", pfx, a.Uplink, a.Uplink, a.Ifname)
	case a.PrefixLen != 128:
		return netip.Prefix{}, fmt.Errorf("address %v on %s: an IA_NA address is a /128", pfx, a.Ifname)
	case !globalUnicast.Contains(pfx.Addr()):
		return netip.Prefix{}, fmt.Errorf("address %v on %s: not global unicast", pfx, a.Ifname)
	}
	return pfx, nil
}

// route checks a request for the unreachable route of a delegated prefix:
// it must be global unicast, masked, no shorter than minRouteLen and long
// enough to be a prefix the IA can carry: at most as long as its longest
// entry, since a longer one holds no sub-prefix of the plan, or as a /64,
// the length of the pieces that cover a delegated prefix around an RFC
// 6603 exclusion.
func (p policy) route(r *pb.Route) (netip.Prefix, error) {
	return p.check(func(cfg *config.Config) (netip.Prefix, error) { return routeIn(cfg, r) })
}

func routeIn(cfg *config.Config, r *pb.Route) (netip.Prefix, error) {
	ia, err := findIA(cfg, r.Uplink, r.Iaid)
	if err != nil {
		return netip.Prefix{}, err
	}
	pfx := netip.PrefixFrom(netip.AddrFrom16([16]byte(r.Prefix)), int(r.PrefixLen))
	longest := 0
	for _, e := range ia.Entries {
		longest = max(longest, e.PrefixLen)
	}
	switch {
	case !globalUnicast.Contains(pfx.Addr()):
		return netip.Prefix{}, fmt.Errorf("route %v: not global unicast", pfx)
	case pfx.Masked() != pfx:
		return netip.Prefix{}, fmt.Errorf("route %v: host bits set", pfx)
	case pfx.Bits() < minRouteLen || pfx.Bits() > max(longest, excludedLen):
		return netip.Prefix{}, fmt.Errorf("route %v: IA_PD %#x on %s carries /%d to /%d", pfx, r.Iaid, r.Uplink, minRouteLen, max(longest, excludedLen))
	}
	return pfx, nil
}
