package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// startTimeout bounds the wait for a client's launcher to reach its gate.
const startTimeout = 10 * time.Second

// uplink is a client uplink with the downstreams its delegated prefix is
// numbered onto.
type uplink struct {
	name        string
	downstreams []string
}

// client is a DHCPv6 prefix delegation client under test.
type client struct {
	// name is how the report shows the client.
	name string
	// prepare writes the client's files into dir, which is empty and
	// belongs to this run only, and says how to launch it.
	prepare func(dir string, uplinks []uplink) (launch, error)
	// image is the path of dhcp6leased's binary, whose three processes'
	// pages are broken down by what they hold; empty for the peers.
	image string
}

// launch is how to run a client in the lab's CLI namespace.
type launch struct {
	// mounts are bind mounts (source over target) made in the client's
	// own mount namespace before it starts: the peers keep their state
	// under fixed paths (/var/lib/dhcpcd, /run/dhcpcd, /var/lib/dhcpv6),
	// which must belong to this run and not to the host.
	mounts [][2]string
	argv   []string
}

// ours is dhcp6leased with Rapid Commit and the config lines given, such
// as "solicit delay 0"; without any, the defaults (the RFC 8415
// section 18.2.1 random delay before the first Solicit).
func ours(name, daemon string, lines ...string) client {
	return client{name: name, image: daemon, prepare: func(dir string, uplinks []uplink) (launch, error) {
		var conf strings.Builder
		for _, l := range lines {
			conf.WriteString(l + "\n")
		}
		conf.WriteString("request rapid commit\n")
		for _, u := range uplinks {
			list := strings.Join(u.downstreams, " ")
			if len(u.downstreams) > 1 {
				list = "{ " + list + " }"
			}
			fmt.Fprintf(&conf, "request prefix delegation on %s for %s\n", u.name, list)
		}
		path := filepath.Join(dir, "dhcp6leased.conf")
		if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
			return launch{}, fmt.Errorf("write dhcp6leased config: %w", err)
		}
		return launch{argv: []string{daemon, "-d", "-f", path,
			"-L", filepath.Join(dir, "state"), "-s", filepath.Join(dir, "ctl.sock")}}, nil
	}}
}

// dhcpcd is dhcpcd in manager mode, IPv6 only, in the foreground, with one
// IA_PD per uplink numbered onto its downstreams (dhcpcd.conf(5) ia_pd:
// "ia_pd IAID DOWNSTREAM/SLA_ID/64 ..."). Router solicitation is off, as
// the man page asks for prefix delegation, and so are the hooks that would
// rewrite the host's resolv.conf, hostname or NTP settings. nodev: with
// its udev module dhcpcd waits for udev to announce each interface, which
// it never does for a namespace's links ("no valid interfaces found").
func dhcpcd() client {
	return client{name: dhcpcdName, prepare: func(dir string, uplinks []uplink) (launch, error) {
		var conf strings.Builder
		names := make([]string, 0, 2*len(uplinks))
		for _, u := range uplinks {
			names = append(names, u.name)
			names = append(names, u.downstreams...)
		}
		fmt.Fprintf(&conf, "allowinterfaces %s\n", strings.Join(names, " "))
		conf.WriteString("nodev\nnoipv6rs\noption rapid_commit\n")
		conf.WriteString("nohook resolv.conf, hostname, ntp-common.conf, chrony.conf, timesyncd.conf, openntpd.conf\n")
		for i, u := range uplinks {
			fmt.Fprintf(&conf, "interface %s\n\tia_pd %d", u.name, i+1)
			for sla, d := range u.downstreams {
				fmt.Fprintf(&conf, " %s/%d/64", d, sla)
			}
			conf.WriteString("\n")
		}
		path := filepath.Join(dir, "dhcpcd.conf")
		if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
			return launch{}, fmt.Errorf("write dhcpcd config: %w", err)
		}
		run, db := filepath.Join(dir, "run"), filepath.Join(dir, "db")
		for _, d := range []string{filepath.Join(run, "dhcpcd"), db} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return launch{}, fmt.Errorf("create dhcpcd state directory: %w", err)
			}
		}
		return launch{
			// dhcpcd keeps its pid file and control sockets in
			// /run/dhcpcd, its DUID and leases in /var/lib/dhcpcd.
			mounts: [][2]string{{run, "/run"}, {db, "/var/lib/dhcpcd"}},
			argv:   []string{"dhcpcd", "-B", "-6", "-M", "-f", path},
		}, nil
	}}
}

// wideSLALen is dhcp6c.conf(5)'s sla-len for /64 downstreams out of the /56
// the lab's Kea delegates.
const wideSLALen = 64 - 56

