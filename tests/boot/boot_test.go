// Package boot installs the Debian package (make deb) into a Debian 12
// root and boots it in a systemd-nspawn container with systemd as PID 1,
// its network the client namespace of a tests/lab topology with Kea on
// the other end: the unit as a router would run it (issue 11), and beside
// it systemd-networkd and ifupdown managing the same links (docs/DEPLOY.md),
// and the package upgraded, removed, installed again and purged. Run by
// `make boottest`, which builds the package and passes it with -deb.
package boot

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

var (
	debFlag  = flag.String("deb", "", "the dhcp6leased .deb to install (make boottest passes it)")
	rootFlag = flag.String("root", "/var/cache/dhcp6leased-boottest/root",
		"a Debian 12 root with systemd; debootstrapped there when missing, and never written to (the container runs on an overlay)")
)

const (
	// bootTimeout bounds a boot to a running system (2-3 s here).
	bootTimeout = 60 * time.Second
	// stopTimeout bounds the container's shutdown after SIGTERM.
	stopTimeout = 30 * time.Second
	// bindTimeout bounds the wait for a lease and its LAN addresses.
	bindTimeout = 20 * time.Second
	// maxExposure is the highest `systemd-analyze security` score the
	// unit may have (issue 11.3).
	maxExposure = 2.5
)

