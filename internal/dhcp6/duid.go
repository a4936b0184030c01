package dhcp6

import (
	"encoding/binary"
	"encoding/hex"
	"time"
)

// DUID types (RFC 8415 section 11.1).
const (
	duidLLT  = 1
	duidLL   = 3
	duidUUID = 4
)

// duidEpoch is the base of DUID-LLT's time field in Unix seconds: midnight
// UTC, 1 January 2000 (RFC 8415 section 11.2).
const duidEpoch = 946684800

// DUIDUUID returns a DUID-UUID (RFC 8415 section 11.5, RFC 6355).
func DUIDUUID(u [16]byte) []byte {
	return append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(u)), duidUUID), u[:]...)
}

// DUIDLL returns a DUID-LL (RFC 8415 section 11.4) for the link-layer
// address hw of hardware type hwType (an IANA ARP hardware type, 1 for
// Ethernet).
func DUIDLL(hwType uint16, hw []byte) []byte {
	d := make([]byte, 0, 4+len(hw))
	d = binary.BigEndian.AppendUint16(d, duidLL)
	d = binary.BigEndian.AppendUint16(d, hwType)
	return append(d, hw...)
}

// DUIDLLT returns a DUID-LLT (RFC 8415 section 11.2): like DUIDLL plus the
// time t as seconds since 2000-01-01 UTC, modulo 2^32.
func DUIDLLT(hwType uint16, t time.Time, hw []byte) []byte {
	d := make([]byte, 0, 8+len(hw))
	d = binary.BigEndian.AppendUint16(d, duidLLT)
	d = binary.BigEndian.AppendUint16(d, hwType)
	d = binary.BigEndian.AppendUint32(d, uint32(t.Unix()-duidEpoch))
	return append(d, hw...)
}

// FormatDUID returns d as lower-case hex bytes joined by ':', the form
// logs, lease files and dhcp6leasectl show.
func FormatDUID(d []byte) string {
	s := make([]byte, 0, 3*len(d))
	for i := range d {
		if i > 0 {
			s = append(s, ':')
		}
		s = hex.AppendEncode(s, d[i:i+1])
	}
	return string(s)
}
