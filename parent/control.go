package parent

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/dhcp6leased/dhcp6leased/internal/logging"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// control carries out dhcp6leasectl reload and log, which the frontend
// passes on after checking that the client is root.
func (d *daemon) control(req *pb.CtlRequest) error {
	switch req.Command {
	case pb.CtlRequest_COMMAND_RELOAD:
		return d.reload()
	case pb.CtlRequest_COMMAND_LOG:
		v, _ := pb.LogVerbosity(req.LogLevel) // Validate checked it
		d.level.Set(logging.Level(int(v)))
		d.log.Info("log level", "level", req.LogLevel)
		d.send(d.fe, pb.Type_TYPE_LOG_LEVEL, &pb.LogLevel{Verbosity: v})
		d.send(d.en, pb.Type_TYPE_LOG_LEVEL, &pb.LogLevel{Verbosity: v})
		return nil
	}
	return fmt.Errorf("command %v is not the parent's", req.Command)
}

// listenControl creates the control socket, mode 0660 (SPEC 1), and
// returns its listening fd for the frontend. The lock is held, so a socket
// file left at the path is stale.
func listenControl(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	defer l.Close()
	if err := os.Chmod(path, 0o660); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	f, err := l.File()
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return f, nil
}
