package config

import "fmt"

const (
	// maxToken bounds a word, a quoted string and a macro value, as
	// OpenBSD's lexer bounds them with its 8 KB buffer.
	maxToken = 8192
	// maxExpansion bounds the text all macro expansions add, so that a few
	// lines of macros expanding macros cannot grow a config without bound.
	maxExpansion = 1 << 20
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokNewline
	tokWord  // a bare word or a quoted string
	tokPunct // one character that is not part of a word: = { } and strays
	tokError // a lexical error; text is the message
)

type token struct {
	kind   tokenKind
	text   string
	quoted bool
	line   int
}

// isKeyword reports whether s is one of OpenBSD dhcp6leased's reserved words:
// a bare word spelled like one is never a name. The Linux extension words are
// recognised only where a statement starts, so they stay usable as interface
// and macro names.
func isKeyword(s string) bool {
	switch s {
	case "commit", "delegation", "for", "on", "prefix", "rapid", "request":
		return true
	}
	return false
}

// is reports whether t is the keyword or bare word w.
func (t token) is(w string) bool { return t.kind == tokWord && !t.quoted && t.text == w }

// isPunct reports whether t is the single character c.
func (t token) isPunct(c byte) bool { return t.kind == tokPunct && t.text == string(c) }

// isName reports whether t can stand for a name or a value: any quoted string,
// or a bare word that is not a keyword.
func (t token) isName() bool { return t.kind == tokWord && (t.quoted || !isKeyword(t.text)) }

// String describes t for "syntax error near ..." messages.
func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokNewline:
		return "end of line"
	}
	return fmt.Sprintf("%q", t.text)
}

// char is one input byte and whether it came from a macro expansion; as in
// OpenBSD, "$" in an expansion is not expanded again.
type char struct {
	c        byte
	expanded bool
}

// lexer splits a config into tokens the way OpenBSD's parse.y yylex does:
// blanks separate words, "#" starts a comment, "\" joins lines, '...' and
// "..." quote, "$name" expands a macro in place (so "$lan/60" is one word).
type lexer struct {
	src      []byte
	pos      int
	pushed   []char // read back or expanded input, next character last
	line     int
	macros   map[string]string
	expanded int // bytes added by expansions so far
}

func newLexer(src []byte) *lexer {
	return &lexer{src: src, line: 1, macros: make(map[string]string)}
}

// raw returns the next character with no processing.
func (l *lexer) raw() (char, bool) {
	if n := len(l.pushed); n > 0 {
		c := l.pushed[n-1]
		l.pushed = l.pushed[:n-1]
		return c, true
	}
	if l.pos == len(l.src) {
		return char{}, false
	}
	l.pos++
	return char{c: l.src[l.pos-1]}, true
}

// unread pushes c back to be read next.
func (l *lexer) unread(c char) { l.pushed = append(l.pushed, c) }

// get returns the next character outside quotes: a backslash joins the next
// line, or yields the character after it. A CR before the newline is
// allowed, as everywhere outside quotes.
func (l *lexer) get() (char, bool) {
	for {
		c, ok := l.raw()
		if !ok || c.c != '\\' {
			return c, ok
		}
		next, ok := l.raw()
		if !ok {
			return c, true
		}
		if next.c == '\r' {
			if lf, ok := l.raw(); ok && lf.c == '\n' {
				next = lf
			} else if ok {
				l.unread(lf)
			}
		}
		if next.c != '\n' {
			return next, true
		}
		l.line++
	}
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isPunct(c byte) bool {
	return '!' <= c && c <= '~' && !isAlnum(c)
}

// inWord is OpenBSD's allowed_in_string.
func inWord(c byte) bool {
	switch c {
	case '(', ')', '{', '}', '!', '=', '#', ',':
		return false
	}
	return isAlnum(c) || isPunct(c)
}

func startsWord(c byte) bool { return isAlnum(c) || c == ':' || c == '_' }

func (l *lexer) next() token {
	for {
		c, ok := l.get()
		for ok && (c.c == ' ' || c.c == '\t' || c.c == '\r') {
			c, ok = l.get()
		}
		line := l.line
		if ok && c.c == '#' {
			for ok && c.c != '\n' {
				c, ok = l.get()
			}
		}
		switch {
		case !ok:
			return token{kind: tokEOF, line: line}
		case c.c == '\n':
			l.line++
			return token{kind: tokNewline, line: line}
		case c.c == '$' && !c.expanded:
			if err := l.expand(); err != "" {
				return token{kind: tokError, text: err, line: line}
			}
		case c.c == '"' || c.c == '\'':
			return l.quoted(c.c, line)
		case startsWord(c.c):
			return l.word(c, line)
		default:
			return token{kind: tokPunct, text: string(c.c), line: line}
		}
	}
}

// expand reads a macro name after "$" and pushes its value back as input.
func (l *lexer) expand() string {
	var name []byte
	for {
		c, ok := l.get()
		if !ok {
			break
		}
		if !isAlnum(c.c) && c.c != '_' {
			l.unread(c)
			break
		}
		name = append(name, c.c)
	}
	val, ok := l.macros[string(name)]
	if !ok {
		return fmt.Sprintf("macro %q not defined", name)
	}
	if l.expanded += len(val); l.expanded > maxExpansion {
		return fmt.Sprintf("macro %q: expansions add more than %d bytes to the config", name, maxExpansion)
	}
	for i := len(val) - 1; i >= 0; i-- {
		l.unread(char{c: val[i], expanded: true})
	}
	return ""
}

func (l *lexer) word(first char, line int) token {
	buf := []byte{first.c}
	for {
		c, ok := l.get()
		if !ok {
			break
		}
		if !inWord(c.c) {
			l.unread(c)
			break
		}
		buf = append(buf, c.c)
	}
	if len(buf) > maxToken {
		return token{kind: tokError, text: "word too long", line: line}
	}
	return token{kind: tokWord, text: string(buf), line: line}
}

// quoted reads a string up to the closing quote q. As in OpenBSD, a newline
// inside is dropped, and a backslash escapes the quote, a blank or a newline
// and is kept before anything else.
func (l *lexer) quoted(q byte, line int) token {
	var buf []byte
	bad := ""
	for {
		c, ok := l.raw()
		if !ok {
			return token{kind: tokError, text: "end of file inside a quoted string", line: line}
		}
		switch c.c {
		case q:
			if bad == "" && len(buf) > maxToken {
				bad = "quoted string too long"
			}
			if bad != "" {
				return token{kind: tokError, text: bad, line: line}
			}
			return token{kind: tokWord, text: string(buf), quoted: true, line: line}
		case '\n':
			l.line++
			continue
		case 0:
			bad = "NUL byte in a quoted string"
		case '\\':
			next, ok := l.raw()
			if !ok {
				continue
			}
			switch next.c {
			case q, ' ', '\t':
				c = next
			case '\n':
				l.line++
				continue
			default:
				l.unread(next)
			}
		}
		buf = append(buf, c.c)
	}
}
