// Package man holds the manual pages, in mdoc(7), and the tests that keep
// them clean and true to the code and to the docs they summarise.
package man

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
)

var pages = []string{"dhcp6leased.8", "dhcp6leased.conf.5", "dhcp6leasectl.8"}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLint: mandoc finds nothing at warning level or above in any page.
func TestLint(t *testing.T) {
	if _, err := exec.LookPath("mandoc"); err != nil {
		t.Skip("mandoc not installed (Debian package mandoc)")
	}
	for _, p := range pages {
		out, err := exec.Command("mandoc", "-Tlint", "-Wwarning", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("mandoc -Tlint -Wwarning %s: %v\n%s", p, err, out)
		}
	}
}

// section returns the text of section name (".Sh NAME") of page.
func section(page, name string) string {
	_, after, ok := strings.Cut(page, "\n.Sh "+name+"\n")
	if !ok {
		return ""
	}
	if end := strings.Index(after, "\n.Sh "); end >= 0 {
		return after[:end+1]
	}
	return after
}

// TestSections: every page has EXAMPLES and FILES.
func TestSections(t *testing.T) {
	for _, p := range pages {
		page := read(t, p)
		for _, s := range []string{"EXAMPLES", "FILES"} {
			if section(page, s) == "" {
				t.Errorf("%s has no %s section", p, s)
			}
		}
	}
}

// literals returns the .Bd -literal displays of text, roff escapes undone.
func literals(text string) []string {
	re := regexp.MustCompile(`(?s)\n\.Bd -literal[^\n]*\n(.*?)\.Ed\n`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, strings.ReplaceAll(m[1], `\e`, `\`))
	}
	return out
}

// TestConfExamples: the configurations in dhcp6leased.conf(5)'s EXAMPLES
// parse, and the plan shown is what `dhcp6leased -n -vv` prints for the
// one before it.
func TestConfExamples(t *testing.T) {
	ex := literals(section(read(t, "dhcp6leased.conf.5"), "EXAMPLES"))
	if len(ex) != 3 {
		t.Fatalf("dhcp6leased.conf.5 EXAMPLES: %d displays, want two configurations and a plan", len(ex))
	}
	var cfg *config.Config
	for i, text := range ex[:2] {
		var err error
		if cfg, err = config.Parse(strings.NewReader(text), "example"); err != nil {
			t.Errorf("example %d: %v\n%s", i+1, err, text)
		}
	}
	if cfg == nil {
		return
	}
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plan.String(), ex[2]) {
		t.Errorf("the plan shown:\n%s\nis not what -n -vv prints:\n%s", ex[2], plan.String())
	}
}

// TestConfExtensions: every Linux extension of docs/CONFIG.md has an entry
// in dhcp6leased.conf(5), and those with a default state it.
func TestConfExtensions(t *testing.T) {
	doc := read(t, "../CONFIG.md")
	_, table, _ := strings.Cut(doc, "| statement | default | meaning |")
	row := regexp.MustCompile("(?m)^\\| `([^`]+)`[^|]*\\|\\s*([^|]*?)\\s*\\|")
	ext := section(read(t, "dhcp6leased.conf.5"), "LINUX EXTENSIONS")
	entries := strings.Split(ext, "\n.It ")
	rows := row.FindAllStringSubmatch(table, -1)
	if len(rows) < 9 {
		t.Fatalf("docs/CONFIG.md: %d extension rows, expected the table of Linux extensions", len(rows))
	}
	for _, r := range rows {
		// The statement's keywords: its words up to the first argument.
		var words []string
		for _, w := range strings.Fields(r[1]) {
			if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
				break
			}
			words = append(words, w)
		}
		key := "Ic " + strings.Join(words, " ")
		var entry string
		for _, e := range entries {
			if strings.HasPrefix(e, key+" ") || strings.HasPrefix(e, key+"\n") {
				entry = e
				break
			}
		}
		switch {
		case entry == "":
			t.Errorf("dhcp6leased.conf.5 LINUX EXTENSIONS has no .It %s (docs/CONFIG.md: %s)", key, r[1])
		case r[2] != "" && !strings.Contains(entry, "efault"):
			t.Errorf("dhcp6leased.conf.5: %s does not state its default, %s", key, r[2])
		}
	}
}

// TestCtlJSONFields: dhcp6leasectl(8) names every JSON field of
// docs/CONTROL.md.
func TestCtlJSONFields(t *testing.T) {
	doc := read(t, "../CONTROL.md")
	page := read(t, "dhcp6leasectl.8")
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_.\\[\\]]+)` \\| (string|number|boolean|array|map|deadline|string or null) \\|")
	rows := row.FindAllStringSubmatch(doc, -1)
	if len(rows) == 0 {
		t.Fatal("docs/CONTROL.md: no field tables")
	}
	for _, r := range rows {
		name := r[1][strings.LastIndexAny(r[1], ".]")+1:]
		if !strings.Contains(page, ".Ql "+name+"\n") && !strings.Contains(page, ".Ql "+name+" ") {
			t.Errorf("dhcp6leasectl.8 does not name the JSON field %s (%s)", name, r[1])
		}
	}
}
