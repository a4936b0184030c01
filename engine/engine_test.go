package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func TestLinkUsable(t *testing.T) {
	const (
		up      = unix.IFF_UP
		running = unix.IFF_RUNNING
		lowerUp = unix.IFF_LOWER_UP
	)
	tests := []struct {
		name      string
		flags     uint32
		operstate uint32
		want      bool
	}{
		{"veth up with carrier", up | running | lowerUp, 6, true},
		{"tun: operstate unknown", up | running, 0, true},
		{"admin down", running | lowerUp, 6, false},
		{"no carrier", up, 2, false},
		{"carrier but lower layer down", up | lowerUp, 3, false},
		{"dormant (802.1X)", up | running | lowerUp, 5, false},
	}
	for _, tt := range tests {
		if got := linkUsable(tt.flags, tt.operstate); got != tt.want {
			t.Errorf("%s: linkUsable(%#x, %d) = %v, want %v", tt.name, tt.flags, tt.operstate, got, tt.want)
		}
	}
}

func TestCounts(t *testing.T) {
	got := counts(map[dhcp6.MessageType]uint64{dhcp6.Solicit: 2, dhcp6.Reply: 1})
	if got != "REPLY:1,SOLICIT:2" {
		t.Errorf("counts = %q, want REPLY:1,SOLICIT:2", got)
	}
	if got := counts(map[DropReason]uint64{}); got != "" {
		t.Errorf("counts of nothing = %q, want empty", got)
	}
}

// checkRA tells the trap (forwarding=1, accept_ra=1: the kernel drops the
// upstream's RAs, warned) from a choice (accept_ra=0: a program such as
// systemd-networkd handles them, not warned) and warns once per change.
func TestCheckRA(t *testing.T) {
	tests := []struct {
		name                 string
		forwarding, acceptRA int32
		want                 int32
		warned               bool
	}{
		{"host", 0, 1, raAccepted, false},
		{"router, accept_ra=2", 1, 2, raAccepted, false},
		{"router, accept_ra=1", 1, 1, raDropped, true},
		{"networkd or NetworkManager", 1, 0, raProgram, false},
		{"RAs off on a host", 0, 0, raProgram, false},
	}
	for _, tt := range tests {
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		var s uplinkState
		l := &pb.Link{Name: "up0", Forwarding: tt.forwarding, AcceptRa: tt.acceptRA}
		s.checkRA(l, log)
		s.checkRA(l, log) // the same again: no second warning
		if s.ra != tt.want {
			t.Errorf("%s: ra %d, want %d", tt.name, s.ra, tt.want)
		}
		if n := strings.Count(logged.String(), "level=WARN"); n != map[bool]int{false: 0, true: 1}[tt.warned] {
			t.Errorf("%s: %d warnings, want warned %v:\n%s", tt.name, n, tt.warned, logged.String())
		}
	}
}