// guestPath is the PATH of commands run in the container, which the host's
// environment must not leak into.
const guestPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// TestBoot: with no configuration the enabled unit is skipped at boot on
// its condition, not started; with one it comes up at boot, delegates,
// shows the lease to a member of the dhcp6leasectl group (and to nobody
// else), applies an edited file on `systemctl reload`, releases on
// `systemctl stop`, and scores at most maxExposure.
func TestBoot(t *testing.T) {
	if *debFlag == "" {
		t.Skip("no package: run `make boottest` (or go test ./tests/boot -deb PATH.deb)")
	}
	lab.Require(t, "systemd-nspawn", "nsenter", "kea-dhcp6")
	deb, err := filepath.Abs(*debFlag)
	if err != nil {
		t.Fatal(err)
	}
	root := debianRoot(t, *rootFlag)
	dir := overlay(t, root)
	install(t, dir, deb)

	topo := lab.NewTopologyT(t, lab.TopologyOptions{Downstreams: []string{"lan0", "lan1"}})
	kea := lab.StartKeaT(t, topo, lab.KeaOptions{ServerOptions: lab.ServerOptions{RapidCommit: true}})
	uplink := topo.Uplinks[0]

	t.Run("no config", func(t *testing.T) {
		c := boot(t, dir, topo.CLI)
		props := c.props(t, "ConditionResult", "ActiveState", "NRestarts")
		if props["ConditionResult"] != "no" || props["ActiveState"] != "inactive" || props["NRestarts"] != "0" {
			t.Errorf("without /etc/dhcp6leased.conf: %v; want the start skipped on its condition, never restarted", props)
		}
		status, _ := c.run(t.Context(), "systemctl", "status", "--no-pager", "dhcp6leased")
		if !strings.Contains(status, "ConditionPathExists=/etc/dhcp6leased.conf was not met") {
			t.Errorf("systemctl status does not name the condition:\n%s", status)
		}
		c.stop(t)
	})
	if t.Failed() {
		return
	}

	conf := filepath.Join(dir, "etc/dhcp6leased.conf")
	writeConf(t, conf, uplink, "lan0", true)
	c := boot(t, dir, topo.CLI)
	lab.WaitForT(t, bindTimeout, "dhcp6leased.service active at boot", func() (bool, error) {
		p := c.props(t, "ActiveState", "NRestarts")
		return p["ActiveState"] == "active", fmt.Errorf("%v", p)
	})
	waitGlobal(t, topo.CLI, "lan0")
	pid := c.props(t, "MainPID")["MainPID"]

	t.Run("show", func(t *testing.T) {
		for _, user := range []string{"root", "alice"} {
			out, err := c.as(t.Context(), user, "dhcp6leasectl", "show", "interface", uplink)
			if err != nil || !strings.HasPrefix(out, uplink+" [Bound]\n") {
				t.Errorf("dhcp6leasectl show interface %s as %s: %v\n%s", uplink, user, err, out)
			}
		}
		// Not in the group: the socket is closed to bob.
		if out, err := c.as(t.Context(), "bob", "dhcp6leasectl", "show", "interface", uplink); err == nil || !strings.Contains(out, "ermission denied") {
			t.Errorf("dhcp6leasectl show as bob, outside the group: %v\n%s; want permission denied", err, out)
		}
		// The group reads; request stays root's (SPEC 10).
		if out, err := c.as(t.Context(), "alice", "dhcp6leasectl", "request", uplink); err == nil {
			t.Errorf("dhcp6leasectl request as alice succeeded:\n%s", out)
		}
	})

	t.Run("security", func(t *testing.T) {
		out, err := c.run(t.Context(), "systemd-analyze", "security", "dhcp6leased.service")
		m := regexp.MustCompile(`Overall exposure level for dhcp6leased\.service: ([0-9.]+)`).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("systemd-analyze security: %v\n%s", err, out)
		}
		if score, _ := strconv.ParseFloat(m[1], 64); score > maxExposure {
			t.Errorf("exposure %s, want at most %.1f:\n%s", m[1], maxExposure, out)
		}
		t.Logf("systemd-analyze security dhcp6leased.service: %s", m[1])
	})

	t.Run("reload", func(t *testing.T) {
		writeConf(t, conf, uplink, "lan0 lan1", true)
		if out, err := c.run(t.Context(), "systemctl", "reload", "dhcp6leased"); err != nil {
			t.Fatalf("systemctl reload: %v\n%s", err, out)
		}
		waitGlobal(t, topo.CLI, "lan1")
		// A broken file fails the reload, with its line, and the running
		// configuration stays.
		if err := os.WriteFile(conf, []byte("request prefix delegation on\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := c.run(t.Context(), "systemctl", "reload", "dhcp6leased"); err == nil {
			t.Errorf("systemctl reload of a broken file succeeded:\n%s", out)
		}
		if p := c.props(t, "MainPID", "ActiveState"); p["MainPID"] != pid || p["ActiveState"] != "active" {
			t.Errorf("after two reloads %v, MainPID was %s: want the same process, active", p, pid)
		}
		waitGlobal(t, topo.CLI, "lan1")
	})

	// Issue 10.4: SIGKILL of any one process. The others exit, the unit
	// fails, systemd restarts it (Restart=on-failure), and the LANs keep
	// their prefix throughout: nothing is deconfigured on a death (SPEC 2)
	// and the restart rebinds from the lease file.
	t.Run("killed", func(t *testing.T) {
		// The reload test left a broken file, which a restart would stop on.
		writeConf(t, conf, uplink, "lan0 lan1", true)
		if out, err := c.run(t.Context(), "systemctl", "reload", "dhcp6leased"); err != nil {
			t.Fatalf("systemctl reload: %v\n%s", err, out)
		}
		before := lanPrefixes(t, topo.CLI, "lan0")
		if len(before) == 0 {
			t.Fatal("lan0 has no global address")
		}
		for i, victim := range []string{"engine", "frontend", "parent"} {
			main := c.props(t, "MainPID")["MainPID"]
			procs, err := lab.DaemonProcesses(c.hostPID(t, main))
			if err != nil || len(procs) != 3 {
				t.Fatalf("the daemon's processes: %v %v", procs, err)
			}
			if err := syscall.Kill(procs[victim], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			lab.WaitForT(t, bindTimeout, fmt.Sprintf("restarted after SIGKILL of the %s", victim), func() (bool, error) {
				p := c.props(t, "ActiveState", "NRestarts", "MainPID")
				return p["ActiveState"] == "active" && p["NRestarts"] == strconv.Itoa(i+1) && p["MainPID"] != main, fmt.Errorf("%v", p)
			})
			lab.WaitForT(t, bindTimeout, "Bound again", func() (bool, error) {
				out, err := c.run(t.Context(), "dhcp6leasectl", "show", "interface", uplink)
				return err == nil && strings.HasPrefix(out, uplink+" [Bound]\n"), fmt.Errorf("%v: %s", err, out)
			})
			if after := lanPrefixes(t, topo.CLI, "lan0"); !slices.Equal(after, before) {
				t.Errorf("lan0 after SIGKILL of the %s: %v, before %v", victim, after, before)
			}
			t.Logf("SIGKILL %s: restarted by systemd and Bound in %v (RestartSec=5s)", victim, time.Since(killed).Round(time.Millisecond))
		}
	})

	// Other software managing the same links: systemd-networkd with
	// docs/DEPLOY.md's recipe leaves the daemon's addresses and routes
	// alone through its start, a reconfigure of the LANs and a restart,
	// and so it does with the recipe's .network files alone; with
	// its defaults it removes them (foreign to it), and the daemon puts
	// them back (docs/CONVERGE.md) without a new exchange.
	t.Run("networkd", func(t *testing.T) {
		for _, v := range []networkdSetup{
			{name: "recipe", recipe: true, foreignRoutes: false},
			{name: "recipe without networkd.conf", recipe: true, foreignRoutes: true},
			{name: "defaults", recipe: false, foreignRoutes: true},
		} {
			t.Run(v.name, func(t *testing.T) {
				testNetworkd(t, c, topo.CLI, uplink, dir, v)
			})
		}
	})

	// ifupdown, Debian's classic: docs/DEPLOY.md's stanzas brought up,
	// a LAN taken down and up, the networking service restarted.
	t.Run("ifupdown", func(t *testing.T) {
		testIfupdown(t, c, topo.CLI, uplink, dir)
	})

	// An upgrade: dpkg -i over the running daemon, as apt does. The
	// package's postinst restarts the unit (the old daemon's exit a
	// success, not a failure), the new daemon rebinds the lease file's prefix, and the LANs
	// keep their addresses. Without release on shutdown, which would hand
	// the prefix back on the restart's stop (docs/DEPLOY.md).
	t.Run("upgrade", func(t *testing.T) {
		writeConf(t, conf, uplink, "lan0 lan1", false)
		text, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := c.run(t.Context(), "systemctl", "reload", "dhcp6leased"); err != nil {
			t.Fatalf("systemctl reload: %v\n%s", err, out)
		}
		lan0, lan1 := lanPrefixes(t, topo.CLI, "lan0"), lanPrefixes(t, topo.CLI, "lan1")
		held := heldOf(c.status(t, uplink))
		was := c.props(t, "MainPID")
		pkg := "/var/tmp/" + filepath.Base(deb)
		if out, err := c.run(t.Context(), "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", pkg); err != nil {
			t.Fatalf("dpkg -i %s: %v\n%s", pkg, err, out)
		}
		if p := c.props(t, "ActiveState", "MainPID", "Result"); p["ActiveState"] != "active" || p["MainPID"] == was["MainPID"] || p["Result"] != "success" {
			t.Errorf("after dpkg -i: %v, MainPID was %s; want active, a new MainPID, the old one's exit a success", p, was["MainPID"])
		}
		lab.WaitForT(t, bindTimeout, "Bound after the upgrade", func() (bool, error) {
			s := c.status(t, uplink)
			return s.State == "Bound" && heldOf(s) == held, fmt.Errorf("%s %s, was %s", s.State, heldOf(s), held)
		})
		if now0, now1 := lanPrefixes(t, topo.CLI, "lan0"), lanPrefixes(t, topo.CLI, "lan1"); !slices.Equal(now0, lan0) || !slices.Equal(now1, lan1) {
			t.Errorf("after the upgrade lan0 %v, lan1 %v; before %v, %v", now0, now1, lan0, lan1)
		}
		if now, err := os.ReadFile(conf); err != nil || string(now) != string(text) {
			t.Errorf("/etc/dhcp6leased.conf after the upgrade: %v\n%s\nwas\n%s", err, now, text)
		}
		journal, _ := c.run(t.Context(), "journalctl", "--no-pager", "-o", "cat", "-u", "dhcp6leased", "-g", "rebinding|msg=bound", "-n", "3")
		t.Logf("the upgraded daemon:\n%s", journal)

	})

	// Removed and installed again: dpkg -r stops the daemon and keeps the
	// state directory (debian/dhcp6leased.postrm), so the package
	// installed again asks with the same DUID and rebinds the same prefix;
	// without release on shutdown (the upgrade test's configuration) the
	// LANs keep their addresses throughout.
	t.Run("reinstall", func(t *testing.T) {
		state := filepath.Join(dir, "var/lib/dhcp6leased")
		uuid, err := os.ReadFile(filepath.Join(state, "uuid"))
		if err != nil {
			t.Fatal(err)
		}
		lan0 := lanPrefixes(t, topo.CLI, "lan0")
		held := heldOf(c.status(t, uplink))
		if out, err := c.run(t.Context(), "dpkg", "-r", "dhcp6leased"); err != nil {
			t.Fatalf("dpkg -r: %v\n%s", err, out)
		}
		if p := c.props(t, "LoadState", "ActiveState"); p["LoadState"] != "not-found" || p["ActiveState"] != "inactive" {
			t.Errorf("after dpkg -r: %v; want the unit gone and stopped", p)
		}
		if _, err := os.Stat(filepath.Join(dir, "usr/sbin/dhcp6leased")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("usr/sbin/dhcp6leased after dpkg -r: %v", err)
		}
		if now := lanPrefixes(t, topo.CLI, "lan0"); !slices.Equal(now, lan0) {
			t.Errorf("lan0 after dpkg -r: %v, before %v", now, lan0)
		}
		pkg := "/var/tmp/" + filepath.Base(deb)
		if out, err := c.run(t.Context(), "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", pkg); err != nil {
			t.Fatalf("dpkg -i %s: %v\n%s", pkg, err, out)
		}
		lab.WaitForT(t, bindTimeout, "Bound after the reinstall", func() (bool, error) {
			s := c.status(t, uplink)
			return s.State == "Bound" && heldOf(s) == held, fmt.Errorf("%s %s, was %s", s.State, heldOf(s), held)
		})
		if now, err := os.ReadFile(filepath.Join(state, "uuid")); err != nil || string(now) != string(uuid) {
			t.Errorf("the DUID's uuid after the reinstall: %q %v, was %q", now, err, uuid)
		}
		if now := lanPrefixes(t, topo.CLI, "lan0"); !slices.Equal(now, lan0) {
			t.Errorf("lan0 after the reinstall: %v, before %v", now, lan0)
		}

		// The stop test releases.
		writeConf(t, conf, uplink, "lan0 lan1", true)
		if out, err := c.run(t.Context(), "systemctl", "reload", "dhcp6leased"); err != nil {
			t.Fatalf("systemctl reload: %v\n%s", err, out)
		}
	})

	// Port 546 held when the unit starts, by a DHCPv6 client started
	// outside it (a second dhcp6leased, IA_NA only, run by systemd-run):
	// the unit's sandbox (no CAP_SYS_PTRACE, ProtectProc=invisible) keeps
	// the holder's process from the parent, which names the socket's owner
	// and how to find it; once the holder stops, the unit binds.
	t.Run("port held", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"etc/holder.conf": "request address on " + uplink + "\n"})
		for _, cmd := range [][]string{
			{"systemctl", "stop", "dhcp6leased"},
			{"systemd-run", "--unit=holder", "--property=Type=notify", "/usr/sbin/dhcp6leased", "-d",
				"-f", "/etc/holder.conf", "-s", "/run/holder.sock", "-L", "/var/tmp/holder"},
			{"systemctl", "start", "dhcp6leased"},
		} {
			if out, err := c.run(t.Context(), cmd...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		t.Cleanup(func() { c.run(context.Background(), "systemctl", "stop", "holder") })
		const want = "address already in use (held by a process of user root (uid 0) that the daemon may not look into; ss -lupn 'sport = :546' names it)"
		var shown string
		lab.WaitForT(t, bindTimeout, "show interface naming the port's holder", func() (bool, error) {
			out, err := c.run(t.Context(), "dhcp6leasectl", "show", "interface", uplink)
			shown = out
			return err == nil && strings.Contains(out, want), fmt.Errorf("%v: %s", err, out)
		})
		t.Logf("with the port held:\n%s", shown)
		if out, err := c.run(t.Context(), "systemctl", "stop", "holder"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		stopped := time.Now()
		lab.WaitForT(t, bindTimeout, "Bound once the holder stopped", func() (bool, error) {
			s := c.status(t, uplink)
			return s.State == "Bound", fmt.Errorf("%s, socket %+v", s.State, s.Socket)
		})
		t.Logf("Bound %v after the holder stopped (the socket's retry backoff)", time.Since(stopped).Round(time.Millisecond))
	})

	t.Run("stop", func(t *testing.T) {
		restarts := c.props(t, "NRestarts")["NRestarts"] // the kills' restarts
		if out, err := c.run(t.Context(), "systemctl", "stop", "dhcp6leased"); err != nil {
			t.Fatalf("systemctl stop: %v\n%s", err, out)
		}
		if p := c.props(t, "ActiveState", "Result", "NRestarts"); p["ActiveState"] != "inactive" || p["Result"] != "success" || p["NRestarts"] != restarts {
			t.Errorf("after stop: %v; want inactive, success, no restart", p)
		}
		lab.WaitForT(t, bindTimeout, "Kea's leases released", func() (bool, error) {
			leases, err := kea.Leases()
			if err != nil || len(leases) == 0 {
				return false, fmt.Errorf("leases %v: %w", leases, err)
			}
			for _, l := range leases {
				if l.Valid != 0 {
					return false, fmt.Errorf("%v still valid for %v", l.Prefix, l.Valid)
				}
			}
			return true, nil
		})
	})

	// A purge takes the state directory with it (debian/dhcp6leased.postrm);
	// the administrator's /etc/dhcp6leased.conf, not the package's, stays.
	t.Run("purge", func(t *testing.T) {
		if out, err := c.run(t.Context(), "dpkg", "--purge", "dhcp6leased"); err != nil {
			t.Fatalf("dpkg --purge: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "var/lib/dhcp6leased")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("var/lib/dhcp6leased after the purge: %v", err)
		}
		if _, err := os.Stat(conf); err != nil {
			t.Errorf("/etc/dhcp6leased.conf after the purge: %v", err)
		}
	})
}

// writeConf writes the daemon's configuration for one IA_PD on uplink,
// delegated to lans; with release, release on shutdown, so that `systemctl
// stop` shows at Kea.
func writeConf(t *testing.T, path, uplink, lans string, release bool) {
	t.Helper()
	text := fmt.Sprintf("solicit delay 0\nrequest rapid commit\nrequest prefix delegation on %s for { %s }\n", uplink, lans)
	if release {
		text = "release on shutdown yes\n" + text
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitGlobal waits for a global address on ifname, which the container's
// daemon puts there from the delegated prefix.
func waitGlobal(t *testing.T, ns *lab.Netns, ifname string) {
	t.Helper()
	lab.WaitForT(t, bindTimeout, ifname+" numbered from the delegation", func() (bool, error) {
		addrs, err := ns.GlobalAddrs(context.Background(), ifname)
		if err != nil {
			return false, err
		}
		return len(addrs) > 0, fmt.Errorf("%s has %v", ifname, addrs)
	})
}

// rootPackages are what debootstrap adds to Debian 12's minbase: systemd
// to boot, iproute2 for the tests' own commands, ifupdown to try
// docs/DEPLOY.md's recipe (systemd-networkd comes with systemd in Debian
// 12).
const rootPackages = "systemd,systemd-sysv,dbus,iproute2,ifupdown"

// rootStamp, in a root, names the packages it was debootstrapped with.
const rootStamp = ".dhcp6leased-boottest-packages"

// debianRoot returns dir, first debootstrapping Debian 12 there with
// rootPackages when it does not exist yet or was made with others (about a
// minute, from the machine's apt mirror).
func debianRoot(t *testing.T, dir string) string {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, rootStamp)); err == nil && string(b) == rootPackages+"\n" {
		return dir
	}
	lab.Require(t, "debootstrap")
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap bookworm %s with %s", dir, rootPackages)
	out, err := exec.CommandContext(t.Context(), "debootstrap", "--variant=minbase",
		"--include="+rootPackages, "bookworm", tmp).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out))
	}
	if err := os.WriteFile(filepath.Join(tmp, rootStamp), []byte(rootPackages+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// overlay mounts a writable overlay over the read-only root and returns
// where; it is unmounted when the test ends.
func overlay(t *testing.T, root string) string {
	t.Helper()
	base := t.TempDir()
	upper, work, merged := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", root, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, 0); err != nil {
			t.Errorf("unmount %s: %v", merged, err)
		}
	})
	return merged
}