// wide is WIDE dhcp6c in the foreground with one IA_PD per uplink
// (dhcp6c.conf(5): "send ia-pd", "id-assoc pd" with a prefix-interface per
// downstream).
func wide() client {
	return client{name: wideName, prepare: func(dir string, uplinks []uplink) (launch, error) {
		var conf strings.Builder
		names := make([]string, 0, len(uplinks))
		for i, u := range uplinks {
			names = append(names, u.name)
			fmt.Fprintf(&conf, "interface %s {\n\tsend ia-pd %d;\n\tsend rapid-commit;\n};\n", u.name, i+1)
			fmt.Fprintf(&conf, "id-assoc pd %d {\n", i+1)
			for sla, d := range u.downstreams {
				fmt.Fprintf(&conf, "\tprefix-interface %s {\n\t\tsla-id %d;\n\t\tsla-len %d;\n\t};\n", d, sla, wideSLALen)
			}
			conf.WriteString("};\n")
		}
		path := filepath.Join(dir, "dhcp6c.conf")
		if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
			return launch{}, fmt.Errorf("write dhcp6c config: %w", err)
		}
		db := filepath.Join(dir, "db")
		if err := os.Mkdir(db, 0o755); err != nil {
			return launch{}, fmt.Errorf("create dhcp6c state directory: %w", err)
		}
		return launch{
			// dhcp6c keeps its DUID in /var/lib/dhcpv6/dhcp6c_duid.
			mounts: [][2]string{{db, "/var/lib/dhcpv6"}},
			argv: append([]string{"dhcp6c", "-f", "-c", path, "-p", filepath.Join(dir, "dhcp6c.pid")},
				names...),
		}, nil
	}}
}

// running is a client started by start.
type running struct {
	proc *lab.Proc
	// started is when the client was let go: its exec follows at once.
	started time.Time
}

// gateScript makes the client's mounts, waits for a line on the gate FIFO
// ($1) and execs the client (the rest of the arguments). The wait takes the
// launcher's own start-up (ip netns exec, sh, mount) out of the
// measurement; the exec keeps the pid, so the launcher's pid is the
// client's. ip netns exec has given the launcher a mount namespace whose
// mounts do not propagate to the host.
const gateScript = `set -e
%s
read -r _ < "$1"
shift
exec "$@"`

// start launches c in ns with the files in dir and returns once the client
// is exec'd. armed, unless nil, is called with the launcher's pid (the
// client's to be) while it waits at its gate.
func start(ctx context.Context, ns *lab.Netns, dir string, l launch, armed func(pid int) error) (*running, error) {
	gate := filepath.Join(dir, "gate")
	if err := unix.Mkfifo(gate, 0o600); err != nil {
		return nil, fmt.Errorf("create gate %s: %w", gate, err)
	}
	var mounts strings.Builder
	for _, m := range l.mounts {
		fmt.Fprintf(&mounts, "mount --bind %s %s\n", shellQuote(m[0]), shellQuote(m[1]))
	}
	argv := append([]string{"sh", "-c", fmt.Sprintf(gateScript, mounts.String()), "sh", gate}, l.argv...)
	p, err := ns.Start(ctx, argv...)
	if err != nil {
		return nil, err
	}
	// Opening a FIFO for writing without blocking fails with ENXIO until
	// the reader has opened it.
	var f *os.File
	err = lab.WaitFor(ctx, startTimeout, "launcher of "+l.argv[0]+" at its gate", func() (bool, error) {
		select {
		case <-p.Done():
			return false, lab.Abort(fmt.Errorf("launcher exited: %w: %s", p.Wait(), p.Output()))
		default:
		}
		var err error
		f, err = os.OpenFile(gate, os.O_WRONLY|unix.O_NONBLOCK, 0)
		return err == nil, err
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", l.argv[0], err), p.Stop())
	}
	defer f.Close()
	if armed != nil {
		if err := armed(p.Pid()); err != nil {
			return nil, errors.Join(err, p.Stop())
		}
	}
	r := &running{proc: p, started: time.Now()}
	if _, err := f.WriteString("\n"); err != nil {
		return nil, errors.Join(fmt.Errorf("open gate of %s: %w", l.argv[0], err), p.Stop())
	}
	return r, nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stop kills the client and everything it started, at once: a graceful
// stop would measure nothing and costs seconds, for dhcpcd whose manager,
// stopped with SIGTERM right after it added an address, hangs until the
// lab's SIGKILL and leaves its privilege-separation helpers behind with
// UDP port 546 bound in the namespace (the next dhcpcd there never hears a
// Reply) and with the output pipes open (exec then waits its WaitDelay).
// The lab starts each client as the leader of a process group of its own,
// and the helpers stay in it. Those orphaned to this process (main makes
// it a subreaper) are reaped here; the client itself by the lab.
func (r *running) stop() error {
	pgid := r.proc.Pid()
	if err := unix.Kill(-pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	<-r.proc.Done() // reaped: wait4 below cannot take it from the lab
	for {
		_, err := unix.Wait4(-pgid, nil, 0, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			// Death by a signal is a clean stop for the lab.
			return r.proc.Stop()
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return fmt.Errorf("reap process group %d: %w", pgid, err)
		}
	}
}

// exited returns an error with the client's output once it has exited,
// and nil while it runs.
func (r *running) exited() error {
	select {
	case <-r.proc.Done():
		return fmt.Errorf("client exited: %w: %s", r.proc.Wait(), r.proc.Output())
	default:
		return nil
	}
}

// tree is the client's processes now.
func (r *running) tree() (processes, error) {
	pids, err := processTree(r.proc.Pid())
	if err != nil {
		return nil, fmt.Errorf("processes of %d: %w", r.proc.Pid(), err)
	}
	return pids, nil
}
