package lease

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// header is the first line Write puts in every lease file: the grammar of
// the lines that follow, for the operator reading it.
const header = "# dhcp6leased lease: ia_pd|ia_na IAID PREFIX/LEN preferred S valid S bound TIME t1 S t2 S [retiring] [exclude P/L] [boot ID+S] [for IF,...]\n"

// maxLine bounds one line: an ia_pd line with its "for" list of
// downstreams, which the writer shortens to fit.
const maxLine = 4096

// MaxRetiring bounds the retiring prefixes an IA_PD keeps beside its
// current one: a server that renumbers in a loop cannot make the client
// hold more.
const MaxRetiring = 3

// DUID length bounds (RFC 8415 section 11.1: a 2-octet type code followed by
// 1 to 128 octets).
const (
	minDUIDLen = 3
	maxDUIDLen = 130
)

// infinity is how lifetimes of 0xffffffff are spelled in the file.
const infinity = "infinity"

// A SyntaxError reports a line of a lease file that could not be used.
type SyntaxError struct {
	Path string // set by Read; empty from Parse
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Parse reads a lease file (docs/FILES.md). It accepts the lines WriteTo
// produces and OpenBSD dhcp6leased's "ia_pd <index> <prefix> <len>" lines,
// whose lifetimes are unknown: such an IA has zero lifetimes and a zero Bound,
// a hint for Rebind or Solicit, not a lease to keep using.
//
// Any line that does not parse fails the whole file with a *SyntaxError,
// including a last line without its newline: WriteTo always ends the file
// with one, so its absence means a torn write, and a torn number would
// otherwise parse as a wrong one.
func Parse(r io.Reader) (Lease, error) {
	var (
		l      Lease
		br     = bufio.NewReaderSize(r, maxLine)
		lineno int
	)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) == 0 && err == io.EOF {
			return l, nil
		}
		lineno++
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return Lease{}, &SyntaxError{Line: lineno, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		case err == io.EOF:
			return Lease{}, &SyntaxError{Line: lineno, Msg: "no newline at end of file (torn write?)"}
		case err != nil:
			return Lease{}, err
		}
		if err := l.parseLine(string(b)); err != nil {
			return Lease{}, &SyntaxError{Line: lineno, Msg: err.Error()}
		}
	}
}

// parseLine adds one line's content to l. seen holds the IAIDs so far.
func (l *Lease) parseLine(line string) error {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return nil
	}
	switch f[0] {
	case "server":
		if l.ServerID != nil {
			return errors.New("second server line")
		}
		if len(f) != 2 {
			return fmt.Errorf("server: want 1 field, got %d", len(f)-1)
		}
		id, err := hex.DecodeString(f[1])
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if err := checkServerID(id); err != nil {
			return err
		}
		l.ServerID = id
	case "ia_pd", "ia_na":
		ia, err := parseIA(f[1:])
		if err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
		ia.NA = f[0] == "ia_na"
		if err := ia.check(); err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
		if err := l.add(ia); err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
	case "dns":
		if l.DNSServers != nil || len(f) < 2 || len(f) > 1+maxDNS {
			return fmt.Errorf("dns: want one line of 1 to %d addresses", maxDNS)
		}
		for _, s := range f[1:] {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is6() || a.Zone() != "" {
				return fmt.Errorf("dns %q: not an IPv6 address", s)
			}
			l.DNSServers = append(l.DNSServers, a)
		}
	case "domain":
		if l.DomainSearch != nil || len(f) < 2 || len(f) > 1+maxDomains {
			return fmt.Errorf("domain: want one line of 1 to %d names", maxDomains)
		}
		for _, d := range f[1:] {
			if err := checkDomain(d); err != nil {
				return err
			}
		}
		l.DomainSearch = f[1:]
	case "reconfigure":
		if l.Reconfigure != nil || len(f) != 3 {
			return errors.New("reconfigure: want one line with a key and a replay counter")
		}
		key, err := hex.DecodeString(f[1])
		replay, rerr := strconv.ParseUint(f[2], 10, 64)
		if err != nil || len(key) != 16 || rerr != nil {
			return fmt.Errorf("reconfigure %s %s: want 32 hex digits and a number", f[1], f[2])
		}
		l.Reconfigure = &ReconfigureKey{Key: [16]byte(key), Replay: replay}
	default:
		return fmt.Errorf("unknown keyword %q", f[0])
	}
	return nil
}

