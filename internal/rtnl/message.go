package rtnl

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The fixed headers of rtnetlink payloads (linux/if_addr.h, linux/rtnetlink.h).
const (
	sizeofIfaddrmsg  = 8
	sizeofIfinfomsg  = 16
	sizeofRtmsg      = 12
	sizeofCacheinfo  = 16
	sizeofNlmsgerror = 4 // the errno that starts struct nlmsgerr and NLMSG_DONE payloads
)

// addrMessage is an address message: struct ifaddrmsg and the attributes
// this package writes or reads. Attribute fields are omitted when zero.
type addrMessage struct {
	Family    uint8
	PrefixLen uint8
	// Flags holds all IFA_F_* bits. ifa_flags carries only the low 8; the
	// rest travel in IFA_FLAGS, which is written only when needed and, when
	// present, overrides ifa_flags on reading.
	Flags     uint32
	Scope     uint8
	Index     uint32
	Address   netip.Addr // IFA_ADDRESS: the peer on point-to-point links, else the address
	Local     netip.Addr // IFA_LOCAL: the address itself
	CacheInfo *cacheInfo // IFA_CACHEINFO
}

// cacheInfo is struct ifa_cacheinfo: lifetimes in seconds (0xffffffff is
// forever), timestamps in hundredths of a second since boot (read only).
type cacheInfo struct {
	Preferred, Valid, Created, Updated uint32
}

func (m addrMessage) marshal() ([]byte, error) {
	b := make([]byte, sizeofIfaddrmsg)
	b[0], b[1], b[2], b[3] = m.Family, m.PrefixLen, uint8(m.Flags), m.Scope
	binary.NativeEndian.PutUint32(b[4:], m.Index)

	ae := netlink.NewAttributeEncoder()
	if m.Local.IsValid() {
		ae.Bytes(unix.IFA_LOCAL, m.Local.AsSlice())
	}
	if m.Address.IsValid() {
		ae.Bytes(unix.IFA_ADDRESS, m.Address.AsSlice())
	}
	if ci := m.CacheInfo; ci != nil {
		c := make([]byte, sizeofCacheinfo)
		binary.NativeEndian.PutUint32(c[0:], ci.Preferred)
		binary.NativeEndian.PutUint32(c[4:], ci.Valid)
		binary.NativeEndian.PutUint32(c[8:], ci.Created)
		binary.NativeEndian.PutUint32(c[12:], ci.Updated)
		ae.Bytes(unix.IFA_CACHEINFO, c)
	}
	if m.Flags > 0xff {
		ae.Uint32(unix.IFA_FLAGS, m.Flags)
	}
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, attrs...), nil
}

func (m *addrMessage) unmarshal(b []byte) error {
	if len(b) < sizeofIfaddrmsg {
		return fmt.Errorf("ifaddrmsg: %d bytes, want %d", len(b), sizeofIfaddrmsg)
	}
	*m = addrMessage{
		Family:    b[0],
		PrefixLen: b[1],
		Flags:     uint32(b[2]),
		Scope:     b[3],
		Index:     binary.NativeEndian.Uint32(b[4:]),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfaddrmsg:])
	if err != nil {
		return fmt.Errorf("ifaddrmsg attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_ADDRESS:
			ad.Do(decodeAddr(&m.Address))
		case unix.IFA_LOCAL:
			ad.Do(decodeAddr(&m.Local))
		case unix.IFA_CACHEINFO:
			ad.Do(func(b []byte) error {
				if len(b) != sizeofCacheinfo {
					return fmt.Errorf("IFA_CACHEINFO: %d bytes, want %d", len(b), sizeofCacheinfo)
				}
				m.CacheInfo = &cacheInfo{
					Preferred: binary.NativeEndian.Uint32(b[0:]),
					Valid:     binary.NativeEndian.Uint32(b[4:]),
					Created:   binary.NativeEndian.Uint32(b[8:]),
					Updated:   binary.NativeEndian.Uint32(b[12:]),
				}
				return nil
			})
		case unix.IFA_FLAGS:
			m.Flags = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("ifaddrmsg attributes: %w", err)
	}
	return nil
}

// decodeAddr returns an attribute decoder for a 4- or 16-byte address.
func decodeAddr(dst *netip.Addr) func([]byte) error {
	return func(b []byte) error {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return fmt.Errorf("address of %d bytes", len(b))
		}
		*dst = a
		return nil
	}
}

// linkMessage is a link message: struct ifinfomsg and the attributes this
// package uses. marshal writes the header and IFLA_IFNAME (all a request
// carries); unmarshal also reads IFLA_OPERSTATE.
type linkMessage struct {
	Family    uint8
	Type      uint16 // ARPHRD_*
	Index     int32
	Flags     uint32 // IFF_*
	Change    uint32
	Name      string // IFLA_IFNAME
	OperState uint8  // IFLA_OPERSTATE, IF_OPER_*
	MTU       uint32 // IFLA_MTU, read only
	// IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_CONF: the interface's IPv6
	// sysctls (net.ipv6.conf.IF.*), when the message carries them.
	IPv6 *IPv6Conf
}

