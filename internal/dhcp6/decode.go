package dhcp6

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Fixed sizes from RFC 8415 section 21 and RFC 6603 section 4.2.
const (
	headerLen         = 4  // msg-type + transaction-id (section 8)
	optionHeaderLen   = 4  // option-code + option-len (section 21.1)
	iaFixedLen        = 12 // IAID, T1, T2 of IA_NA and IA_PD (sections 21.4, 21.21)
	iaAddrFixedLen    = 24 // address, preferred, valid (section 21.6)
	iaPrefixFixedLen  = 25 // preferred, valid, prefix-length, prefix (section 21.22)
	authFixedLen      = 11 // protocol, algorithm, RDM, replay detection (section 21.11)
	pdExcludeFixedLen = 2  // prefix-len and at least one octet of subnet ID
	ipv6Len           = 16
)

// Unmarshal decodes a client/server message (RFC 8415 section 8) from b.
//
// Every field of m is reset first; the backing arrays of m's slices
// (IANAs and their Addresses, IAPDs and their Prefixes, ServerIDs, ORO,
// DNSServers) are reused, so decoding repeatedly into one Message does not
// allocate for messages without a Status Code option. ClientID, ServerIDs,
// DomainList, Auth.Info and each PrefixExclude.SubnetID alias b.
//
// Structure is checked strictly and every error wraps one of the Err*
// sentinels: an option that overruns its parent, one shorter than its
// fixed fields or whose length the RFC fixes otherwise (ErrOptionShort;
// for IA_NA, IA Address, IA_PD and IA Prefix their own sentinels), and a
// DNS server list that is not a whole number of addresses (ErrOptionShort,
// as for an odd ORO). Meaning is not checked (see the package comment):
// names in the Domain Search List, a Prefix Exclude against its IA Prefix
// and authentication are judged by the accessors that use them. Unknown
// options are skipped. Of an option that may appear once (RFC 8415 section
// 21: unless noted otherwise, each option appears once), the first
// occurrence counts and later ones are only checked for structure; Server
// ID, IA_NA, IA_PD and ORO options accumulate. On error m holds what was
// decoded before the error.
func (m *Message) Unmarshal(b []byte) error {
	m.reset()
	if len(b) < headerLen {
		return fmt.Errorf("message of %d bytes: %w", len(b), ErrShort)
	}
	m.Type = MessageType(b[0])
	if m.Type == RelayForw || m.Type == RelayRepl {
		return fmt.Errorf("message type %d: %w", m.Type, ErrRelay)
	}
	copy(m.TransactionID[:], b[1:headerLen])

	var seen optionSet
	return eachOption(b[headerLen:], headerLen, func(o option) error {
		return m.decodeOption(o, &seen)
	})
}

// reset zeroes m but keeps the backing arrays of its slices.
func (m *Message) reset() {
	*m = Message{
		ServerIDs:  m.ServerIDs[:0],
		IANAs:      m.IANAs[:0],
		IAPDs:      m.IAPDs[:0],
		ORO:        m.ORO[:0],
		DNSServers: m.DNSServers[:0],
	}
}

// decodeOption decodes one top-level option. Its errors are bare sentinels
// or nested options' wrapped errors; eachOption adds this option's code and
// offset. Unknown options are skipped.
func (m *Message) decodeOption(o option, seen *optionSet) error {
	switch o.code {
	case OptServerID:
		m.ServerIDs = append(m.ServerIDs, o.body)
	case OptIANA:
		return m.decodeIANA(o)
	case OptIAPD:
		return m.decodeIAPD(o)
	case OptORO:
		if len(o.body)%2 != 0 {
			return ErrOptionShort
		}
		for i := 0; i < len(o.body); i += 2 {
			m.ORO = append(m.ORO, OptionCode(binary.BigEndian.Uint16(o.body[i:])))
		}
	case OptAuth:
		return m.decodeAuth(o)
	case OptStatusCode:
		return decodeStatus(&m.Status, o.body)
	case OptClientID:
		if m.ClientID == nil {
			m.ClientID = o.body
		}
	case OptDNSServers:
		// RFC 3646 section 3: a list of 16-byte addresses.
		if len(o.body)%ipv6Len != 0 {
			return ErrOptionShort
		}
		if seen.add(o.code) {
			for i := 0; i < len(o.body); i += ipv6Len {
				m.DNSServers = append(m.DNSServers, netip.AddrFrom16([ipv6Len]byte(o.body[i:])))
			}
		}
	case OptDomainList:
		// Names are judged by SearchList: a bad search list is no reason
		// to lose the prefixes of the same Reply.
		if m.DomainList == nil {
			m.DomainList = o.body
		}
	case OptPreference, OptElapsedTime, OptRapidCommit, OptSolMaxRT, OptInfMaxRT, OptReconfMsg, OptReconfAccept:
		if len(o.body) != fixedLen(o.code) {
			return ErrOptionShort
		}
		if seen.add(o.code) {
			m.setFixed(o.code, o.body)
		}
	}
	return nil
}

