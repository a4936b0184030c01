// Package version names the build both commands report with --version.
package version

import (
	"runtime"
	"runtime/debug"
)

// tag is the release, set at link time by the Makefile
// (-ldflags "-X .../internal/version.tag=$(VERSION)", from git describe
// or debian/changelog); empty in a plain `go build`.
var tag string

// String is "NAME VERSION (GOVERSION)": the linked-in tag, or else the
// VCS revision `go build` stamped into the binary, or else "unknown".
func String(name string) string {
	return name + " " + describe(tag, buildSettings()) + " (" + runtime.Version() + ")"
}

func buildSettings() map[string]string {
	s := make(map[string]string)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			s[kv.Key] = kv.Value
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			s["module"] = bi.Main.Version
		}
	}
	return s
}

// describe picks the version from the link-time tag and the build
// settings.
func describe(tag string, settings map[string]string) string {
	switch rev := settings["vcs.revision"]; {
	case tag != "":
		return tag
	case settings["module"] != "":
		return settings["module"]
	case rev != "":
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += "-dirty"
		}
		return "git-" + rev
	}
	return "unknown"
}