// install installs the package in the root, as apt would on a router,
// and adds two users: alice in the dhcp6leasectl group, bob outside it.
func install(t *testing.T, dir, deb string) {
	t.Helper()
	// The container's /tmp is its own tmpfs: the package goes elsewhere.
	pkg := filepath.Join(dir, "var/tmp", filepath.Base(deb))
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("dpkg -i /var/tmp/%s && useradd -m -G dhcp6leasectl alice && useradd -m bob", filepath.Base(deb))
	out, err := exec.CommandContext(t.Context(), "systemd-nspawn", nspawnArgs(dir, "--private-network", "--pipe", "/bin/sh", "-c", script)...).CombinedOutput()
	if err != nil {
		t.Fatalf("install %s: %v\n%s", deb, err, out)
	}
}

// nspawnArgs are systemd-nspawn's arguments for dir. Neither
// systemd-machined nor a host systemd is needed: the container is not
// registered and runs in the test's own cgroup.
func nspawnArgs(dir string, args ...string) []string {
	return append([]string{"--quiet", "--register=no", "--keep-unit", "--directory=" + dir}, args...)
}

// container is a booted systemd-nspawn container.
type container struct {
	cmd     *exec.Cmd
	console *os.File // systemd-nspawn's output
	done    chan struct{}
	init    int // the container's PID 1, as the host sees it
}

