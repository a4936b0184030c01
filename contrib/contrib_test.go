// Package contrib holds files installed beside the daemon: the systemd
// unit and its sysusers.d and tmpfiles.d files (checked on the installed
// tree by tests/e2e/install_test.go), the example configuration and the
// example hook, checked here.
package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
)

// TestExampleConfig: the example parses, and so does every statement it
// shows commented out (`#statement`, no blank after the #).
func TestExampleConfig(t *testing.T) {
	const example = "dhcp6leased.conf.example"
	if _, err := config.Load(example); err != nil {
		t.Fatalf("%s: %v", example, err)
	}
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`(?m)^#([a-z].*)$`)
	for _, ext := range []string{"duid ", "host part ", "unreachable route ", "solicit delay ", "release on shutdown ",
		"link up delay ", "link down delay ", "script "} {
		if !strings.Contains(string(text), "\n#"+ext) {
			t.Errorf("%s does not show the %q statement (docs/CONFIG.md, Linux extensions)", example, ext)
		}
	}
	all := commented.ReplaceAll(text, []byte("$1"))
	p := filepath.Join(t.TempDir(), "all.conf")
	if err := os.WriteFile(p, all, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(p); err != nil {
		t.Errorf("%s with its commented statements enabled: %v", example, err)
	}
}

// TestShellcheck lints the shell scripts as POSIX sh: the hook and the
// metrics recipe (tests/e2e/metrics_test.go runs the latter).
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (Debian package shellcheck)")
	}
	for _, script := range []string{"radvd-hook", "prometheus/dhcp6leased-textfile"} {
		if out, err := exec.Command("shellcheck", "--shell=sh", script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", script, err, out)
		}
	}
}

// hookRun is one invocation of the hook, as dhcp6leased would make it.
type hookRun struct {
	uplink, event string
	env           map[string]string
	reload        bool // radvd is reloaded: radvd.conf changed
}

// TestRadvdHook plays a lease's life on two uplinks through the hook and
// checks radvd.conf after it (and with radvd itself when installed).
func TestRadvdHook(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "radvd.conf")
	head := filepath.Join(dir, "radvd.conf.head")
	reloads := filepath.Join(dir, "reloads")
	if err := os.WriteFile(head, []byte("interface eth9 {\n\tAdvSendAdvert off;\n};\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := []hookRun{
		{uplink: "up0", event: "LINK_UP"},
		{uplink: "up0", event: "BOUND", reload: true, env: map[string]string{
			"DHCP6LEASED_DOWNSTREAMS":   "lan0=2001:db8:1200::1/64 lan1=2001:db8:1200:10::1/60",
			"DHCP6LEASED_PREFIXES":      "2001:db8:1200::/56,3600,7200",
			"DHCP6LEASED_DNS_SERVERS":   "2001:db8::53 2001:db8::54",
			"DHCP6LEASED_DOMAIN_SEARCH": "isp.example",
		}},
		// The same LAN on a second uplink: both prefixes are advertised.
		{uplink: "up1", event: "BOUND", reload: true, env: map[string]string{
			"DHCP6LEASED_DOWNSTREAMS": "lan0=2001:db8:ff00::1/64",
			"DHCP6LEASED_PREFIXES":    "2001:db8:ff00::/48,infinity,infinity",
		}},
		{uplink: "up1", event: "RENEW", env: map[string]string{
			"DHCP6LEASED_DOWNSTREAMS": "lan0=2001:db8:ff00::1/64",
			"DHCP6LEASED_PREFIXES":    "2001:db8:ff00::/48,infinity,infinity",
		}},
		// A new prefix on up0: the old LAN prefixes are deprecated, valid
		// for at most 2 hours (RFC 7084 L-13).
		{uplink: "up0", event: "CHANGED", reload: true, env: map[string]string{
			"DHCP6LEASED_DOWNSTREAMS":     "lan0=2001:db8:1300::1/64 lan1=2001:db8:1300:10::1/60",
			"DHCP6LEASED_PREFIXES":        "2001:db8:1300::/56,3600,7200",
			"DHCP6LEASED_OLD_DOWNSTREAMS": "lan0=2001:db8:1200::1/64 lan1=2001:db8:1200:10::1/60",
			"DHCP6LEASED_OLD_PREFIXES":    "2001:db8:1200::/56,1800,9000",
			"DHCP6LEASED_DNS_SERVERS":     "2001:db8::53 2001:db8::54",
			"DHCP6LEASED_DOMAIN_SEARCH":   "isp.example",
		}},
	}
	for _, r := range runs {
		cmd := exec.Command("./radvd-hook", r.uplink, r.event)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DHCP6LEASED_EVENT=" + r.event, "DHCP6LEASED_UPLINK=" + r.uplink,
			"RADVD_CONF=" + conf, "RADVD_HEAD=" + head, "RADVD_STATE=" + filepath.Join(dir, "state"),
			"RADVD_RELOAD=touch " + reloads + "." + r.uplink + "." + r.event}
		for k, v := range r.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("radvd-hook %s %s: %v\n%s", r.uplink, r.event, err, out)
		}
		_, err := os.Stat(reloads + "." + r.uplink + "." + r.event)
		if reloaded := err == nil; reloaded != r.reload {
			t.Errorf("radvd-hook %s %s: reloaded %v, want %v", r.uplink, r.event, reloaded, r.reload)
		}
	}
	got, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by ./radvd-hook for dhcp6leased; edit HEAD instead.
interface eth9 {
	AdvSendAdvert off;
};
interface lan0 {
	AdvSendAdvert on;
	DNSSL isp.example {
	};
	prefix 2001:db8:1200:0:0:0:0:0/64 {
		AdvPreferredLifetime 0;
		AdvValidLifetime 7200;
		DecrementLifetimes on;
	};
	prefix 2001:db8:1300:0:0:0:0:0/64 {
		AdvPreferredLifetime 3600;
		AdvValidLifetime 7200;
		DecrementLifetimes on;
	};
	prefix 2001:db8:ff00:0:0:0:0:0/64 {
		AdvPreferredLifetime infinity;
		AdvValidLifetime infinity;
		DecrementLifetimes on;
	};
	RDNSS 2001:db8::53 2001:db8::54 {
	};
};
interface lan1 {
	AdvSendAdvert on;
	DNSSL isp.example {
	};
	prefix 2001:db8:1200:10:0:0:0:0/60 {
		AdvPreferredLifetime 0;
		AdvValidLifetime 7200;
		DecrementLifetimes on;
	};
	prefix 2001:db8:1300:10:0:0:0:0/60 {
		AdvPreferredLifetime 3600;
		AdvValidLifetime 7200;
		DecrementLifetimes on;
	};
	RDNSS 2001:db8::53 2001:db8::54 {
	};
};
`
	if diff := cmp.Diff(want, strings.ReplaceAll(string(got), head, "HEAD")); diff != "" {
		t.Errorf("radvd.conf (-want +got):\n%s", diff)
	}
	if _, err := exec.LookPath("radvd"); err != nil {
		t.Skip("radvd not installed (Debian package radvd): radvd.conf not checked by radvd")
	}
	if out, err := exec.Command("radvd", "--configtest", "--config", conf, "--logmethod", "stderr").CombinedOutput(); err != nil {
		t.Errorf("radvd --configtest: %v\n%s", err, out)
	}
}
