package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entries builds a list from "name/len" words; "reserve" makes a hole.
func entries(words ...string) []Entry {
	es := make([]Entry, 0, len(words))
	for _, w := range words {
		name, plen, _ := strings.Cut(w, "/")
		e := Entry{Name: name, PrefixLen: 64}
		if name == "reserve" {
			e.Name = ""
		}
		if plen != "" {
			n, err := strconv.Atoi(plen)
			if err != nil {
				panic(fmt.Sprintf("test list entry %q: %v", w, err))
			}
			e.PrefixLen = n
		}
		es = append(es, e)
	}
	return es
}

// u64 is an offset counted in /64 units.
func u64(n uint64) Uint128 { return Uint128{Hi: n} }

func TestPlan(t *testing.T) {
	thirtyTwo := make([]string, 32)
	thirtyTwoOffsets := make([]Uint128, 32)
	for i := range thirtyTwo {
		thirtyTwo[i] = fmt.Sprintf("lan%d", i)
		thirtyTwoOffsets[i] = u64(uint64(i))
	}
	tests := []struct {
		name     string
		list     []string
		required int
		offsets  []Uint128
	}{
		// The three examples of SPEC 5.
		{"two /64", []string{"a", "b"}, 63, []Uint128{u64(0), u64(1)}},
		{"/64 then /60", []string{"a/64", "b/60"}, 59, []Uint128{u64(0), u64(16)}},
		{"reserve in the middle", []string{"a", "reserve", "b"}, 62, []Uint128{u64(0), u64(1), u64(2)}},

		{"single /48", []string{"a/48"}, 48, []Uint128{u64(0)}},
		{"single /64", []string{"a"}, 64, []Uint128{u64(0)}},
		{"/60 /64 /62", []string{"a/60", "b/64", "c/62"}, 59, []Uint128{u64(0), u64(16), u64(20)}},
		{"/64 /62 /60", []string{"a/64", "b/62", "c/60"}, 59, []Uint128{u64(0), u64(4), u64(16)}},
		{"/62 /64 /64 /60", []string{"a/62", "b/64", "c/64", "d/60"}, 59, []Uint128{u64(0), u64(4), u64(5), u64(16)}},
		{"/60 then /64", []string{"a/60", "b/64"}, 59, []Uint128{u64(0), u64(16)}},
		{"/48 then /64", []string{"a/48", "b/64"}, 47, []Uint128{u64(0), u64(1 << 16)}},
		{"reserve /56 first", []string{"reserve/56", "a"}, 55, []Uint128{u64(0), u64(256)}},
		{"32 entries", thirtyTwo, 59, thirtyTwoOffsets},
		{"below /64", []string{"a/64", "b/127", "c/128"}, 63, []Uint128{u64(0), u64(1), {Hi: 1, Lo: 2}}},
		{"two /128", []string{"a/128", "b/128"}, 127, []Uint128{{}, {Lo: 1}}},
		{"crossing the 64-bit boundary", []string{"a/65", "b/65", "c/65"}, 63, []Uint128{{}, {Lo: 1 << 63}, u64(1)}},
		{"two /2", []string{"a/2", "b/2"}, 1, []Uint128{{}, {Hi: 1 << 62}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ia := &IA{Entries: entries(tt.list...)}
			if err := ia.Plan(); err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if ia.RequiredLen != tt.required {
				t.Errorf("RequiredLen = %d, want %d", ia.RequiredLen, tt.required)
			}
			var got []Uint128
			for _, e := range ia.Entries {
				got = append(got, e.Offset)
			}
			if diff := cmp.Diff(tt.offsets, got); diff != "" {
				t.Errorf("offsets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		list []Entry
		want string
	}{
		{"empty", nil, "addressing plan: no entries"},
		{"length 0", entries("a/0"), "addressing plan: a/0: prefix length must be 1..128"},
		{"length 129", entries("a", "reserve/129"), "addressing plan: reserve/129: prefix length must be 1..128"},
		{"needs a /0", entries("a/1", "b/1"), "addressing plan needs a /0, more than any delegation can hold"},
		{"overflows", entries("a/1", "b/1", "c/1"), "addressing plan: c/1 does not fit in 128 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ia := &IA{Entries: tt.list}
			err := ia.Plan()
			if err == nil || err.Error() != tt.want {
				t.Errorf("Plan error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSubPrefix(t *testing.T) {
	// { a/64 b/60 c/62 }: a at 0, b at 16, c at 32 (in /64 units); needs /58.
	ia := &IA{Entries: entries("a/64", "b/60", "c/62")}
	if err := ia.Plan(); err != nil {
		t.Fatal(err)
	}
	a, b, c := ia.Entries[0], ia.Entries[1], ia.Entries[2]
	tests := []struct {
		name      string
		delegated string
		e         Entry
		want      string // "" when it does not fit
	}{
		{"exact, first", "2001:db8::/58", a, "2001:db8::/64"},
		{"exact, second", "2001:db8::/58", b, "2001:db8:0:10::/60"},
		{"exact, third", "2001:db8::/58", c, "2001:db8:0:20::/62"},
		{"shorter than required uses its start", "2001:db8:100::/48", c, "2001:db8:100:20::/62"},
		{"host bits in the delegation are ignored", "2001:db8::ff/58", b, "2001:db8:0:10::/60"},
		{"too small: first fits", "2001:db8:0:40::/60", a, "2001:db8:0:40::/64"},
		{"too small: offset outside", "2001:db8:0:40::/60", b, ""},
		{"too small: /59 holds the second", "2001:db8:0:40::/59", b, "2001:db8:0:50::/60"},
		{"too small: third outside a /59", "2001:db8:0:40::/59", c, ""},
		{"entry bigger than the delegation", "2001:db8::/61", Entry{Name: "x", PrefixLen: 60}, ""},
		{"entry as big as the delegation", "2001:db8::/60", Entry{Name: "x", PrefixLen: 60}, "2001:db8::/60"},
		{"/0 holds anything", "::/0", Entry{Name: "x", PrefixLen: 1, Offset: Uint128{Hi: 1 << 63}}, "8000::/1"},
		{"IPv4 delegation", "192.0.2.0/24", a, ""},
		{"zero delegation", "", a, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var delegated netip.Prefix
			if tt.delegated != "" {
				delegated = netip.MustParsePrefix(tt.delegated)
			}
			got, ok := SubPrefix(delegated, tt.e)
			if tt.want == "" {
				if ok {
					t.Errorf("SubPrefix(%v, %+v) = %v, true; want no fit", delegated, tt.e, got)
				}
				return
			}
			if want := netip.MustParsePrefix(tt.want); !ok || got != want {
				t.Errorf("SubPrefix(%v, %+v) = %v, %v; want %v, true", delegated, tt.e, got, ok, want)
			}
		})
	}
}

func TestHostAddress(t *testing.T) {
	tests := []struct {
		sub, host, want string
	}{
		{"2001:db8:0:1::/64", "::1", "2001:db8:0:1::1/64"},
		{"2001:db8:0:1::/64", "", "2001:db8:0:1::1/64"}, // zero host part: ::1
		{"2001:db8:0:10::/60", "::1", "2001:db8:0:10::1/60"},
		{"2001:db8:0:10::/60", "::5:0:0:0:1", "2001:db8:0:15::1/60"}, // host bits above /64 count on a /60
		{"2001:db8:0:1::/64", "ffff:ffff::abcd:1", "2001:db8:0:1::abcd:1/64"},
		{"2001:db8:0:1::/64", "::a:b:c:d", "2001:db8:0:1:a:b:c:d/64"},
		{"2001:db8:0:1::99/64", "::1", "2001:db8:0:1::1/64"}, // sub's own host bits are replaced
		{"2001:db8::7/128", "::1", "2001:db8::7/128"},
		{"2001:db8::/127", "::1", "2001:db8::1/127"},
	}
	for _, tt := range tests {
		var host netip.Addr
		if tt.host != "" {
			host = netip.MustParseAddr(tt.host)
		}
		sub := netip.MustParsePrefix(tt.sub)
		if got, want := HostAddress(sub, host), netip.MustParsePrefix(tt.want); got != want {
			t.Errorf("HostAddress(%v, %v) = %v, want %v", sub, host, got, want)
		}
	}
}

// The Solicit hint: the plan's length rounded down to a nibble, or the
// "length" given.
func TestHintLen(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"request prefix delegation on eth0 for { a b }", 60},                  // needs /63
		{"request prefix delegation on eth0 for a", 64},                        // needs /64
		{"request prefix delegation on eth0 for { a/64 b/60 }", 56},            // needs /59
		{"request prefix delegation on eth0 for a/56", 56},                     // needs /56
		{"request prefix delegation on eth0 for a/3", 3},                       // needs /3: no nibble below
		{"request prefix delegation on eth0 length 48 for { a b }", 48},        // given
		{"request prefix delegation on eth0 length 62 for { a b }", 62},        // given, finer than a nibble
		{"request prefix delegation on eth0 iaid 5 length 56 for { a b }", 56}, // with iaid
	} {
		c, err := Parse(strings.NewReader(tt.in+"\n"), "hint.conf")
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := c.Uplinks[0].IAs[0].HintLen; got != tt.want {
			t.Errorf("%s: hint /%d, want /%d", tt.in, got, tt.want)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"request prefix delegation on eth0 length 64 for { a b }", "hint.conf:1: uplink eth0: length /64 cannot hold the plan, which needs /63 or shorter"},
		{"request prefix delegation on eth0 length 0 for a", "hint.conf:1: length \"0\": must be 1..128"},
		{"request prefix delegation on eth0 length x for a", "hint.conf:1: length \"x\": must be 1..128"},
	} {
		_, err := Parse(strings.NewReader(bad.in+"\n"), "hint.conf")
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

// RFC 6603: an excluded prefix is never a downstream's; the plan steps over
// it.
func TestSubPrefixesExcluding(t *testing.T) {
	mustIA := func(es ...Entry) *IA {
		ia := &IA{Entries: es}
		if err := ia.Plan(); err != nil {
			t.Fatal(err)
		}
		return ia
	}
	e := func(name string, plen int) Entry { return Entry{Name: name, PrefixLen: plen} }
	p := netip.MustParsePrefix
	for _, tt := range []struct {
		name                string
		ia                  *IA
		delegated, excluded string
		want                []string // "" for no fit
	}{
		{"none", mustIA(e("a", 64), e("b", 64)), "2001:db8:100::/56", "", []string{"2001:db8:100::/64", "2001:db8:100:1::/64"}},
		{"the first /64", mustIA(e("a", 64), e("b", 64)), "2001:db8:100::/56", "2001:db8:100::/64",
			[]string{"2001:db8:100:1::/64", "2001:db8:100:2::/64"}},
		{"in the middle", mustIA(e("a", 64), e("b", 64), e("c", 64)), "2001:db8:100::/56", "2001:db8:100:1::/64",
			[]string{"2001:db8:100::/64", "2001:db8:100:2::/64", "2001:db8:100:3::/64"}},
		{"inside a bigger entry", mustIA(e("a", 60), e("b", 64)), "2001:db8:100::/56", "2001:db8:100:3::/64",
			[]string{"2001:db8:100:10::/60", "2001:db8:100:20::/64"}},
		{"a reserve takes it", mustIA(Entry{PrefixLen: 64}, e("b", 64)), "2001:db8:100::/56", "2001:db8:100::/64",
			[]string{"2001:db8:100:1::/64", "2001:db8:100:2::/64"}},
		{"the last one no longer fits", mustIA(e("a", 64), e("b", 64)), "2001:db8:100::/63", "2001:db8:100::/64",
			[]string{"2001:db8:100:1::/64", ""}},
		{"outside the delegation: ignored", mustIA(e("a", 64)), "2001:db8:100::/56", "2001:db8:200::/64", []string{"2001:db8:100::/64"}},
		{"not longer than the delegation: ignored", mustIA(e("a", 64)), "2001:db8:100::/56", "2001:db8:100::/56", []string{"2001:db8:100::/64"}},
	} {
		var ex netip.Prefix
		if tt.excluded != "" {
			ex = p(tt.excluded)
		}
		got := tt.ia.SubPrefixes(p(tt.delegated), ex)
		var gs []string
		for _, g := range got {
			if g.IsValid() {
				gs = append(gs, g.String())
			} else {
				gs = append(gs, "")
			}
		}
		if !slices.Equal(gs, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, gs, tt.want)
		}
	}
}
