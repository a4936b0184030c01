package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// journalStderr returns a file to stand in for the journal's stream and
// the JOURNAL_STREAM value that names it, as systemd sets both for a
// service with StandardError=journal (systemd.exec(5)).
func journalStderr(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return f, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)
}

// priorityLine is a line as journald wants it from a service: an
// sd-daemon(3) priority, then the message without a time of its own.
var priorityLine = regexp.MustCompile(`^<[0-7]>`)

// TestJournalPriorities: with stderr on the journal, every line the three
// processes write carries its priority (err, warning, info, debug) and no
// time; the error the daemon exits with is at err too (SPEC 13, issue
// 11.4).
func TestJournalPriorities(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	// lan9 does not exist: a warning.
	conf := writeConf(t, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for { lan0 lan9 }\n")
	dir := t.TempDir()
	journal, env := journalStderr(t)
	cmd := exec.Command("ip", "netns", "exec", topo.CLI.Name, bins.Daemon, "-d", "-v",
		"-f", conf, "-L", filepath.Join(dir, "state"), "-s", filepath.Join(dir, "ctl.sock"))
	cmd.Env = append(os.Environ(), env)
	cmd.Stdout, cmd.Stderr = journal, journal
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	read := func() string {
		b, err := os.ReadFile(journal.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, want := range []string{
		"<6>level=INFO msg=bound proc=engine uplink=up0",
		"<4>level=WARN msg=\"downstream does not exist (yet)",
		"<7>level=DEBUG msg=send proc=engine uplink=up0",
	} {
		lab.WaitForT(t, 10*time.Second, "a line starting "+want, func() (bool, error) {
			return strings.Contains("\n"+read(), "\n"+want), nil
		})
	}
	stop()
	out := read()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !priorityLine.MatchString(l) || strings.Contains(l, "time=") {
			t.Errorf("line %q: want a <N> priority and no time", l)
		}
	}
	if t.Failed() {
		t.Logf("journal:\n%s", out)
	}

	// The error a refusal exits with.
	journal, env = journalStderr(t)
	refused := exec.Command(bins.Daemon, "-d", "-f", conf, "-L", dir, "-s", filepath.Join(dir, "other.sock"), "-u", "no_such_user_x")
	refused.Env = append(os.Environ(), env)
	refused.Stdout, refused.Stderr = journal, journal
	if err := refused.Run(); err == nil {
		t.Fatal("started with an unknown user")
	}
	if got := read(); !strings.HasPrefix(got, "<3>dhcp6leased: ") || !strings.Contains(got, "unknown user") || strings.Count(got, "\n") != 1 {
		t.Errorf("unknown user: %q; want one line <3>dhcp6leased: ... unknown user", got)
	}
}
