// Package getopt rewrites POSIX-style clustered short options ("-vv",
// "-dnv", "-ffile") into the one-flag-per-argument form the standard flag
// package parses, so both commands accept the command lines OpenBSD's
// getopt(3) does.
package getopt

import "strings"

// Expand splits every option cluster in args. boolFlags lists the letters
// that take no value, valueFlags those that do: in a cluster, the first
// value flag takes the rest of the cluster as its value ("-ffile"), or the
// next argument. Expansion stops at "--" or the first non-option; a cluster
// with an unknown letter is left alone for flag to report.
func Expand(args []string, boolFlags, valueFlags string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' || a[1] == '-' {
			return append(out, args[i:]...)
		}
		split, ok := cluster(a[1:], boolFlags, valueFlags)
		if !ok {
			out = append(out, a)
			continue
		}
		out = append(out, split...)
		// A value flag at the end of the cluster takes the next argument.
		if last := a[len(a)-1]; strings.IndexByte(valueFlags, last) >= 0 && split[len(split)-1] == "-"+string(last) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

func cluster(c, boolFlags, valueFlags string) ([]string, bool) {
	var out []string
	for j := 0; j < len(c); j++ {
		switch {
		case strings.IndexByte(boolFlags, c[j]) >= 0:
			out = append(out, "-"+c[j:j+1])
		case strings.IndexByte(valueFlags, c[j]) >= 0:
			out = append(out, "-"+c[j:j+1])
			if rest := c[j+1:]; rest != "" {
				out = append(out, rest)
			}
			return out, true
		default:
			return nil, false
		}
	}
	return out, true
}
