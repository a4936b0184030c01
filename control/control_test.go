package control

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

// TestNoDaemonError: a socket nobody listens on is "not running", both
// when the file is missing and when it is left over from a dead daemon.
func TestNoDaemonError(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	for _, sock := range []string{filepath.Join(dir, "missing.sock"), stale} {
		_, err := Do(sock, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE}, time.Second)
		if !errors.Is(err, ErrNoDaemon) {
			t.Errorf("%s: %v, want %v", sock, err, ErrNoDaemon)
		}
	}
}