// boot boots dir with systemd as PID 1 in network namespace ns and waits
// until systemd reports the system running; it is shut down when the test
// ends.
func boot(t *testing.T, dir string, ns *lab.Netns) *container {
	t.Helper()
	console, err := os.CreateTemp(t.TempDir(), "console")
	if err != nil {
		t.Fatal(err)
	}
	// nspawn grants CAP_NET_ADMIN only with a network namespace of its
	// own making; a router's systemd has it, and so must this one.
	cmd := exec.Command("systemd-nspawn", nspawnArgs(dir, "--boot", "--console=pipe",
		"--network-namespace-path="+ns.Path(), "--capability=CAP_NET_ADMIN")...)
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &container{cmd: cmd, console: console, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.stop(t) })
	lab.WaitForT(t, bootTimeout, "the container's systemd", func() (bool, error) {
		if c.exited() {
			return false, lab.Abort(fmt.Errorf("systemd-nspawn exited: %s\n%s", cmd.ProcessState, c.output()))
		}
		if c.init == 0 {
			c.init = childPID1(cmd.Process.Pid)
			return false, errors.New("no PID 1 yet")
		}
		out, err := c.run(t.Context(), "systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		if state == "degraded" {
			failed, _ := c.run(t.Context(), "systemctl", "--failed", "--no-pager")
			return false, lab.Abort(fmt.Errorf("system degraded:\n%s", failed))
		}
		return state == "running", fmt.Errorf("system %q: %w", state, err)
	})
	return c
}