// parseIA parses the fields after "ia_pd": either ours (12 fields) or
// OpenBSD's (3 fields: decimal IA index, which OpenBSD also sends as the
// IAID, address and length).
func parseIA(f []string) (IA, error) {
	var ia IA
	switch len(f) {
	case 3:
		id, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return IA{}, fmt.Errorf("IA index %q: not a decimal number", f[0])
		}
		addr, err := netip.ParseAddr(f[1])
		if err != nil {
			return IA{}, err
		}
		if addr.Zone() != "" {
			return IA{}, fmt.Errorf("prefix %v: has a zone", addr)
		}
		bits, err := strconv.ParseUint(f[2], 10, 8)
		if err != nil || bits < 1 || bits > 128 {
			return IA{}, fmt.Errorf("prefix length %q: want 1 to 128", f[2])
		}
		// OpenBSD stores the prefix exactly as the server sent it; only the
		// network part means anything.
		p, err := addr.Prefix(int(bits))
		if err != nil {
			return IA{}, err
		}
		ia.IAID, ia.Prefix = uint32(id), p
	default:
		if len(f) < 12 {
			return IA{}, fmt.Errorf("want 12 fields (or OpenBSD's 3), got %d", len(f))
		}
		if err := ia.parseAttributes(f[12:]); err != nil {
			return IA{}, err
		}
		for i, kw := range [...]string{"preferred", "valid", "bound", "t1", "t2"} {
			if f[2+2*i] != kw {
				return IA{}, fmt.Errorf("want %q, got %q", kw, f[2+2*i])
			}
		}
		hexID, ok := strings.CutPrefix(f[0], "0x")
		id, err := strconv.ParseUint(hexID, 16, 32)
		if !ok || err != nil {
			return IA{}, fmt.Errorf("IAID %q: want 0x and up to 8 hex digits", f[0])
		}
		ia.IAID = uint32(id)
		if ia.Prefix, err = netip.ParsePrefix(f[1]); err != nil {
			return IA{}, err
		}
		for _, v := range []struct {
			dst *uint32
			s   string
		}{{&ia.Preferred, f[3]}, {&ia.Valid, f[5]}, {&ia.T1, f[9]}, {&ia.T2, f[11]}} {
			if *v.dst, err = parseSeconds(v.s); err != nil {
				return IA{}, err
			}
		}
		t, err := time.Parse(time.RFC3339, f[7])
		if err != nil {
			return IA{}, fmt.Errorf("bound: %w", err)
		}
		ia.Bound = t.UTC().Truncate(time.Second)
	}
	return ia, nil
}

// Bounds of the DNS lines: more than a server sensibly sends.
const (
	maxDNS     = 8
	maxDomains = 8
)

// checkDomain refuses what cannot be a domain name on the "domain" line.
func checkDomain(d string) error {
	if len(d) > 253 || strings.ContainsAny(d, ",\"") {
		return fmt.Errorf("domain %q: not a domain name", d)
	}
	return nil
}

// parseAttributes parses what follows t2 on an ia_pd line: "retiring",
// "exclude P/L", "boot ID+SECONDS" and "for IF,IF,...", in any order, each
// at most once.
func (ia *IA) parseAttributes(f []string) error {
	seen := make(map[string]bool)
	for i := 0; i < len(f); i++ {
		kw := f[i]
		if seen[kw] {
			return fmt.Errorf("%s given twice", kw)
		}
		seen[kw] = true
		if kw == "retiring" {
			ia.Retiring = true
			continue
		}
		if kw != "boot" && kw != "for" && kw != "exclude" {
			return fmt.Errorf("unknown attribute %q", kw)
		}
		if i+1 == len(f) {
			return fmt.Errorf("%s: value missing", kw)
		}
		i++
		if kw == "exclude" {
			p, err := netip.ParsePrefix(f[i])
			if err != nil {
				return fmt.Errorf("exclude: %w", err)
			}
			ia.Excluded = p
			continue
		}
		if kw == "for" {
			ia.Downstreams = strings.Split(f[i], ",")
			if slices.Contains(ia.Downstreams, "") {
				return fmt.Errorf("for %q: empty interface name", f[i])
			}
			continue
		}
		id, secs, ok := strings.Cut(f[i], "+")
		v, err := strconv.ParseUint(secs, 10, 32)
		if !ok || id == "" || err != nil {
			return fmt.Errorf("boot %q: want ID+SECONDS", f[i])
		}
		ia.Boot = Boot{ID: id, Time: time.Duration(v) * time.Second}
	}
	return nil
}

