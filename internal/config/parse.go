package config

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// ifNameSize is Linux's IFNAMSIZ: names are at most 15 bytes.
	ifNameSize = 16
	// maxSolicitDelay bounds "solicit delay". RFC 8415 section 18.2.1 uses
	// at most SOL_MAX_DELAY (1 s); longer is allowed for slow upstreams.
	maxSolicitDelay = 60 * time.Second
	// maxLinkDelay bounds "link up delay" and "link down delay".
	maxLinkDelay = time.Hour
	// defaultDownDelay is ifplugd's default down delay.
	defaultDownDelay = 5 * time.Second
	// maxErrors stops parsing a file that is mostly not a config.
	maxErrors = 100
)

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a dhcp6leased.conf from r; filename names it in errors. It
// reports every error it finds (up to maxErrors), each as
// "filename:line: message", joined with errors.Join in line order. The Config
// it returns has its defaults filled in, its addressing plans computed and
// its IAIDs assigned.
func Parse(r io.Reader, filename string) (*Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", filename, err)
	}
	p := &parser{
		lex:  newLexer(src),
		file: filename,
		cfg: &Config{
			HostPart:          netip.IPv6Loopback(),
			UnreachableRoute:  true,
			ReconfigureAccept: true,
		},
		uplinks:     make(map[string]*Uplink),
		downstreams: make(map[[2]string]bool),
		seen:        make(map[string]int),
	}
	for !p.tooMany && p.statement() {
	}
	if !p.tooMany {
		p.finish()
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *lineError) int { return cmp.Compare(a.line, b.line) })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return p.cfg, nil
}

// IAID derives the IAID of the IA at index among uplink's IAs: FNV-1a 32
// over the uplink name, a NUL byte and the index in decimal. It depends on
// nothing else, so an IA keeps its IAID across restarts and reloads as long
// as the config keeps it at the same place; Parse steps past a collision.
func IAID(uplink string, index int) uint32 {
	h := fnv.New32a()
	h.Write([]byte(uplink))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(index)))
	return h.Sum32()
}

type lineError struct {
	file string
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

type parser struct {
	lex     *lexer
	file    string
	peeked  *token
	atEOL   bool // the last token read ended a line
	errs    []*lineError
	tooMany bool // maxErrors reached: stop

	cfg         *Config
	uplinks     map[string]*Uplink
	ias         []iaStatement      // in file order
	downstreams map[[2]string]bool // {uplink, downstream} pairs seen
	seen        map[string]int     // statement (and uplink) -> line first given
	settings    []uplinkSetting    // in file order
}

// iaStatement is one "request prefix delegation" and what finish needs to
// check it.
type iaStatement struct {
	ia         *IA
	uplink     *Uplink
	line       int
	entryLines []int // line of each of ia.Entries
	bad        bool  // an entry was refused, so no plan
	address    bool  // "request address": an IA_NA, no plan
}

// uplinkSetting is a statement that may end in "on UPLINK". Globals apply to
// every uplink first; per-uplink ones then override them.
type uplinkSetting struct {
	what   string // the statement, for errors
	uplink string // "" for the global value
	line   int
	apply  func(*Uplink)
}

func (p *parser) errorf(line int, format string, args ...any) {
	if p.tooMany {
		return
	}
	p.errs = append(p.errs, &lineError{file: p.file, line: line, msg: fmt.Sprintf(format, args...)})
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &lineError{file: p.file, line: line, msg: "too many errors, giving up"})
		p.tooMany = true
	}
}

// syntax reports that t is not what the grammar expects here, or t's own
// message when the lexer refused it.
func (p *parser) syntax(t token, expected string) {
	if t.kind == tokError {
		p.errorf(t.line, "%s", t.text)
		return
	}
	p.errorf(t.line, "syntax error near %v: expected %s", t, expected)
}

func (p *parser) next() token {
	var t token
	if p.peeked != nil {
		t, p.peeked = *p.peeked, nil
	} else {
		t = p.lex.next()
	}
	p.atEOL = t.kind == tokNewline || t.kind == tokEOF
	return t
}

func (p *parser) peek() token {
	if p.peeked == nil {
		t := p.lex.next()
		p.peeked = &t
	}
	return *p.peeked
}

