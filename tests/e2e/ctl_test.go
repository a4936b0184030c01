package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// runCtl runs dhcp6leasectl as cred (nil: as root) and returns its
// standard output, standard error and exit status.
func runCtl(t *testing.T, cred *syscall.Credential, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bins.Ctl, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// publicSocket puts the daemon's control socket in a directory that
// anyone may search, and returns the directory. The socket is root's and
// the dhcp6leasectl group's, mode 0660 (SPEC 1): non-root callers reach it
// as members of that group, but only through such a directory, and
// t.TempDir's is private.
func (d *daemon) publicSocket() string {
	d.t.Helper()
	dir := publicDir(d.t, 0o755)
	d.sock = filepath.Join(dir, "ctl.sock")
	return dir
}

// publicDir is a directory outside t.TempDir with the given mode.
func publicDir(t testing.TB, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dhcp6leased-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// groupMember is a non-root user who is a member of the control socket's
// group (a supplementary group, as `adduser alice dhcp6leasectl` makes it).
func groupMember(t testing.TB) *syscall.Credential {
	t.Helper()
	gid, err := lab.EnsureGroup(t.Context(), lab.SocketGroup)
	if err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{gid}}
}

// decodeJSON parses what -j printed into v, refusing unknown fields.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, out)
	}
}