// fixedLen returns the body length that RFC 8415 section 21 fixes for code,
// one of the options handled by setFixed.
func fixedLen(code OptionCode) int {
	switch code {
	case OptPreference, OptReconfMsg: // sections 21.8, 21.19
		return 1
	case OptElapsedTime: // section 21.9
		return 2
	case OptSolMaxRT, OptInfMaxRT: // sections 21.24, 21.25
		return 4
	}
	return 0 // Rapid Commit, Reconfigure Accept: sections 21.14, 21.20
}

// setFixed stores a fixed-length option whose length was checked.
func (m *Message) setFixed(code OptionCode, body []byte) {
	switch code {
	case OptPreference:
		m.Preference, m.HasPreference = body[0], true
	case OptElapsedTime:
		m.ElapsedTime, m.HasElapsed = binary.BigEndian.Uint16(body), true
	case OptRapidCommit:
		m.RapidCommit = true
	case OptSolMaxRT:
		m.SolMaxRT = binary.BigEndian.Uint32(body)
	case OptInfMaxRT:
		m.InfMaxRT = binary.BigEndian.Uint32(body)
	case OptReconfMsg:
		m.ReconfMsg = body[0]
	case OptReconfAccept:
		m.ReconfAccept = true
	}
}

// decodeAuth stores the first Authentication option (RFC 8415 section
// 21.11) with the offset of its authentication information.
func (m *Message) decodeAuth(o option) error {
	if len(o.body) < authFixedLen {
		return ErrOptionShort
	}
	if !m.HasAuth {
		m.HasAuth = true
		m.Auth = Auth{
			Protocol:        o.body[0],
			Algorithm:       o.body[1],
			RDM:             o.body[2],
			ReplayDetection: binary.BigEndian.Uint64(o.body[3:]),
			Info:            o.body[authFixedLen:],
			InfoOffset:      o.off + optionHeaderLen + authFixedLen,
		}
	}
	return nil
}

// decodeIANA appends the IA_NA option o (RFC 8415 section 21.4) to
// m.IANAs, reusing the Addresses array of the element it lands on.
func (m *Message) decodeIANA(o option) error {
	if len(o.body) < iaFixedLen {
		return ErrIANAShort
	}
	na := grow(&m.IANAs)
	*na = IANA{Addresses: na.Addresses[:0]}
	return decodeIA(o, iaFields{&na.IAID, &na.T1, &na.T2, &na.Status}, OptIAAddr, na.decodeIAAddress)
}

// decodeIAPD appends the IA_PD option o (RFC 8415 section 21.21) to
// m.IAPDs, reusing the Prefixes array of the element it lands on.
func (m *Message) decodeIAPD(o option) error {
	if len(o.body) < iaFixedLen {
		return ErrIAPDShort
	}
	pd := grow(&m.IAPDs)
	*pd = IAPD{Prefixes: pd.Prefixes[:0]}
	return decodeIA(o, iaFields{&pd.IAID, &pd.T1, &pd.T2, &pd.Status}, OptIAPrefix, pd.decodeIAPrefix)
}

// iaFields are where decodeIA stores an IA's fixed fields and Status Code.
type iaFields struct {
	iaid, t1, t2 *uint32
	status       **Status
}

// decodeIA decodes the body of an IA_NA or IA_PD option o, checked to hold
// the fixed fields, which IA_NA and IA_PD share (RFC 8415 sections 21.4,
// 21.21): IAID, T1, T2 into f, then the options, handing each elem-code
// option (IA Address or IA Prefix) to elem and the first Status Code to f.
// Other options in an IA are skipped.
func decodeIA(o option, f iaFields, elem OptionCode, decodeElem func(option) error) error {
	*f.iaid = binary.BigEndian.Uint32(o.body[0:])
	*f.t1 = binary.BigEndian.Uint32(o.body[4:])
	*f.t2 = binary.BigEndian.Uint32(o.body[8:])
	return eachOption(o.body[iaFixedLen:], o.off+optionHeaderLen+iaFixedLen, func(sub option) error {
		switch sub.code {
		case elem:
			return decodeElem(sub)
		case OptStatusCode:
			return decodeStatus(f.status, sub.body)
		}
		return nil
	})
}