// childPID1 finds the child of systemd-nspawn that is PID 1 of its own PID
// namespace: the container's systemd. 0 while there is none.
func childPID1(nspawn int) int {
	statuses, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, path := range statuses {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		if strings.Contains(s, fmt.Sprintf("\nPPid:\t%d\n", nspawn)) && regexp.MustCompile(`\nNSpid:\t\d+\t1\n`).MatchString(s) {
			pid, _ := strconv.Atoi(strings.Split(path, "/")[2])
			return pid
		}
	}
	return 0
}

func (c *container) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// output is what systemd-nspawn and the container's console printed.
func (c *container) output() string {
	b, _ := os.ReadFile(c.console.Name())
	return tail(b)
}

// run runs a command in the container, in all its namespaces, with a
// clean environment, and returns its combined output.
func (c *container) run(ctx context.Context, args ...string) (string, error) {
	argv := append([]string{"-t", strconv.Itoa(c.init), "--all", "env", "-i", guestPath}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in container: %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// as runs a command in the container as user, with the user's groups.
func (c *container) as(ctx context.Context, user string, args ...string) (string, error) {
	return c.run(ctx, append([]string{"setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--"}, args...)...)
}

// props returns the named properties of dhcp6leased.service.
func (c *container) props(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out, err := c.run(t.Context(), "systemctl", "show", "--property="+strings.Join(names, ","), "dhcp6leased.service")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	props := make(map[string]string)
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			props[k] = v
		}
	}
	return props
}

