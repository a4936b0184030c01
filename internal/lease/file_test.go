package lease

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpLease compares leases: netip.Prefix is comparable with ==, and a nil
// and an empty slice mean the same.
var cmpLease = cmp.Options{cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{}), cmpopts.EquateEmpty()}

var bound = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// golden is the exact file WriteTo produces for goldenLease.
const golden = `# dhcp6leased lease: ia_pd|ia_na IAID PREFIX/LEN preferred S valid S bound TIME t1 S t2 S [retiring] [exclude P/L] [boot ID+S] [for IF,...]
server 000100012c3b4d5e001122334455
dns 2001:db8::53 2001:db8::5:53
domain example.com lab.example.com
reconfigure 000102030405060708090a0b0c0d0e0f 7
ia_pd 0x1a2b3c4d 2001:db8:1200::/56 preferred 3600 valid 7200 bound 2026-05-01T12:00:00Z t1 1800 t2 2880 exclude 2001:db8:1200:ff::/64 boot 5b1f6a52-7c3e-4f0e-9d2a-1c0f2b3a4d5e+86400 for lan0,lan1
ia_pd 0x1a2b3c4d 2001:db8:3400::/56 preferred 0 valid 3000 bound 2026-05-01T12:00:00Z t1 1800 t2 2880 retiring for lan0,lan1
ia_pd 0x00000007 2001:db8:ff00::/48 preferred infinity valid infinity bound 2026-05-01T12:00:00Z t1 0 t2 0
ia_na 0x00000008 2001:db8:0:1::5/128 preferred 3600 valid 7200 bound 2026-05-01T12:00:00Z t1 1800 t2 2880
`

