// Package version says which build a binary is, for --version.
//
// The version is stamped at link time: the Makefile passes
// -ldflags "-X github.com/dhcp6leased/dhcp6leased/internal/version.stamp=$(VERSION)",
// VERSION being `git describe --tags --always --dirty` unless the caller
// sets it (a package build passes the package's version). The Go
// toolchain's own record (runtime/debug.ReadBuildInfo) is only the
// fallback: it knows the module version for `go install module@v1.2.3`,
// but a plain `go build` in a checkout says "(devel)", and its VCS stamp
// is missing whenever GOFLAGS has -buildvcs=false or the tree is a source
// tarball, as in a Debian package build.
package version

import "runtime/debug"

// stamp is set by the linker (-X) and never written at run time: it is a
// build constant, not state.
var stamp string

// String returns the version of this binary.
func String() string {
	bi, _ := debug.ReadBuildInfo()
	return format(stamp, bi)
}

// format picks the version: the linker stamp if any, else the build info's
// module version with its VCS revision when recorded, else "unknown".
func format(stamp string, bi *debug.BuildInfo) string {
	if stamp != "" {
		return stamp
	}
	v := "unknown"
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " (" + s.Value + ")"
		}
	}
	return v
}
