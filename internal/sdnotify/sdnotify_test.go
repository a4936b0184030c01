package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen creates the datagram socket systemd would, at name.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func receive(t *testing.T, l *net.UnixConn) string {
	t.Helper()
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestReady(t *testing.T) {
	for _, tt := range []struct {
		kind, name string
	}{
		{"path", filepath.Join(t.TempDir(), "notify")},
		{"abstract", fmt.Sprintf("@sdnotify-test-%d", os.Getpid())},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			l := listen(t, tt.name)
			t.Setenv("NOTIFY_SOCKET", tt.name)
			if err := Ready(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, l); got != "READY=1" {
				t.Errorf("received %q, want READY=1", got)
			}
		})
	}
}

// Without NOTIFY_SOCKET the daemon was not started by systemd (or by a
// unit of another Type): nothing to tell, no error.
func TestReadyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready(); err != nil {
		t.Errorf("Ready without NOTIFY_SOCKET: %v", err)
	}
}

func TestReadyErrors(t *testing.T) {
	for _, name := range []string{
		"relative/notify",
		filepath.Join(t.TempDir(), "missing"),
	} {
		t.Setenv("NOTIFY_SOCKET", name)
		err := Ready()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("NOTIFY_SOCKET=%q: error %v, want one naming the socket", name, err)
		}
	}
}
