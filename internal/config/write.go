package config

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Write prints c in the config grammar for "dhcp6leased -n -v": macros
// expanded, every extension at its effective value so the defaults show, and
// each IA as OpenBSD's printconf lays it out. Parse reads the output back to
// an equal Config.
func (c *Config) Write(w io.Writer) error {
	var b bytes.Buffer
	if c.RapidCommit {
		b.WriteString("request rapid commit\n")
	}
	switch c.DUID.Kind {
	case DUIDUUID:
		b.WriteString("duid uuid\n")
	case DUIDLL:
		fmt.Fprintf(&b, "duid ll %s\n", quote(c.DUID.Interface))
	case DUIDLLT:
		fmt.Fprintf(&b, "duid llt %s\n", quote(c.DUID.Interface))
	case DUIDRaw:
		fmt.Fprintf(&b, "duid %x\n", c.DUID.Raw)
	}
	fmt.Fprintf(&b, "host part %s\n", c.HostPart)
	fmt.Fprintf(&b, "unreachable route %s\n", yesNo(c.UnreachableRoute))
	if c.SolicitDelay == nil {
		b.WriteString("# solicit delay: random 0..1 s (RFC 8415 section 18.2.1)\n")
	} else {
		fmt.Fprintf(&b, "solicit delay %s\n", formatSeconds(*c.SolicitDelay))
	}
	fmt.Fprintf(&b, "release on shutdown %s\n", yesNo(c.ReleaseOnShutdown))
	fmt.Fprintf(&b, "reconfigure accept %s\n", yesNo(c.ReconfigureAccept))
	c.writeUplinkSetting(&b, "link up delay", "0", func(u *Uplink) string { return formatSeconds(u.UpDelay) })
	c.writeUplinkSetting(&b, "link down delay", formatSeconds(defaultDownDelay), func(u *Uplink) string { return formatSeconds(u.DownDelay) })
	c.writeUplinkSetting(&b, "script", "", func(u *Uplink) string {
		if u.Script == "" {
			return ""
		}
		return quote(u.Script)
	})
	for _, u := range c.Uplinks {
		for _, ia := range u.IAs {
			length := ""
			if ia.FixedHint {
				length = fmt.Sprintf(" length %d", ia.HintLen)
			}
			fmt.Fprintf(&b, "\nrequest prefix delegation on %s iaid %#08x%s for {\n", quote(u.Name), ia.IAID, length)
			for _, e := range ia.Entries {
				fmt.Fprintf(&b, "\t%s\n", quote(e.label()+"/"+strconv.Itoa(e.PrefixLen)))
			}
			b.WriteString("}\n")
		}
		if a := u.Address; a != nil {
			fmt.Fprintf(&b, "\nrequest address on %s iaid %#08x\n", quote(u.Name), a.IAID)
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// writeUplinkSetting prints a statement that may end in "on UPLINK": once
// globally when every uplink has the same value (or def when there is no
// uplink), otherwise once per uplink. An empty value means "not set".
func (c *Config) writeUplinkSetting(b *bytes.Buffer, what, def string, value func(*Uplink) string) {
	global, same := def, true
	for i, u := range c.Uplinks {
		if v := value(u); i == 0 {
			global = v
		} else if v != global {
			same = false
		}
	}
	switch {
	case same && global == "":
		fmt.Fprintf(b, "# %s: none\n", what)
	case same:
		fmt.Fprintf(b, "%s %s\n", what, global)
	default:
		for _, u := range c.Uplinks {
			if v := value(u); v != "" {
				fmt.Fprintf(b, "%s %s on %s\n", what, v, quote(u.Name))
			}
		}
	}
}

// WritePlan prints the addressing plan for "dhcp6leased -n -vv": per uplink
// and IA the IAID and the required length, then, inside an example delegation
// of exactly that length from 2001:db8::/32 (RFC 3849), each entry's
// sub-prefix and the downstream's address.
func (c *Config) WritePlan(w io.Writer) error {
	doc := netip.MustParsePrefix("2001:db8::/32")
	var b bytes.Buffer
	for _, u := range c.Uplinks {
		if a := u.Address; a != nil {
			fmt.Fprintf(&b, "uplink %s IA_NA (iaid 0x%08x) requests an address for %s\n", u.Name, a.IAID, u.Name)
		}
		for _, ia := range u.IAs {
			fmt.Fprintf(&b, "uplink %s IA_PD %d (iaid 0x%08x) requests /%d", u.Name, ia.Index, ia.IAID, ia.HintLen)
			if ia.HintLen != ia.RequiredLen {
				fmt.Fprintf(&b, " (the plan needs /%d)", ia.RequiredLen)
			}
			if ia.RequiredLen < doc.Bits() {
				fmt.Fprintf(&b, ", too big for an example from %s\n", doc)
				for _, e := range ia.Entries {
					fmt.Fprintf(&b, "    %s/%d\n", e.label(), e.PrefixLen)
				}
				continue
			}
			example := netip.PrefixFrom(doc.Addr(), ia.RequiredLen)
			fmt.Fprintf(&b, ", example %s\n", example)
			subs := make([]netip.Prefix, len(ia.Entries))
			nameWidth, subWidth := 0, 0
			for i, e := range ia.Entries {
				subs[i], _ = SubPrefix(example, e) // a plan always fits its own length
				nameWidth, subWidth = max(nameWidth, len(e.label())), max(subWidth, len(subs[i].String()))
			}
			for i, e := range ia.Entries {
				if e.Name == "" {
					fmt.Fprintf(&b, "    %-*s %v\n", nameWidth, e.label(), subs[i])
					continue
				}
				fmt.Fprintf(&b, "    %-*s %-*v address %v\n", nameWidth, e.Name, subWidth, subs[i], HostAddress(subs[i], c.HostPart))
			}
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// formatSeconds prints d as a decimal number of seconds, exactly.
func formatSeconds(d time.Duration) string {
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := d % time.Second; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", frac), "0")
	}
	return s
}

// quote returns s as a bare word when the lexer reads it back unchanged as a
// name, and double-quoted otherwise. Names never hold a backslash or a
// newline (Parse refuses them), so escaping the quote is enough.
func quote(s string) string {
	bare := s != "" && startsWord(s[0]) && !isKeyword(s) && !strings.ContainsAny(s, `"'\$`)
	for i := 0; bare && i < len(s); i++ {
		bare = inWord(s[i])
	}
	if bare {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
