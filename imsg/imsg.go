// Package imsg is the channel between dhcp6leased's processes, modelled on
// OpenBSD's imsg(3): typed datagrams with a sender pid and a peer id,
// protobuf payloads, and file descriptors passed as SCM_RIGHTS with the
// message that needs them.
//
// Framing: one message is one datagram on a SOCK_SEQPACKET socketpair, so
// the kernel keeps message boundaries and a short read cannot split a
// message from its fds.
package imsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

// HeaderLen is the size of the fixed header: type, peer id, pid, each a
// 32-bit big-endian number.
const HeaderLen = 12

// MaxMessage bounds a datagram, header included. It stays well below the
// default socket send buffer (net.core.wmem_default, about 208 KiB), the
// real limit of one SOCK_SEQPACKET datagram.
const MaxMessage = 64 << 10

// MaxFDs is the most descriptors one message may carry.
const MaxFDs = 1

// Errors a receiver can test with errors.Is.
var (
	// ErrProtocol marks a message that breaks the channel's rules: the
	// receiver must close the channel (SPEC 2: garbage stops the daemon).
	ErrProtocol = errors.New("imsg protocol violation")
)

// Message is one received message. The receiver owns Files and must close
// them.
type Message struct {
	Type    pb.Type
	PeerID  uint32
	PID     uint32
	Payload []byte
	Files   []*os.File
}

// Close closes every fd that came with the message.
func (m *Message) Close() {
	for _, f := range m.Files {
		f.Close()
	}
	m.Files = nil
}

// Channel is one end of a socketpair. Send is safe for concurrent use; Recv
// must be called from one goroutine.
type Channel struct {
	conn *net.UnixConn
	pid  uint32
	mu   sync.Mutex
	buf  []byte
	oob  []byte
}

// Pair returns the two ends of a new SOCK_SEQPACKET socketpair as files,
// close-on-exec, ready to be passed to a child or wrapped with New.
func Pair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "imsg"), os.NewFile(uintptr(fds[1]), "imsg"), nil
}

// New wraps a socketpair end. It takes ownership of f.
func New(f *os.File) (*Channel, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("imsg channel from fd: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("imsg channel from fd: %T is not a unix socket", c)
	}
	return &Channel{
		conn: uc,
		pid:  uint32(os.Getpid()),
		buf:  make([]byte, MaxMessage+1),
		oob:  make([]byte, unix.CmsgSpace(4*MaxFDs)),
	}, nil
}

// Close closes the channel; a blocked Recv returns an error.
func (c *Channel) Close() error { return c.conn.Close() }

// Send marshals m and sends it as one datagram of type t, with files (at
// most MaxFDs) attached. The caller keeps ownership of files.
func (c *Channel) Send(t pb.Type, m proto.Message, files ...*os.File) error {
	if len(files) > MaxFDs {
		return fmt.Errorf("send %v: %d fds, at most %d", t, len(files), MaxFDs)
	}
	payload, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("send %v: marshal: %w", t, err)
	}
	if HeaderLen+len(payload) > MaxMessage {
		return fmt.Errorf("send %v: %d bytes, at most %d", t, HeaderLen+len(payload), MaxMessage)
	}
	msg := make([]byte, HeaderLen, HeaderLen+len(payload))
	binary.BigEndian.PutUint32(msg[0:], uint32(t))
	binary.BigEndian.PutUint32(msg[4:], 0)
	binary.BigEndian.PutUint32(msg[8:], c.pid)
	msg = append(msg, payload...)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, err := c.conn.WriteMsgUnix(msg, oob, nil); err != nil {
		return fmt.Errorf("send %v: %w", t, err)
	}
	return nil
}

// Recv reads the next message. io.EOF (wrapped) means the peer closed its
// end; an error wrapping ErrProtocol means the peer broke the framing rules
// (oversized datagram, truncated control data, malformed fds).
func (c *Channel) Recv() (*Message, error) {
	n, oobn, flags, _, err := c.conn.ReadMsgUnix(c.buf, c.oob)
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	// Parse the fds first so that they are closed on every error path.
	var files []*os.File
	if oobn > 0 {
		files, err = parseRights(c.oob[:oobn])
		if err != nil {
			return nil, err
		}
	}
	fail := func(format string, args ...any) (*Message, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("receive: "+format+": %w", append(args, ErrProtocol)...)
	}
	switch {
	case n == 0 && oobn == 0:
		// A zero-length read on SOCK_SEQPACKET is the peer's close.
		return nil, fmt.Errorf("receive: %w", io.EOF)
	case flags&unix.MSG_CTRUNC != 0:
		// The kernel dropped fds that did not fit: never ignore it.
		return fail("control data truncated")
	case flags&unix.MSG_TRUNC != 0 || n > MaxMessage:
		return fail("datagram over %d bytes", MaxMessage)
	case n < HeaderLen:
		return fail("datagram of %d bytes, header is %d", n, HeaderLen)
	case len(files) > MaxFDs:
		return fail("%d fds, at most %d", len(files), MaxFDs)
	}
	m := &Message{
		Type:    pb.Type(binary.BigEndian.Uint32(c.buf[0:])),
		PeerID:  binary.BigEndian.Uint32(c.buf[4:]),
		PID:     binary.BigEndian.Uint32(c.buf[8:]),
		Payload: append([]byte(nil), c.buf[HeaderLen:n]...),
		Files:   files,
	}
	return m, nil
}

// Feed hands every message received to deliver, then the error that ended
// the channel (wrapping io.EOF when the peer closed its end), and returns.
// Run it in a goroutine of its own; deliver typically passes the message
// to its process's event loop.
func (c *Channel) Feed(deliver func(*Message, error)) {
	for {
		m, err := c.Recv()
		deliver(m, err)
		if err != nil {
			return
		}
	}
}

func parseRights(oob []byte) ([]*os.File, error) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("receive: control data: %v: %w", err, ErrProtocol)
	}
	var files []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("receive: control data: %v: %w", err, ErrProtocol)
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "imsg-fd"))
		}
	}
	return files, nil
}