// statement parses one line's statement and reports whether there is more
// input. After a syntax error it skips to the end of the line.
func (p *parser) statement() bool {
	t := p.next()
	var ok bool
	switch {
	case t.kind == tokEOF:
		return false
	case t.kind == tokNewline:
		return true
	case t.kind == tokWord && p.peek().isPunct('='):
		ok = p.macro(t)
	case t.is("request"):
		ok = p.request(t)
	case t.is("duid"):
		ok = p.duid(t)
	case t.is("host"):
		ok = p.hostPart(t)
	case t.is("unreachable"):
		ok = p.unreachableRoute(t)
	case t.is("solicit"):
		ok = p.solicitDelay(t)
	case t.is("release"):
		ok = p.releaseOnShutdown(t)
	case t.is("reconfigure"):
		ok = p.reconfigureAccept(t)
	case t.is("link"):
		ok = p.linkDelay(t)
	case t.is("script"):
		ok = p.script(t)
	default:
		p.syntax(t, "a statement")
	}
	if ok {
		if t := p.next(); !p.atEOL {
			p.syntax(t, "end of line")
			ok = false
		}
	}
	for !ok && !p.atEOL {
		p.next()
	}
	return true
}

// words consumes the bare words ws in order.
func (p *parser) words(ws ...string) bool {
	for _, w := range ws {
		if t := p.next(); !t.is(w) {
			p.syntax(t, strconv.Quote(w))
			return false
		}
	}
	return true
}

// value consumes a name or value token.
func (p *parser) value(what string) (token, bool) {
	t := p.next()
	if !t.isName() {
		p.syntax(t, what)
		return t, false
	}
	return t, true
}

// once reports a statement given twice; key names it in the message.
func (p *parser) once(key string, line int) {
	if first, ok := p.seen[key]; ok {
		p.errorf(line, "%s already given at line %d", key, first)
		return
	}
	p.seen[key] = line
}

// macro parses `name = "value" ...`; several words are joined by a blank.
func (p *parser) macro(name token) bool {
	p.next() // "="
	if !name.isName() {
		p.errorf(name.line, "keyword %q cannot be a macro name", name.text)
		return false
	}
	if name.text == "" || strings.ContainsAny(name.text, " \t\r\n\v\f") {
		p.errorf(name.line, "macro name %q cannot be empty or contain blanks", name.text)
		return false
	}
	var vals []string
	for p.peek().isName() {
		vals = append(vals, p.next().text)
	}
	if len(vals) == 0 {
		p.syntax(p.next(), "a macro value")
		return false
	}
	val := strings.Join(vals, " ")
	if len(val) > maxToken {
		p.errorf(name.line, "macro %s: value longer than %d bytes", name.text, maxToken)
		return true
	}
	p.lex.macros[name.text] = val
	return true
}

// request parses "request rapid commit" and
// "request prefix delegation on UPLINK [iaid N] [length L] for LIST".
func (p *parser) request(start token) bool {
	t := p.next()
	switch {
	case t.is("rapid"):
		if !p.words("commit") {
			return false
		}
		p.cfg.RapidCommit = true
		return true
	case t.is("address"):
		return p.requestAddress(start)
	case !t.is("prefix"):
		p.syntax(t, `"rapid", "prefix" or "address"`)
		return false
	}
	if !p.words("delegation", "on") {
		return false
	}
	up, ok := p.value("an uplink interface name")
	if !ok {
		return false
	}
	ia := &IA{}
	if !p.iaid(ia) {
		return false
	}
	if p.peek().is("length") {
		p.next()
		t, ok := p.value("a prefix length")
		if !ok {
			return false
		}
		n, err := strconv.Atoi(t.text)
		if err != nil || n < 1 || n > 128 {
			p.errorf(t.line, "length %q: must be 1..128", t.text)
		}
		ia.HintLen, ia.FixedHint = n, true
	}
	if !p.words("for") {
		return false
	}
	list, ok := p.list()
	if !ok {
		return false
	}
	u := p.uplink(up)
	ia.Index = len(u.IAs)
	st := iaStatement{ia: ia, uplink: u, line: start.line}
	for _, w := range list {
		e, err := parseEntry(w.text)
		if err != nil {
			p.errorf(w.line, "%v", err)
			st.bad = true
			continue
		}
		if e.Name != "" {
			k := [2]string{u.Name, e.Name}
			if p.downstreams[k] {
				p.errorf(w.line, "duplicate downstream interface %s on uplink %s", e.Name, u.Name)
			}
			p.downstreams[k] = true
		}
		st.ia.Entries = append(st.ia.Entries, e)
		st.entryLines = append(st.entryLines, w.line)
	}
	u.IAs = append(u.IAs, st.ia)
	p.ias = append(p.ias, st)
	return true
}

