package dhcp6

import (
	"fmt"
	"net/netip"
)

// Excluded returns the prefix that p's Prefix Exclude option takes out of
// the delegated prefix p (RFC 6603 section 4.2), with ok false when p
// carries none.
//
// The option is invalid, and err wraps ErrExclude, when p's own length
// is above 128 (there is no delegated prefix to exclude from), when the
// excluded prefix-len is not between p.PrefixLen+1 and 128 (section 4.2:
// "The prefix-len MUST be between 'OPTION_IAPREFIX prefix-length'+1 and
// 128"), or when the subnet ID is not exactly ceil((prefix-len -
// p.PrefixLen)/8) octets, the prefix-len - p.PrefixLen bits of the
// excluded prefix that follow the delegated prefix, left-shifted to an
// octet boundary and zero-padded (section 4.2). The padding bits are not
// judged: they carry nothing, and a receiver reading only the bits the
// lengths give cannot be misled by them.
//
// What the engine must do with an invalid option: the server told the
// client that part of p is not the client's (section 4.2: the requesting
// router must not assign the excluded prefix downstream) and the client
// cannot tell which part. Using all of p would risk handing the server's
// own link prefix to a downstream, so the engine discards the IA Prefix,
// as for any other unusable prefix (RFC 8415 section 18.2.10.1), and keeps
// the rest of the message.
func (p *IAPrefix) Excluded() (excluded netip.Prefix, ok bool, err error) {
	e := &p.Exclude
	if e.SubnetID == nil {
		return netip.Prefix{}, false, nil
	}
	dlen, elen := int(p.PrefixLen), int(e.PrefixLen)
	switch {
	case dlen > 128:
		return netip.Prefix{}, true, fmt.Errorf("exclude /%d from a prefix of length %d: %w", elen, dlen, ErrExclude)
	case elen <= dlen || elen > 128:
		return netip.Prefix{}, true, fmt.Errorf("exclude /%d from %s/%d: prefix-len not in %d..128: %w",
			elen, p.Prefix, dlen, dlen+1, ErrExclude)
	case len(e.SubnetID) != subnetIDLen(dlen, elen):
		return netip.Prefix{}, true, fmt.Errorf("exclude /%d from %s/%d: subnet ID of %d octets, want %d: %w",
			elen, p.Prefix, dlen, len(e.SubnetID), subnetIDLen(dlen, elen), ErrExclude)
	}
	a := netip.PrefixFrom(p.Prefix, dlen).Masked().Addr().As16()
	copyBits(a[:], dlen, e.SubnetID, 0, elen-dlen)
	return netip.PrefixFrom(netip.AddrFrom16(a), elen), true, nil
}

// NewPrefixExclude returns the Prefix Exclude option that excludes
// excluded from delegated (RFC 6603 section 4.2), for a server to put in
// the IA Prefix of delegated. The excluded prefix must be an IPv6 prefix
// inside delegated and longer than it.
func NewPrefixExclude(delegated, excluded netip.Prefix) (PrefixExclude, error) {
	dlen, elen := delegated.Bits(), excluded.Bits()
	if !delegated.Addr().Is6() || !excluded.Addr().Is6() || elen <= dlen || !delegated.Contains(excluded.Addr()) {
		return PrefixExclude{}, fmt.Errorf("exclude %v from %v: not a longer IPv6 prefix inside it: %w", excluded, delegated, ErrExclude)
	}
	a := excluded.Addr().As16()
	id := make([]byte, subnetIDLen(dlen, elen))
	copyBits(id, 0, a[:], dlen, elen-dlen)
	return PrefixExclude{PrefixLen: uint8(elen), SubnetID: id}, nil
}

// subnetIDLen is the number of subnet ID octets that RFC 6603 section 4.2
// gives an excluded prefix of length elen in a delegated one of length
// dlen: ceil((elen - dlen) / 8).
func subnetIDLen(dlen, elen int) int { return (elen - dlen + 7) / 8 }

// copyBits sets the n bits of dst from bit dstOff on, whose bits must be
// zero, to the n bits of src from bit srcOff on; bits count from the most
// significant bit of a slice's first byte.
func copyBits(dst []byte, dstOff int, src []byte, srcOff int, n int) {
	for i := range n {
		s, d := srcOff+i, dstOff+i
		if src[s/8]&(0x80>>(s%8)) != 0 {
			dst[d/8] |= 0x80 >> (d % 8)
		}
	}
}