// IPv6Conf is what a link message says of the interface's IPv6 settings
// that decide whether router advertisements are accepted.
type IPv6Conf struct {
	Forwarding int32 // net.ipv6.conf.IF.forwarding
	AcceptRA   int32 // net.ipv6.conf.IF.accept_ra
}

// AcceptsRA reports whether the kernel accepts router advertisements on
// the interface: with forwarding on only if accept_ra is 2 (ipv6_accept_ra()
// in net/ipv6/ndisc.h). A router's uplink with forwarding=1 and the default
// accept_ra=1 drops the upstream router's RAs, and the default route never
// comes.
func (c IPv6Conf) AcceptsRA() bool {
	if c.Forwarding != 0 {
		return c.AcceptRA > 1
	}
	return c.AcceptRA != 0
}

// Indexes into IFLA_INET6_CONF, an array of s32 indexed by DEVCONF_*
// (linux/ipv6.h).
const (
	devconfForwarding = 0
	devconfAcceptRA   = 3
	iflaInet6Conf     = 2 // IFLA_INET6_CONF (linux/if_link.h)
)

func (m linkMessage) marshal() ([]byte, error) {
	b := make([]byte, sizeofIfinfomsg)
	b[0] = m.Family
	binary.NativeEndian.PutUint16(b[2:], m.Type)
	binary.NativeEndian.PutUint32(b[4:], uint32(m.Index))
	binary.NativeEndian.PutUint32(b[8:], m.Flags)
	binary.NativeEndian.PutUint32(b[12:], m.Change)
	if m.Name == "" {
		return b, nil
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, m.Name)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, attrs...), nil
}

func (m *linkMessage) unmarshal(b []byte) error {
	if len(b) < sizeofIfinfomsg {
		return fmt.Errorf("ifinfomsg: %d bytes, want %d", len(b), sizeofIfinfomsg)
	}
	*m = linkMessage{
		Family: b[0],
		Type:   binary.NativeEndian.Uint16(b[2:]),
		Index:  int32(binary.NativeEndian.Uint32(b[4:])),
		Flags:  binary.NativeEndian.Uint32(b[8:]),
		Change: binary.NativeEndian.Uint32(b[12:]),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfinfomsg:])
	if err != nil {
		return fmt.Errorf("ifinfomsg attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			m.Name = ad.String()
		case unix.IFLA_OPERSTATE:
			m.OperState = ad.Uint8()
		case unix.IFLA_MTU:
			m.MTU = ad.Uint32()
		case unix.IFLA_AF_SPEC:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.AF_INET6 {
						nad.Nested(m.decodeInet6)
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("ifinfomsg attributes: %w", err)
	}
	return nil
}

// decodeInet6 reads the AF_INET6 part of IFLA_AF_SPEC.
func (m *linkMessage) decodeInet6(ad *netlink.AttributeDecoder) error {
	for ad.Next() {
		if ad.Type() != iflaInet6Conf {
			continue
		}
		ad.Do(func(b []byte) error {
			if len(b) < 4*(devconfAcceptRA+1) || len(b)%4 != 0 {
				return fmt.Errorf("IFLA_INET6_CONF: %d bytes", len(b))
			}
			m.IPv6 = &IPv6Conf{
				Forwarding: int32(binary.NativeEndian.Uint32(b[4*devconfForwarding:])),
				AcceptRA:   int32(binary.NativeEndian.Uint32(b[4*devconfAcceptRA:])),
			}
			return nil
		})
	}
	return nil
}

// routeMessage is a route message: struct rtmsg and the attributes this
// package uses. marshal writes the header and RTA_DST; unmarshal also reads
// RTA_TABLE, which overrides rtm_table (it holds table ids above 255).
type routeMessage struct {
	Family   uint8
	DstLen   uint8
	SrcLen   uint8
	TOS      uint8
	Table    uint32 // rtm_table, or RTA_TABLE on reading
	Protocol uint8  // RTPROT_*
	Scope    uint8  // RT_SCOPE_*
	Type     uint8  // RTN_*
	Flags    uint32 // RTM_F_*
	Dst      netip.Addr
}

func (m routeMessage) marshal() ([]byte, error) {
	if m.Table > 0xff {
		return nil, fmt.Errorf("route table %d: only ids up to 255", m.Table)
	}
	b := []byte{m.Family, m.DstLen, m.SrcLen, m.TOS, uint8(m.Table), m.Protocol, m.Scope, m.Type, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(b[8:], m.Flags)
	if !m.Dst.IsValid() {
		return b, nil
	}
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, m.Dst.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, attrs...), nil
}

func (m *routeMessage) unmarshal(b []byte) error {
	if len(b) < sizeofRtmsg {
		return fmt.Errorf("rtmsg: %d bytes, want %d", len(b), sizeofRtmsg)
	}
	*m = routeMessage{
		Family:   b[0],
		DstLen:   b[1],
		SrcLen:   b[2],
		TOS:      b[3],
		Table:    uint32(b[4]),
		Protocol: b[5],
		Scope:    b[6],
		Type:     b[7],
		Flags:    binary.NativeEndian.Uint32(b[8:]),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofRtmsg:])
	if err != nil {
		return fmt.Errorf("rtmsg attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			ad.Do(decodeAddr(&m.Dst))
		case unix.RTA_TABLE:
			m.Table = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("rtmsg attributes: %w", err)
	}
	return nil
}
