package logging

import (
	"bytes"
	"fmt"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPriority(t *testing.T) {
	for l, want := range map[slog.Level]syslog.Priority{
		slog.LevelError + 4: syslog.LOG_ERR,
		slog.LevelError:     syslog.LOG_ERR,
		slog.LevelWarn:      syslog.LOG_WARNING,
		slog.LevelInfo + 2:  syslog.LOG_INFO,
		slog.LevelInfo:      syslog.LOG_INFO,
		slog.LevelDebug:     syslog.LOG_DEBUG,
		slog.LevelDebug - 4: syslog.LOG_DEBUG,
	} {
		if got := Priority(l); got != want {
			t.Errorf("Priority(%v) = %d, want %d", l, got, want)
		}
	}
}

// logEach logs one line at each level, through a derived logger as the
// processes do (With, WithGroup), so that the derived handlers are shown
// to share the sink.
func logEach(log *slog.Logger) {
	log = log.With("uplink", "up0")
	log.Error("e", "err", "boom")
	log.Warn("w")
	log.WithGroup("g").Info("i", "k", 1)
	log.Debug("d")
}

// TestJournal: each line starts with its sd-daemon(3) prefix and carries
// no time, which the journal stamps itself.
func TestJournal(t *testing.T) {
	var b bytes.Buffer
	logEach(newLogger("engine", journalSink{&b}, slog.LevelDebug))
	want := `<3>level=ERROR msg=e proc=engine uplink=up0 err=boom
<4>level=WARN msg=w proc=engine uplink=up0
<6>level=INFO msg=i proc=engine uplink=up0 g.k=1
<7>level=DEBUG msg=d proc=engine uplink=up0
`
	if b.String() != want {
		t.Errorf("journal lines:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestPlain: a terminal or a file gets the time and no prefix; the level
// set still applies.
func TestPlain(t *testing.T) {
	var b bytes.Buffer
	logEach(newLogger("parent", plainSink{&b}, slog.LevelInfo))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines (no debug at info), got:\n%s", b.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") {
			t.Errorf("line %q: want it to start with time=", l)
		}
	}
}

// TestSyslog: each message reaches a syslog socket with facility daemon
// and its own severity (RFC 3164 PRI = facility*8 + severity).
func TestSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := syslog.Dial("unixgram", path, syslog.LOG_DAEMON|syslog.LOG_INFO, "dhcp6leased")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	logEach(newLogger("frontend", syslogSink{w}, slog.LevelDebug))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for _, want := range []struct{ pri, msg string }{
		{"<27>", "level=ERROR msg=e proc=frontend uplink=up0 err=boom\n"},
		{"<28>", "level=WARN msg=w"},
		{"<30>", "level=INFO msg=i"},
		{"<31>", "level=DEBUG msg=d"},
	} {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m := string(buf[:n])
		// <PRI>TIMESTAMP HOST TAG[PID]: MSG, the format of log/syslog on a
		// local socket.
		if !strings.HasPrefix(m, want.pri) || !strings.Contains(m, " dhcp6leased[") || !strings.Contains(m, want.msg) || strings.Contains(m, "time=") {
			t.Errorf("syslog message %q: want %s, the tag, %q and no time=", m, want.pri, want.msg)
		}
	}
}

// TestToJournal: JOURNAL_STREAM must name the very file (systemd.exec(5)).
func TestToJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string]bool{
		fmt.Sprintf("%d:%d", st.Dev, st.Ino):   true,
		fmt.Sprintf("%d:%d", st.Dev, st.Ino+1): false,
		fmt.Sprintf("%d:%d", st.Dev+1, st.Ino): false,
		fmt.Sprint(st.Ino):                     false,
		"":                                     false,
	} {
		t.Setenv("JOURNAL_STREAM", env)
		if got := ToJournal(f); got != want {
			t.Errorf("JOURNAL_STREAM=%q: ToJournal = %v, want %v", env, got, want)
		}
	}
}
