// Package sdnotify tells systemd that the daemon is ready, the
// sd_notify(3) protocol of a Type=notify service.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Ready sends "READY=1" to the socket named by $NOTIFY_SOCKET: a path, or
// an abstract socket name written with a leading '@' (which Go's unix
// addresses map to the abstract namespace, as sd_notify does). Without
// NOTIFY_SOCKET, the daemon is not run by systemd and Ready does nothing.
func Ready() error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] != '/' && name[0] != '@' {
		return fmt.Errorf("notify systemd: NOTIFY_SOCKET %q: not a path or an abstract socket name", name)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("READY=1")); err != nil {
		return fmt.Errorf("notify systemd at %s: %w", name, err)
	}
	return nil
}
