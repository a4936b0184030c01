package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docField is one row of a field table in docs/CONTROL.md.
type docField struct {
	path  string // "interfaces[].ia_pds[].prefix"; a deadline's fields are bare ("time")
	types []string
}

// docFields reads the tables headed "| field | type | meaning |".
func docFields(t *testing.T) map[string]docField {
	t.Helper()
	f, err := os.Open("../docs/CONTROL.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\|")
	fields := make(map[string]docField)
	inTable := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case line == "| field | type | meaning |":
			inTable = true
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable:
			if m := row.FindStringSubmatch(line); m != nil {
				fields[m[1]] = docField{path: m[1], types: strings.Split(strings.TrimSpace(m[2]), " or ")}
			}
		}
	}
	if len(fields) == 0 {
		t.Fatal("no field tables in docs/CONTROL.md")
	}
	return fields
}

// jsonType names v's type as the docs do.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// walk checks every value in v against the documented fields and records
// which documented paths it met.
func walk(t *testing.T, docs map[string]docField, path string, v any, seen map[string]bool) {
	t.Helper()
	d, ok := docs[path]
	if !ok {
		t.Errorf("JSON field %s is not in docs/CONTROL.md", path)
		return
	}
	seen[path] = true
	got := jsonType(v)
	allowed := slices.ContainsFunc(d.types, func(typ string) bool {
		return typ == got || (got == "object" && (typ == "map" || typ == "deadline")) || (got == "null" && typ == "deadline")
	})
	if !allowed {
		t.Errorf("%s is a JSON %s, docs say %s", path, got, strings.Join(d.types, " or "))
	}
	switch v := v.(type) {
	case []any:
		// Lists hold objects, documented as path[].field, or strings.
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				walkObject(t, docs, path+"[].", m, seen)
			} else if jsonType(e) != "string" {
				t.Errorf("%s holds a %s", path, jsonType(e))
			}
		}
	case map[string]any:
		switch {
		case slices.Contains(d.types, "map"):
			for k, e := range v {
				if jsonType(e) != "number" {
					t.Errorf("%s.%s is a %s, docs say maps count", path, k, jsonType(e))
				}
			}
		case slices.Contains(d.types, "deadline"):
			walkObject(t, docs, "", v, seen)
		default:
			walkObject(t, docs, path+".", v, seen)
		}
	}
}

// walkObject walks each field of m, documented as prefix+name.
func walkObject(t *testing.T, docs map[string]docField, prefix string, m map[string]any, seen map[string]bool) {
	t.Helper()
	for k, v := range m {
		walk(t, docs, prefix+k, v, seen)
	}
}

// TestJSONMatchesDocs: the JSON of the golden fixtures parses, every
// field in it is documented with its type, and every documented field
// appears.
func TestJSONMatchesDocs(t *testing.T) {
	docs := docFields(t)
	seen := make(map[string]bool)
	for _, v := range []any{NewShowInterface(interfaces, now), NewShowStats(stats)} {
		var b bytes.Buffer
		if err := WriteJSON(&b, v); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, b.String())
		}
		walkObject(t, docs, "", doc, seen)
	}
	for path := range docs {
		if !seen[path] {
			t.Errorf("docs/CONTROL.md documents %s, the JSON never has it", path)
		}
	}
}

// TestJSONRoundTrip: what -j prints decodes into the exported types with
// nothing left over, so programs in Go can use them.
func TestJSONRoundTrip(t *testing.T) {
	for name, want := range map[string]any{
		"interface": NewShowInterface(interfaces, now),
		"stats":     NewShowStats(stats),
	} {
		var b bytes.Buffer
		if err := WriteJSON(&b, want); err != nil {
			t.Fatal(err)
		}
		first := b.String()
		dec := json.NewDecoder(&b)
		dec.DisallowUnknownFields()
		var got any
		switch want.(type) {
		case ShowInterface:
			got = new(ShowInterface)
		case ShowStats:
			got = new(ShowStats)
		}
		if err := dec.Decode(got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var again bytes.Buffer
		if err := WriteJSON(&again, got); err != nil {
			t.Fatal(err)
		}
		if again.String() != first {
			t.Errorf("%s: decoding and encoding again changes the JSON:\n%s\nwant:\n%s", name, again.String(), first)
		}
	}
}