// add appends ia to l: at most one current prefix per IAID and MaxIAs of
// them, at most MaxRetiring retiring ones per IAID, no prefix twice in an
// IAID.
func (l *Lease) add(ia IA) error {
	current, retiring := 0, 0
	for _, o := range l.IAs {
		if o.IAID != ia.IAID {
			if !o.Retiring {
				current++
			}
			continue
		}
		switch {
		case o.Prefix == ia.Prefix:
			return fmt.Errorf("IAID %#08x: %v twice", ia.IAID, ia.Prefix)
		case !o.Retiring && !ia.Retiring:
			return fmt.Errorf("duplicate IAID %#08x", ia.IAID)
		case o.Retiring:
			retiring++
		}
	}
	switch {
	case !ia.Retiring && current == config.MaxIAs:
		return fmt.Errorf("more than %d IAs", config.MaxIAs)
	case ia.Retiring && retiring == MaxRetiring:
		return fmt.Errorf("IAID %#08x: more than %d retiring prefixes", ia.IAID, MaxRetiring)
	}
	l.IAs = append(l.IAs, ia)
	return nil
}

func parseSeconds(s string) (uint32, error) {
	if s == infinity {
		return dhcp6.Infinity, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("lifetime %q: want seconds or %q", s, infinity)
	}
	return uint32(v), nil
}

func formatSeconds(v uint32) string {
	if v == dhcp6.Infinity {
		return infinity
	}
	return strconv.FormatUint(uint64(v), 10)
}

// check reports what makes ia unfit for a lease file. Parse and WriteTo
// apply the same rules, so whatever WriteTo writes, Parse reads back.
func (ia IA) check() error {
	p := ia.Prefix
	switch {
	case !p.IsValid() || !p.Addr().Is6():
		return fmt.Errorf("prefix %v: not an IPv6 prefix", p)
	case p.Bits() == 0:
		return fmt.Errorf("prefix %v: length 0", p)
	case p != p.Masked():
		return fmt.Errorf("prefix %v: bits set after the prefix length", p)
	case ia.Preferred > ia.Valid:
		// RFC 8415 section 21.22: such a prefix is discarded, never held.
		return fmt.Errorf("prefix %v: preferred lifetime %d above valid %d", p, ia.Preferred, ia.Valid)
	case ia.T1 != 0 && ia.T2 != 0 && ia.T1 > ia.T2:
		// RFC 8415 section 21.21: such an IA_PD is discarded, never held.
		return fmt.Errorf("IAID %#08x: T1 %d above T2 %d", ia.IAID, ia.T1, ia.T2)
	case ia.Bound.Year() < 0 || ia.Bound.Year() > 9999:
		return fmt.Errorf("bound %v: year outside RFC 3339", ia.Bound)
	case ia.Boot.ID != "" && (strings.ContainsAny(ia.Boot.ID, "+ \t\r\n") || ia.Boot.Time < 0 || ia.Boot.Time/time.Second > math.MaxUint32):
		return fmt.Errorf("boot %q+%v: not an ID and a time", ia.Boot.ID, ia.Boot.Time)
	case ia.NA && (p.Bits() != 128 || ia.Excluded.IsValid()):
		return fmt.Errorf("ia_na %v: an address is a /128 and excludes nothing", p)
	case ia.Excluded.IsValid() && (ia.Excluded != ia.Excluded.Masked() || ia.Excluded.Bits() <= p.Bits() || !p.Contains(ia.Excluded.Addr())):
		return fmt.Errorf("prefix %v: exclude %v is not a longer prefix inside it", p, ia.Excluded)
	}
	for _, n := range ia.Downstreams {
		if n == "" || strings.ContainsAny(n, ", \t\r\n") {
			return fmt.Errorf("downstream %q: not an interface name", n)
		}
	}
	return nil
}

func checkServerID(id []byte) error {
	if len(id) < minDUIDLen || len(id) > maxDUIDLen {
		return fmt.Errorf("server DUID of %d octets: want %d to %d", len(id), minDUIDLen, maxDUIDLen)
	}
	return nil
}

// WriteTo writes l in the lease file format: the header comment, the server
// line if ServerID is set, and one ia_pd line per IA in order. Bound is
// written in UTC to the second (truncated, so remaining lifetimes computed
// after a restart err on the short side). A lease that Parse would refuse is
// not written.
func (l Lease) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	b.WriteString(header)
	if len(l.ServerID) > 0 {
		if err := checkServerID(l.ServerID); err != nil {
			return 0, err
		}
		fmt.Fprintf(&b, "server %x\n", l.ServerID)
	}
	if err := l.writeOptions(&b); err != nil {
		return 0, err
	}
	var checked Lease
	for _, ia := range l.IAs {
		if err := ia.check(); err != nil {
			return 0, err
		}
		if err := checked.add(ia); err != nil {
			return 0, err
		}
		ia.appendLine(&b)
	}
	return b.WriteTo(w)
}

