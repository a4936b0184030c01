package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// TestTornLeaseFile: a garbage lease file is reported with its path and
// ignored; the daemon solicits and binds, then writes a good file (SPEC 8).
func TestTornLeaseFile(t *testing.T) {
	lab.Require(t, "kea-dhcp6", "tcpdump")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	capture := lab.StartCaptureT(t, topo.SRV, topo.ServerIf)
	d := newDaemonStopped(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	path := filepath.Join(d.state, lease.FileName("up0"))
	if err := os.MkdirAll(d.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("ia_pd 0x1 2001:db8:100::/56 preferred 3"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()
	d.waitAnyAddr("lan0", bindTimeout)
	lab.WaitForT(t, 5*time.Second, "a Solicit on the wire (the torn lease ignored)", func() (bool, error) {
		_, ok := capture.First("solicit", time.Time{})
		return ok, nil
	})
	if _, ok := capture.First("rebind", time.Time{}); ok {
		t.Error("a Rebind: the torn lease was used")
	}
	if out := d.output(); !strings.Contains(out, path) {
		t.Errorf("daemon output does not name the torn file %s:\n%s", path, out)
	}
	lab.WaitForT(t, 5*time.Second, "a good lease file", func() (bool, error) {
		l, err := lease.Read(path)
		return err == nil && len(l.IAs) == 1, nil
	})
}

// TestDUID: the client DUID is what the configuration chooses, as the
// server records it (SPEC 8): a persisted DUID-UUID by default, DUID-LL or
// DUID-LLT (its time persisted) from an interface, or raw hex.
func TestDUID(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	for _, kind := range []string{"uuid", "ll", "llt", "raw", "ll-fallback"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
			k := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
			line := map[string]string{"uuid": "", "ll": "duid ll \"up0\"\n", "llt": "duid llt \"up0\"\n",
				"raw": "duid \"00:02:00:00:7e:a1:64:68:63:70:36\"\n",
				// lo stands for ppp0: a link without a hardware address.
				"ll-fallback": "duid ll lo\n"}[kind]
			d := newDaemon(t, topo, line+flapConf)
			d.waitAnyAddr("lan0", bindTimeout)
			out, err := topo.CLI.Run(t.Context(), "cat", "/sys/class/net/up0/address")
			if err != nil {
				t.Fatal(err)
			}
			mac, err := net.ParseMAC(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			switch kind {
			case "uuid":
				// The file exists now, so this reads it.
				u, err := lease.LoadOrCreateUUID(d.state)
				if err != nil {
					t.Fatal(err)
				}
				want = dhcp6.DUIDUUID(u)
			case "ll":
				want = append([]byte{0, 3, 0, 1}, mac...)
			case "llt":
				when, err := lease.LoadOrCreateLLTTime(d.state, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				want = dhcp6.DUIDLLT(1, when, mac)
			case "raw":
				want = []byte{0, 2, 0, 0, 0x7e, 0xa1, 'd', 'h', 'c', 'p', '6'}
			case "ll-fallback":
				// The interface with the lowest index that has an
				// Ethernet address (docs/CONFIG.md).
				var ifaces []net.Interface
				if err := topo.CLI.Do(func() (err error) { ifaces, err = net.Interfaces(); return err }); err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(ifaces, func(a, b net.Interface) int { return a.Index - b.Index })
				for _, ifi := range ifaces {
					if len(ifi.HardwareAddr) == 6 && !bytes.Equal(ifi.HardwareAddr, make([]byte, 6)) {
						want = append([]byte{0, 3, 0, 1}, ifi.HardwareAddr...)
						break
					}
				}
				d.waitLog("duid: the interface has no hardware address, using another's", 1, time.Second)
			}
			leases, err := k.Leases()
			if err != nil {
				t.Fatal(err)
			}
			if len(leases) != 1 || !bytes.Equal(leases[0].DUID, want) {
				t.Fatalf("server leases %v, want one for DUID %s", leases, dhcp6.FormatDUID(want))
			}
		})
	}
}

// TestHostPartNoRoute: `host part` puts another host address on the
// downstreams and `unreachable route no` installs no route (SPEC 4).
func TestHostPartNoRoute(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemon(t, topo, "host part \"::64:1\"\nunreachable route no\n"+flapConf)
	pfx := d.heldPrefix("up0")
	b := sub64(pfx, 0).Addr().As16()
	b[13], b[15] = 0x64, 0x01 // ::1 becomes ::64:1
	want := netip.PrefixFrom(netip.AddrFrom16(b), 64)
	d.waitAddr("lan0", want, bindTimeout)
	if routes := routesOf(t, topo); len(routes) != 0 {
		t.Errorf("unreachable routes %v with unreachable route no", routes)
	}
}

// TestDetach: without -d the daemon detaches (the command returns at
// once), runs in its own session with stdio on /dev/null, and binds.
func TestDetach(t *testing.T) {
	lab.Require(t, "kea-dhcp6")
	t.Parallel()
	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0"}})
	lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	d := newDaemonStopped(t, topo, "solicit delay 0\nrequest rapid commit\nrequest prefix delegation on up0 for lan0\n")
	logs := syslogSocket(t)
	out, err := topo.CLI.Run(t.Context(), bins.Daemon, "-f", d.conf, "-L", d.state, "-s", d.sock)
	if err != nil {
		t.Fatalf("detaching start: %v: %s", err, out)
	}
	pid := daemonPid(t, d.conf)
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Signal(os.Interrupt)
		}
		lab.WaitFor(t.Context(), 5*time.Second, "detached daemon gone", func() (bool, error) {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			return err != nil, nil
		})
	})
	st, err := procStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command: state ppid pgrp session.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if f[3] != fmt.Sprint(pid) {
		t.Errorf("detached daemon %d (%s) is in session %s, not its own", pid, st["Name"], f[3])
	}
	if fd0, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pid)); fd0 != "/dev/null" {
		t.Errorf("detached daemon's stderr is %q, want /dev/null", fd0)
	}
	lab.WaitForT(t, bindTimeout, "an address on lan0", func() (bool, error) {
		addrs, err := topo.CLI.GlobalAddrs(t.Context(), "lan0")
		return len(addrs) == 1, err
	})
	if logs != nil {
		lab.WaitForT(t, 5*time.Second, "the bound line in syslog", func() (bool, error) {
			return strings.Contains(logs.String(), "msg=bound"), nil
		})
	}
}

// syslogSocket listens on /dev/log when no syslog daemon does, so the
// detached daemon can log, and returns what arrives; nil when a real
// syslog owns /dev/log (the test then leaves it alone).
func syslogSocket(t *testing.T) *syncBuffer {
	t.Helper()
	if _, err := os.Stat("/dev/log"); err == nil {
		return nil
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"})
	if err != nil {
		t.Fatalf("stand-in syslog: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		os.Remove("/dev/log") // this test created it
	})
	logs := new(syncBuffer)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			logs.Write(append(buf[:n:n], '\n'))
		}
	}()
	return logs
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonPid finds the parent process running with config file conf.
func daemonPid(t *testing.T, conf string) int {
	t.Helper()
	var pid int
	lab.WaitForT(t, 5*time.Second, "the detached daemon", func() (bool, error) {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return false, err
		}
		for _, e := range entries {
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(cmdline), "\x00")
			if slices.Contains(args, conf) && !slices.Contains(args, "-E") && !slices.Contains(args, "-F") {
				_, err := fmt.Sscan(e.Name(), &pid)
				return err == nil, err
			}
		}
		return false, nil
	})
	return pid
}