var goldenLease = Lease{
	ServerID:     []byte{0x00, 0x01, 0x00, 0x01, 0x2c, 0x3b, 0x4d, 0x5e, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
	DNSServers:   []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::5:53")},
	DomainSearch: []string{"example.com", "lab.example.com"},
	Reconfigure:  &ReconfigureKey{Key: [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Replay: 7},
	IAs: []IA{
		{IAID: 0x1a2b3c4d, Prefix: netip.MustParsePrefix("2001:db8:1200::/56"),
			Preferred: 3600, Valid: 7200, Bound: bound, T1: 1800, T2: 2880,
			Excluded:    netip.MustParsePrefix("2001:db8:1200:ff::/64"),
			Boot:        Boot{ID: "5b1f6a52-7c3e-4f0e-9d2a-1c0f2b3a4d5e", Time: 24 * time.Hour},
			Downstreams: []string{"lan0", "lan1"}},
		{IAID: 0x1a2b3c4d, Prefix: netip.MustParsePrefix("2001:db8:3400::/56"),
			Preferred: 0, Valid: 3000, Bound: bound, T1: 1800, T2: 2880, Retiring: true,
			Downstreams: []string{"lan0", "lan1"}},
		{IAID: 7, Prefix: netip.MustParsePrefix("2001:db8:ff00::/48"),
			Preferred: 0xffffffff, Valid: 0xffffffff, Bound: bound},
		{IAID: 8, Prefix: netip.MustParsePrefix("2001:db8:0:1::5/128"),
			Preferred: 3600, Valid: 7200, Bound: bound, T1: 1800, T2: 2880, NA: true},
	},
}

func TestWriteToGolden(t *testing.T) {
	var b bytes.Buffer
	n, err := goldenLease.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if diff := cmp.Diff(golden, b.String()); diff != "" {
		t.Errorf("WriteTo (-want +got):\n%s", diff)
	}
	if n != int64(len(golden)) {
		t.Errorf("WriteTo returned %d, wrote %d bytes", n, len(golden))
	}
	l, err := Parse(strings.NewReader(golden))
	if err != nil {
		t.Fatalf("Parse(golden): %v", err)
	}
	if diff := cmp.Diff(goldenLease, l, cmpLease); diff != "" {
		t.Errorf("Parse(golden) (-want +got):\n%s", diff)
	}
}

// retiring returns a retiring ia_pd line of IAID 1 with the n-th /56
// after 2001:db8:1200::/56.
func retiring(n int) string {
	return fmt.Sprintf("ia_pd 0x00000001 2001:db8:12%02x::/56 preferred 0 valid 7200 bound 2026-05-01T12:00:00Z t1 1800 t2 2880 retiring\n", n)
}

func TestParse(t *testing.T) {
	const ours = "ia_pd 0x00000001 2001:db8:1200::/56 preferred 3600 valid 7200 bound 2026-05-01T12:00:00Z t1 1800 t2 2880\n"
	held := IA{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8:1200::/56"),
		Preferred: 3600, Valid: 7200, Bound: bound, T1: 1800, T2: 2880}
	tests := []struct {
		name    string
		in      string
		want    Lease
		errLine int // 0: no error
	}{
		{name: "empty", in: ""},
		{name: "comments and blank lines", in: "# x\n\n   \n\t# y\n"},
		{name: "ours", in: ours, want: Lease{IAs: []IA{held}}},
		{
			name: "OpenBSD lines",
			// As OpenBSD's write_lease_file() writes them: "ia_pd %d %s %d\n".
			in: "ia_pd 0 2001:db8:1200:: 56\nia_pd 1 2001:db8:1300:: 64\n",
			want: Lease{IAs: []IA{
				{IAID: 0, Prefix: netip.MustParsePrefix("2001:db8:1200::/56")},
				{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8:1300::/64")},
			}},
		},
		{
			name: "OpenBSD prefix with host bits is masked",
			in:   "ia_pd 0 2001:db8:1234:5678::1 56\n",
			want: Lease{IAs: []IA{{IAID: 0, Prefix: netip.MustParsePrefix("2001:db8:1234:5600::/56")}}},
		},
		{
			name: "mixed forms, upper-case hex, offset time, CRLF",
			in: "server 0003000102AABBCCDDEE\r\n" +
				"ia_pd 0x1A 2001:db8:1200::/56 preferred 3600 valid 7200 bound 2026-05-01T14:00:00.9+02:00 t1 1800 t2 2880\r\n" +
				"ia_pd 2 2001:db8:4400:: 60\n",
			want: Lease{
				ServerID: []byte{0, 3, 0, 1, 2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee},
				IAs: []IA{
					{IAID: 0x1a, Prefix: held.Prefix, Preferred: 3600, Valid: 7200, Bound: bound, T1: 1800, T2: 2880},
					{IAID: 2, Prefix: netip.MustParsePrefix("2001:db8:4400::/60")},
				},
			},
		},
		{
			name: "4294967295 is infinity",
			in:   "ia_pd 0x1 2001:db8::/48 preferred 4294967295 valid infinity bound 2026-05-01T12:00:00Z t1 infinity t2 infinity\n",
			want: Lease{IAs: []IA{{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8::/48"),
				Preferred: 0xffffffff, Valid: 0xffffffff, Bound: bound, T1: 0xffffffff, T2: 0xffffffff}}},
		},
		{name: "torn last line", in: ours + "ia_pd 0x00000002 2001:db8:1300::/56 preferred 3600 valid 72", errLine: 2},
		{name: "torn number still parses but has no newline", in: strings.TrimSuffix(ours, "80\n"), errLine: 1},
		{name: "garbage", in: "\x00\x01\x02\xff\n", errLine: 1},
		{name: "unknown keyword", in: ours + "lease 1\n", errLine: 2},
		{name: "duplicate IAID", in: ours + "ia_pd 1 2001:db8:1300:: 56\n", errLine: 2},
		{
			name: "attributes in any order",
			in:   strings.TrimSuffix(ours, "\n") + " for lan0 retiring boot b+7\n",
			want: Lease{IAs: []IA{func() IA {
				ia := held
				ia.Downstreams, ia.Retiring, ia.Boot = []string{"lan0"}, true, Boot{ID: "b", Time: 7 * time.Second}
				return ia
			}()}},
		},
		{
			name: "a retiring prefix beside the current one",
			in:   ours + strings.Replace(ours, "1200::/56", "1300::/56", 1)[:len(ours)-1] + " retiring\n",
			want: Lease{IAs: []IA{held, func() IA {
				ia := held
				ia.Prefix, ia.Retiring = netip.MustParsePrefix("2001:db8:1300::/56"), true
				return ia
			}()}},
		},
		{name: "two current prefixes of an IAID", in: ours + strings.Replace(ours, "1200::/56", "1300::/56", 1), errLine: 2},
		{name: "one prefix twice in an IAID", in: ours + ours[:len(ours)-1] + " retiring\n", errLine: 2},
		{name: "too many retiring prefixes", in: ours + retiring(1) + retiring(2) + retiring(3) + retiring(4), errLine: 5},
		{name: "exclude outside the prefix", in: strings.TrimSuffix(ours, "\n") + " exclude 2001:db8:9900::/64\n", errLine: 1},
		{name: "exclude not longer", in: strings.TrimSuffix(ours, "\n") + " exclude 2001:db8:1200::/56\n", errLine: 1},
		{name: "ia_na not a /128", in: strings.Replace(ours, "ia_pd", "ia_na", 1), errLine: 1},
		{name: "dns not an address", in: "dns 2001:db8::53 nameserver\n", errLine: 1},
		{name: "dns twice", in: "dns 2001:db8::53\ndns 2001:db8::54\n", errLine: 2},
		{name: "dns IPv4", in: "dns 192.0.2.53\n", errLine: 1},
		{name: "domain empty", in: "domain\n", errLine: 1},
		{name: "reconfigure short key", in: "reconfigure 0001 7\n", errLine: 1},
		{name: "reconfigure no counter", in: "reconfigure 000102030405060708090a0b0c0d0e0f\n", errLine: 1},
		{name: "attribute twice", in: strings.TrimSuffix(ours, "\n") + " retiring retiring\n", errLine: 1},
		{name: "unknown attribute", in: strings.TrimSuffix(ours, "\n") + " stale\n", errLine: 1},
		{name: "for without names", in: strings.TrimSuffix(ours, "\n") + " for\n", errLine: 1},
		{name: "for with an empty name", in: strings.TrimSuffix(ours, "\n") + " for lan0,,lan1\n", errLine: 1},
		{name: "boot without seconds", in: strings.TrimSuffix(ours, "\n") + " boot abc\n", errLine: 1},
		{name: "boot with negative seconds", in: strings.TrimSuffix(ours, "\n") + " boot abc+-1\n", errLine: 1},
		{name: "duplicate server", in: "server 00030001aabbccddeeff\nserver 00030001aabbccddeeff\n", errLine: 2},
		{name: "server odd hex", in: "server 0003000\n", errLine: 1},
		{name: "server too short", in: "server 0003\n", errLine: 1},
		{name: "server too long", in: "server " + strings.Repeat("00", 131) + "\n", errLine: 1},
		{name: "server two fields", in: "server 00030001aabb ccdd\n", errLine: 1},
		{name: "too few fields", in: "ia_pd 0x1 2001:db8::/48 preferred 3600\n", errLine: 1},
		{name: "keyword out of order", in: strings.Replace(ours, "preferred 3600 valid 7200", "valid 7200 preferred 3600", 1), errLine: 1},
		{name: "IAID without 0x", in: strings.Replace(ours, "0x00000001", "00000001", 1), errLine: 1},
		{name: "IAID above 32 bits", in: strings.Replace(ours, "0x00000001", "0x100000000", 1), errLine: 1},
		{name: "IPv4 prefix", in: strings.Replace(ours, "2001:db8:1200::/56", "192.0.2.0/24", 1), errLine: 1},
		{name: "prefix length 0", in: strings.Replace(ours, "2001:db8:1200::/56", "::/0", 1), errLine: 1},
		{name: "host bits set", in: strings.Replace(ours, "2001:db8:1200::/56", "2001:db8:1200::1/56", 1), errLine: 1},
		{name: "preferred above valid", in: strings.Replace(ours, "preferred 3600 valid 7200", "preferred 7200 valid 3600", 1), errLine: 1},
		{name: "T1 above T2", in: strings.Replace(ours, "t1 1800 t2 2880", "t1 2880 t2 1800", 1), errLine: 1},
		{name: "negative lifetime", in: strings.Replace(ours, "preferred 3600", "preferred -1", 1), errLine: 1},
		{name: "lifetime above 32 bits", in: strings.Replace(ours, "valid 7200", "valid 4294967296", 1), errLine: 1},
		{name: "bad time", in: strings.Replace(ours, "2026-05-01T12:00:00Z", "yesterday", 1), errLine: 1},
		{name: "OpenBSD decimal IAID garbage", in: "ia_pd x 2001:db8:1200:: 56\n", errLine: 1},
		{name: "OpenBSD length 0", in: "ia_pd 0 2001:db8:1200:: 0\n", errLine: 1},
		{name: "OpenBSD length 129", in: "ia_pd 0 2001:db8:1200:: 129\n", errLine: 1},
		{name: "OpenBSD signed length", in: "ia_pd 0 2001:db8:1200:: +56\n", errLine: 1},
		{name: "OpenBSD scoped address", in: "ia_pd 0 fe80::%eth0 64\n", errLine: 1},
		{name: "line too long", in: "# " + strings.Repeat("x", maxLine) + "\n", errLine: 1},
		{name: "more than 32 IAs", in: manyIAs(33), errLine: 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if tt.errLine != 0 {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse = %+v, %v; want a *SyntaxError", got, err)
				}
				if se.Line != tt.errLine {
					t.Errorf("error %q on line %d, want line %d", err, se.Line, tt.errLine)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpLease); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// manyIAs is a file of n OpenBSD-style IA lines with distinct IAIDs.
func manyIAs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("ia_pd " + strconv.Itoa(i) + " 2001:db8:1200:: 56\n")
	}
	return b.String()
}

func TestWriteToRefusesWhatParseRefuses(t *testing.T) {
	ok := goldenLease.IAs[0]
	tests := []struct {
		name string
		l    Lease
	}{
		{"short server DUID", Lease{ServerID: []byte{0, 1}}},
		{"no prefix", Lease{IAs: []IA{{IAID: 1}}}},
		{"IPv4 prefix", Lease{IAs: []IA{{IAID: 1, Prefix: netip.MustParsePrefix("192.0.2.0/24")}}}},
		{"host bits", Lease{IAs: []IA{{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8::1/48")}}}},
		{"duplicate IAID", Lease{IAs: []IA{ok, ok}}},
		{"preferred above valid", Lease{IAs: []IA{{IAID: 1, Prefix: ok.Prefix, Preferred: 2, Valid: 1}}}},
		{"year 10000", Lease{IAs: []IA{{IAID: 1, Prefix: ok.Prefix, Bound: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"33 IAs", Lease{IAs: func() []IA {
			ias := make([]IA, 33)
			for i := range ias {
				ias[i] = IA{IAID: uint32(i), Prefix: ok.Prefix, Bound: bound}
			}
			return ias
		}()}},
		{"a downstream with a space", Lease{IAs: []IA{{IAID: 1, Prefix: ok.Prefix, Downstreams: []string{"lan 0"}}}}},
		{"a downstream with a comma", Lease{IAs: []IA{{IAID: 1, Prefix: ok.Prefix, Downstreams: []string{"lan0,lan1"}}}}},
		{"a boot ID with a plus", Lease{IAs: []IA{{IAID: 1, Prefix: ok.Prefix, Boot: Boot{ID: "a+b"}}}}},
		{"a retiring prefix twice", Lease{IAs: []IA{ok, {IAID: ok.IAID, Prefix: ok.Prefix, Retiring: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if n, err := tt.l.WriteTo(&b); err == nil {
				t.Errorf("WriteTo wrote %d bytes %q, want an error", n, b.String())
			}
		})
	}
}

func TestWriteToTruncatesBoundToSecondInUTC(t *testing.T) {
	ia := goldenLease.IAs[0]
	ia.Bound = time.Date(2026, 5, 1, 14, 0, 0, 999_000_000, time.FixedZone("CEST", 2*3600))
	var b bytes.Buffer
	if _, err := (Lease{IAs: []IA{ia}}).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), " bound 2026-05-01T12:00:00Z ") {
		t.Errorf("WriteTo = %q, want bound 2026-05-01T12:00:00Z", b.String())
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()

	l, err := Read(filepath.Join(dir, "lease.missing"))
	if err != nil || len(l.IAs) != 0 || l.ServerID != nil {
		t.Errorf("Read(missing) = %+v, %v; want an empty lease and no error", l, err)
	}

	torn := filepath.Join(dir, "lease.eth0")
	if err := os.WriteFile(torn, []byte(golden[:len(golden)-20]), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Read(torn)
	if want := torn + ":9: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Read(torn) error = %v, want it to start with %q", err, want)
	}

	if _, err := Read(dir); err == nil {
		t.Error("Read(a directory) succeeded")
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName("eth0"))
	// An older file with a laxer mode is replaced, content and mode.
	if err := os.WriteFile(path, []byte("ia_pd 0 2001:db8:: 48\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, goldenLease); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != golden {
		t.Errorf("file content:\n%s\nwant:\n%s", b, golden)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	assertOnlyFiles(t, dir, FileName("eth0"))

	// A failing rename (path is a non-empty directory) leaves no temporary file.
	blocked := filepath.Join(dir, FileName("eth1"))
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(blocked, goldenLease); err == nil {
		t.Error("Write over a directory succeeded")
	}
	assertOnlyFiles(t, dir, FileName("eth0"), FileName("eth1"))

	// An invalid lease is refused before anything is written.
	if err := Write(path, Lease{IAs: []IA{{IAID: 1}}}); err == nil {
		t.Error("Write of an invalid lease succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != golden {
		t.Errorf("refused Write changed the file to %q", b)
	}
	assertOnlyFiles(t, dir, FileName("eth0"), FileName("eth1"))
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}

func TestPath(t *testing.T) {
	got, err := Path("/var/lib/dhcp6leased", "eth0")
	if err != nil || got != "/var/lib/dhcp6leased/lease.eth0" {
		t.Errorf(`Path("eth0") = %q, %v; want "/var/lib/dhcp6leased/lease.eth0"`, got, err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "eth0:1", "a b", "a\x00", "sixteen-chars-xx"} {
		if got, err := Path("/var/lib/dhcp6leased", bad); err == nil {
			t.Errorf("Path(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRemaining(t *testing.T) {
	ia := IA{Preferred: 3600, Valid: 7200, Bound: bound}
	tests := []struct {
		name                string
		ia                  IA
		now                 time.Time
		wantPref, wantValid time.Duration
	}{
		{"at bound", ia, bound, time.Hour, 2 * time.Hour},
		{"half way", ia, bound.Add(90 * time.Minute), 0, 30 * time.Minute},
		{"sub-second", ia, bound.Add(time.Second / 2), time.Hour - time.Second/2, 2*time.Hour - time.Second/2},
		{"expired", ia, bound.Add(3 * time.Hour), 0, 0},
		{"clock went back", ia, bound.Add(-time.Hour), time.Hour, 2 * time.Hour},
		{"infinity", IA{Preferred: 0xffffffff, Valid: 0xffffffff, Bound: bound}, bound.Add(1000 * time.Hour), Forever, Forever},
		{"infinite valid only", IA{Preferred: 60, Valid: 0xffffffff, Bound: bound}, bound.Add(time.Hour), 0, Forever},
		{"OpenBSD hint", IA{}, bound, 0, 0},
		{"far future", ia, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, v := tt.ia.Remaining(tt.now)
			if p != tt.wantPref || v != tt.wantValid {
				t.Errorf("Remaining = %v, %v; want %v, %v", p, v, tt.wantPref, tt.wantValid)
			}
		})
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives WriteTo and Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if _, err := l.WriteTo(&b); err != nil {
			t.Fatalf("WriteTo of a parsed lease: %v\ninput: %q", err, in)
		}
		first := b.String()
		l2, err := Parse(strings.NewReader(first))
		if err != nil {
			t.Fatalf("Parse of WriteTo output: %v\n%s", err, first)
		}
		if diff := cmp.Diff(l, l2, cmpLease); diff != "" {
			t.Fatalf("Parse -> WriteTo -> Parse changed the lease (-first +second):\n%s", diff)
		}
		b.Reset()
		if _, err := l2.WriteTo(&b); err != nil || b.String() != first {
			t.Fatalf("second WriteTo = %q, %v; want %q", b.String(), err, first)
		}
	})
}

// A long "for" list is cut at a whole name so that the line still parses.
func TestWriteToShortensLongDownstreamList(t *testing.T) {
	var names []string
	for i := range 1000 {
		names = append(names, fmt.Sprintf("lan%d", i))
	}
	l := Lease{IAs: []IA{{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8::/48"), Bound: bound, Downstreams: names}}}
	var b bytes.Buffer
	if _, err := l.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	kept := got.IAs[0].Downstreams
	if len(kept) < 100 || len(kept) >= len(names) || !slices.Equal(kept, names[:len(kept)]) {
		t.Errorf("kept %d names %v..., want a prefix of the list, shorter than %d", len(kept), kept[:min(3, len(kept))], len(names))
	}
}

func TestReckon(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	boot := Boot{ID: "this-boot", Time: 10 * time.Hour}
	ia := IA{IAID: 1, Prefix: netip.MustParsePrefix("2001:db8::/48"), Preferred: 3600, Valid: 7200}
	tests := []struct {
		name      string
		bound     time.Time
		stamp     Boot
		wantBound time.Time
		wantKnown bool
	}{
		{"this boot: the boot clock counts, the wall clock stepped a year",
			now.Add(-365 * 24 * time.Hour), Boot{ID: "this-boot", Time: 9 * time.Hour}, now.Add(-time.Hour), true},
		{"this boot, the wall clock behind", now.Add(24 * time.Hour), Boot{ID: "this-boot", Time: 9 * time.Hour}, now.Add(-time.Hour), true},
		{"another boot: the wall clock counts", now.Add(-time.Hour), Boot{ID: "old-boot", Time: 20 * time.Hour}, now.Add(-time.Hour), true},
		{"no stamp (older file)", now.Add(-time.Hour), Boot{}, now.Add(-time.Hour), true},
		{"another boot, bound in the future: clock behind", now.Add(24 * time.Hour), Boot{ID: "old-boot", Time: time.Hour}, time.Time{}, false},
		{"a few seconds ahead is slack", now.Add(5 * time.Second), Boot{}, now.Add(5 * time.Second), true},
	}
	for _, tt := range tests {
		in := ia
		in.Bound, in.Boot = tt.bound, tt.stamp
		got, known := in.Reckon(now, boot)
		if known != tt.wantKnown || !got.Bound.Equal(tt.wantBound) {
			t.Errorf("%s: Reckon = bound %v, known %v; want %v, %v", tt.name, got.Bound, known, tt.wantBound, tt.wantKnown)
		}
		if !known && (got.Valid != 0 || got.Preferred != 0 || got.Prefix != ia.Prefix) {
			t.Errorf("%s: unknown age kept lifetimes %d/%d or lost the prefix: %+v", tt.name, got.Preferred, got.Valid, got)
		}
	}
	// Stamp then Reckon within one boot gives back the same bound time.
	stamped := IA{Bound: now.Add(-90 * time.Second)}.Stamp(now, boot)
	if stamped.Boot != (Boot{ID: "this-boot", Time: 10*time.Hour - 90*time.Second}) {
		t.Errorf("Stamp = %+v", stamped.Boot)
	}
	later := now.Add(time.Hour)
	if got, _ := stamped.Reckon(later.Add(-48*time.Hour), Boot{ID: "this-boot", Time: 11 * time.Hour}); !got.Bound.Equal(later.Add(-48*time.Hour - time.Hour - 90*time.Second)) {
		t.Errorf("Reckon after Stamp: bound %v", got.Bound)
	}
}