// iaid parses an optional "iaid N" into ia.
func (p *parser) iaid(ia *IA) bool {
	if !p.peek().is("iaid") {
		return true
	}
	p.next()
	t, ok := p.value("an IAID")
	if !ok {
		return false
	}
	id, err := strconv.ParseUint(t.text, 0, 32)
	if err != nil {
		p.errorf(t.line, "iaid %q: not a 32-bit number (decimal or 0x hex)", t.text)
	}
	ia.IAID, ia.FixedIAID = uint32(id), true
	return true
}

// requestAddress parses "request address on UPLINK [iaid N]" (a Linux
// extension): an IA_NA for the uplink itself.
func (p *parser) requestAddress(start token) bool {
	if !p.words("on") {
		return false
	}
	up, ok := p.value("an uplink interface name")
	if !ok {
		return false
	}
	ia := &IA{RequiredLen: 128, HintLen: 128}
	if !p.iaid(ia) {
		return false
	}
	u := p.uplink(up)
	p.once("request address on "+u.Name, start.line)
	u.Address = ia
	p.ias = append(p.ias, iaStatement{ia: ia, uplink: u, line: start.line, address: true})
	return true
}

// list parses `{ entry ... }`, newlines allowed inside, or a single entry.
// After a syntax error inside braces it skips past the closing brace.
func (p *parser) list() ([]token, bool) {
	t := p.next()
	if t.isName() {
		return []token{t}, true
	}
	if !t.isPunct('{') {
		p.syntax(t, `an interface name or "{"`)
		return nil, false
	}
	var list []token
	for {
		t = p.next()
		switch {
		case t.kind == tokNewline:
		case t.isName():
			list = append(list, t)
		case t.isPunct('}') && len(list) > 0:
			return list, true
		default:
			p.syntax(t, `an interface name or "}"`)
			for !t.isPunct('}') && t.kind != tokEOF {
				t = p.next()
			}
			return nil, false
		}
	}
}

// uplink returns the uplink named by t, adding it on first use.
func (p *parser) uplink(t token) *Uplink {
	if u := p.uplinks[t.text]; u != nil {
		return u
	}
	if err := checkIfName(t.text); err != nil {
		p.errorf(t.line, "uplink: %v", err)
	}
	u := &Uplink{Name: t.text, DownDelay: defaultDownDelay}
	p.uplinks[u.Name] = u
	p.cfg.Uplinks = append(p.cfg.Uplinks, u)
	return u
}

// parseEntry reads a list entry, `name[/len]` or `reserve[/len]`.
func parseEntry(s string) (Entry, error) {
	name, plen, hasLen := strings.Cut(s, "/")
	e := Entry{Name: name, PrefixLen: 64}
	if hasLen {
		n, err := strconv.Atoi(plen)
		if err != nil || strings.Trim(plen, "0123456789") != "" || n < 1 || n > 128 {
			return Entry{}, fmt.Errorf("bad prefix length in %q: must be 1..128", s)
		}
		e.PrefixLen = n
	}
	if name == "reserve" {
		e.Name = ""
		return e, nil
	}
	if err := checkIfName(name); err != nil {
		return Entry{}, fmt.Errorf("downstream %q: %w", s, err)
	}
	return e, nil
}

// checkIfName applies Linux's dev_valid_name (net/core/dev.c), and refuses
// backslashes and control characters, which the config cannot quote back.
func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) >= ifNameSize:
		return fmt.Errorf("interface name %q longer than %d bytes", name, ifNameSize-1)
	case name == "." || name == "..":
		return fmt.Errorf("invalid interface name %q", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == 0x7f || c == '/' || c == ':' || c == '\\' {
			return fmt.Errorf("invalid interface name %q: blank, control character, '/', ':' or '\\'", name)
		}
	}
	return nil
}

