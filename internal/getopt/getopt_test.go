package getopt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"-vv"}, []string{"-v", "-v"}},
		{[]string{"-dnv", "-f", "x"}, []string{"-d", "-n", "-v", "-f", "x"}},
		{[]string{"-ffile.conf"}, []string{"-f", "file.conf"}},
		{[]string{"-nf", "file.conf", "-v"}, []string{"-n", "-f", "file.conf", "-v"}},
		{[]string{"-nffile", "-v"}, []string{"-n", "-f", "file", "-v"}},
		{[]string{"-s", "-vv"}, []string{"-s", "-vv"}}, // value of -s, not a cluster
		{[]string{"-x"}, []string{"-x"}},               // unknown: flag reports it
		{[]string{"-v", "show", "-vv"}, []string{"-v", "show", "-vv"}},
		{[]string{"--", "-vv"}, []string{"--", "-vv"}},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, "dnvEF", "fLsu"); !cmp.Equal(got, tt.want) {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
