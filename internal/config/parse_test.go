package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// configDiff compares Configs field by field (netip.Addr by value).
func configDiff(want, got *Config) string {
	return cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}))
}

// writtenDiff compares a Config with what Parse reads back from its Write:
// the same, but every IAID given in the file (Write names them all).
func writtenDiff(parsed, reparsed *Config) string {
	return cmp.Diff(parsed, reparsed, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(IA{}, "FixedIAID"))
}

// cfg returns a Config with Parse's defaults and the given uplinks.
func cfg(uplinks ...*Uplink) *Config {
	return &Config{HostPart: netip.IPv6Loopback(), UnreachableRoute: true, ReconfigureAccept: true, Uplinks: uplinks}
}

// up returns an uplink with the default delays; its IAs get their index and
// their IAID as IAID derives it.
func up(name string, ias ...*IA) *Uplink {
	for i, ia := range ias {
		ia.Index = i
		ia.IAID = IAID(name, i)
	}
	return &Uplink{Name: name, IAs: ias, DownDelay: 5 * time.Second}
}

// ia returns an IA that requires a /required, with the automatic hint:
// required rounded down to a nibble.
func ia(required int, es ...Entry) *IA {
	return &IA{Entries: es, RequiredLen: required, HintLen: max(required&^3, min(required, 4))}
}

// ent returns an entry at an offset counted in /64 units; "" is a reserve.
func ent(name string, plen int, off64 uint64) Entry {
	return Entry{Name: name, PrefixLen: plen, Offset: u64(off64)}
}

// requests returns n "request prefix delegation" lines on uplink, lan0..lanN-1.
func requests(uplink string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "request prefix delegation on %s for lan%d\n", uplink, i)
	}
	return b.String()
}