// duid parses `duid uuid`, `duid ll IF`, `duid llt IF` or `duid HEX`.
func (p *parser) duid(start token) bool {
	t := p.next()
	arg := t
	var kind DUIDKind
	switch {
	case t.is("uuid"):
		kind = DUIDUUID
	case t.is("ll"), t.is("llt"):
		var ok bool
		if arg, ok = p.value("an interface name"); !ok {
			return false
		}
		kind = DUIDLL
		if t.text == "llt" {
			kind = DUIDLLT
		}
	case t.isName():
		kind = DUIDRaw
	default:
		p.syntax(t, `"uuid", "ll", "llt" or a DUID in hex`)
		return false
	}
	p.once("duid", start.line)
	switch kind {
	case DUIDLL, DUIDLLT:
		if err := checkIfName(arg.text); err != nil {
			p.errorf(arg.line, "duid %s: %v", t.text, err)
		}
		p.cfg.DUID = DUIDConfig{Kind: kind, Interface: arg.text}
	case DUIDRaw:
		raw, err := parseDUID(arg.text)
		if err != nil {
			p.errorf(arg.line, "%v", err)
		}
		p.cfg.DUID = DUIDConfig{Kind: kind, Raw: raw}
	default:
		p.cfg.DUID = DUIDConfig{Kind: kind}
	}
	return true
}

// parseDUID reads a DUID in hex, its bytes optionally separated by ':'.
// RFC 8415 section 11.1: a 2-byte type and 1 to 128 bytes after it.
func parseDUID(s string) ([]byte, error) {
	h := s
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		for _, b := range parts {
			if len(b) != 2 {
				return nil, fmt.Errorf("duid %q: bytes separated by ':' must be two hex digits each", s)
			}
		}
		h = strings.Join(parts, "")
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("duid %q: not a hex string", s)
	}
	if len(raw) < 3 || len(raw) > 130 {
		return nil, fmt.Errorf("duid %q: %d bytes, must be 3..130 (type and 1..128 bytes)", s, len(raw))
	}
	return raw, nil
}

// hostPart parses `host part ADDR`.
func (p *parser) hostPart(start token) bool {
	if !p.words("part") {
		return false
	}
	t, ok := p.value("an IPv6 address")
	if !ok {
		return false
	}
	p.once("host part", start.line)
	a, err := netip.ParseAddr(t.text)
	if err != nil || !a.Is6() || a.Zone() != "" {
		p.errorf(t.line, "host part %q: not an IPv6 address", t.text)
		return true
	}
	p.cfg.HostPart = a
	return true
}

// unreachableRoute parses `unreachable route yes|no`.
func (p *parser) unreachableRoute(start token) bool {
	if !p.words("route") {
		return false
	}
	p.once("unreachable route", start.line)
	return p.yesNo(&p.cfg.UnreachableRoute)
}

// releaseOnShutdown parses `release on shutdown yes|no`.
func (p *parser) releaseOnShutdown(start token) bool {
	if !p.words("on", "shutdown") {
		return false
	}
	p.once("release on shutdown", start.line)
	return p.yesNo(&p.cfg.ReleaseOnShutdown)
}

// reconfigureAccept parses `reconfigure accept yes|no`.
func (p *parser) reconfigureAccept(start token) bool {
	if !p.words("accept") {
		return false
	}
	p.once("reconfigure accept", start.line)
	return p.yesNo(&p.cfg.ReconfigureAccept)
}

func (p *parser) yesNo(v *bool) bool {
	t := p.next()
	switch {
	case t.is("yes"):
		*v = true
	case t.is("no"):
		*v = false
	default:
		p.syntax(t, `"yes" or "no"`)
		return false
	}
	return true
}

// solicitDelay parses `solicit delay SECONDS`.
func (p *parser) solicitDelay(start token) bool {
	if !p.words("delay") {
		return false
	}
	t, ok := p.value("seconds")
	if !ok {
		return false
	}
	p.once("solicit delay", start.line)
	d, err := parseSeconds(t.text, maxSolicitDelay)
	if err != nil {
		p.errorf(t.line, "solicit delay: %v", err)
		return true
	}
	p.cfg.SolicitDelay = &d
	return true
}

