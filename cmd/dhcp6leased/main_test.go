package main

import (
	"strings"
	"testing"
)

// TestParseArgs: help on stdout with exit 0, a bad command line's reason
// and the usage once on stderr with exit 1, --version, and a good command
// line that goes on to run.
func TestParseArgs(t *testing.T) {
	tests := []struct {
		args           string
		status         int
		done           bool
		stdout, stderr string
	}{
		{args: "-h", status: 0, done: true, stdout: usage + "\n"},
		{args: "--help", status: 0, done: true, stdout: usage + "\n"},
		{args: "-x", status: 1, done: true, stderr: "dhcp6leased: flag provided but not defined: -x\n" + usage + "\n"},
		{args: "-d extra", status: 1, done: true, stderr: "dhcp6leased: unexpected argument \"extra\"\n" + usage + "\n"},
		{args: "-f", status: 1, done: true, stderr: "dhcp6leased: flag needs an argument: -f\n" + usage + "\n"},
		{args: "-dvv -f /x.conf -Gops"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		cl, status, done := parseArgs(strings.Fields(tt.args), &stdout, &stderr)
		if status != tt.status || done != tt.done || stdout.String() != tt.stdout || stderr.String() != tt.stderr {
			t.Errorf("%q: status %d, done %v, stdout %q, stderr %q; want %d, %v, %q, %q",
				tt.args, status, done, stdout.String(), stderr.String(), tt.status, tt.done, tt.stdout, tt.stderr)
		}
		if !done && (cl.opts.ConfigFile != "/x.conf" || cl.opts.Group != "ops" || cl.opts.Verbose != 2 || !cl.opts.Foreground) {
			t.Errorf("%q: options %+v", tt.args, cl.opts)
		}
	}
	var stdout, stderr strings.Builder
	if _, status, done := parseArgs([]string{"--version"}, &stdout, &stderr); status != 0 || !done ||
		!strings.HasPrefix(stdout.String(), "dhcp6leased ") || strings.Count(stdout.String(), "\n") != 1 || stderr.Len() != 0 {
		t.Errorf("--version: status %d, done %v, stdout %q, stderr %q; want 0 and one line", status, done, stdout.String(), stderr.String())
	}
}
