package lab

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// netipEqual lets cmp compare net/netip values, whose fields are unexported.
func netipEqual() cmp.Option {
	return cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
}

func TestParseAddrs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Addr
	}{
		{
			name: "global with lifetimes, tentative link-local",
			in: `[{"ifindex":3,"ifname":"xa","addr_info":[` +
				`{"family":"inet6","local":"2001:db8::1","prefixlen":64,"scope":"global","dynamic":true,"valid_life_time":58,"preferred_life_time":28},` +
				`{"family":"inet6","local":"fe80::e43b:e2ff:fedb:e241","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`,
			want: []Addr{
				{Prefix: netip.MustParsePrefix("2001:db8::1/64"), Scope: "global", PreferredLft: 28 * time.Second, ValidLft: 58 * time.Second},
				{Prefix: netip.MustParsePrefix("fe80::e43b:e2ff:fedb:e241/64"), Scope: "link", PreferredLft: Forever, ValidLft: Forever, Tentative: true},
			},
		},
		{
			name: "deprecated",
			in:   `[{"addr_info":[{"family":"inet6","local":"2001:db8:1::1","prefixlen":56,"scope":"global","deprecated":true,"valid_life_time":10,"preferred_life_time":0}]}]`,
			want: []Addr{{Prefix: netip.MustParsePrefix("2001:db8:1::1/56"), Scope: "global", ValidLft: 10 * time.Second, Deprecated: true}},
		},
		{
			name: "no addresses",
			in:   `[{"ifindex":3,"ifname":"xa","addr_info":[]}]`,
		},
		{
			name: "no such link",
			in:   `[]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddrs([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, netipEqual()); diff != "" {
				t.Errorf("parseAddrs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAddrsErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`[{"addr_info":[{"family":"inet6","local":"2001:db8::1","prefixlen":129}]}]`,
		`[{"addr_info":[{"family":"inet6","local":"not an address","prefixlen":64}]}]`,
	} {
		if got, err := parseAddrs([]byte(in)); err == nil {
			t.Errorf("parseAddrs(%s) = %+v, want error", in, got)
		}
	}
}

func TestParseRoutes(t *testing.T) {
	in := `[{"dst":"2001:db8::/64","dev":"xa","protocol":"kernel","metric":256,"flags":[],"expires":57,"pref":"medium"},` +
		`{"type":"unreachable","dst":"2001:db8:100::/56","dev":"lo","protocol":"openr","metric":1024,"flags":[],"pref":"medium"},` +
		`{"dst":"default","gateway":"fe80::1","dev":"up0","protocol":"ra","metric":1024,"flags":[]},` +
		`{"type":"local","dst":"2001:db8::1","dev":"xa","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},` +
		`{"type":"unreachable","dst":"2001:db8:200::/56","dev":"lo","protocol":"253","flags":[]}]`
	want := []Route{
		{Type: "unicast", Dst: netip.MustParsePrefix("2001:db8::/64"), Dev: "xa", Protocol: "kernel", Table: "main", Metric: 256},
		{Type: "unreachable", Dst: netip.MustParsePrefix("2001:db8:100::/56"), Dev: "lo", Protocol: "openr", Table: "main", Metric: 1024},
		{Type: "unicast", Dst: netip.MustParsePrefix("::/0"), Dev: "up0", Protocol: "ra", Table: "main", Metric: 1024},
		{Type: "local", Dst: netip.MustParsePrefix("2001:db8::1/128"), Dev: "xa", Protocol: "kernel", Table: "local"},
		{Type: "unreachable", Dst: netip.MustParsePrefix("2001:db8:200::/56"), Dev: "lo", Protocol: "253", Table: "main"},
	}
	got, err := parseRoutes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, netipEqual()); diff != "" {
		t.Errorf("parseRoutes (-want +got):\n%s", diff)
	}
	if got, err := parseRoutes([]byte(`[{"dst":"nonsense"}]`)); err == nil {
		t.Errorf("parseRoutes(bad dst) = %+v, want error", got)
	}
}

func TestParseAddrEvent(t *testing.T) {
	at := time.Unix(1700000000, 0)
	tests := []struct {
		line string
		want AddrEvent
		ok   bool
	}{
		{
			line: `3: xa    inet6 2001:db8::1/64 scope global nodad dynamic \       valid_lft 60sec preferred_lft 30sec`,
			want: AddrEvent{Ifname: "xa", Prefix: netip.MustParsePrefix("2001:db8::1/64")},
			ok:   true,
		},
		{
			line: `Deleted 12: lan0    inet6 2001:db8:100:1::1/64 scope global \       valid_lft 60sec preferred_lft 30sec`,
			want: AddrEvent{Deleted: true, Ifname: "lan0", Prefix: netip.MustParsePrefix("2001:db8:100:1::1/64")},
			ok:   true,
		},
		{line: `Deleted unreachable 2001:db8:100::/56 dev lo proto openr metric 1024 pref medium`},
		{line: `local 2001:db8::1 dev xa table local proto kernel metric 0 pref medium`},
		{line: `3: xa    inet 192.0.2.1/24 scope global xa`},
		{line: ``},
	}
	for _, tt := range tests {
		got, ok := parseAddrEvent(MonitorLine{Time: at, Text: tt.line})
		if ok != tt.ok {
			t.Errorf("parseAddrEvent(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if ok {
			tt.want.Time, tt.want.Line = at, tt.line
		}
		if diff := cmp.Diff(tt.want, got, netipEqual()); diff != "" {
			t.Errorf("parseAddrEvent(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestParsePacket(t *testing.T) {
	tests := []struct {
		line string
		want Packet
		ok   bool
	}{
		{
			line: `1795674686.362724 IP6 (flowlabel 0x777d1, hlim 1, next-header UDP (17) payload length: 80) fe80::1842:9aff:fe88:35c6.546 > ff02::1:2.547: [bad udp cksum 0xe578 -> 0xcb92!] dhcp6 solicit (xid=ccc83 (client-ID hwaddr/time type 1 time 848989886 1a429a8835c6) (elapsed-time 0) (IA_PD IAID:1 T1:0 T2:0) (rapid-commit))`,
			want: Packet{
				Time: time.Unix(1795674686, 362724000), Type: "solicit", XID: 0xccc83,
				Src: netip.MustParseAddrPort("[fe80::1842:9aff:fe88:35c6]:546"), Dst: netip.MustParseAddrPort("[ff02::1:2]:547"),
			},
			ok: true,
		},
		{
			line: `1795674686.364619 IP6 (flowlabel 0x77e96, hlim 64, next-header UDP (17) payload length: 148) fe80::6c:61ff:fe62:1.547 > fe80::1842:9aff:fe88:35c6.546: [udp sum ok] dhcp6 reply (xid=18cbe9 (server-ID hwaddr type 1 026c61620001) (IA_PD IAID:1 T1:10 T2:20 (IA_PD-prefix 2001:db8:100::/56 pltime:30 vltime:60)))`,
			want: Packet{
				Time: time.Unix(1795674686, 364619000), Type: "reply", XID: 0x18cbe9,
				Src: netip.MustParseAddrPort("[fe80::6c:61ff:fe62:1]:547"), Dst: netip.MustParseAddrPort("[fe80::1842:9aff:fe88:35c6]:546"),
			},
			ok: true,
		},
		{
			line: `1795674686.000001 IP6 (hlim 64, next-header UDP (17) payload length: 90) fe80::1.547 > ff02::1:2.547: [udp sum ok] dhcp6 relay-fwd (linkaddr=:: peeraddr=fe80::2 (relaymsg))`,
			want: Packet{
				Time: time.Unix(1795674686, 1000), Type: "relay-fwd",
				Src: netip.MustParseAddrPort("[fe80::1]:547"), Dst: netip.MustParseAddrPort("[ff02::1:2]:547"),
			},
			ok: true,
		},
		{line: `tcpdump: listening on up0, link-type EN10MB (Ethernet), snapshot length 262144 bytes`},
		{line: `1795674686.000001 IP6 (hlim 255, next-header ICMPv6 (58) payload length: 16) fe80::1 > ff02::2: [icmp6 sum ok] ICMP6, router solicitation`},
		{line: `3 packets captured`},
	}
	for _, tt := range tests {
		got, ok := parsePacket(tt.line)
		if ok != tt.ok {
			t.Errorf("parsePacket(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if ok {
			tt.want.Line = tt.line
		}
		if diff := cmp.Diff(tt.want, got, netipEqual()); diff != "" {
			t.Errorf("parsePacket(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestParseKeaLeases(t *testing.T) {
	const header = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source\n"
	in := header +
		"2001:db8:100::,00:01:00:01:32:9a:8f:48:fe:35:ba:5a:e0:eb,60,1795674884,1,30,2,1,56,0,0,,fe:35:ba:5a:e0:eb,0,,1,2\n" +
		"2001:db8:0:1::1000,00:01:00:01:32:9a:8f:48:fe:35:ba:5a:e0:eb,60,1795674884,1,30,0,7,128,0,0,,,0,,,\n" +
		"2001:db8:100:100::,00:03:00:01:02:00:00:00:00:02,60,1795674890,1,30,2,2,56,0,0,,,0,,,\n" +
		"2001:db8:100::,00:01:00:01:32:9a:8f:48:fe:35:ba:5a:e0:eb,0,1795674900,1,0,2,1,56,0,0,,,0,,,\n"
	want := []ServerLease{
		{
			Prefix: netip.MustParsePrefix("2001:db8:100::/56"),
			DUID:   []byte{0, 1, 0, 1, 0x32, 0x9a, 0x8f, 0x48, 0xfe, 0x35, 0xba, 0x5a, 0xe0, 0xeb},
			IAID:   1, Expire: time.Unix(1795674900, 0), // released: the last row wins
		},
		{
			Prefix: netip.MustParsePrefix("2001:db8:100:100::/56"),
			DUID:   []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 2},
			IAID:   2, Valid: 60 * time.Second, Preferred: 30 * time.Second, Expire: time.Unix(1795674890, 0),
		},
	}
	got, err := parseKeaLeases(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, netipEqual()); diff != "" {
		t.Errorf("parseKeaLeases (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"address,duid\n2001:db8::,00:01\n",
		header + "2001:db8:100::,zz,60,1795674884,1,30,2,1,56,0,0,,,0,,,\n",
		header + "2001:db8:100::,00:01,60,1795674884,1,30,2,1,129,0,0,,,0,,,\n",
	} {
		if got, err := parseKeaLeases(strings.NewReader(bad)); err == nil {
			t.Errorf("parseKeaLeases(%q) = %+v, want error", bad, got)
		}
	}
}

func TestLastSubprefix(t *testing.T) {
	tests := []struct {
		pool   string
		length int
		want   string
	}{
		{"2001:db8:100::/40", 56, "2001:db8:1ff:ff00::"},
		{"2001:db8:100::/40", 40, "2001:db8:100::"},
		{"2001:db8:200::/48", 60, "2001:db8:200:fff0::"},
		{"2001:db8:0:1::/64", 128, "2001:db8:0:1:ffff:ffff:ffff:ffff"},
		{"2001:db8:100:5::/40", 41, "2001:db8:180::"}, // host bits of the pool are ignored
	}
	for _, tt := range tests {
		if got := lastSubprefix(netip.MustParsePrefix(tt.pool), tt.length); got != netip.MustParseAddr(tt.want) {
			t.Errorf("lastSubprefix(%s, %d) = %v, want %s", tt.pool, tt.length, got, tt.want)
		}
	}
}

func TestDhcpdConfig(t *testing.T) {
	opts, err := ServerOptions{
		RapidCommit: true,
		Pools: []PDPool{
			{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56},
			{Prefix: netip.MustParsePrefix("2001:db8:200::/48"), DelegatedLen: 60},
		},
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got, err := dhcpdConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `default-lease-time 60;
max-lease-time 60;
preferred-lifetime 30;
option dhcp-renewal-time 10;
option dhcp-rebinding-time 20;
option dhcp6.rapid-commit;
authoritative;
subnet6 2001:db8:0:1::/64 {
	prefix6 2001:db8:100:: 2001:db8:1ff:ff00:: /56;
	prefix6 2001:db8:200:: 2001:db8:200:fff0:: /60;
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("dhcpdConfig (-want +got):\n%s", diff)
	}
	opts.Pools[0].Excluded = netip.MustParsePrefix("2001:db8:100::/64")
	if _, err := dhcpdConfig(opts); err == nil {
		t.Error("dhcpdConfig with an excluded prefix: want error")
	}
}

func TestKeaConfig(t *testing.T) {
	so, err := ServerOptions{
		Preferred: 300 * time.Second, Valid: 600 * time.Second, T1: 100 * time.Second, T2: 200 * time.Second,
		Pools: []PDPool{{
			Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56,
			Excluded: netip.MustParsePrefix("2001:db8:100::/64"),
		}},
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keaConfig(KeaOptions{ServerOptions: so, ServerID: ServerID{Enterprise: 32473, Identifier: []byte{0xca, 0xfe}}},
		"br-s", "/d", "/d/leases.csv", "/d/kea.log")
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(`{"Dhcp6": {
		"interfaces-config": {"interfaces": ["br-s"], "service-sockets-max-retries": 10, "service-sockets-retry-wait-time": 500},
		"data-directory": "/d",
		"server-id": {"type": "EN", "enterprise-id": 32473, "identifier": "cafe", "persist": false},
		"lease-database": {"type": "memfile", "name": "/d/leases.csv", "persist": true, "lfc-interval": 0},
		"preferred-lifetime": 300, "valid-lifetime": 600, "renew-timer": 100, "rebind-timer": 200,
		"subnet6": [{"id": 1, "subnet": "2001:db8:0:1::/64", "interface": "br-s", "rapid-commit": false,
			"pd-pools": [{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56,
				"excluded-prefix": "2001:db8:100::", "excluded-prefix-len": 64}]}],
		"loggers": [{"name": "kea-dhcp6", "severity": "DEBUG", "debuglevel": 40,
			"output_options": [{"output": "/d/kea.log", "flush": true}]}]
	}}`), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keaConfig (-want +got):\n%s", diff)
	}
}

func TestServerOptionsErrors(t *testing.T) {
	for _, o := range []ServerOptions{
		{Valid: 1500 * time.Millisecond},
		{T1: -time.Second},
		{Pools: []PDPool{{Prefix: netip.MustParsePrefix("2001:db8::/48"), DelegatedLen: 40}}},
		{Pools: []PDPool{{Prefix: netip.MustParsePrefix("2001:db8::/48"), DelegatedLen: 129}}},
		{Pools: []PDPool{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), DelegatedLen: 28}}},
		{Pools: []PDPool{{DelegatedLen: 56}}},
	} {
		if got, err := o.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) = %+v, want error", o, got)
		}
	}
}

func TestWaitFor(t *testing.T) {
	ctx := t.Context()
	calls := 0
	if err := WaitFor(ctx, time.Second, "third call", func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	}); err != nil || calls != 3 {
		t.Errorf("WaitFor = %v after %d calls, want nil after 3", err, calls)
	}

	err := WaitFor(ctx, 50*time.Millisecond, "the impossible", func() (bool, error) {
		return false, errors.New("lan0 has nothing")
	})
	if err == nil || !strings.Contains(err.Error(), "the impossible") || !strings.Contains(err.Error(), "lan0 has nothing") {
		t.Errorf("WaitFor timeout error %q should name what and the last observation", err)
	}

	gone := errors.New("server exited")
	calls = 0
	err = WaitFor(ctx, time.Minute, "a dead server", func() (bool, error) {
		calls++
		return false, Abort(gone)
	})
	if !errors.Is(err, gone) || calls != 1 {
		t.Errorf("WaitFor after Abort = %v after %d calls, want %v after 1", err, calls, gone)
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{line: func(_ time.Time, l string) { lines = append(lines, l) }}
	for _, chunk := range []string{"first", " line\nsecond\n", "\nthird", "\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"first line", "second", "", "third"}; !cmp.Equal(want, lines) {
		t.Errorf("lines %q, want %q", lines, want)
	}
}

func TestProcStop(t *testing.T) {
	ctx := t.Context()
	p, err := start(ctx, nil, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop of a program ended by SIGTERM: %v", err)
	}
	p, err = start(ctx, nil, "sh", "-c", "echo broken; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Stop of a program that failed: %v, want its exit status and output", err)
	}
	if err := p.Signal(9); err == nil {
		t.Error("Signal to an exited program: want error")
	}
}