// linkDelay parses `link up|down delay SECONDS [on UPLINK]`.
func (p *parser) linkDelay(start token) bool {
	dir := p.next()
	if !dir.is("up") && !dir.is("down") {
		p.syntax(dir, `"up" or "down"`)
		return false
	}
	if !p.words("delay") {
		return false
	}
	t, ok := p.value("seconds")
	if !ok {
		return false
	}
	uplink, ok := p.onUplink()
	if !ok {
		return false
	}
	what := "link " + dir.text + " delay"
	d, err := parseSeconds(t.text, maxLinkDelay)
	if err != nil {
		p.errorf(t.line, "%s: %v", what, err)
		return true
	}
	p.perUplink(what, uplink, start.line, func(u *Uplink) {
		if dir.text == "up" {
			u.UpDelay = d
		} else {
			u.DownDelay = d
		}
	})
	return true
}

// script parses `script PATH [on UPLINK]`. Only the form is checked here; the
// parent checks the file itself before running it.
func (p *parser) script(start token) bool {
	t, ok := p.value("a script path")
	if !ok {
		return false
	}
	uplink, ok := p.onUplink()
	if !ok {
		return false
	}
	if !strings.HasPrefix(t.text, "/") || strings.ContainsFunc(t.text, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' }) {
		p.errorf(t.line, "script %q: must be an absolute path without backslashes or control characters", t.text)
		return true
	}
	p.perUplink("script", uplink, start.line, func(u *Uplink) { u.Script = t.text })
	return true
}

// onUplink parses an optional trailing "on UPLINK"; "" means global.
func (p *parser) onUplink() (string, bool) {
	if !p.peek().is("on") {
		return "", true
	}
	p.next()
	t, ok := p.value("an uplink interface name")
	return t.text, ok
}

func (p *parser) perUplink(what, uplink string, line int, apply func(*Uplink)) {
	key := what
	if uplink != "" {
		key += " on " + uplink
	}
	p.once(key, line)
	p.settings = append(p.settings, uplinkSetting{what: what, uplink: uplink, line: line, apply: apply})
}