func TestParse(t *testing.T) {
	thirtyTwo := make([]*IA, MaxIAs)
	for i := range thirtyTwo {
		thirtyTwo[i] = ia(64, ent(fmt.Sprintf("lan%d", i), 64, 0))
	}
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{
			name: "SPEC 4 example",
			in: `# macros
lan = "eth1"
request rapid commit
request prefix delegation on eth0 for { $lan eth2/60 reserve eth3 }
request prefix delegation on eth0 for guest0
`,
			want: func() *Config {
				c := cfg(up("eth0",
					ia(58, ent("eth1", 64, 0), ent("eth2", 60, 16), ent("", 64, 32), ent("eth3", 64, 33)),
					ia(64, ent("guest0", 64, 0))))
				c.RapidCommit = true
				return c
			}(),
		},
		{name: "empty file", in: "", want: cfg()},
		{name: "only comments and blank lines", in: "# nothing\n\n   \t\n# more\n", want: cfg()},
		{
			name: "comments and line continuation",
			in:   "# a comment\n\nrequest prefix \\\n\tdelegation on eth0 for lan0 # trailing comment\n",
			want: cfg(up("eth0", ia(64, ent("lan0", 64, 0)))),
		},
		{
			name: "no newline at the end",
			in:   "request prefix delegation on eth0 for lan0",
			want: cfg(up("eth0", ia(64, ent("lan0", 64, 0)))),
		},
		{
			name: "CRLF line ends and continuation",
			in:   "request rapid commit\r\nrequest prefix \\\r\ndelegation on eth0 for lan0\r\n",
			want: func() *Config {
				c := cfg(up("eth0", ia(64, ent("lan0", 64, 0))))
				c.RapidCommit = true
				return c
			}(),
		},
		{
			name: "quoted names, keywords as quoted names",
			in:   `request prefix delegation on 'for' for { "on" "reserve/60" "x\"y/64" }` + "\n",
			want: cfg(up("for", ia(58, ent("on", 64, 0), ent("", 60, 16), ent(`x"y`, 64, 32)))),
		},
		{
			name: "extension words are names outside their statements",
			in:   "request prefix delegation on link for { up down duid host script yes }\n",
			want: cfg(up("link", ia(61,
				ent("up", 64, 0), ent("down", 64, 1), ent("duid", 64, 2), ent("host", 64, 3),
				ent("script", 64, 4), ent("yes", 64, 5)))),
		},
		{
			name: "macros: several words, joined to a length, redefined, as uplink",
			in: `wan = "eth0"
lans = "lan0 lan1"
big = lan2
request prefix delegation on $wan for { $lans $big/60 }
wan = eth1
request prefix delegation on $wan for $big
`,
			want: cfg(
				up("eth0", ia(59, ent("lan0", 64, 0), ent("lan1", 64, 1), ent("lan2", 60, 16))),
				up("eth1", ia(64, ent("lan2", 64, 0)))),
		},
		{
			name: "newlines inside braces, one IA per statement",
			in: `request prefix delegation on eth0 for {
	lan0/60

	lan1/62
}
request prefix delegation on eth0 for { lan2 }
`,
			want: cfg(up("eth0",
				ia(59, ent("lan0", 60, 0), ent("lan1", 62, 16)),
				ia(64, ent("lan2", 64, 0)))),
		},
		{
			name: "same downstream on two uplinks",
			in:   "request prefix delegation on eth0 for lan0\nrequest prefix delegation on eth1 for lan0\n",
			want: cfg(up("eth0", ia(64, ent("lan0", 64, 0))), up("eth1", ia(64, ent("lan0", 64, 0)))),
		},
		{
			name: "32 IAs on one uplink",
			in:   requests("eth0", MaxIAs),
			want: cfg(up("eth0", thirtyTwo...)),
		},
		{
			name: "global extensions",
			in: `duid ll eth0
host part ::abcd
unreachable route no
solicit delay 0.25
release on shutdown yes
link up delay 1
link down delay 0
script "/etc/dhcp6leased/hook"
request prefix delegation on eth0 for lan0
request prefix delegation on wan1 for lan1
`,
			want: func() *Config {
				eth0, wan1 := up("eth0", ia(64, ent("lan0", 64, 0))), up("wan1", ia(64, ent("lan1", 64, 0)))
				for _, u := range []*Uplink{eth0, wan1} {
					u.UpDelay, u.DownDelay, u.Script = time.Second, 0, "/etc/dhcp6leased/hook"
				}
				c := cfg(eth0, wan1)
				c.DUID = DUIDConfig{Kind: DUIDLL, Interface: "eth0"}
				c.HostPart = netip.MustParseAddr("::abcd")
				c.UnreachableRoute = false
				d := 250 * time.Millisecond
				c.SolicitDelay = &d
				c.ReleaseOnShutdown = true
				return c
			}(),
		},
		{
			name: "per-uplink values override the global one wherever it is",
			in: `link up delay 3 on wan1
script "/usr/local/bin/hook" on eth0
link up delay 1
link down delay 10 on eth0
request prefix delegation on eth0 for lan0
request prefix delegation on wan1 for lan1
`,
			want: func() *Config {
				eth0, wan1 := up("eth0", ia(64, ent("lan0", 64, 0))), up("wan1", ia(64, ent("lan1", 64, 0)))
				eth0.UpDelay, eth0.DownDelay, eth0.Script = time.Second, 10*time.Second, "/usr/local/bin/hook"
				wan1.UpDelay = 3 * time.Second
				return cfg(eth0, wan1)
			}(),
		},
		{
			name: "duid llt, quoted host part, solicit delay 0",
			in:   "duid llt \"eth0\"\nhost part \"::1:2\"\nsolicit delay 0\n",
			want: func() *Config {
				c := cfg()
				c.DUID = DUIDConfig{Kind: DUIDLLT, Interface: "eth0"}
				c.HostPart = netip.MustParseAddr("::1:2")
				c.SolicitDelay = new(time.Duration)
				return c
			}(),
		},
		{
			name: "raw duid with separators",
			in:   "duid 00:04:AA:bb:cc\n",
			want: func() *Config {
				c := cfg()
				c.DUID = DUIDConfig{Kind: DUIDRaw, Raw: []byte{0x00, 0x04, 0xaa, 0xbb, 0xcc}}
				return c
			}(),
		},
		{
			name: "raw duid without separators",
			in:   "duid 000300010a0b0c0d0e0f\n",
			want: func() *Config {
				c := cfg()
				c.DUID = DUIDConfig{Kind: DUIDRaw, Raw: []byte{0, 3, 0, 1, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf}}
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "dhcp6leased.conf")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := configDiff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			// The round trip of -n -v: Write's output parses to the same Config.
			var out bytes.Buffer
			if err := got.Write(&out); err != nil {
				t.Fatalf("Write: %v", err)
			}
			again, err := Parse(&out, "written")
			if err != nil {
				t.Fatalf("Parse(Write): %v\n%s", err, out.String())
			}
			if diff := writtenDiff(got, again); diff != "" {
				t.Errorf("Parse(Write) (-parsed +reparsed):\n%s\n%s", diff, out.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error text
	}{
		{
			name: "duplicate downstream on one uplink",
			in: `request prefix delegation on eth0 for lan0
request prefix delegation on eth1 for lan0
request prefix delegation on eth0 for {
	lan1
	lan0
}
`,
			want: "dhcp6leased.conf:5: duplicate downstream interface lan0 on uplink eth0",
		},
		{
			name: "iaid not a number",
			in:   "request prefix delegation on eth0 iaid 0xfffffffff for lan0\nrequest prefix delegation on eth0 iaid x1 for lan1\n",
			want: "dhcp6leased.conf:1: iaid \"0xfffffffff\": not a 32-bit number (decimal or 0x hex)\n" +
				"dhcp6leased.conf:2: iaid \"x1\": not a 32-bit number (decimal or 0x hex)",
		},
		{
			name: "iaid given twice, across uplinks",
			in:   "request prefix delegation on eth0 iaid 7 for lan0\nrequest prefix delegation on eth1 iaid 0x7 for lan1\n",
			want: "dhcp6leased.conf:2: iaid 0x00000007 already given at line 1 (IAIDs are unique across all uplinks, RFC 8415 section 12)",
		},
		{
			name: "iaid without a value",
			in:   "request prefix delegation on eth0 iaid for lan0\n",
			want: "dhcp6leased.conf:1: syntax error near \"for\": expected an IAID",
		},
		{
			name: "duplicate downstream in one list",
			in:   "request prefix delegation on eth0 for { lan0 reserve reserve lan0 }\n",
			want: "dhcp6leased.conf:1: duplicate downstream interface lan0 on uplink eth0",
		},
		{
			name: "more than 32 IAs",
			in:   requests("eth0", MaxIAs+2),
			want: "dhcp6leased.conf:33: more than 32 prefix delegation requests on uplink eth0",
		},
		{
			name: "bad prefix lengths, all reported",
			in: `request prefix delegation on eth0 for {
	lan0/0
	lan1/129
	lan2/x
	lan3/
	reserve/+1
}
`,
			want: `dhcp6leased.conf:2: bad prefix length in "lan0/0": must be 1..128
dhcp6leased.conf:3: bad prefix length in "lan1/129": must be 1..128
dhcp6leased.conf:4: bad prefix length in "lan2/x": must be 1..128
dhcp6leased.conf:5: bad prefix length in "lan3/": must be 1..128
dhcp6leased.conf:6: bad prefix length in "reserve/+1": must be 1..128`,
		},
		{
			name: "plan needs more than 128 bits",
			in:   "\nrequest prefix delegation on eth0 for { a/1 b/1 c/1 }\n",
			want: "dhcp6leased.conf:2: uplink eth0: addressing plan: c/1 does not fit in 128 bits",
		},
		{
			name: "plan needs a /0",
			in:   "request prefix delegation on eth0 for { a/1 b/2 }\n",
			want: "dhcp6leased.conf:1: uplink eth0: addressing plan needs a /0, more than any delegation can hold",
		},
		{
			name: "unknown macro, and one used before its definition",
			in:   "request prefix delegation on eth0 for $lan\nlan = eth1\nrequest prefix delegation on $wan for $lan\n",
			want: `dhcp6leased.conf:1: macro "lan" not defined
dhcp6leased.conf:3: macro "wan" not defined`,
		},
		{
			name: "keyword as macro name",
			in:   "request = \"eth0\"\n",
			want: `dhcp6leased.conf:1: keyword "request" cannot be a macro name`,
		},
		{
			name: "macro name with a blank",
			in:   "\"a b\" = eth0\n",
			want: `dhcp6leased.conf:1: macro name "a b" cannot be empty or contain blanks`,
		},
		{
			name: "macro without a value",
			in:   "lan =\n",
			want: `dhcp6leased.conf:1: syntax error near end of line: expected a macro value`,
		},
		{
			name: "syntax errors name the token",
			in: `request prefix delegation eth0 for lan0
request rapid
frobnicate eth0
request prefix delegation on eth0 for { lan0, lan1 }
request prefix delegation on eth0 for { }
request prefix delegation on eth0 for { lan0 } lan1
request prefix delegation on eth0 for
request prefix delegation on for for lan0
`,
			want: `dhcp6leased.conf:1: syntax error near "eth0": expected "on"
dhcp6leased.conf:2: syntax error near end of line: expected "commit"
dhcp6leased.conf:3: syntax error near "frobnicate": expected a statement
dhcp6leased.conf:4: syntax error near ",": expected an interface name or "}"
dhcp6leased.conf:5: syntax error near "}": expected an interface name or "}"
dhcp6leased.conf:6: syntax error near "lan1": expected end of line
dhcp6leased.conf:7: syntax error near end of line: expected an interface name or "{"
dhcp6leased.conf:8: syntax error near "for": expected an uplink interface name`,
		},
		{
			name: "recovery skips past the closing brace",
			in: `request prefix delegation on eth0 for {
	lan0 ( lan1
	lan2
}
request prefix delegation on eth0 for lan0/200
`,
			want: `dhcp6leased.conf:2: syntax error near "(": expected an interface name or "}"
dhcp6leased.conf:5: bad prefix length in "lan0/200": must be 1..128`,
		},
		{
			name: "quoted string left open",
			in:   "request prefix delegation on eth0 for \"lan0\n\n",
			want: "dhcp6leased.conf:1: end of file inside a quoted string",
		},
		{
			name: "NUL in a quoted string",
			in:   "request prefix delegation on eth0 for \"lan\x000\"\n",
			want: "dhcp6leased.conf:1: NUL byte in a quoted string",
		},
		{
			name: "downstream equal to an uplink",
			in: `request prefix delegation on eth0 for lan0
request prefix delegation on lan0 for {
	eth1
	eth0
}
request prefix delegation on eth1 for lan1
`,
			want: `dhcp6leased.conf:1: downstream interface lan0 is an uplink
dhcp6leased.conf:3: downstream interface eth1 is an uplink
dhcp6leased.conf:4: downstream interface eth0 is an uplink`,
		},
		{
			name: "invalid interface names",
			in: `request prefix delegation on "eth0:1" for lan0
request prefix delegation on eth0 for { a23456789012345 a234567890123456 "." "a b" }
duid ll "x/y"
`,
			want: `dhcp6leased.conf:1: uplink: invalid interface name "eth0:1": blank, control character, '/', ':' or '\'
dhcp6leased.conf:2: downstream "a234567890123456": interface name "a234567890123456" longer than 15 bytes
dhcp6leased.conf:2: downstream ".": invalid interface name "."
dhcp6leased.conf:2: downstream "a b": invalid interface name "a b": blank, control character, '/', ':' or '\'
dhcp6leased.conf:3: duid ll: invalid interface name "x/y": blank, control character, '/', ':' or '\'`,
		},
		{
			name: "setting on an uplink without a request",
			in:   "link up delay 1 on eth9\nrequest prefix delegation on eth0 for lan0\nscript \"/bin/true\" on eth8\n",
			want: `dhcp6leased.conf:1: link up delay on eth9: no prefix delegation is requested on eth9
dhcp6leased.conf:3: script on eth8: no prefix delegation is requested on eth8`,
		},
		{
			name: "bad duids",
			in: `duid zz0011
duid 0001
duid 00:01:02:0
duid
duid ll
`,
			want: `dhcp6leased.conf:1: duid "zz0011": not a hex string
dhcp6leased.conf:2: duid already given at line 1
dhcp6leased.conf:2: duid "0001": 2 bytes, must be 3..130 (type and 1..128 bytes)
dhcp6leased.conf:3: duid already given at line 1
dhcp6leased.conf:3: duid "00:01:02:0": bytes separated by ':' must be two hex digits each
dhcp6leased.conf:4: syntax error near end of line: expected "uuid", "ll", "llt" or a DUID in hex
dhcp6leased.conf:5: syntax error near end of line: expected an interface name`,
		},
		{
			name: "duid longer than 130 bytes",
			in:   "duid 0004" + strings.Repeat("ab", 129) + "\n",
			want: `dhcp6leased.conf:1: duid "0004` + strings.Repeat("ab", 129) + `": 131 bytes, must be 3..130 (type and 1..128 bytes)`,
		},
		{
			name: "bad host parts",
			in:   "host part 192.0.2.1\nhost part fe80::1%eth0\nhost part \"::1 \"\n",
			want: `dhcp6leased.conf:1: host part "192.0.2.1": not an IPv6 address
dhcp6leased.conf:2: host part already given at line 1
dhcp6leased.conf:2: host part "fe80::1%eth0": not an IPv6 address
dhcp6leased.conf:3: host part already given at line 1
dhcp6leased.conf:3: host part "::1 ": not an IPv6 address`,
		},
		{
			name: "host part without host bits",
			in:   "request prefix delegation on eth0 for { lan0 lan1/60 lan2/128 }\n\nhost part 2001:db8::\n",
			want: `dhcp6leased.conf:3: host part 2001:db8:: has no host bits in lan0's /64 (Subnet-Router anycast)
dhcp6leased.conf:3: host part 2001:db8:: has no host bits in lan1's /60 (Subnet-Router anycast)`,
		},
		{
			name: "bad delays",
			in: `solicit delay 61
solicit delay 1e3
solicit delay -1
solicit delay 1.
link up delay 3601
link sideways delay 1
link down delay 1 on
unreachable route maybe
release on shutdown
`,
			want: `dhcp6leased.conf:1: solicit delay: "61" seconds: must be 0..60
dhcp6leased.conf:2: solicit delay already given at line 1
dhcp6leased.conf:2: solicit delay: "1e3" is not a number of seconds
dhcp6leased.conf:3: syntax error near "-": expected seconds
dhcp6leased.conf:4: solicit delay already given at line 1
dhcp6leased.conf:4: solicit delay: "1." is not a number of seconds
dhcp6leased.conf:5: link up delay: "3601" seconds: must be 0..3600
dhcp6leased.conf:6: syntax error near "sideways": expected "up" or "down"
dhcp6leased.conf:7: syntax error near end of line: expected an uplink interface name
dhcp6leased.conf:8: syntax error near "maybe": expected "yes" or "no"
dhcp6leased.conf:9: syntax error near end of line: expected "yes" or "no"`,
		},
		{
			name: "bad scripts",
			in:   "script \"hook.sh\"\nscript /bin/true\nscript \"/a\\b\"\n",
			want: `dhcp6leased.conf:1: script "hook.sh": must be an absolute path without backslashes or control characters
dhcp6leased.conf:2: syntax error near "/": expected a script path
dhcp6leased.conf:3: script "/a\\b": must be an absolute path without backslashes or control characters`,
		},
		{
			name: "settings given twice",
			in: `request prefix delegation on eth0 for lan0
link up delay 1
link up delay 2 on eth0
link up delay 3 on eth0
unreachable route yes
unreachable route no
release on shutdown no
release on shutdown no
script "/a"
script "/b"
`,
			want: `dhcp6leased.conf:4: link up delay on eth0 already given at line 3
dhcp6leased.conf:6: unreachable route already given at line 5
dhcp6leased.conf:8: release on shutdown already given at line 7
dhcp6leased.conf:10: script already given at line 9`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.in), "dhcp6leased.conf")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	var garbage strings.Builder
	for range 2 * maxErrors {
		garbage.WriteString("x\n")
	}
	reserves := strings.TrimSpace(strings.Repeat("reserve ", 1000)) // 7999 bytes
	tests := []struct {
		name, in, wantLast string
		wantLines          int
	}{
		{
			name:      "error count",
			in:        garbage.String(),
			wantLast:  "dhcp6leased.conf:100: too many errors, giving up",
			wantLines: maxErrors + 1,
		},
		{
			// 131 expansions of 7999 bytes fit in 1 MiB, the 132nd
			// (line 134) does not.
			name:      "expansion size",
			in:        "m = \"" + reserves + "\"\nrequest prefix delegation on eth0 for {\n" + strings.Repeat("$m\n", 200) + "}\n",
			wantLast:  `dhcp6leased.conf:134: macro "m": expansions add more than 1048576 bytes to the config`,
			wantLines: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), "dhcp6leased.conf")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != tt.wantLines || lines[len(lines)-1] != tt.wantLast {
				t.Errorf("got %d error lines ending %q, want %d ending %q", len(lines), lines[len(lines)-1], tt.wantLines, tt.wantLast)
			}
		})
	}
}

