package parent

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: hook scripts must be owned by root")
	}
}

func writeScript(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckScript(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	good := writeScript(t, dir, "good", "#!/bin/sh\n", 0o755)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	notRoot := writeScript(t, dir, "nobody", "#!/bin/sh\n", 0o755)
	if err := os.Chown(notRoot, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{good, ""},
		{"relative/hook", "not an absolute path"},
		{filepath.Join(dir, "missing"), "no such file"},
		{link, "not a regular file"},
		{dir, "not a regular file"},
		{notRoot, "not owned by root"},
		{writeScript(t, dir, "groupw", "#!/bin/sh\n", 0o775), "writable by group or others"},
		{writeScript(t, dir, "otherw", "#!/bin/sh\n", 0o757), "writable by group or others"},
		{writeScript(t, dir, "noexec", "#!/bin/sh\n", 0o644), "not executable"},
	}
	for _, tt := range tests {
		err := checkScript(tt.path)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkScript(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
}

// syncLog is a log destination the hook workers and the test share.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testHooks(timeout time.Duration) (*hooks, *syncLog) {
	out := new(syncLog)
	h := newHooks(slog.New(slog.NewTextHandler(out, nil)))
	h.timeout = timeout
	return h, out
}

// TestHooksSerialAndSafe: one uplink's events run in order, one at a time;
// a failing script and a hanging one (killed at the timeout, with what it
// started) are logged and the next event still runs.
func TestHooksSerialAndSafe(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	script := writeScript(t, dir, "hook", `#!/bin/sh
echo "start $2" >> `+record+`
case $2 in
FAIL) echo "oops on stdout"; exit 3 ;;
HANG) sleep 600 & sleep 600 ;;
esac
echo "end $2" >> `+record+`
`, 0o755)
	h, out := testHooks(300 * time.Millisecond)
	for _, kind := range []string{"BOUND", "FAIL", "HANG", "RENEW"} {
		h.run(script, &pb.Event{Uplink: "up0", Kind: kind})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.close(ctx)
	if ctx.Err() != nil {
		t.Fatalf("hooks did not finish: %s", out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	want := "start BOUND\nend BOUND\nstart FAIL\nstart HANG\nstart RENEW\nend RENEW\n"
	if string(got) != want {
		t.Errorf("record:\n%s\nwant:\n%s", got, want)
	}
	log := out.String()
	for _, w := range []string{`line="oops on stdout"`, "hook failed", "exit status 3", "hook killed after timeout"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
}

func TestHookEnv(t *testing.T) {
	at := time.Unix(1_700_000_100, 0)
	ia := func(p string, pref, valid uint32) lease.IA {
		return lease.IA{IAID: 1, Prefix: netip.MustParsePrefix(p), Preferred: pref, Valid: valid, Bound: time.Unix(1_700_000_000, 0)}
	}
	ev := &pb.Event{
		Uplink: "up0", Kind: "CHANGED", State: "Bound", Server: []byte{0, 3, 0, 1, 2, 0xab},
		Prefixes:       pb.LeaseToPB(lease.Lease{IAs: []lease.IA{ia("2001:db8:2::/56", 300, 0xffffffff)}}).Ias,
		OldPrefixes:    pb.LeaseToPB(lease.Lease{IAs: []lease.IA{ia("2001:db8:1::/56", 50, 600)}}).Ias,
		Downstreams:    []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:2::1/64"}, {Ifname: "lan1", Address: "2001:db8:2:1::1/64"}},
		OldDownstreams: []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:1::1/64"}},
		DnsServers:     pb.AddrsToPB([]netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")}),
		DomainSearch:   []string{"example.com", "lab.example.com"},
		Addresses:      []*pb.LeaseIA{pb.LeaseIAToPB(ia("2001:db8:0:1::5/128", 300, 600))},
	}
	want := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"DHCP6LEASED_EVENT=CHANGED",
		"DHCP6LEASED_UPLINK=up0",
		"DHCP6LEASED_STATE=Bound",
		"DHCP6LEASED_SERVER=00:03:00:01:02:ab",
		"DHCP6LEASED_PREFIXES=2001:db8:2::/56,200,infinity",
		"DHCP6LEASED_OLD_PREFIXES=2001:db8:1::/56,0,500",
		"DHCP6LEASED_DOWNSTREAMS=lan0=2001:db8:2::1/64 lan1=2001:db8:2:1::1/64",
		"DHCP6LEASED_OLD_DOWNSTREAMS=lan0=2001:db8:1::1/64",
		"DHCP6LEASED_DNS_SERVERS=2001:db8::53 2001:db8::54",
		"DHCP6LEASED_DOMAIN_SEARCH=example.com lab.example.com",
		"DHCP6LEASED_ADDRESSES=2001:db8:0:1::5/128,200,500",
		"DHCP6LEASED_OLD_ADDRESSES=",
	}
	if diff := cmp.Diff(want, hookEnv(ev, at)); diff != "" {
		t.Errorf("lease event environment (-want +got):\n%s", diff)
	}
	ev.Kind, ev.LinkPrevious, ev.LinkCurrent = "LINK_DOWN", "up", "error"
	env := hookEnv(ev, at)
	if tail := env[len(env)-2:]; !cmp.Equal(tail, []string{"IFPLUGD_PREVIOUS=up", "IFPLUGD_CURRENT=error"}) {
		t.Errorf("link event environment ends %q", tail)
	}
}