// parseSeconds reads a non-negative decimal number of seconds, at most max.
func parseSeconds(s string, max time.Duration) (time.Duration, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" ||
		hasFrac && (frac == "" || strings.Trim(frac, "0123456789") != "") {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	d, err := time.ParseDuration(s + "s")
	if err != nil || d > max {
		return 0, fmt.Errorf("%q seconds: must be 0..%v", s, max.Seconds())
	}
	return d, nil
}

// finish applies what needs the whole file: uplink settings, per-IA checks,
// plans and IAIDs.
func (p *parser) finish() {
	for _, s := range p.settings {
		if s.uplink == "" {
			for _, u := range p.cfg.Uplinks {
				s.apply(u)
			}
		}
	}
	for _, s := range p.settings {
		if s.uplink == "" {
			continue
		}
		u := p.uplinks[s.uplink]
		if u == nil {
			p.errorf(s.line, "%s on %s: no prefix delegation is requested on %s", s.what, s.uplink, s.uplink)
			continue
		}
		s.apply(u)
	}
	given := make(map[uint32]int) // IAID -> line
	for _, st := range p.ias {
		p.checkIA(st)
		if !st.ia.FixedIAID {
			continue
		}
		if line, dup := given[st.ia.IAID]; dup {
			p.errorf(st.line, "iaid %#08x already given at line %d (IAIDs are unique across all uplinks, RFC 8415 section 12)", st.ia.IAID, line)
		}
		given[st.ia.IAID] = st.line
	}
	p.cfg.InheritIAIDs(nil)
}

func (p *parser) checkIA(st iaStatement) {
	if st.address {
		return
	}
	if st.ia.Index == MaxIAs {
		p.errorf(st.line, "more than %d prefix delegation requests on uplink %s", MaxIAs, st.uplink.Name)
	}
	for i, e := range st.ia.Entries {
		if p.uplinks[e.Name] != nil {
			p.errorf(st.entryLines[i], "downstream interface %s is an uplink", e.Name)
		}
	}
	if st.bad {
		return
	}
	if err := st.ia.Plan(); err != nil {
		p.errorf(st.line, "uplink %s: %v", st.uplink.Name, err)
		return
	}
	// A host part with no bits inside a sub-prefix would make the
	// Subnet-Router anycast address (RFC 4291 section 2.6.1).
	host := uint128Of(p.cfg.HostPart)
	for _, e := range st.ia.Entries {
		if e.Name != "" && e.PrefixLen < 128 && host.and(lowMask(128-e.PrefixLen)) == (Uint128{}) {
			p.errorf(p.seen["host part"], "host part %s has no host bits in %s's /%d (Subnet-Router anycast)", p.cfg.HostPart, e.Name, e.PrefixLen)
		}
	}
}

// PreviousIA is an IA as it was before: in a lease file, or in the
// configuration a reload replaces.
type PreviousIA struct {
	IAID        uint32
	Downstreams []string
	Address     bool // the uplink's IA_NA
}

// InheritIAIDs gives every IA without a fixed IAID the IAID its uplink's IA
// had before (prev, by uplink name), found by its downstreams, so that
// reordering or inserting request statements does not move prefixes
// between LANs: an IA with the same downstreams first, then the one that
// shares the most of them. The rest get the IAID that IAID derives from
// the uplink name and position. RFC 8415 section 12 requires an IAID
// unique among all of the client's IA_PDs, not per interface (OpenBSD
// numbers the IAs 0, 1, 2 on every uplink, so a server that sees two
// uplinks on one link hands both the same prefix): fixed IAIDs come first,
// inherited ones next, and a derived IAID steps past every one in use, in
// Config order (uplinks by first appearance, then IA index), which Write
// keeps.
func (c *Config) InheritIAIDs(prev map[string][]PreviousIA) {
	used := make(map[uint32]bool)
	for _, u := range c.Uplinks {
		for _, ia := range u.all() {
			if ia.FixedIAID {
				used[ia.IAID] = true
			}
		}
	}
	assigned := make(map[*IA]bool)
	for _, u := range c.Uplinks {
		for _, ia := range inherit(u, prev[u.Name], used) {
			assigned[ia] = true
		}
	}
	for _, u := range c.Uplinks {
		for _, ia := range u.all() {
			if ia.FixedIAID || assigned[ia] {
				continue
			}
			id := IAID(u.Name, ia.Index)
			if ia == u.Address {
				id = addressIAID(u.Name)
			}
			for used[id] {
				id++
			}
			used[id] = true
			ia.IAID = id
		}
	}
}

// addressIAID derives the IAID of an uplink's IA_NA: FNV-1a 32 over the
// uplink name, a NUL byte and "na".
func addressIAID(uplink string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(uplink))
	h.Write([]byte("\x00na"))
	return h.Sum32()
}

// inherit matches u's IAs without a fixed IAID to prev, marks the IAIDs it
// gives in used and returns the IAs it gave one.
func inherit(u *Uplink, prev []PreviousIA, used map[uint32]bool) []*IA {
	var out []*IA
	taken := make([]bool, len(prev))
	give := func(ia *IA, i int) {
		ia.IAID, taken[i], used[prev[i].IAID] = prev[i].IAID, true, true
		out = append(out, ia)
	}
	free := func(i int) bool {
		return !taken[i] && !used[prev[i].IAID] && !prev[i].Address && len(prev[i].Downstreams) > 0
	}
	if a := u.Address; a != nil && !a.FixedIAID {
		// An uplink has one IA_NA: it keeps the IAID it had.
		for i := range prev {
			if prev[i].Address && !used[prev[i].IAID] {
				a.IAID, taken[i], used[prev[i].IAID] = prev[i].IAID, true, true
				out = append(out, a)
				break
			}
		}
	}
	open := func(ia *IA) bool { return !ia.FixedIAID && !slices.Contains(out, ia) }
	for _, ia := range u.IAs {
		names := ia.Downstreams()
		for i := range prev {
			if open(ia) && free(i) && slices.Equal(names, prev[i].Downstreams) {
				give(ia, i)
			}
		}
	}
	for _, ia := range u.IAs {
		best, most := -1, 0
		for i := range prev {
			if n := shared(ia.Downstreams(), prev[i].Downstreams); open(ia) && free(i) && n > most {
				best, most = i, n
			}
		}
		if best >= 0 {
			give(ia, best)
		}
	}
	return out
}

// shared counts the names in both a and b.
func shared(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}
