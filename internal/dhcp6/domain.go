package dhcp6

import (
	"fmt"
	"strings"
)

// Domain name limits of RFC 1035 section 3.1 (2.3.4).
const (
	maxLabelLen = 63
	maxNameLen  = 255 // length octets and label octets, root label included
)

// SearchList returns the names of m's Domain Search List option (RFC 3646
// section 4) in text form without the final dot ("example.com"; the root
// alone is "."), or nil when there is none.
//
// The option holds names in the uncompressed wire format of RFC 1035
// section 3.1: labels, each a length octet of 1..63 and that many octets,
// ending in the zero-length root label. RFC 8415 section 10 forbids
// compression, so a length octet with either of the top two bits set (a
// pointer, RFC 1035 section 4.1.4, or a reserved label type) is invalid,
// as are a label that runs past the option, a name without its root label
// and a name above 255 octets. Labels must be host-name labels, letters,
// digits, '-' and '_' (RFC 1123 section 2.1 plus the underscore seen in
// service names): the names end up in logs, hook environments and
// router advertisements, where a '.', a space or a control character
// inside a label would change their meaning. Then err wraps ErrDomainList.
//
// A bad search list does not fail the message: RFC 8415 section 16 drops
// messages for faults of the exchange, not of an option's content, and
// the prefixes of the same Reply do not depend on the names. The engine
// treats the option as absent and counts it.
func (m *Message) SearchList() ([]string, error) {
	if m.DomainList == nil {
		return nil, nil
	}
	var names []string
	b := m.DomainList
	for start := 0; start < len(b); {
		name, n, err := decodeName(b[start:])
		if err != nil {
			return nil, fmt.Errorf("domain list: name at %d: %w", start, err)
		}
		names = append(names, name)
		start += n
	}
	return names, nil
}

// decodeName decodes the uncompressed domain name at the start of b and
// returns it in text form and its wire length.
func decodeName(b []byte) (string, int, error) {
	var sb strings.Builder
	for i := 0; ; {
		if i >= len(b) {
			return "", 0, fmt.Errorf("no root label in %d octets: %w", len(b), ErrDomainList)
		}
		n := int(b[i])
		switch {
		case n == 0:
			if i+1 > maxNameLen {
				return "", 0, fmt.Errorf("%d octets: %w", i+1, ErrDomainList)
			}
			if sb.Len() == 0 {
				return ".", i + 1, nil
			}
			return sb.String(), i + 1, nil
		case n > maxLabelLen:
			return "", 0, fmt.Errorf("label at %d: length octet %#02x is a pointer or a reserved label type: %w", i, n, ErrDomainList)
		case i+1+n > len(b):
			return "", 0, fmt.Errorf("label at %d of %d octets: past the option: %w", i, n, ErrDomainList)
		}
		label := b[i+1 : i+1+n]
		if err := checkLabel(label); err != nil {
			return "", 0, fmt.Errorf("label at %d: %w", i, err)
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.Write(label)
		i += 1 + n
	}
}

// AppendDomainList appends the wire form of names (RFC 3646 section 4,
// uncompressed as RFC 8415 section 10 asks) to b, for a server to put in
// Message.DomainList. Each name is dot-separated labels, a final dot
// allowed, or "." for the root; the labels must be as SearchList accepts
// them. On error it returns b unchanged.
func AppendDomainList(b []byte, names ...string) ([]byte, error) {
	orig := len(b)
	for _, name := range names {
		start := len(b)
		if name == "." {
			b = append(b, 0)
			continue
		}
		for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
			if err := checkLabel([]byte(label)); err != nil {
				return b[:orig], fmt.Errorf("domain name %q: %w", name, err)
			}
			b = append(append(b, byte(len(label))), label...)
		}
		if b = append(b, 0); len(b)-start > maxNameLen {
			return b[:orig], fmt.Errorf("domain name %q: %d octets: %w", name, len(b)-start, ErrDomainList)
		}
	}
	return b, nil
}

// checkLabel checks one label: 1..63 octets of letters, digits, '-' and
// '_'.
func checkLabel(l []byte) error {
	if len(l) == 0 || len(l) > maxLabelLen {
		return fmt.Errorf("label of %d octets: %w", len(l), ErrDomainList)
	}
	for _, c := range l {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q: octet %#02x: %w", l, c, ErrDomainList)
		}
	}
	return nil
}
