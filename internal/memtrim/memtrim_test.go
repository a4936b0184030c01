package memtrim

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlySpans(t *testing.T) {
	maps := `00400000-00ab1000 r-xp 00000000 fd:01 2886 /usr/sbin/dhcp 6leased
00ab1000-010b6000 r--p 006b1000 fd:01 2886 /usr/sbin/dhcp 6leased
010b6000-010e6000 rw-p 00cb6000 fd:01 2886 /usr/sbin/dhcp 6leased
010e6000-01120000 rw-p 00000000 00:00 0
7f0000000000-7f0000021000 r--p 00000000 fd:01 77 /usr/sbin/dhcp 6leased.other
7ffd1c3a5000-7ffd1c3c6000 rw-p 00000000 00:00 0                          [stack]
`
	got, err := readOnlySpans(maps, "/usr/sbin/dhcp 6leased")
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0xab1000}, {0xab1000, 0x10b6000}}
	if !slices.Equal(got, want) {
		t.Errorf("readOnlySpans = %x, want %x", got, want)
	}
	if _, err := readOnlySpans("zz-00ab1000 r-xp 00000000 fd:01 2886 /x\n", "/x"); err == nil {
		t.Error("readOnlySpans of a bad address: no error")
	}
}

// imageRSS is the resident size in kB of this test binary's read-only
// mappings, from /proc/self/smaps.
func imageRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-"):
			in = strings.Join(f[5:], " ") == exe && !strings.Contains(f[1], "w")
		case in && len(f) == 3 && f[0] == "Rss:":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	return kb
}

// TestDrop: the test binary's image, once dropped, is resident only for
// what runs after (reading smaps itself faults some 64 KiB blocks back
// in); the process goes on running.
func TestDrop(t *testing.T) {
	im, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.spans) == 0 {
		t.Fatal("no read-only mapping of the test binary found")
	}
	before := imageRSS(t)
	if err := im.Drop(); err != nil {
		t.Fatal(err)
	}
	after := imageRSS(t)
	t.Logf("image resident: %d kB before, %d kB after", before, after)
	if after > before*4/5 {
		t.Errorf("image resident %d kB after the drop, %d kB before: want a fifth less at least", after, before)
	}
}