// decodeIAAddress appends the IA Address option o (RFC 8415 section 21.6)
// to na.Addresses.
func (na *IANA) decodeIAAddress(o option) error {
	if len(o.body) < iaAddrFixedLen {
		return ErrIAAddrShort
	}
	a := IAAddress{
		Address:   netip.AddrFrom16([ipv6Len]byte(o.body[0:])),
		Preferred: binary.BigEndian.Uint32(o.body[16:]),
		Valid:     binary.BigEndian.Uint32(o.body[20:]),
	}
	err := eachOption(o.body[iaAddrFixedLen:], o.off+optionHeaderLen+iaAddrFixedLen, func(sub option) error {
		if sub.code != OptStatusCode {
			return nil // the only option an IA Address carries for us
		}
		return decodeStatus(&a.Status, sub.body)
	})
	if err != nil {
		return err
	}
	na.Addresses = append(na.Addresses, a)
	return nil
}

// decodeIAPrefix appends the IA Prefix option o (RFC 8415 section 21.22)
// to pd.Prefixes.
func (pd *IAPD) decodeIAPrefix(o option) error {
	if len(o.body) < iaPrefixFixedLen {
		return ErrIAPrefixShort
	}
	p := IAPrefix{
		Preferred: binary.BigEndian.Uint32(o.body[0:]),
		Valid:     binary.BigEndian.Uint32(o.body[4:]),
		PrefixLen: o.body[8],
		Prefix:    netip.AddrFrom16([ipv6Len]byte(o.body[9:25])),
	}
	err := eachOption(o.body[iaPrefixFixedLen:], o.off+optionHeaderLen+iaPrefixFixedLen, func(sub option) error {
		switch sub.code {
		case OptStatusCode:
			return decodeStatus(&p.Status, sub.body)
		case OptPDExclude:
			return p.Exclude.decode(sub.body)
		}
		return nil
	})
	if err != nil {
		return err
	}
	pd.Prefixes = append(pd.Prefixes, p)
	return nil
}

// decode stores the Prefix Exclude option body (RFC 6603 section 4.2)
// unless an earlier one of the same IA Prefix is there. RFC 6603 excludes
// exactly one prefix (errata 3332); the first counts, as for any option
// that appears once. A body without the prefix-len and at least one octet
// of subnet ID has no fixed part to keep: option-len is at least 2.
func (e *PrefixExclude) decode(body []byte) error {
	if len(body) < pdExcludeFixedLen {
		return ErrOptionShort
	}
	if e.SubnetID == nil {
		*e = PrefixExclude{PrefixLen: body[0], SubnetID: body[1:]}
	}
	return nil
}

// decodeStatus decodes a Status Code option body (RFC 8415 section 21.13)
// into *dst unless an earlier Status Code of the same parent is there.
func decodeStatus(dst **Status, body []byte) error {
	if len(body) < 2 {
		return ErrOptionShort
	}
	if *dst == nil {
		*dst = &Status{
			Code:    StatusCode(binary.BigEndian.Uint16(body)),
			Message: string(body[2:]),
		}
	}
	return nil
}

// grow extends *s by one element and returns it, reusing what the backing
// array held there so that the element's own slices keep their arrays.
func grow[E any](s *[]E) *E {
	n := len(*s)
	if n < cap(*s) {
		*s = (*s)[:n+1]
	} else {
		*s = append(*s, *new(E))
	}
	return &(*s)[n]
}

// option is one option as found on the wire.
type option struct {
	code OptionCode
	body []byte // aliases the message
	off  int    // offset of the option header in the message
}

// eachOption calls fn with each option of b, a sequence of options (RFC
// 8415 section 21.1) that fills its parent exactly and starts at offset off
// of the message. It fails with ErrOptionOverrun when an option's header or
// body runs past the parent, and wraps fn's errors with the option's code
// and offset.
func eachOption(b []byte, off int, fn func(option) error) error {
	for len(b) > 0 {
		if len(b) < optionHeaderLen {
			return fmt.Errorf("option header at %d with %d bytes left: %w", off, len(b), ErrOptionOverrun)
		}
		o := option{code: OptionCode(binary.BigEndian.Uint16(b)), off: off}
		n := int(binary.BigEndian.Uint16(b[2:]))
		end := optionHeaderLen + n
		if end > len(b) {
			return fmt.Errorf("option %d at %d: length %d past %d bytes left: %w",
				o.code, o.off, n, len(b)-optionHeaderLen, ErrOptionOverrun)
		}
		// Capped, so that appending to an aliased DUID cannot overwrite the
		// next option.
		o.body = b[optionHeaderLen:end:end]
		b, off = b[end:], off+end
		if err := fn(o); err != nil {
			return fmt.Errorf("option %d at %d: %w", o.code, o.off, err)
		}
	}
	return nil
}

// optionSet records which of the options that count once, all with codes
// below 128, were seen.
type optionSet [2]uint64

// add records code and reports whether it was new.
func (s *optionSet) add(code OptionCode) bool {
	w, bit := code/64, uint64(1)<<(code%64)
	if s[w]&bit != 0 {
		return false
	}
	s[w] |= bit
	return true
}
