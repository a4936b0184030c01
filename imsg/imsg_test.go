package imsg

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

func pair(t *testing.T) (*Channel, *Channel) {
	t.Helper()
	a, b, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

// rawPair gives a raw fd to write arbitrary datagrams with and a Channel
// reading them.
func rawPair(t *testing.T) (int, *Channel) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(os.NewFile(uintptr(fds[1]), "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); c.Close() })
	return fds[0], c
}

var rules = Rules{
	uint32(pb.Type_TYPE_OPEN_UDP):     {New: func() Payload { return new(pb.OpenUDP) }},
	uint32(pb.Type_TYPE_ROUTE_SOCKET): {FDs: 1, New: func() Payload { return new(pb.Empty) }},
}

func TestSendRecvWithFD(t *testing.T) {
	a, b := pair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := a.Send(pb.Type_TYPE_ROUTE_SOCKET, &pb.Empty{}, w); err != nil {
		t.Fatal(err)
	}
	m, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Type != pb.Type_TYPE_ROUTE_SOCKET || m.PID != uint32(os.Getpid()) || len(m.Files) != 1 {
		t.Fatalf("got type %v pid %d fds %d", m.Type, m.PID, len(m.Files))
	}
	if _, err := rules.Decode(m); err != nil {
		t.Fatal(err)
	}
	// The received fd is a working duplicate of the pipe's write end.
	if _, err := m.Files[0].Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read through passed fd: %q, %v", buf, err)
	}
}

func TestSendRecvPayload(t *testing.T) {
	a, b := pair(t)
	want := &pb.OpenUDP{Uplink: "eth0", Ifindex: 7}
	if err := a.Send(pb.Type_TYPE_OPEN_UDP, want); err != nil {
		t.Fatal(err)
	}
	m, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rules.Decode(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("payload (-want +got):\n%s", diff)
	}
}

func TestRecvEOF(t *testing.T) {
	a, b := pair(t)
	a.Close()
	if _, err := b.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after peer close: %v, want io.EOF", err)
	}
}

func header(typ pb.Type) []byte {
	return []byte{0, 0, 0, byte(typ), 0, 0, 0, 0, 0, 0, 0, 1}
}

func TestRecvViolations(t *testing.T) {
	big := make([]byte, MaxMessage+10)
	copy(big, header(pb.Type_TYPE_OPEN_UDP))
	tests := []struct {
		name string
		msg  []byte
		fds  int
	}{
		{"short header", []byte{0, 0, 0, 6, 0}, 0},
		{"oversized", big, 0},
		// Two fds where the receiver has room for one: the kernel
		// truncates the control data and sets MSG_CTRUNC.
		{"control truncated", header(pb.Type_TYPE_ROUTE_SOCKET), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, c := rawPair(t)
			var oob []byte
			if tt.fds > 0 {
				fds := make([]int, tt.fds)
				for i := range fds {
					fds[i] = raw
				}
				oob = unix.UnixRights(fds...)
			}
			if err := unix.Sendmsg(raw, tt.msg, oob, nil, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Recv(); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Recv: %v, want ErrProtocol", err)
			}
		})
	}
}

func TestDecodeViolations(t *testing.T) {
	good, err := proto.Marshal(&pb.OpenUDP{Uplink: "eth0", Ifindex: 2})
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := proto.Marshal(&pb.OpenUDP{Uplink: "../etc", Ifindex: 2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    Message
	}{
		{"unknown type", Message{Type: pb.Type_TYPE_TRANSMIT, Payload: good}},
		{"missing fd", Message{Type: pb.Type_TYPE_ROUTE_SOCKET}},
		{"unexpected fd", Message{Type: pb.Type_TYPE_OPEN_UDP, Payload: good, Files: []*os.File{os.NewFile(^uintptr(0), "none")}}},
		{"garbage payload", Message{Type: pb.Type_TYPE_OPEN_UDP, Payload: []byte{0xff, 0xff, 0xff}}},
		{"invalid field", Message{Type: pb.Type_TYPE_OPEN_UDP, Payload: invalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rules.Decode(&tt.m); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Decode: %v, want ErrProtocol", err)
			}
			if tt.m.Files != nil {
				t.Fatal("Decode left fds open on error")
			}
		})
	}
}