// writeOptions writes the dns, domain and reconfigure lines, refusing
// what Parse would.
func (l Lease) writeOptions(b *bytes.Buffer) error {
	if n := len(l.DNSServers); n > 0 {
		if n > maxDNS {
			return fmt.Errorf("%d DNS servers: at most %d", n, maxDNS)
		}
		fields := make([]string, n)
		for i, a := range l.DNSServers {
			if !a.Is6() || a.Zone() != "" {
				return fmt.Errorf("dns %v: not an IPv6 address", a)
			}
			fields[i] = a.String()
		}
		fmt.Fprintf(b, "dns %s\n", strings.Join(fields, " "))
	}
	if n := len(l.DomainSearch); n > 0 {
		if n > maxDomains {
			return fmt.Errorf("%d search domains: at most %d", n, maxDomains)
		}
		for _, d := range l.DomainSearch {
			if err := checkDomain(d); err != nil || d == "" || strings.ContainsAny(d, " \t\r\n") {
				return fmt.Errorf("domain %q: not a domain name", d)
			}
		}
		fmt.Fprintf(b, "domain %s\n", strings.Join(l.DomainSearch, " "))
	}
	if r := l.Reconfigure; r != nil {
		fmt.Fprintf(b, "reconfigure %x %d\n", r.Key, r.Replay)
	}
	return nil
}

// appendLine writes ia's line. Its "for" list is cut short, at a whole
// name, where the line would pass maxLine: the names only help to match the
// IA to its configuration, which a long list's first names do as well.
func (ia IA) appendLine(b *bytes.Buffer) {
	kw := "ia_pd"
	if ia.NA {
		kw = "ia_na"
	}
	line := fmt.Sprintf("%s %#08x %v preferred %s valid %s bound %s t1 %s t2 %s", kw,
		ia.IAID, ia.Prefix, formatSeconds(ia.Preferred), formatSeconds(ia.Valid),
		ia.Bound.UTC().Format(time.RFC3339), formatSeconds(ia.T1), formatSeconds(ia.T2))
	if ia.Retiring {
		line += " retiring"
	}
	if ia.Excluded.IsValid() {
		line += " exclude " + ia.Excluded.String()
	}
	if ia.Boot.ID != "" {
		line += fmt.Sprintf(" boot %s+%d", ia.Boot.ID, ia.Boot.Time/time.Second)
	}
	var names []string
	for _, n := range ia.Downstreams {
		if len(line)+len(" for ")+len(strings.Join(append(names, n), ","))+1 > maxLine {
			break
		}
		names = append(names, n)
	}
	if len(names) > 0 {
		line += " for " + strings.Join(names, ",")
	}
	b.WriteString(line + "\n")
}

// Read parses the lease file at path. A file that does not exist is no
// lease: (Lease{}, nil), the normal case on first start. A file that does not
// parse returns a *SyntaxError naming path and line; the caller logs it and
// starts without a lease (SPEC section 8: never fatal).
func Read(path string) (Lease, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Lease{}, nil
	}
	if err != nil {
		return Lease{}, fmt.Errorf("read lease: %w", err)
	}
	defer f.Close()
	l, err := Parse(f)
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Path = path
		return Lease{}, se
	}
	if err != nil {
		return Lease{}, fmt.Errorf("read lease %s: %w", path, err)
	}
	return l, nil
}

// Write replaces the lease file at path atomically (see writeAtomic).
func Write(path string, l Lease) error {
	var b bytes.Buffer
	if _, err := l.WriteTo(&b); err != nil {
		return fmt.Errorf("write lease %s: %w", path, err)
	}
	return writeAtomic(path, b.Bytes())
}

// writeAtomic replaces path with data so that a crash at any point leaves
// either the old or the new content, never a mix: write a temporary file in
// the same directory (rename is atomic only within a file system), fsync it,
// rename it over path, then fsync the directory so the rename itself is
// durable. The file's mode is 0600.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp.Name(), err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// FileName is the name of an uplink's lease file in the state directory.
// The "lease." prefix keeps uplinks apart from the other state files (an
// interface could be called "uuid"; OpenBSD names the file after the
// interface alone).
func FileName(uplink string) string {
	return "lease." + uplink
}

// Path is the lease file of uplink in the state directory dir. It refuses a
// name that the kernel would not accept as an interface name
// (dev_valid_name() in net/core/dev.c), so that no name can leave dir.
func Path(dir, uplink string) (string, error) {
	if uplink == "" || len(uplink) >= 16 || uplink == "." || uplink == ".." ||
		strings.ContainsAny(uplink, "/: \t\n\v\f\r\x00") {
		return "", fmt.Errorf("lease file for %q: not an interface name", uplink)
	}
	return filepath.Join(dir, FileName(uplink)), nil
}
