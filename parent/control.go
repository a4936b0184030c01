package parent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

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

// socketGroup is the control socket's group: its members may run
// dhcp6leasectl's read-only commands (SPEC 10; docs/CONTROL.md says why it
// is a group of its own and not _dhcp6leased's).
type socketGroup struct {
	name string
	gid  int // -1: none, the socket stays root's
}

// lookupSocketGroup finds the group -G names. Only the default group may
// be missing, as on a machine where dhcp6leased was built and not
// installed: the socket is then root's alone, which the log says.
func lookupSocketGroup(name string) (socketGroup, error) {
	g, err := user.LookupGroup(name)
	var unknown user.UnknownGroupError
	switch {
	case errors.As(err, &unknown) && name == DefaultGroup:
		return socketGroup{name: name, gid: -1}, nil
	case err != nil:
		return socketGroup{}, fmt.Errorf("unknown group %s: %w", name, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return socketGroup{}, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	return socketGroup{name: name, gid: gid}, nil
}

// listenControl creates the control socket, mode 0660, owned by root and
// group (SPEC 1), and returns its listening fd for the frontend. The lock
// is held, so a socket file left at the path is stale.
func listenControl(path string, group socketGroup) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	var l *net.UnixListener
	err := withFSGID(group.gid, func() error {
		var err error
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		return err
	})
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

// withFSGID runs create with the file system gid set to gid (unless -1),
// so that the file it creates belongs to that group from the start. The
// parent cannot chown it afterwards: the unit leaves CAP_CHOWN out of its
// bounding set, and setfsgid(2) needs only CAP_SETGID, which the parent
// keeps for the children. The fsgid is per thread: create runs on a thread
// of its own, locked, and a thread whose fsgid cannot be put back is not
// unlocked, so it ends with its goroutine instead of serving others.
func withFSGID(gid int, create func() error) error {
	if gid < 0 {
		return create()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// setfsgid(2) reports no error: it returns the previous fsgid, so
		// a second call tells whether the first took.
		prev, _ := unix.SetfsgidRetGid(gid)
		if now, _ := unix.SetfsgidRetGid(gid); now != gid {
			errc <- fmt.Errorf("setfsgid %d: not permitted", gid)
			return
		}
		err := create()
		unix.SetfsgidRetGid(prev)
		if now, _ := unix.SetfsgidRetGid(prev); now == prev {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
