package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLexer(t *testing.T) {
	w := func(text string, line int) token { return token{kind: tokWord, text: text, line: line} }
	q := func(text string, line int) token { return token{kind: tokWord, text: text, quoted: true, line: line} }
	nl := func(line int) token { return token{kind: tokNewline, line: line} }
	punct := func(c string, line int) token { return token{kind: tokPunct, text: c, line: line} }
	tests := []struct {
		name   string
		macros map[string]string
		in     string
		want   []token
	}{
		{"words and punctuation", nil, "a=b {c,d}\n", []token{
			w("a", 1), punct("=", 1), w("b", 1), punct("{", 1), w("c", 1), punct(",", 1), w("d", 1), punct("}", 1), nl(1)}},
		{"word characters", nil, "vlan.42/60 ::1 _x a$b -x\n", []token{
			w("vlan.42/60", 1), w("::1", 1), w("_x", 1), w("a$b", 1), punct("-", 1), w("x", 1), nl(1)}},
		{"comment", nil, "a # b c\n# d\ne", []token{w("a", 1), nl(1), nl(2), w("e", 3)}},
		{"continuation counts the line", nil, "a \\\n b\nc\n", []token{w("a", 1), w("b", 2), nl(2), w("c", 3), nl(3)}},
		{"backslash dropped outside quotes", nil, "a\\b c\n", []token{w("ab", 1), w("c", 1), nl(1)}},
		{"quotes", nil, `"a b" 'c"d' "e\"f" "g\ h" "i\j"` + "\n", []token{
			q("a b", 1), q(`c"d`, 1), q(`e"f`, 1), q("g h", 1), q(`i\j`, 1), nl(1)}},
		{"newline inside quotes is dropped", nil, "\"a\nb\" c\n", []token{q("ab", 1), w("c", 2), nl(2)}},
		{"macro joins the word around it", map[string]string{"lan": "eth1"}, "$lan/60 x$lan\n", []token{
			w("eth1/60", 1), w("x$lan", 1), nl(1)}},
		{"macro of several words", map[string]string{"l": "a b"}, "{ $l }\n", []token{
			punct("{", 1), w("a", 1), w("b", 1), punct("}", 1), nl(1)}},
		{"no expansion in quotes or expansions", map[string]string{"x": "$y", "y": "z"}, "\"$y\" $x\n", []token{
			q("$y", 1), punct("$", 1), w("y", 1), nl(1)}},
		{"undefined macro", nil, "$nope x\n", []token{
			{kind: tokError, text: `macro "nope" not defined`, line: 1}, w("x", 1), nl(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLexer([]byte(tt.in))
			for k, v := range tt.macros {
				l.macros[k] = v
			}
			var got []token
			for tok := l.next(); tok.kind != tokEOF; tok = l.next() {
				got = append(got, tok)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(token{})); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
		})
	}
}