// stop shuts the container down as a host would (SIGTERM to
// systemd-nspawn: systemd halts it), and kills it if that takes past
// stopTimeout. Safe to call twice.
func (c *container) stop(t *testing.T) {
	t.Helper()
	if c.exited() {
		return
	}
	if t.Failed() {
		journal, _ := c.run(context.Background(), "journalctl", "--no-pager", "-u", "dhcp6leased")
		t.Logf("the service's journal:\n%s", tail([]byte(journal)))
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Error(err)
	}
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		c.cmd.Process.Kill()
		<-c.done
		t.Errorf("container did not halt within %v:\n%s", stopTimeout, c.output())
	}
}

// tail is the end of a long output, enough to see why something failed.
func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// hostPID is the host's pid of the container's process pid (as systemd in
// the container names it): the process in the container's PID namespace
// whose innermost NSpid is pid.
func (c *container) hostPID(t *testing.T, pid string) int {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.init))
	if err != nil {
		t.Fatal(err)
	}
	statuses, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, path := range statuses {
		dir := filepath.Dir(path)
		if other, err := os.Readlink(dir + "/ns/pid"); err != nil || other != ns {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "NSpid:" && f[len(f)-1] == pid {
				host, _ := strconv.Atoi(f[1])
				return host
			}
		}
	}
	t.Fatalf("no process %s in the container", pid)
	return 0
}

// lanPrefixes lists ifname's global addresses with their prefix lengths.
func lanPrefixes(t *testing.T, ns *lab.Netns, ifname string) []netip.Prefix {
	t.Helper()
	addrs, err := ns.GlobalAddrs(t.Context(), ifname)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		out = append(out, a.Prefix)
	}
	return out
}

// networkdSetup is one way to configure systemd-networkd on the router's
// links: docs/DEPLOY.md's .network files (recipe) or the same links with
// networkd's defaults, and whether networkd manages foreign routes (its
// default; the recipe's networkd.conf turns it off).
type networkdSetup struct {
	name                  string
	recipe, foreignRoutes bool
}

