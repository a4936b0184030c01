package imsg

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

// Payload is a protobuf message that can check its own required fields and
// bounds (proto/validate.go).
type Payload interface {
	proto.Message
	Validate() error
}

// Rule is what a receiver accepts for one message type.
type Rule struct {
	FDs int            // exact number of fds the message carries
	New func() Payload // a fresh payload to unmarshal into
}

// Rules maps every type a receiver accepts to its rule. A type not in the
// map is a protocol violation.
type Rules map[uint32]Rule

// Decode checks m's type, fd count and payload against rules and returns
// the payload. Every error wraps ErrProtocol and closes m's fds: the caller
// closes the channel (SPEC 3).
func (r Rules) Decode(m *Message) (Payload, error) {
	rule, ok := r[uint32(m.Type)]
	if !ok {
		m.Close()
		return nil, fmt.Errorf("unexpected message type %v from pid %d: %w", m.Type, m.PID, ErrProtocol)
	}
	if len(m.Files) != rule.FDs {
		m.Close()
		return nil, fmt.Errorf("%v from pid %d: %d fds, want %d: %w", m.Type, m.PID, len(m.Files), rule.FDs, ErrProtocol)
	}
	p := rule.New()
	if err := proto.Unmarshal(m.Payload, p); err != nil {
		m.Close()
		return nil, fmt.Errorf("%v from pid %d: payload: %v: %w", m.Type, m.PID, err, ErrProtocol)
	}
	if err := p.Validate(); err != nil {
		m.Close()
		return nil, fmt.Errorf("%v from pid %d: %v: %w", m.Type, m.PID, err, ErrProtocol)
	}
	return p, nil
}

// ReceiveUntil receives and decodes messages with r, handing each to
// handle, until one of type last has been handled: a child's start-up,
// where the parent sends the configuration and fds, then START. Any
// receive, decode or handle error ends it.
func (c *Channel) ReceiveUntil(r Rules, last pb.Type, handle func(*Message, Payload) error) error {
	for {
		m, err := c.Recv()
		if err != nil {
			return err
		}
		p, err := r.Decode(m)
		if err != nil {
			return err
		}
		if err := handle(m, p); err != nil {
			return err
		}
		if m.Type == last {
			return nil
		}
	}
}
