package engine

import (
	"testing"

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
