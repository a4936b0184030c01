package dhcp6

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
)

// Marshal encodes m into a new buffer; see Append.
func (m *Message) Marshal() ([]byte, error) {
	return m.Append(nil)
}

// Append appends the encoding of m (RFC 8415 section 8) to b and returns the
// extended buffer; on error it returns b unchanged.
//
// Options go in a fixed order: Client ID (if non-nil), each Server ID, each
// IA_NA (its IA Address options, each with its Status, then its own
// Status), each IA_PD (its IA Prefix options, each with its Prefix Exclude
// if the SubnetID is non-nil and its Status, then its own Status), ORO (if
// non-empty), Elapsed Time (if HasElapsed), Rapid Commit, Preference (if
// HasPreference), Status Code (if non-nil), SOL_MAX_RT and INF_MAX_RT (if
// non-zero), Reconfigure Message (if non-zero), Reconfigure Accept, DNS
// servers (if non-empty), Domain Search List (if non-nil), Authentication
// (if HasAuth; Auth.InfoOffset is not used).
//
// Values are encoded as given, including ones a receiver must discard
// (a prefix length of 200, preferred above valid, a Prefix Exclude that
// does not fit its prefix, a Domain Search List with a compression
// pointer): test servers rely on that. The only error is an option body
// longer than 65535 bytes.
func (m *Message) Append(b []byte) ([]byte, error) {
	orig := len(b)
	b = append(b, byte(m.Type), m.TransactionID[0], m.TransactionID[1], m.TransactionID[2])

	var err error
	if m.ClientID != nil {
		if b, err = appendOption(b, OptClientID, m.ClientID); err != nil {
			return b[:orig], err
		}
	}
	for _, id := range m.ServerIDs {
		if b, err = appendOption(b, OptServerID, id); err != nil {
			return b[:orig], err
		}
	}
	for i := range m.IANAs {
		if b, err = m.IANAs[i].append(b); err != nil {
			return b[:orig], err
		}
	}
	for i := range m.IAPDs {
		if b, err = m.IAPDs[i].append(b); err != nil {
			return b[:orig], err
		}
	}
	if len(m.ORO) > 0 {
		o := beginOption(b, OptORO)
		for _, c := range m.ORO {
			o.b = binary.BigEndian.AppendUint16(o.b, uint16(c))
		}
		if b, err = o.end(); err != nil {
			return b[:orig], err
		}
	}
	if m.HasElapsed {
		b = binary.BigEndian.AppendUint16(appendHeader(b, OptElapsedTime, 2), m.ElapsedTime)
	}
	if m.RapidCommit {
		b = appendHeader(b, OptRapidCommit, 0)
	}
	if m.HasPreference {
		b = append(appendHeader(b, OptPreference, 1), m.Preference)
	}
	if m.Status != nil {
		if b, err = appendStatus(b, m.Status); err != nil {
			return b[:orig], err
		}
	}
	if m.SolMaxRT != 0 {
		b = binary.BigEndian.AppendUint32(appendHeader(b, OptSolMaxRT, 4), m.SolMaxRT)
	}
	if m.InfMaxRT != 0 {
		b = binary.BigEndian.AppendUint32(appendHeader(b, OptInfMaxRT, 4), m.InfMaxRT)
	}
	if m.ReconfMsg != 0 {
		b = append(appendHeader(b, OptReconfMsg, 1), m.ReconfMsg)
	}
	if m.ReconfAccept {
		b = appendHeader(b, OptReconfAccept, 0)
	}
	if len(m.DNSServers) > 0 {
		o := beginOption(b, OptDNSServers)
		for _, a := range m.DNSServers {
			o.b = appendAddr(o.b, a)
		}
		if b, err = o.end(); err != nil {
			return b[:orig], err
		}
	}
	if m.DomainList != nil {
		if b, err = appendOption(b, OptDomainList, m.DomainList); err != nil {
			return b[:orig], err
		}
	}
	if m.HasAuth {
		if b, err = m.Auth.append(b); err != nil {
			return b[:orig], err
		}
	}
	return b, nil
}

// append appends a as an Authentication option (RFC 8415 section 21.11).
func (a *Auth) append(b []byte) ([]byte, error) {
	o := beginOption(b, OptAuth)
	o.b = append(o.b, a.Protocol, a.Algorithm, a.RDM)
	o.b = binary.BigEndian.AppendUint64(o.b, a.ReplayDetection)
	o.b = append(o.b, a.Info...)
	return o.end()
}

// append appends na as an IA_NA option (RFC 8415 section 21.4).
func (na *IANA) append(b []byte) ([]byte, error) {
	b, err := appendIA(b, OptIANA, na.IAID, na.T1, na.T2, na.Addresses, (*IAAddress).append, na.Status)
	if err != nil {
		return b, fmt.Errorf("IA_NA %d: %w", na.IAID, err)
	}
	return b, nil
}