func TestIAID(t *testing.T) {
	// Pinned: lease files keep IAIDs, so the derivation must never change.
	// FNV-1a 32 of "eth0\x000" and "eth0\x001".
	if got := IAID("eth0", 0); got != 0xa0260c94 {
		t.Errorf("IAID(eth0, 0) = %#x, want 0xa0260c94", got)
	}
	if got := IAID("eth0", 1); got != 0xa1260e27 {
		t.Errorf("IAID(eth0, 1) = %#x, want 0xa1260e27", got)
	}
}

func TestIAIDCollision(t *testing.T) {
	// FNV-1a 32 collides crosswise on these two uplinks' first two IAs.
	if IAID("up6204", 0) != IAID("ppp11268", 1) || IAID("up6204", 1) != IAID("ppp11268", 0) {
		t.Fatal("test uplink names no longer collide")
	}
	in := `request prefix delegation on ppp11268 for c
request prefix delegation on up6204 for a
request prefix delegation on up6204 for b
request prefix delegation on ppp11268 for d
`
	c, err := Parse(strings.NewReader(in), "dhcp6leased.conf")
	if err != nil {
		t.Fatal(err)
	}
	// ppp11268 appears first, so it keeps its derived IAIDs and up6204 steps.
	want := map[string][]uint32{
		"ppp11268": {IAID("ppp11268", 0), IAID("ppp11268", 1)},
		"up6204":   {IAID("ppp11268", 1) + 1, IAID("ppp11268", 0) + 1},
	}
	got := make(map[string][]uint32)
	for _, u := range c.Uplinks {
		for _, ia := range u.IAs {
			got[u.Name] = append(got[u.Name], ia.IAID)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IAIDs (-want +got):\n%s", diff)
	}
}

// iaids returns c's IAIDs by uplink.
func iaids(c *Config) map[string][]uint32 {
	got := make(map[string][]uint32)
	for _, u := range c.Uplinks {
		for _, ia := range u.IAs {
			got[u.Name] = append(got[u.Name], ia.IAID)
		}
	}
	return got
}

// A given IAID is used as it is, and the derived ones step past it.
func TestFixedIAID(t *testing.T) {
	in := fmt.Sprintf("request prefix delegation on eth0 for lan0\nrequest prefix delegation on eth1 iaid %d for lan1\n", IAID("eth0", 0))
	c, err := Parse(strings.NewReader(in), "dhcp6leased.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]uint32{"eth0": {IAID("eth0", 0) + 1}, "eth1": {IAID("eth0", 0)}}
	if diff := cmp.Diff(want, iaids(c)); diff != "" {
		t.Errorf("IAIDs (-want +got):\n%s", diff)
	}
}

// SPEC 4: IAIDs stay with their IAs when the configuration is reordered or
// an IA is inserted before them; an IA is found by its downstreams.
func TestInheritIAIDs(t *testing.T) {
	const before = `request prefix delegation on eth0 for { lan0 lan1 }
request prefix delegation on eth0 for guest0
request prefix delegation on eth1 for lab0
`
	old, err := Parse(strings.NewReader(before), "before.conf")
	if err != nil {
		t.Fatal(err)
	}
	prev := make(map[string][]PreviousIA)
	for _, u := range old.Uplinks {
		for _, ia := range u.IAs {
			prev[u.Name] = append(prev[u.Name], PreviousIA{IAID: ia.IAID, Downstreams: ia.Downstreams()})
		}
	}
	was := iaids(old)
	tests := []struct {
		name string
		in   string
		want map[string][]uint32
	}{{
		name: "reordered",
		in: `request prefix delegation on eth1 for lab0
request prefix delegation on eth0 for guest0
request prefix delegation on eth0 for { lan0 lan1 }
`,
		want: map[string][]uint32{"eth0": {was["eth0"][1], was["eth0"][0]}, "eth1": was["eth1"]},
	}, {
		name: "an IA inserted first, a downstream added to another",
		in: `request prefix delegation on eth0 for iot0
request prefix delegation on eth0 for { lan0 lan1 lan2 }
request prefix delegation on eth0 for guest0
request prefix delegation on eth1 for lab0
`,
		// iot0's IA is new: it derives the IAID of position 0, which
		// { lan0 lan1 } holds, and steps past it and guest0's.
		want: map[string][]uint32{"eth0": {nextFree(IAID("eth0", 0), was["eth0"]...), was["eth0"][0], was["eth0"][1]}, "eth1": was["eth1"]},
	}, {
		name: "a fixed IAID wins over the inherited one",
		in: fmt.Sprintf(`request prefix delegation on eth0 for { lan0 lan1 }
request prefix delegation on eth0 for guest0
request prefix delegation on eth1 iaid %d for lab0
`, was["eth0"][1]),
		want: map[string][]uint32{"eth0": {was["eth0"][0], nextFree(IAID("eth0", 1), was["eth0"][0], was["eth0"][1])}, "eth1": {was["eth0"][1]}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.in), "after.conf")
			if err != nil {
				t.Fatal(err)
			}
			c.InheritIAIDs(prev)
			if diff := cmp.Diff(tt.want, iaids(c)); diff != "" {
				t.Errorf("IAIDs (-want +got):\n%s", diff)
			}
		})
	}
}

