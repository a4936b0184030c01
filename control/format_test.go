package control

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

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

// now is the clock of every fixture.
var now = time.UnixMilli(1_700_000_000_000)

func at(d time.Duration) int64 { return now.Add(d).UnixMilli() }

// interfaces covers every case of the status output: a bound uplink with
// two IA_PDs (one empty, one with an entry that does not fit), one
// rebinding with infinite lifetimes, one whose lease has just run out and
// one that holds nothing.
var interfaces = []*pb.InterfaceStatus{{
	Name: "up0", State: "Bound", ServerId: []byte{0, 3, 0, 1, 2, 0x6c, 0, 0, 0, 1},
	T1UnixMs: at(10 * time.Second), T2UnixMs: at(20 * time.Second), LinkUp: true, LinkExists: true,
	RouterAdvertisements: 1, AcceptRa: 2, Forwarding: 1,
	Ias: []*pb.IAStatus{{
		Index: 0, Iaid: 0x1234abcd, Prefix: "2001:db8:100::/56",
		PreferredUntilUnixMs: at(30 * time.Second), ValidUntilUnixMs: at(60*time.Second + 400*time.Millisecond),
		Downstreams: []*pb.Downstream{
			{Ifname: "lan0", Address: "2001:db8:100::1/64"},
			{Ifname: "lan1", Address: "2001:db8:100:10::1/60"},
		},
		Unfit:    []string{"lan9"},
		Excluded: "2001:db8:100:ff::/64",
	}, {Index: 1, Iaid: 0x42}},
	DnsServers: []string{"2001:db8::53", "2001:db8::5:53"}, DomainSearch: []string{"example.com", "lab.example.com"},
	ReconfigureKey: true,
	Addresses: []*pb.IAStatus{{Iaid: 0x77, Prefix: "2001:db8:0:1::5/128",
		PreferredUntilUnixMs: at(30 * time.Second), ValidUntilUnixMs: at(60 * time.Second)}},
}, {
	Name: "up1", State: "Rebinding", ServerId: []byte{0, 2, 0, 0, 0, 9, 0xab},
	T1UnixMs: at(-time.Hour), T2UnixMs: at(-time.Minute), LinkUp: true, LinkExists: true,
	RouterAdvertisements: 2, AcceptRa: 1, Forwarding: 1,
	Ias: []*pb.IAStatus{{
		Index: 0, Iaid: 0x99, Prefix: "2001:db8:ff00::/48",
		PreferredUntilUnixMs: -1, ValidUntilUnixMs: -1,
		Downstreams: []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:ff00::1/64"}},
		Retiring: []*pb.RetiringPrefix{{Prefix: "2001:db8:fe00::/48", ValidUntilUnixMs: at(90 * time.Minute),
			Downstreams: []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:fe00::1/64"}}}},
	}},
	RepairedAddresses: 3, RepairedRoutes: 1, LastRepairUnixMs: at(-42 * time.Second),
	KernelError: "add 2001:db8:ff00::1/64 on lan0: operation not permitted", KernelErrorUnixMs: at(-5 * time.Second),
}, {
	Name: "up2", State: "Rebooting", LinkExists: true, RouterAdvertisements: 3, AcceptRa: 0, Forwarding: 1,
	Ias: []*pb.IAStatus{{
		Index: 0, Iaid: 7, Prefix: "2001:db8:7::/64",
		PreferredUntilUnixMs: at(-2 * time.Second), ValidUntilUnixMs: at(-time.Second),
	}},
}, {Name: "up3", State: "Init", Ias: []*pb.IAStatus{{Index: 0, Iaid: 0xffffffff}}}, {
	Name: "up4", State: "Down", LinkUp: true, LinkExists: true, Ias: []*pb.IAStatus{{Index: 0, Iaid: 4}},
	SocketError:       "udp socket for up4: bind [fe80::1%up4]:546: address already in use (held by dhcpcd (pid 812))",
	SocketRetryUnixMs: at(8 * time.Second),
}}

// stats covers counters in every map and an uplink that has none.
var stats = []*pb.InterfaceStats{{
	Name:            "up0",
	Sent:            map[string]uint64{"SOLICIT": 3, "REQUEST": 1, "RENEW": 2},
	Received:        map[string]uint64{"ADVERTISE": 1, "REPLY": 3},
	Drops:           map[string]uint64{"transaction-id": 4, "client-id-mismatch": 1},
	Retransmissions: 2, RepairedAddresses: 2, RepairedRoutes: 1,
}, {Name: "up1"}}

// goldens are every output form of dhcp6leasectl, by golden file name.
var goldens = map[string]func(io.Writer) error{
	"interface.txt":       func(w io.Writer) error { return WriteText(w, interfaces, now) },
	"interface.json":      func(w io.Writer) error { return WriteJSON(w, NewShowInterface(interfaces, now)) },
	"interface-none.txt":  func(w io.Writer) error { return WriteText(w, nil, now) },
	"interface-none.json": func(w io.Writer) error { return WriteJSON(w, NewShowInterface(nil, now)) },
	"stats.txt":           func(w io.Writer) error { return WriteStats(w, stats) },
	"stats.json":          func(w io.Writer) error { return WriteJSON(w, NewShowStats(stats)) },
	"stats-none.txt":      func(w io.Writer) error { return WriteStats(w, nil) },
	"stats-none.json":     func(w io.Writer) error { return WriteJSON(w, NewShowStats(nil)) },
}

// TestGolden compares each output form with testdata/NAME.golden; run
// `go test ./control -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	for name, write := range goldens {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s differs (-golden +got):\n%s", path, diff)
			}
		})
	}
}