// files are the setup's files for uplink and the LANs lan0 and lan1, by
// path in the container's root.
func (v networkdSetup) files(uplink string) map[string]string {
	files := map[string]string{
		"etc/systemd/network/10-uplink.network": "[Match]\nName=" + uplink + "\n\n[Network]\nDHCP=no\nIPv6AcceptRA=yes\n",
		"etc/systemd/network/20-lan.network":    "[Match]\nName=lan0 lan1\n\n[Network]\nIPv6AcceptRA=no\n",
	}
	if v.recipe {
		files["etc/systemd/network/10-uplink.network"] = "[Match]\nName=" + uplink +
			"\n\n[Network]\nDHCP=no\nIPv6AcceptRA=yes\nIPForward=ipv6\n\n[IPv6AcceptRA]\nDHCPv6Client=no\n"
		files["etc/systemd/network/20-lan.network"] = "[Match]\nName=lan0 lan1\n\n[Network]\nLinkLocalAddressing=ipv6\n" +
			"IPv6AcceptRA=no\nIPv6SendRA=no\nDHCPPrefixDelegation=no\nKeepConfiguration=yes\nConfigureWithoutCarrier=yes\n"
	}
	if !v.foreignRoutes {
		files["etc/systemd/networkd.conf.d/dhcp6leased.conf"] = "[Network]\nManageForeignRoutes=no\n"
	}
	return files
}

// testNetworkd starts systemd-networkd on the links of the running daemon
// with v's files, reconfigures the LANs and restarts networkd, each time
// until networkd has configured them (managerSteps checks the daemon's
// side). With the recipe's .network files nothing may have been put back;
// with networkd's defaults what it removed must have been.
func testNetworkd(t *testing.T, c *container, ns *lab.Netns, uplink, dir string, v networkdSetup) {
	writeFiles(t, dir, v.files(uplink))
	t.Cleanup(func() {
		// reset-failed: the next variant's starts must not meet the
		// unit's start limit (5 in 10 s), which this one's count towards.
		if out, err := c.run(context.Background(), "sh", "-c",
			"systemctl stop systemd-networkd.socket systemd-networkd && systemctl reset-failed systemd-networkd.socket systemd-networkd"); err != nil {
			t.Errorf("stop networkd: %v\n%s", err, out)
		}
	})
	lans := []string{"lan0", "lan1"}
	// networkctl reads a link's setup state from networkd's state file,
	// which networkd rewrites when it next handles the link: each step
	// removes the files first, so that "configured" is this step's.
	forget := "rm -f /run/systemd/netif/links/*"
	configured := func(t *testing.T) {
		lab.WaitForT(t, bindTimeout, "networkd to configure the LANs", func() (bool, error) {
			out, err := c.run(t.Context(), "networkctl", "list", "--no-legend", "--no-pager")
			if err != nil {
				return false, err
			}
			n := 0
			for line := range strings.Lines(out) {
				if f := strings.Fields(line); len(f) == 5 && slices.Contains(lans, f[1]) && f[4] == "configured" {
					n++
				}
			}
			return n == len(lans), errors.New(out)
		})
	}
	put := managerSteps(t, c, ns, uplink, lans, []managerStep{
		{"networkd started", forget + " && systemctl start systemd-networkd", configured},
		{"LANs reconfigured", forget + " && networkctl reconfigure lan0 lan1", configured},
		{"networkd restarted", "systemctl stop systemd-networkd.socket systemd-networkd && " + forget + " && systemctl start systemd-networkd", configured},
	})
	if v.recipe && put != 0 {
		t.Errorf("with docs/DEPLOY.md's .network files networkd removed %d of the daemon's addresses and routes", put)
	} else if !v.recipe && put == 0 {
		t.Errorf("with its defaults networkd removed nothing: the recipe's settings are not needed, or this test saw nothing")
	}
}

// testIfupdown brings the links up with ifupdown and docs/DEPLOY.md's
// /etc/network/interfaces stanzas, takes lan0 down and up with ifdown and
// ifup, and restarts the networking service (every stanza down and up,
// the uplink too); managerSteps checks the daemon's side. Taking a LAN
// down flushes its addresses (keep_addr_on_down=0): the daemon puts them
// back, counted as a repair when it does so while the link is down, not
// when the link came up first (its link message configures it).
func testIfupdown(t *testing.T, c *container, ns *lab.Netns, uplink, dir string) {
	stanzas := "auto " + uplink + "\niface " + uplink + " inet6 auto\n\taccept_ra 2\n\tdhcp 0\n\n"
	for _, lan := range []string{"lan0", "lan1"} {
		stanzas += "auto " + lan + "\niface " + lan + " inet6 manual\n\tup ip link set $IFACE up\n\tdown ip link set $IFACE down\n\n"
	}
	writeFiles(t, dir, map[string]string{"etc/network/interfaces.d/router": stanzas})
	mon := lab.StartMonitorT(t, ns)
	put := managerSteps(t, c, ns, uplink, []string{"lan0", "lan1"}, []managerStep{
		{"ifup -a", "ifup -a", nil},
		// ip link show up lists lan0 only while it is up: the step fails
		// unless ifdown took it down.
		{"ifdown lan0, ifup lan0", `ifdown lan0 && test -z "$(ip link show dev lan0 up)" && ifup lan0`, nil},
		{"networking restarted", "systemctl restart networking", nil},
	})
	flushed := slices.ContainsFunc(mon.AddrEvents("lan0"), func(e lab.AddrEvent) bool {
		return e.Deleted && e.Prefix.Addr().IsGlobalUnicast()
	})
	if !flushed {
		t.Errorf("no step removed lan0's address (ip monitor): this test saw nothing")
	}
	t.Logf("put back while ifupdown ran: %d", put)
}

