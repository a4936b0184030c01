package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// runDaemon runs dhcp6leased with args to completion and returns its
// combined output and exit code.
func runDaemon(t *testing.T, cred *syscall.Credential, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bins.Daemon, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	// Readable by the unprivileged users that run -n: t.TempDir's parent
	// is private.
	dir, err := os.MkdirTemp("", "dhcp6leased-conf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "dhcp6leased.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckConfig: -n, -n -v and -n -vv (SPEC 1), as any user.
func TestCheckConfig(t *testing.T) {
	lab.Require(t)
	good := writeConf(t, "lan = \"lan0\"\nrequest prefix delegation on up0 for { $lan lan1/60 reserve }\n")
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	if out, code := runDaemon(t, nobody, "-n", "-f", good); code != 0 || out != "configuration OK\n" {
		t.Errorf("-n: exit %d, %q; want 0 and configuration OK", code, out)
	}
	out, code := runDaemon(t, nil, "-n", "-v", "-f", good)
	stmt := fmt.Sprintf("request prefix delegation on up0 iaid %#08x for {\n\tlan0/64\n\tlan1/60\n\treserve/64\n}", config.IAID("up0", 0))
	if code != 0 || !strings.Contains(out, stmt) {
		t.Errorf("-n -v: exit %d, output lacks the expanded statement:\n%s", code, out)
	}
	out, code = runDaemon(t, nil, "-n", "-vv", "-f", good)
	if code != 0 || !strings.Contains(out, "2001:db8:0:10::1/60") {
		t.Errorf("-n -vv: exit %d, output lacks lan1's example address 2001:db8:0:10::1/60:\n%s", code, out)
	}
	bad := writeConf(t, "request prefix delegation on up0 for lan0\nrequest prefix delegation on up0 for { lan1 lan0 }\n")
	out, code = runDaemon(t, nil, "-n", "-f", bad)
	if code != 1 || !strings.Contains(out, bad+":2:") || !strings.Contains(out, "lan0") {
		t.Errorf("-n on a duplicate downstream: exit %d, %q; want exit 1 naming %s:2", code, out, bad)
	}
}

// TestRefusals: need root, unknown user, unknown socket group, already
// running (SPEC 1).
func TestRefusals(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	conf := writeConf(t, "request prefix delegation on up0 for lan0\n")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	if out, code := runDaemon(t, &syscall.Credential{Uid: 65534, Gid: 65534}, "-d", "-f", conf, "-L", dir, "-s", sock); code != 1 || !strings.Contains(out, "need root privileges") {
		t.Errorf("as nobody: exit %d, %q", code, out)
	}
	if out, code := runDaemon(t, nil, "-d", "-f", conf, "-L", dir, "-s", sock, "-u", "no_such_user_x"); code != 1 || !strings.Contains(out, "unknown user") {
		t.Errorf("unknown user: exit %d, %q", code, out)
	}
	if out, code := runDaemon(t, nil, "-d", "-f", conf, "-L", dir, "-s", sock, "-G", "no_such_group_x"); code != 1 || !strings.Contains(out, "unknown group no_such_group_x") {
		t.Errorf("unknown group: exit %d, %q", code, out)
	}
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	d := newDaemon(t, topo, "request prefix delegation on up0 for lan0\n")
	lab.WaitForT(t, 10*time.Second, "control socket", func() (bool, error) {
		d.checkAlive()
		_, err := os.Stat(d.sock)
		return err == nil, nil
	})
	if out, code := runDaemon(t, nil, "-d", "-f", d.conf, "-L", t.TempDir(), "-s", d.sock); code != 1 || !strings.Contains(out, "already running") {
		t.Errorf("second instance: exit %d, %q", code, out)
	}
	d.checkAlive()
}

// TestDaemonCommandLine (issue 11): -h and --help print the usage once and
// exit 0, --version one line; a bad flag or a stray argument gets the
// usage once, after the reason, and exit 1.
func TestDaemonCommandLine(t *testing.T) {
	lab.Require(t)
	for _, tc := range []struct {
		args   []string
		code   int
		prefix string
	}{
		{[]string{"-h"}, 0, "usage: dhcp6leased "},
		{[]string{"--help"}, 0, "usage: dhcp6leased "},
		{[]string{"--version"}, 0, "dhcp6leased "},
		{[]string{"-x"}, 1, "dhcp6leased: flag provided but not defined: -x\nusage: dhcp6leased "},
		{[]string{"-d", "extra"}, 1, "dhcp6leased: unexpected argument \"extra\"\nusage: dhcp6leased "},
	} {
		out, code := runDaemon(t, nil, tc.args...)
		if code != tc.code || !strings.HasPrefix(out, tc.prefix) || strings.Count(out, "usage:") > 1 {
			t.Errorf("%q: exit %d, output:\n%s\nwant exit %d and %q first, the usage at most once", tc.args, code, out, tc.code, tc.prefix)
		}
	}
	if out, _ := runDaemon(t, nil, "--version"); strings.Count(out, "\n") != 1 {
		t.Errorf("--version printed %q, want one line", out)
	}
}