// TestCtl runs every form of dhcp6leasectl against a daemon bound to Kea:
// the JSON matches the kernel and the server, the OpenBSD form and request
// reach the wire, read-only commands are open to a non-root member of the
// socket's group while request, reload and log are refused to it, a user
// not in the group cannot connect, and each error is one line and exit 1
// (SPEC 10).
func TestCtl(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	// Long timers: no Renew or Rebind of the daemon's own while the
	// subtests count the Rebinds that commands cause.
	k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true,
		Preferred: 10 * time.Minute, Valid: 20 * time.Minute, T1: 5 * time.Minute, T2: 8 * time.Minute}})
	d := newDaemonStopped(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	sockDir := d.publicSocket()
	// Without CAP_CHOWN, as the systemd unit runs it: the socket gets its
	// group all the same.
	d.under = []string{"setpriv", "--bounding-set", "-chown", "--"}
	d.start()
	addr := d.waitAnyAddr("lan0", bindTimeout)
	iaid := d.plan().Uplinks[0].IAs[0].IAID
	pfx := serverPrefix(t, k.Leases, iaid)
	lab.WaitForT(t, 5*time.Second, "show interface up0 Bound", func() (bool, error) {
		out, err := d.ctl("show", "interface", "up0")
		return err == nil && strings.HasPrefix(out, "up0 [Bound]\n"), nil
	})
	// A member of the socket's group, and a user who is not one.
	group := groupMember(t)
	stranger := &syscall.Credential{Uid: 65534, Gid: 65534}
	var st syscall.Stat_t
	if err := syscall.Stat(d.sock, &st); err != nil || st.Uid != 0 || st.Gid != group.Groups[0] || st.Mode&0o7777 != 0o660 {
		t.Errorf("control socket: %v, uid %d gid %d mode %o; want root, %s (%d), 0660", err, st.Uid, st.Gid, st.Mode&0o7777, lab.SocketGroup, group.Groups[0])
	}
	sent := func(msg string) uint64 {
		t.Helper()
		out, stderr, code := runCtl(t, nil, "-s", d.sock, "-j", "show", "stats", "up0")
		if code != 0 {
			t.Fatalf("show stats: exit %d: %s", code, stderr)
		}
		var s control.ShowStats
		decodeJSON(t, out, &s)
		return s.Stats[0].Sent[msg]
	}

	t.Run("show interface -j", func(t *testing.T) {
		out, stderr, code := runCtl(t, nil, "-s", d.sock, "-j", "show", "interface")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var s control.ShowInterface
		decodeJSON(t, out, &s)
		if len(s.Interfaces) != 1 || len(s.Interfaces[0].IAPDs) != 1 {
			t.Fatalf("want one uplink with one IA_PD:\n%s", out)
		}
		up, ia := s.Interfaces[0], s.Interfaces[0].IAPDs[0]
		switch {
		case up.Name != "up0" || up.State != "Bound" || !up.LinkUp:
			t.Errorf("uplink %s %s link_up %v, want up0 Bound true", up.Name, up.State, up.LinkUp)
		case up.ServerDUID == nil || up.Lease == nil || up.Lease.Seconds <= 0 || up.T1 == nil:
			t.Errorf("bound uplink without server, lease or T1:\n%s", out)
		case ia.IAID != fmt.Sprintf("%#08x", iaid) || ia.Prefix == nil || *ia.Prefix != pfx.String():
			t.Errorf("IA_PD %s %v, want %#08x %v (the server's lease)", ia.IAID, ia.Prefix, iaid, pfx)
		case len(ia.Downstreams) != 1 || ia.Downstreams[0].Interface != "lan0" || ia.Downstreams[0].Address != addr.Prefix.String():
			t.Errorf("downstreams %+v, want lan0 %v (the kernel's)", ia.Downstreams, addr.Prefix)
		}
	})
	t.Run("show stats -j", func(t *testing.T) {
		out, stderr, code := runCtl(t, nil, "-s", d.sock, "-j", "show", "stats")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var s control.ShowStats
		decodeJSON(t, out, &s)
		if len(s.Stats) != 1 || s.Stats[0].Name != "up0" || s.Stats[0].Sent["SOLICIT"] == 0 || s.Stats[0].Received["REPLY"] == 0 {
			t.Errorf("want up0 with a Solicit sent and a Reply received:\n%s", out)
		}
	})
	t.Run("-l", func(t *testing.T) {
		before := sent("REBIND")
		out, stderr, code := runCtl(t, nil, "-s", d.sock, "-l", "up0")
		if code != 0 || !strings.HasPrefix(out, "up0 [Bound]\n\tIA_PD 0: "+pfx.String()) {
			t.Errorf("exit %d, %q %q; want up0 Bound with %v", code, out, stderr, pfx)
		}
		if after := sent("REBIND"); after != before {
			t.Errorf("-l sent %d Rebinds: it must only show", after-before)
		}
	})
	// From Bound, a request rebinds the prefix held (Rebooting, SPEC 10).
	for _, args := range [][]string{{"up0"}, {"-w", "20", "request", "up0"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			before := sent("REBIND")
			out, stderr, code := runCtl(t, nil, append([]string{"-s", d.sock}, args...)...)
			if code != 0 || !strings.HasPrefix(out, "up0 [Bound]\n\tIA_PD 0: "+pfx.String()) {
				t.Errorf("exit %d, %q %q; want up0 Bound again with %v", code, out, stderr, pfx)
			}
			if sent("REBIND") == before {
				t.Error("no Rebind sent")
			}
		})
	}
	t.Run("non-root show", func(t *testing.T) {
		for _, args := range [][]string{{"show", "interface", "up0"}, {"show", "stats"}, {"-l", "up0"}} {
			out, stderr, code := runCtl(t, group, append([]string{"-s", d.sock}, args...)...)
			if code != 0 || stderr != "" || !strings.HasPrefix(out, "up0") {
				t.Errorf("%q as uid 65534 in group %s: exit %d, %q %q", args, lab.SocketGroup, code, out, stderr)
			}
		}
	})
	// Each error: nothing on stdout, exactly one line on stderr, exit 1.
	missing := filepath.Join(sockDir, "missing.sock")
	for _, tt := range []struct {
		name string
		cred *syscall.Credential
		args []string
		want string
	}{
		{"non-root request", group, []string{"-s", d.sock, "request", "up0"}, "dhcp6leasectl: permission denied: request needs root\n"},
		{"non-root OpenBSD form", group, []string{"-s", d.sock, "up0"}, "dhcp6leasectl: permission denied: request needs root\n"},
		{"non-root reload", group, []string{"-s", d.sock, "reload"}, "dhcp6leasectl: permission denied: reload needs root\n"},
		{"non-root log", group, []string{"-s", d.sock, "log", "debug"}, "dhcp6leasectl: permission denied: log needs root\n"},
		{"OpenBSD form typo", group, []string{"-s", d.sock, "shwo"}, "dhcp6leasectl: unknown interface shwo; nor is it a command: the commands are show interface, show stats, request, reload, log\n"},
		{"not in the socket's group", stranger, []string{"-s", d.sock, "show", "interface"}, "dhcp6leasectl: connect to " + d.sock + ": permission denied\n"},
		{"unknown interface", nil, []string{"-s", d.sock, "show", "interface", "nosuch0"}, "dhcp6leasectl: unknown interface nosuch0\n"},
		{"request unknown interface", nil, []string{"-s", d.sock, "request", "nosuch0"}, "dhcp6leasectl: unknown interface nosuch0\n"},
		{"no daemon", nil, []string{"-s", missing, "show", "interface"}, "dhcp6leasectl: " + missing + ": dhcp6leased is not running\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := sent("REBIND")
			out, stderr, code := runCtl(t, tt.cred, tt.args...)
			if code != 1 || out != "" || stderr != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, stderr, tt.want)
			}
			if after := sent("REBIND"); after != before {
				t.Errorf("%d Rebinds sent for a refused command", after-before)
			}
		})
	}
	d.checkAlive()
}
