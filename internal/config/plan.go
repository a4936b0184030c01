package config

import (
	"errors"
	"fmt"
	"net/netip"
)

// Plan fills each entry's Offset and the IA's RequiredLen with OpenBSD
// dhcp6leased's addressing plan (parse.y, addressing_plan()): entries are
// packed in list order from offset 0, each aligned to its own size. Walking
// the list, the offset steps by the previous entry's size when the previous
// entry is at least as big as the current one, and otherwise by the current
// entry's size, and is then aligned down to that step. Both cases step by the
// bigger of the two sizes, which is how it is written here. Because every
// offset is aligned to its entry's size, the last entry ends inside the
// smallest power of two above its offset, so the required length is
// 128 minus the bits of the last offset (a single entry needs its own length).
//
// Parse calls Plan; it is exported for code that builds an IA by hand.
func (ia *IA) Plan() error {
	if len(ia.Entries) == 0 {
		return errors.New("addressing plan: no entries")
	}
	var off Uint128
	for i := range ia.Entries {
		e := &ia.Entries[i]
		if e.PrefixLen < 1 || e.PrefixLen > 128 {
			return fmt.Errorf("addressing plan: %s/%d: prefix length must be 1..128", e.label(), e.PrefixLen)
		}
		if i > 0 {
			sizeBits := 128 - min(ia.Entries[i-1].PrefixLen, e.PrefixLen)
			var carry bool
			off, carry = off.add(pow2(sizeBits))
			if carry {
				return fmt.Errorf("addressing plan: %s/%d does not fit in 128 bits", e.label(), e.PrefixLen)
			}
			off = off.and(lowMask(sizeBits).not())
		}
		e.Offset = off
	}
	ia.RequiredLen = ia.Entries[0].PrefixLen
	if len(ia.Entries) > 1 {
		ia.RequiredLen = 128 - off.bitLen()
	}
	// The engine discards a delegated prefix of length 0 (SPEC 6), so a
	// plan that needs a /0 could never be served.
	if ia.RequiredLen < 1 {
		return errors.New("addressing plan needs a /0, more than any delegation can hold")
	}
	switch {
	case !ia.FixedHint:
		ia.HintLen = max(ia.RequiredLen&^3, min(ia.RequiredLen, 4))
	case ia.HintLen < 1 || ia.HintLen > ia.RequiredLen:
		return fmt.Errorf("length /%d cannot hold the plan, which needs /%d or shorter", ia.HintLen, ia.RequiredLen)
	}
	return nil
}

// label names the entry as the config does.
func (e Entry) label() string {
	if e.Name == "" {
		return "reserve"
	}
	return e.Name
}

// SubPrefix returns entry e's sub-prefix inside delegated and whether it fits
// (SPEC 5: a delegated prefix longer than required assigns only the entries
// that fit). A delegated prefix shorter than required is used from its start.
// e.Offset must have been filled by Plan.
func SubPrefix(delegated netip.Prefix, e Entry) (netip.Prefix, bool) {
	if !delegated.IsValid() || !delegated.Addr().Is6() || e.PrefixLen < delegated.Bits() || e.PrefixLen > 128 {
		return netip.Prefix{}, false
	}
	// The offset is aligned to the entry's size, so an offset inside the
	// delegated prefix means the whole entry is inside it.
	if e.Offset.bitLen() > 128-delegated.Bits() {
		return netip.Prefix{}, false
	}
	start := uint128Of(delegated.Masked().Addr()).or(e.Offset)
	return netip.PrefixFrom(start.addr(), e.PrefixLen), true
}

// SubPrefixes returns the sub-prefix of each of ia's entries inside
// delegated, invalid where the entry does not fit (SPEC 5). excluded, when
// valid and inside delegated, is a prefix the requesting router must not
// assign to any downstream (RFC 6603 section 4.2: it numbers the link to
// the delegating router): the plan is laid out as Plan lays it, but an
// entry that would overlap the excluded prefix moves to the first offset
// past it aligned to its own size, and the entries after it follow on from
// there, as if a reserve of the excluded size sat in its way. Without an
// exclusion this is SubPrefix for each entry. ia must have been planned.
func (ia *IA) SubPrefixes(delegated, excluded netip.Prefix) []netip.Prefix {
	subs := make([]netip.Prefix, len(ia.Entries))
	if !excluded.IsValid() || excluded.Bits() <= delegated.Bits() || !delegated.Masked().Contains(excluded.Addr()) {
		for i, e := range ia.Entries {
			subs[i], _ = SubPrefix(delegated, e)
		}
		return subs
	}
	base := uint128Of(delegated.Masked().Addr())
	span := 128 - delegated.Bits()
	exStart := uint128Of(excluded.Masked().Addr()).and(lowMask(span))
	exEnd, _ := exStart.add(pow2(128 - excluded.Bits()))
	var off Uint128
	for i, e := range ia.Entries {
		size := 128 - e.PrefixLen
		if i > 0 {
			step := 128 - min(ia.Entries[i-1].PrefixLen, e.PrefixLen)
			var carry bool
			if off, carry = off.add(pow2(step)); carry {
				break
			}
			off = off.and(lowMask(step).not())
		}
		if end, _ := off.add(pow2(size)); off.less(exEnd) && exStart.less(end) {
			// Past the excluded prefix, aligned up to the entry's size.
			var carry bool
			if off, carry = exEnd.add(lowMask(size)); carry {
				break
			}
			off = off.and(lowMask(size).not())
		}
		if e.PrefixLen < delegated.Bits() || off.bitLen() > span {
			continue // does not fit; the ones after it do not either
		}
		subs[i] = netip.PrefixFrom(base.or(off).addr(), e.PrefixLen)
	}
	return subs
}

// HostAddress returns sub with its host bits replaced by those of hostPart,
// keeping sub's length: 2001:db8:0:1::/64 + ::1 -> 2001:db8:0:1::1/64. A zero
// hostPart means the config default ::1.
func HostAddress(sub netip.Prefix, hostPart netip.Addr) netip.Prefix {
	if !hostPart.IsValid() {
		hostPart = netip.IPv6Loopback()
	}
	host := lowMask(128 - sub.Bits())
	a := uint128Of(sub.Addr()).and(host.not()).or(uint128Of(hostPart).and(host))
	return netip.PrefixFrom(a.addr(), sub.Bits())
}
