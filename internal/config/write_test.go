package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestGolden(t *testing.T) {
	c, err := Load("testdata/example.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		file  string
		write func(io.Writer) error
	}{
		{"write.golden", c.Write},
		{"plan.golden", c.WritePlan},
	} {
		var got bytes.Buffer
		if err := g.write(&got); err != nil {
			t.Fatalf("%s: %v", g.file, err)
		}
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", g.file, diff)
		}
	}
	var written bytes.Buffer
	if err := c.Write(&written); err != nil {
		t.Fatal(err)
	}
	again, err := Parse(&written, "written")
	if err != nil {
		t.Fatalf("Parse(Write): %v", err)
	}
	if diff := writtenDiff(c, again); diff != "" {
		t.Errorf("Parse(Write) (-parsed +reparsed):\n%s", diff)
	}
}

type failingWriter struct{}

var errFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func TestWriteError(t *testing.T) {
	c := cfg(up("eth0", ia(64, ent("lan0", 64, 0))))
	if err := c.Write(failingWriter{}); !errors.Is(err, errFull) {
		t.Errorf("Write error = %v, want %v wrapped", err, errFull)
	}
	if err := c.WritePlan(failingWriter{}); !errors.Is(err, errFull) {
		t.Errorf("WritePlan error = %v, want %v wrapped", err, errFull)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"eth0", "eth0"},
		{"vlan.42/63", "vlan.42/63"},
		{"br-lan", "br-lan"},
		{"for", `"for"`},
		{"-x", `"-x"`},
		{`a"b`, `"a\"b"`},
		{"a$b", `"a$b"`},
		{"a{b", `"a{b"`},
		{"/etc/hook", `"/etc/hook"`},
		{"/a b", `"/a b"`},
		{"été", `"été"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// written back by Write to an equal Config, with plans that keep their
// promises. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(strings.NewReader(in), "fuzz.conf")
		if err != nil {
			return
		}
		var written bytes.Buffer
		if err := c.Write(&written); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(bytes.NewReader(written.Bytes()), "written")
		if err != nil {
			t.Fatalf("Parse(Write): %v\n%s", err, written.String())
		}
		if diff := writtenDiff(c, again); diff != "" {
			t.Fatalf("Parse(Write) (-parsed +reparsed):\n%s\n%s", diff, written.String())
		}
		if err := c.WritePlan(io.Discard); err != nil {
			t.Fatal(err)
		}
		checkPlans(t, c)
	})
}

// checkPlans asserts what a plan promises: in a delegation of exactly the
// required length every entry fits, in list order, without overlap; and no
// two IAs share an IAID.
func checkPlans(t *testing.T, c *Config) {
	t.Helper()
	iaids := make(map[uint32]bool)
	for _, u := range c.Uplinks {
		for _, ia := range u.IAs {
			if iaids[ia.IAID] {
				t.Errorf("IAID %#x used twice", ia.IAID)
			}
			iaids[ia.IAID] = true
			delegated := netip.PrefixFrom(netip.IPv6Unspecified(), ia.RequiredLen)
			var prev netip.Prefix
			for i, e := range ia.Entries {
				sub, ok := SubPrefix(delegated, e)
				if !ok {
					t.Fatalf("%s IA %d: entry %d (%s/%d) does not fit in %v", u.Name, ia.Index, i, e.label(), e.PrefixLen, delegated)
				}
				if i > 0 && (sub.Overlaps(prev) || !prev.Addr().Less(sub.Addr())) {
					t.Fatalf("%s IA %d: entry %d at %v overlaps or precedes %v", u.Name, ia.Index, i, sub, prev)
				}
				prev = sub
			}
		}
	}
}

// TestDocExample keeps docs/CONFIG.md honest: its example config parses and
// its -n -vv sample is what WritePlan prints for that IA.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```")
	example, plan := blocks[1], blocks[len(blocks)-2]
	c, err := Parse(strings.NewReader(example), "CONFIG.md")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	var got bytes.Buffer
	if err := c.WritePlan(&got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.String(), strings.TrimLeft(plan, "\n")) {
		t.Errorf("WritePlan of the example does not contain the documented sample:\n%s\nwant within:\n%s", plan, got.String())
	}
}
