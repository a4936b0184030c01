package dhcp6

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDUIDs(t *testing.T) {
	mac := []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{
			name: "UUID",
			got: DUIDUUID([16]byte{
				0x6b, 0x3f, 0x1e, 0x2a, 0x9c, 0x44, 0x4d, 0x7e,
				0x8f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
			}),
			want: clientDUID(),
		},
		{
			name: "LL",
			got:  DUIDLL(1, mac),
			want: serverDUID(),
		},
		{
			name: "LLT",
			got:  DUIDLLT(1, time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC), mac),
			want: []byte{
				0x00, 0x01, // DUID-LLT
				0x00, 0x01, // Ethernet
				0x2d, 0x24, 0xbd, 0x00, // 757382400 s after 2000-01-01
				0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
			},
		},
		{
			name: "LLT in another zone",
			got:  DUIDLLT(1, time.Date(2000, time.January, 1, 1, 0, 1, 0, time.FixedZone("CET", 3600)), nil),
			want: []byte{0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01},
		},
		{
			name: "LLT before 2000 wraps",
			got:  DUIDLLT(1, time.Date(1999, time.December, 31, 23, 59, 59, 0, time.UTC), nil),
			want: []byte{0x00, 0x01, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff},
		},
		{
			name: "LLT 2^32 s after 2000 wraps",
			got:  DUIDLLT(1, time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC).Add(1<<32*time.Second+time.Second), nil),
			want: []byte{0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("DUID (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatDUID(t *testing.T) {
	tests := []struct {
		duid []byte
		want string
	}{
		{nil, ""},
		{[]byte{0x0a}, "0a"},
		{serverDUID(), "00:03:00:01:52:54:00:12:34:56"},
	}
	for _, tc := range tests {
		if got := FormatDUID(tc.duid); got != tc.want {
			t.Errorf("FormatDUID(%x) = %q, want %q", tc.duid, got, tc.want)
		}
	}
}
