package engine

import (
	"testing"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"golang.org/x/sys/unix"
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
