package dhcp6

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Fixed sizes from RFC 8415 section 21.
const (
	headerLen        = 4  // msg-type + transaction-id (section 8)
	optionHeaderLen  = 4  // option-code + option-len (section 21.1)
	iaPDFixedLen     = 12 // IAID, T1, T2 (section 21.21)
	iaPrefixFixedLen = 25 // preferred, valid, prefix-length, prefix (section 21.22)
)

// Unmarshal decodes a client/server message (RFC 8415 section 8) from b.
//
// Every field of m is reset first; the backing arrays of m's slices
// (IAPDs and their Prefixes, ServerIDs, ORO) are reused, so decoding
// repeatedly into one Message does not allocate for messages without a
// Status Code option. ClientID and ServerIDs alias b.
//
// Structure is checked strictly and every error wraps one of the Err*
// sentinels. Meaning is not checked (see the package comment). Unknown
// options are skipped. Of an option that may appear once, the first
// occurrence counts and later ones are only checked for structure; Server
// ID, IA_PD and ORO options accumulate. On error m holds what was decoded
// before the error.
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
	r := optionReader{b: b[headerLen:], off: headerLen}
	for len(r.b) > 0 {
		o, err := r.next()
		if err != nil {
			return err
		}
		if err := m.decodeOption(o, &seen); err != nil {
			return fmt.Errorf("option %d at %d: %w", o.code, o.off, err)
		}
	}
	return nil
}

// reset zeroes m but keeps the backing arrays of its slices.
func (m *Message) reset() {
	*m = Message{
		ServerIDs: m.ServerIDs[:0],
		IAPDs:     m.IAPDs[:0],
		ORO:       m.ORO[:0],
	}
}

// decodeOption decodes one top-level option. Its errors are bare sentinels
// or nested options' wrapped errors; the caller adds this option's code and
// offset. Unknown options are skipped.
func (m *Message) decodeOption(o option, seen *optionSet) error {
	switch o.code {
	case OptServerID:
		m.ServerIDs = append(m.ServerIDs, o.body)
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
		m.HasAuth = true
	case OptStatusCode:
		return decodeStatus(&m.Status, o.body)
	case OptClientID:
		if m.ClientID == nil {
			m.ClientID = o.body
		}
	case OptPreference, OptElapsedTime, OptRapidCommit, OptSolMaxRT, OptInfMaxRT, OptReconfMsg:
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
	return 0 // Rapid Commit, section 21.14
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
	}
}

// decodeIAPD appends the IA_PD option o (RFC 8415 section 21.21) to
// m.IAPDs, reusing the Prefixes array of the element it lands on.
func (m *Message) decodeIAPD(o option) error {
	if len(o.body) < iaPDFixedLen {
		return ErrIAPDShort
	}
	n := len(m.IAPDs)
	if n < cap(m.IAPDs) {
		m.IAPDs = m.IAPDs[:n+1]
	} else {
		m.IAPDs = append(m.IAPDs, IAPD{})
	}
	pd := &m.IAPDs[n]
	*pd = IAPD{
		IAID:     binary.BigEndian.Uint32(o.body[0:]),
		T1:       binary.BigEndian.Uint32(o.body[4:]),
		T2:       binary.BigEndian.Uint32(o.body[8:]),
		Prefixes: pd.Prefixes[:0],
	}

	r := optionReader{b: o.body[iaPDFixedLen:], off: o.off + optionHeaderLen + iaPDFixedLen}
	for len(r.b) > 0 {
		sub, err := r.next()
		if err != nil {
			return err
		}
		switch sub.code { // other options in an IA_PD are skipped
		case OptIAPrefix:
			err = pd.decodeIAPrefix(sub)
		case OptStatusCode:
			err = decodeStatus(&pd.Status, sub.body)
		}
		if err != nil {
			return fmt.Errorf("option %d at %d: %w", sub.code, sub.off, err)
		}
	}
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
		Prefix:    netip.AddrFrom16([16]byte(o.body[9:25])),
	}

	r := optionReader{b: o.body[iaPrefixFixedLen:], off: o.off + optionHeaderLen + iaPrefixFixedLen}
	for len(r.b) > 0 {
		sub, err := r.next()
		if err != nil {
			return err
		}
		if sub.code != OptStatusCode {
			continue // the only option an IA_PREFIX carries for us
		}
		if err := decodeStatus(&p.Status, sub.body); err != nil {
			return fmt.Errorf("option %d at %d: %w", sub.code, sub.off, err)
		}
	}
	pd.Prefixes = append(pd.Prefixes, p)
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

// option is one option as found on the wire.
type option struct {
	code OptionCode
	body []byte // aliases the message
	off  int    // offset of the option header in the message
}

// optionReader steps through a sequence of options (RFC 8415 section 21.1)
// that fills its parent exactly.
type optionReader struct {
	b   []byte // the options not read yet
	off int    // offset of b[0] in the message, for errors
}

// next returns the next option. It fails with ErrOptionOverrun when the
// option's header or body runs past the parent.
func (r *optionReader) next() (option, error) {
	if len(r.b) < optionHeaderLen {
		return option{}, fmt.Errorf("option header at %d with %d bytes left: %w", r.off, len(r.b), ErrOptionOverrun)
	}
	o := option{code: OptionCode(binary.BigEndian.Uint16(r.b)), off: r.off}
	n := int(binary.BigEndian.Uint16(r.b[2:]))
	end := optionHeaderLen + n
	if end > len(r.b) {
		return option{}, fmt.Errorf("option %d at %d: length %d past %d bytes left: %w",
			o.code, o.off, n, len(r.b)-optionHeaderLen, ErrOptionOverrun)
	}
	// Capped, so that appending to an aliased DUID cannot overwrite the
	// next option.
	o.body = r.b[optionHeaderLen:end:end]
	r.b, r.off = r.b[end:], r.off+end
	return o, nil
}

// optionSet records which of the fixed-length options (all with codes
// below 128) were seen.
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