// managerStep is one thing a network manager does on the router's links:
// a shell script in the container, and settled, which waits until the
// manager has acted on it (nil: it has when the script returns).
type managerStep struct {
	name, script string
	settled      func(t *testing.T)
}

// managerSteps runs steps beside the daemon. After each it waits until the
// LANs have the global addresses and the kernel the daemon's routes they
// had before the first, and logs how long that took and what the daemon
// put back meanwhile; at the end the daemon must hold the same prefixes
// from the same server. It returns how many addresses and routes the
// daemon put back in all.
func managerSteps(t *testing.T, c *container, ns *lab.Netns, uplink string, lans []string, steps []managerStep) uint64 {
	t.Helper()
	before := map[string][]netip.Prefix{}
	for _, lan := range lans {
		if before[lan] = lanPrefixes(t, ns, lan); len(before[lan]) == 0 {
			t.Fatalf("%s has no global address", lan)
		}
	}
	routes := ourRoutes(t, ns)
	if len(routes) == 0 {
		t.Fatal("no route of the daemon's")
	}
	status := c.status(t, uplink)
	last := status.Repaired
	for _, step := range steps {
		started := time.Now()
		if out, err := c.run(t.Context(), "sh", "-c", step.script); err != nil {
			t.Fatalf("%s: %v\n%s", step.name, err, out)
		}
		if step.settled != nil {
			step.settled(t)
		}
		lab.WaitForT(t, bindTimeout, "the LANs and routes as before, "+step.name, func() (bool, error) {
			for _, lan := range lans {
				if now := lanPrefixes(t, ns, lan); !slices.Equal(now, before[lan]) {
					return false, fmt.Errorf("%s has %v, had %v", lan, now, before[lan])
				}
			}
			if now := ourRoutes(t, ns); !slices.Equal(now, routes) {
				return false, fmt.Errorf("routes %v, were %v", now, routes)
			}
			return true, nil
		})
		took := time.Since(started).Round(time.Millisecond)
		now := c.status(t, uplink).Repaired
		t.Logf("%s: LANs and routes as before %v after it began; put back %d addresses, %d routes",
			step.name, took, now.Addresses-last.Addresses, now.Routes-last.Routes)
		last = now
	}
	after := c.status(t, uplink)
	if now, was := heldOf(after), heldOf(status); now != was {
		t.Errorf("the lease changed: %s, was %s", now, was)
	}
	return after.Repaired.Addresses - status.Repaired.Addresses + after.Repaired.Routes - status.Repaired.Routes
}

// writeFiles writes files (contents by path in the container's root dir)
// and removes them when the test ends.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(path) })
	}
}

// status is the daemon's view of uplink (dhcp6leasectl -j show interface).
func (c *container) status(t *testing.T, uplink string) control.Interface {
	t.Helper()
	out, err := c.run(t.Context(), "dhcp6leasectl", "-j", "show", "interface", uplink)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var show control.ShowInterface
	if err := json.Unmarshal([]byte(out), &show); err != nil || len(show.Interfaces) != 1 {
		t.Fatalf("dhcp6leasectl -j show interface %s: %v\n%s", uplink, err, out)
	}
	return show.Interfaces[0]
}

// heldOf is what identifies the lease an uplink holds: its server and its
// prefixes. Not its times: the lab's lifetimes (30 s preferred) have it
// renew every 15 s or so, which a test may run across.
func heldOf(i control.Interface) string {
	s := "server"
	if i.ServerDUID != nil {
		s += " " + *i.ServerDUID
	}
	for _, ia := range i.IAPDs {
		if ia.Prefix != nil {
			s += " " + *ia.Prefix
		}
	}
	return s
}

// ourRoutes lists the destinations of the daemon's routes (its protocol),
// in the kernel's order.
func ourRoutes(t *testing.T, ns *lab.Netns) []netip.Prefix {
	t.Helper()
	routes, err := ns.Routes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Protocol == strconv.Itoa(rtnl.RouteProtocol) {
			out = append(out, r.Dst)
		}
	}
	return out
}
