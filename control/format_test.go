package control

import (
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 seconds"},
		{time.Second, "1 second"},
		{55 * time.Second, "55 seconds"},
		{65 * time.Minute, "1 hour 5 minutes"},
		{2 * 24 * time.Hour, "2 days"},
		{24*time.Hour + 30*time.Second, "1 day"},
		{3*time.Minute + 3*time.Second + 400*time.Millisecond, "3 minutes 3 seconds"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestWriteText(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	ifs := []*pb.InterfaceStatus{{
		Name: "up0", State: "Bound", ServerId: []byte{0, 3, 0, 1, 2, 0x6c},
		T1UnixMs: ms(10 * time.Second), T2UnixMs: ms(20 * time.Second), LinkUp: true,
		Ias: []*pb.IAStatus{{
			Index: 0, Iaid: 0x1234abcd, Prefix: "2001:db8:100::/56",
			PreferredUntilUnixMs: ms(30 * time.Second), ValidUntilUnixMs: ms(60 * time.Second),
			Downstreams: []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:100::1/64"}},
			Unfit:       []string{"lan9"},
		}, {Index: 1, Iaid: 0x42}},
	}, {Name: "up1", State: "Init"}}
	var b strings.Builder
	if err := WriteText(&b, ifs, now); err != nil {
		t.Fatal(err)
	}
	want := `up0 [Bound]
	IA_PD 0: 2001:db8:100::/56 (iaid 0x1234abcd)
		preferred 30 seconds, valid 1 minute
		lan0 2001:db8:100::1/64
		lan9 does not fit the delegated prefix
	IA_PD 1: none (iaid 0x00000042)
	lease 1 minute
	server 00:03:00:01:02:6c
	T1 10 seconds, T2 20 seconds
	link up

up1 [Init]
	link down
`
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
