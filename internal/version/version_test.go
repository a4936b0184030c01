package version

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "de6de1b0"}
	tests := []struct {
		name  string
		stamp string
		bi    *debug.BuildInfo
		want  string
	}{
		{"stamp wins", "v1.2-3-gabc", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}}, "v1.2-3-gabc"},
		{"go install", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}}, "v1.0.0"},
		{"checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{rev}}, "unknown (de6de1b0)"},
		{"nothing recorded", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "unknown"},
		{"no build info", "", nil, "unknown"},
	}
	for _, tt := range tests {
		if got := format(tt.stamp, tt.bi); got != tt.want {
			t.Errorf("%s: format = %q, want %q", tt.name, got, tt.want)
		}
	}
}
