package version

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		tag      string
		settings map[string]string
		want     string
	}{
		{"1.2.0", map[string]string{"vcs.revision": "0123456789abcdef"}, "1.2.0"},
		{"", map[string]string{"module": "v1.3.0"}, "v1.3.0"},
		{"", map[string]string{"vcs.revision": "0123456789abcdef", "vcs.modified": "true"}, "git-0123456789ab-dirty"},
		{"", map[string]string{"vcs.revision": "0123456789abcdef", "vcs.modified": "false"}, "git-0123456789ab"},
		{"", map[string]string{}, "unknown"},
	} {
		if got := describe(tc.tag, tc.settings); got != tc.want {
			t.Errorf("describe(%q, %v) = %q, want %q", tc.tag, tc.settings, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	if got := String("dhcp6leased"); !strings.HasPrefix(got, "dhcp6leased ") || !strings.Contains(got, " (go") {
		t.Errorf("String = %q, want \"dhcp6leased VERSION (goX)\"", got)
	}
}
