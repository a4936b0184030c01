// Package control is the protocol of the control socket: dhcp6leasectl
// sends one CtlRequest, the frontend answers with one CtlReply. Each
// message is a protobuf preceded by its length as a 4-byte big-endian
// number.
package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

// DefaultSocket is the control socket's path unless -s says otherwise.
const DefaultSocket = "/run/dhcp6leased.sock"

// MaxMessage bounds one control message; it matches the imsg datagram
// bound, since the reply crosses an imsg channel first.
const MaxMessage = 64 << 10

// Write sends m with its length prefix.
func Write(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("marshal control message: %w", err)
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("control message of %d bytes, at most %d", len(b), MaxMessage)
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	if _, err := w.Write(append(buf, b...)); err != nil {
		return fmt.Errorf("write control message: %w", err)
	}
	return nil
}

// Read receives one message into m.
func Read(r io.Reader, m proto.Message) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("read control message: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMessage {
		return fmt.Errorf("control message of %d bytes, at most %d", n, MaxMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read control message: %w", err)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode control message: %w", err)
	}
	return nil
}

// ErrNoDaemon is returned by Do when nothing listens on the socket.
var ErrNoDaemon = errors.New("dhcp6leased is not running")

// DaemonError is a request the daemon answered with an error: an unknown
// interface, or a command the caller may not give.
type DaemonError struct{ Msg string }

func (e *DaemonError) Error() string { return e.Msg }

// Refusal is the daemon's answer to a command that needs root from a peer
// that is not (SPEC 10): "permission denied: request needs root".
func Refusal(req *pb.CtlRequest) string {
	cmd := strings.ToLower(strings.TrimPrefix(req.Command.String(), "COMMAND_"))
	return "permission denied: " + cmd + " needs root"
}

// Do sends req to the daemon at socket and returns its reply. A reply
// carrying an error string is returned as an error.
func Do(socket string, req *pb.CtlRequest, timeout time.Duration) (*pb.CtlReply, error) {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		switch {
		case errors.Is(err, net.ErrClosed) || isNoDaemon(err):
			return nil, fmt.Errorf("%s: %w", socket, ErrNoDaemon)
		case errors.Is(err, os.ErrPermission):
			// The socket is mode 0660 (SPEC 1): the caller is not in its
			// group, or cannot search its directory.
			return nil, fmt.Errorf("connect to %s: %w", socket, os.ErrPermission)
		}
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if err := Write(c, req); err != nil {
		return nil, err
	}
	reply := new(pb.CtlReply)
	if err := Read(c, reply); err != nil {
		return nil, err
	}
	if reply.Error != "" {
		return nil, &DaemonError{Msg: reply.Error}
	}
	return reply, nil
}
