package config

import (
	"math/bits"
	"net/netip"
)

// uint128Of returns a's 128 bits. An IPv4 address is taken in its
// IPv4-mapped form.
func uint128Of(a netip.Addr) Uint128 {
	b := a.As16()
	return Uint128{
		Hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		Lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
			uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

// addr returns u as an IPv6 address.
func (u Uint128) addr() netip.Addr {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(u.Hi >> (56 - 8*i))
		b[8+i] = byte(u.Lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

// pow2 returns 2^n for n in 0..127: the number of addresses in a /(128-n).
func pow2(n int) Uint128 {
	if n >= 64 {
		return Uint128{Hi: 1 << (n - 64)}
	}
	return Uint128{Lo: 1 << n}
}

// lowMask returns a value with the n (0..128) low bits set. Go defines a
// shift by the full width as 0, so n = 64 and n = 128 need no special case.
func lowMask(n int) Uint128 {
	if n >= 64 {
		return Uint128{Hi: 1<<(n-64) - 1, Lo: ^uint64(0)}
	}
	return Uint128{Lo: 1<<n - 1}
}

func (u Uint128) and(v Uint128) Uint128 { return Uint128{u.Hi & v.Hi, u.Lo & v.Lo} }
func (u Uint128) or(v Uint128) Uint128  { return Uint128{u.Hi | v.Hi, u.Lo | v.Lo} }
func (u Uint128) not() Uint128          { return Uint128{^u.Hi, ^u.Lo} }

// add returns u+v and whether the sum overflowed 128 bits.
func (u Uint128) add(v Uint128) (Uint128, bool) {
	lo, c := bits.Add64(u.Lo, v.Lo, 0)
	hi, c := bits.Add64(u.Hi, v.Hi, c)
	return Uint128{hi, lo}, c != 0
}

// bitLen returns the number of bits needed to hold u; 0 for 0.
func (u Uint128) bitLen() int {
	if u.Hi != 0 {
		return 64 + bits.Len64(u.Hi)
	}
	return bits.Len64(u.Lo)
}

// less reports whether u < v.
func (u Uint128) less(v Uint128) bool { return u.Hi < v.Hi || u.Hi == v.Hi && u.Lo < v.Lo }
