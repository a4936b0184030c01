package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// raTimeout bounds the wait for a Router Advertisement answering rdisc6's
// Solicitation, the advertiser just started.
const raTimeout = 5 * time.Second

// advertised is a Prefix Information option of an RA, as rdisc6 prints it.
type advertised struct {
	prefix netip.Prefix
	valid  time.Duration
}

// rdisc6Prefix matches a prefix and its valid lifetime in rdisc6's output.
var rdisc6Prefix = regexp.MustCompile(`(?m)^ Prefix +: (\S+)\n(?:  .*\n)*?  Valid time +: +(\d+) `)

// solicit sends a Router Solicitation from a LAN host (the peer of
// ifname) and returns the prefixes of the RA that answers.
func solicit(t *testing.T, topo *lab.Topology, ifname string) ([]advertised, error) {
	out, err := topo.LAN.Run(t.Context(), "rdisc6", "-1", "-r", "1", "-w", "1000", ifname+"-p")
	if err != nil {
		return nil, fmt.Errorf("rdisc6: %w\n%s", err, out)
	}
	var got []advertised
	for _, m := range rdisc6Prefix.FindAllStringSubmatch(string(out), -1) {
		p, err := netip.ParsePrefix(m[1])
		if err != nil {
			return nil, fmt.Errorf("rdisc6 prefix %q: %w", m[1], err)
		}
		valid, _ := strconv.Atoi(m[2]) // \d+
		got = append(got, advertised{p, time.Duration(valid) * time.Second})
	}
	return got, nil
}

// TestDeployRA tries the radvd and dnsmasq recipes of docs/DEPLOY.md
// against a delegation from Kea: with forwarding on, as on a router, each
// advertises lan0's delegated /64 to a LAN host; dnsmasq's constructor with
// the address's lifetimes, at most the lease's.
func TestDeployRA(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "radvd", "dnsmasq", "rdisc6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	uplink := topo.Uplinks[0]
	// The recipe's sysctls: a router forwards, and still takes RAs on
	// its uplink (accept_ra=2, or the kernel ignores them once
	// forwarding is on).
	if out, err := topo.CLI.Run(t.Context(), "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1",
		"net.ipv6.conf."+uplink+".accept_ra=2"); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	d := newDaemon(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on "+uplink+" for lan0\n")
	addr := d.waitAnyAddr("lan0", bindTimeout)
	want := addr.Prefix.Masked()
	dir := t.TempDir()

	recipes := []struct {
		name string
		argv []string
		conf string // the recipe's config file, CONF in argv
		// lease: the RA's valid lifetime follows the address's.
		lease bool
	}{
		{name: "radvd", conf: "interface lan0 {\n\tAdvSendAdvert on;\n\tprefix ::/64 {\n\t};\n};\n",
			argv: []string{"radvd", "-n", "-m", "stderr", "-C", "CONF", "-p", "CONF.pid"}},
		{name: "dnsmasq", conf: "port=0\nenable-ra\ndhcp-range=::,constructor:lan0,ra-only\ninterface=lan0\nbind-interfaces\n", lease: true,
			argv: []string{"dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=CONF", "--pid-file=CONF.pid"}},
	}
	for _, r := range recipes {
		t.Run(r.name, func(t *testing.T) {
			conf := filepath.Join(dir, r.name+".conf")
			if err := os.WriteFile(conf, []byte(r.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := make([]string, len(r.argv))
			for i, a := range r.argv {
				argv[i] = strings.ReplaceAll(a, "CONF", conf)
			}
			p, err := topo.CLI.Start(t.Context(), argv...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Stop(); err != nil {
					t.Errorf("%s: %v\n%s", r.name, err, p.Output())
				}
			}()
			var got []advertised
			lab.WaitForT(t, raTimeout, r.name+" advertising "+want.String(), func() (bool, error) {
				got, err = solicit(t, topo, "lan0")
				return len(got) == 1 && got[0].prefix == want, fmt.Errorf("advertised %v: %w", got, err)
			})
			t.Logf("%s: RA prefix %v valid %v; address valid %v", r.name, got[0].prefix, got[0].valid, addr.ValidLft)
			if r.lease && got[0].valid > addr.ValidLft {
				t.Errorf("%s advertises valid %v, past the address's %v", r.name, got[0].valid, addr.ValidLft)
			}
		})
	}
}