// nextFree returns id, or the first value after it not in used.
func nextFree(id uint32, used ...uint32) uint32 {
	for slices.Contains(used, id) {
		id++
	}
	return id
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("request prefix delegation on eth0 for lan0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if diff := configDiff(cfg(up("eth0", ia(64, ent("lan0", 64, 0)))), c); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("\nrequest prefix\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if want := bad + `:2: syntax error near end of line: expected "delegation"`; err == nil || err.Error() != want {
		t.Errorf("Load(%s) error = %v, want %q", bad, err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.conf"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestUplinkLookup(t *testing.T) {
	in := `request prefix delegation on eth0 for { lan0 reserve lan1/60 }
request prefix delegation on eth1 for lan0
request prefix delegation on eth0 for { reserve/56 guest0 }
`
	c, err := Parse(strings.NewReader(in), "dhcp6leased.conf")
	if err != nil {
		t.Fatal(err)
	}
	if u := c.Uplink("eth9"); u != nil {
		t.Errorf("Uplink(eth9) = %+v, want nil", u)
	}
	tests := []struct {
		uplink string
		want   []string
	}{
		{"eth0", []string{"lan0", "lan1", "guest0"}},
		{"eth1", []string{"lan0"}},
	}
	for _, tt := range tests {
		u := c.Uplink(tt.uplink)
		if u == nil || u.Name != tt.uplink {
			t.Fatalf("Uplink(%s) = %+v", tt.uplink, u)
		}
		if diff := cmp.Diff(tt.want, u.Downstreams()); diff != "" {
			t.Errorf("%s Downstreams (-want +got):\n%s", tt.uplink, diff)
		}
	}
}

func TestReconfigureAccept(t *testing.T) {
	c, err := Parse(strings.NewReader("reconfigure accept no\nrequest prefix delegation on eth0 for lan0\n"), "r.conf")
	if err != nil || c.ReconfigureAccept {
		t.Errorf("reconfigure accept no: %v, accept %v", err, c != nil && c.ReconfigureAccept)
	}
	if _, err := Parse(strings.NewReader("reconfigure accept no\nreconfigure accept yes\n"), "r.conf"); err == nil ||
		!strings.Contains(err.Error(), "r.conf:2: reconfigure accept already given at line 1") {
		t.Errorf("given twice: %v", err)
	}
}

// "request address on UPLINK": an IA_NA for the uplink, its IAID derived
// apart from the IA_PDs' and kept across a Write.
func TestRequestAddress(t *testing.T) {
	in := "request prefix delegation on eth0 for lan0\nrequest address on eth0\nrequest address on ppp0 iaid 9\n"
	c, err := Parse(strings.NewReader(in), "a.conf")
	if err != nil {
		t.Fatal(err)
	}
	eth0, ppp0 := c.Uplink("eth0"), c.Uplink("ppp0")
	if eth0.Address == nil || eth0.Address.IAID != addressIAID("eth0") || eth0.Address.IAID == eth0.IAs[0].IAID {
		t.Errorf("eth0 address %+v, IA_PD IAID %#x", eth0.Address, eth0.IAs[0].IAID)
	}
	if ppp0.Address == nil || ppp0.Address.IAID != 9 || len(ppp0.IAs) != 0 {
		t.Errorf("ppp0 %+v", ppp0)
	}
	var w bytes.Buffer
	if err := c.Write(&w); err != nil {
		t.Fatal(err)
	}
	again, err := Parse(&w, "written")
	if err != nil {
		t.Fatalf("Parse(Write): %v\n%s", err, w.String())
	}
	if diff := writtenDiff(c, again); diff != "" {
		t.Errorf("Parse(Write) (-parsed +reparsed):\n%s", diff)
	}
	// Inherited from a lease file's ia_na.
	c.InheritIAIDs(map[string][]PreviousIA{"eth0": {{IAID: 77, Address: true}}})
	if eth0.Address.IAID != 77 {
		t.Errorf("inherited IA_NA IAID %#x, want 0x4d", eth0.Address.IAID)
	}
	if _, err := Parse(strings.NewReader("request address on eth0\nrequest address on eth0\n"), "a.conf"); err == nil ||
		!strings.Contains(err.Error(), "a.conf:2: request address on eth0 already given at line 1") {
		t.Errorf("twice: %v", err)
	}
}
