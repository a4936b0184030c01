package imsg

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

// everyRules returns rule tables that map every message type to one
// payload, for every payload in proto/ (every message with a Validate
// method) and both fd counts a rule can ask for. Together they are a
// superset of the tables the parent, frontend and engine decode with,
// without copying theirs.
func everyRules(tb testing.TB) []Rules {
	var payloads []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if _, ok := mt.New().Interface().(Payload); ok {
			payloads = append(payloads, mt)
		}
		return true
	})
	if len(payloads) == 0 {
		tb.Fatal("no payload types registered")
	}
	slices.SortFunc(payloads, func(a, b protoreflect.MessageType) int {
		return strings.Compare(string(a.Descriptor().FullName()), string(b.Descriptor().FullName()))
	})
	var tables []Rules
	for _, mt := range payloads {
		for fds := range MaxFDs + 1 {
			r := make(Rules)
			for t := range pb.Type_name {
				r[uint32(t)] = Rule{FDs: fds, New: func() Payload { return mt.New().Interface().(Payload) }}
			}
			tables = append(tables, r)
		}
	}
	return tables
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// FuzzDecode sends an arbitrary datagram, carrying 0 to MaxFDs+1 fds,
// through a socketpair into Channel.Recv, and decodes what Recv returns
// with every table of everyRules. Whatever a peer sends (SPEC 3): no
// panic; every error wraps ErrProtocol (a zero-length datagram without fds
// is the peer's close, io.EOF) and leaves no fd open; whatever decodes
// validates, carries the rule's fds and marshals again. The seed corpus in
// testdata/fuzz/FuzzDecode holds a well-formed message of every type the
// processes exchange, with the fds its rule wants, and malformed ones.
func FuzzDecode(f *testing.F) {
	tables := everyRules(f)
	f.Fuzz(func(t *testing.T, datagram []byte, nfds uint8) {
		before := openFDs(t)
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := New(os.NewFile(uintptr(pair[1]), "fuzz"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			unix.Close(pair[0])
			ch.Close()
			if after := openFDs(t); after != before {
				t.Errorf("%d fds open after the message, %d before", after, before)
			}
		}()

		var oob []byte
		if n := int(nfds) % (MaxFDs + 2); n > 0 {
			// Any fd will do: the sending end itself, n times.
			oob = unix.UnixRights(slices.Repeat([]int{pair[0]}, n)...)
		}
		if err := unix.Sendmsg(pair[0], datagram, oob, nil, 0); err != nil {
			if errors.Is(err, unix.EMSGSIZE) {
				t.Skipf("datagram of %d bytes does not fit the socket buffer", len(datagram))
			}
			t.Fatal(err)
		}
		m, err := ch.Recv()
		if err != nil {
			if len(datagram) == 0 && len(oob) == 0 && errors.Is(err, io.EOF) {
				return
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Recv: %v, not a protocol violation", err)
			}
			return
		}
		defer m.Close()
		for _, rules := range tables {
			msg := *m
			msg.Files = dupFiles(t, m.Files)
			p, err := rules.Decode(&msg)
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("Decode: %v, not a protocol violation", err)
				}
				if msg.Files != nil {
					t.Fatalf("Decode: %v, left %d fds open", err, len(msg.Files))
				}
				continue
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("decoded %T does not validate: %v", p, err)
			}
			if want := rules[uint32(msg.Type)].FDs; len(msg.Files) != want {
				t.Fatalf("decoded %v with %d fds, rule wants %d", msg.Type, len(msg.Files), want)
			}
			if _, err := proto.Marshal(p); err != nil {
				t.Fatalf("decoded %T does not marshal: %v", p, err)
			}
			msg.Close()
		}
	})
}

// dupFiles duplicates files, so that each decode owns its own.
func dupFiles(t *testing.T, files []*os.File) []*os.File {
	t.Helper()
	var dups []*os.File
	for _, f := range files {
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		dups = append(dups, os.NewFile(uintptr(fd), f.Name()))
	}
	return dups
}