// append appends pd as an IA_PD option (RFC 8415 section 21.21).
func (pd *IAPD) append(b []byte) ([]byte, error) {
	b, err := appendIA(b, OptIAPD, pd.IAID, pd.T1, pd.T2, pd.Prefixes, (*IAPrefix).append, pd.Status)
	if err != nil {
		return b, fmt.Errorf("IA_PD %d: %w", pd.IAID, err)
	}
	return b, nil
}

// appendIA appends an IA_NA or IA_PD option: the fixed fields the two
// share (RFC 8415 sections 21.4, 21.21), each element with appendElem,
// then the Status Code if non-nil. On error it returns b as it was.
func appendIA[E any](b []byte, code OptionCode, iaid, t1, t2 uint32, elems []E,
	appendElem func(*E, []byte) ([]byte, error), status *Status) ([]byte, error) {
	o := beginOption(b, code)
	o.b = binary.BigEndian.AppendUint32(o.b, iaid)
	o.b = binary.BigEndian.AppendUint32(o.b, t1)
	o.b = binary.BigEndian.AppendUint32(o.b, t2)
	var err error
	for i := range elems {
		if o.b, err = appendElem(&elems[i], o.b); err != nil {
			return b, err
		}
	}
	if status != nil {
		if o.b, err = appendStatus(o.b, status); err != nil {
			return b, err
		}
	}
	return o.end()
}

// append appends a as an IA Address option (RFC 8415 section 21.6).
func (a *IAAddress) append(b []byte) ([]byte, error) {
	o := beginOption(b, OptIAAddr)
	o.b = appendAddr(o.b, a.Address)
	o.b = binary.BigEndian.AppendUint32(o.b, a.Preferred)
	o.b = binary.BigEndian.AppendUint32(o.b, a.Valid)
	if a.Status != nil {
		var err error
		if o.b, err = appendStatus(o.b, a.Status); err != nil {
			return b, fmt.Errorf("IAADDR %s: %w", a.Address, err)
		}
	}
	return o.end()
}

// append appends p as an IA Prefix option (RFC 8415 section 21.22).
func (p *IAPrefix) append(b []byte) ([]byte, error) {
	o := beginOption(b, OptIAPrefix)
	o.b = binary.BigEndian.AppendUint32(o.b, p.Preferred)
	o.b = binary.BigEndian.AppendUint32(o.b, p.Valid)
	o.b = append(o.b, p.PrefixLen)
	o.b = appendAddr(o.b, p.Prefix)
	var err error
	if p.Exclude.SubnetID != nil {
		// RFC 6603 section 4.2: prefix-len, then the subnet ID.
		e := beginOption(o.b, OptPDExclude)
		e.b = append(append(e.b, p.Exclude.PrefixLen), p.Exclude.SubnetID...)
		if o.b, err = e.end(); err != nil {
			return b, fmt.Errorf("IA_PREFIX %s/%d: %w", p.Prefix, p.PrefixLen, err)
		}
	}
	if p.Status != nil {
		if o.b, err = appendStatus(o.b, p.Status); err != nil {
			return b, fmt.Errorf("IA_PREFIX %s/%d: %w", p.Prefix, p.PrefixLen, err)
		}
	}
	return o.end()
}

// appendAddr appends the 16 bytes of a, an IPv6 address; an IPv4 or zero
// Addr is appended as its IPv4-mapped or unspecified form, as As16 gives.
func appendAddr(b []byte, a netip.Addr) []byte {
	a16 := a.As16()
	return append(b, a16[:]...)
}

// appendStatus appends s as a Status Code option (RFC 8415 section 21.13).
func appendStatus(b []byte, s *Status) ([]byte, error) {
	o := beginOption(b, OptStatusCode)
	o.b = binary.BigEndian.AppendUint16(o.b, uint16(s.Code))
	o.b = append(o.b, s.Message...)
	return o.end()
}

// appendOption appends an option with a variable-length body.
func appendOption(b []byte, code OptionCode, body []byte) ([]byte, error) {
	o := beginOption(b, code)
	o.b = append(o.b, body...)
	return o.end()
}

// appendHeader appends an option header (RFC 8415 section 21.1) for a body
// of n bytes.
func appendHeader(b []byte, code OptionCode, n uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return binary.BigEndian.AppendUint16(b, n)
}

// openOption is an option being appended whose length field is filled in
// once the body, which may hold nested options, is complete.
type openOption struct {
	b     []byte // the buffer, ending in the body written so far
	code  OptionCode
	start int // offset of the option header in b
}

// beginOption appends an option header with the length still unknown.
func beginOption(b []byte, code OptionCode) openOption {
	return openOption{b: appendHeader(b, code, 0), code: code, start: len(b)}
}

// end fills in the length field (RFC 8415 section 21.1) and returns the
// buffer, or the buffer as it was before the option when the body does not
// fit in 16 bits.
func (o openOption) end() ([]byte, error) {
	n := len(o.b) - o.start - optionHeaderLen
	if n > math.MaxUint16 {
		return o.b[:o.start], fmt.Errorf("option %d: body of %d bytes exceeds %d", o.code, n, math.MaxUint16)
	}
	binary.BigEndian.PutUint16(o.b[o.start+2:], uint16(n))
	return o.b, nil
}
