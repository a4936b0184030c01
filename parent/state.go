package parent

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
	"golang.org/x/sys/unix"
)

func (d *daemon) saveLease(s *pb.SaveLease) {
	if d.cfg.Uplink(s.Uplink) == nil {
		d.log.Warn("refused lease", "uplink", s.Uplink, "err", "not a configured uplink")
		return
	}
	l := pb.LeaseFromPB(s.Lease)
	now, boot := time.Now(), d.boot.now()
	for i := range l.IAs {
		l.IAs[i] = l.IAs[i].Stamp(now, boot)
	}
	path := filepath.Join(d.opts.StateDir, lease.FileName(s.Uplink))
	if err := lease.Write(path, l); err != nil {
		d.log.Error("save lease", "err", err)
	}
}

// bootClock reads the kernel's boot clock: lease files stamp their bound
// times with it (lease.IA.Reckon).
type bootClock struct{ id string }

// newBootClock reads this boot's ID. Without one, leases are written
// without a stamp and read by the wall clock alone.
func newBootClock(log *slog.Logger) bootClock {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		log.Warn("no boot id: lease times follow the wall clock only", "err", err)
		return bootClock{}
	}
	return bootClock{id: strings.TrimSpace(string(b))}
}

func (b bootClock) now() lease.Boot {
	if b.id == "" {
		return lease.Boot{}
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return lease.Boot{}
	}
	return lease.Boot{ID: b.id, Time: time.Duration(ts.Nano())}
}

// makeDUID returns the client DUID of the configuration (SPEC 8).
func (d *daemon) makeDUID() ([]byte, error) {
	c := d.cfg.DUID
	switch c.Kind {
	case config.DUIDRaw:
		return c.Raw, nil
	case config.DUIDLL, config.DUIDLLT:
		ifaces, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("duid from %s: %w", c.Interface, err)
		}
		name, hw, err := duidHardware(c.Interface, ifaces)
		if err != nil {
			return d.machineDUID(c.Interface, err)
		}
		if name != c.Interface {
			d.log.Warn("duid: the interface has no hardware address, using another's",
				"configured", c.Interface, "using", name, "address", hw.String())
		}
		const hwEthernet = 1 // RFC 826 hardware type
		if c.Kind == config.DUIDLL {
			return dhcp6.DUIDLL(hwEthernet, hw), nil
		}
		t, err := lease.LoadOrCreateLLTTime(d.opts.StateDir, time.Now())
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDLLT(hwEthernet, t, hw), nil
	default:
		u, err := lease.LoadOrCreateUUID(d.opts.StateDir)
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDUUID(u), nil
	}
}

// duidHardware picks the link-layer address a DUID-LL or DUID-LLT is made
// from: the named interface's, or when it has none (ppp, tun, WireGuard:
// "duid ll ppp0" on a PPPoE router) the Ethernet address of the interface
// with the lowest index that has one, which is the router's own and stays
// while its NICs do.
func duidHardware(name string, ifaces []net.Interface) (string, net.HardwareAddr, error) {
	ethernet := func(hw net.HardwareAddr) bool {
		return len(hw) == 6 && !bytes.Equal(hw, make([]byte, 6))
	}
	found := false
	for _, ifi := range ifaces {
		if ifi.Name == name {
			found = true
			if ethernet(ifi.HardwareAddr) {
				return name, ifi.HardwareAddr, nil
			}
		}
	}
	if !found {
		return "", nil, fmt.Errorf("duid from %s: no such interface", name)
	}
	slices.SortFunc(ifaces, func(a, b net.Interface) int { return a.Index - b.Index })
	for _, ifi := range ifaces {
		if ethernet(ifi.HardwareAddr) {
			return ifi.Name, ifi.HardwareAddr, nil
		}
	}
	return "", nil, fmt.Errorf("duid from %s: no interface has an Ethernet address", name)
}

// machineDUID is the last fallback of "duid ll" and "duid llt" when no
// interface has a hardware address: a DUID-UUID (RFC 6355) made from
// /etc/machine-id, the way systemd-networkd makes its DUID, so that it stays
// when the state directory is wiped. The ID itself is not sent: RFC 6355
// wants a UUID, and systemd asks that the machine ID not leave the host, so
// it is the first 16 bytes of HMAC-SHA256 keyed with the machine ID over a
// name of this daemon's, with the version 4 and variant bits set.
func (d *daemon) machineDUID(ifname string, why error) ([]byte, error) {
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		return nil, fmt.Errorf("%w; and no /etc/machine-id to fall back on: %w", why, err)
	}
	u, err := machineUUID(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%w; /etc/machine-id: %w", why, err)
	}
	d.log.Warn("duid: no hardware address, using a DUID-UUID from /etc/machine-id", "configured", ifname, "reason", why)
	return dhcp6.DUIDUUID(u), nil
}

// machineUUID derives the UUID of machineDUID from a machine ID's text.
func machineUUID(machineID string) ([16]byte, error) {
	id, err := hex.DecodeString(machineID)
	if err != nil || len(id) != 16 {
		return [16]byte{}, fmt.Errorf("%q is not 32 hex digits", machineID)
	}
	mac := hmac.New(sha256.New, id)
	mac.Write([]byte("dhcp6leased DUID-UUID"))
	var u [16]byte
	copy(u[:], mac.Sum(nil))
	u[6] = u[6]&0x0f | 0x40 // version 4 (RFC 9562 section 5.4)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u, nil
}

// readLeases loads the lease files of cfg's uplinks that want accepts,
// with their bound times reckoned on this boot's clock (lease.IA.Reckon).
// A torn or garbage file is reported and ignored (SPEC 8); so are the
// lifetimes of a lease bound, by the wall clock, in the future.
func (d *daemon) readLeases(cfg *config.Config, want func(uplink string) bool) map[string]lease.Lease {
	out := make(map[string]lease.Lease)
	now, boot := time.Now(), d.boot.now()
	for _, u := range cfg.Uplinks {
		if !want(u.Name) {
			continue
		}
		path := filepath.Join(d.opts.StateDir, lease.FileName(u.Name))
		l, err := lease.Read(path)
		if err != nil {
			d.log.Warn("ignoring lease file", "err", err)
			continue
		}
		for i, ia := range l.IAs {
			var known bool
			if l.IAs[i], known = ia.Reckon(now, boot); !known {
				d.log.Warn("lease bound in the future (clock behind?): its prefix is only a hint",
					"file", path, "prefix", ia.Prefix, "bound", ia.Bound)
			}
		}
		out[u.Name] = l
	}
	return out
}

// previousIAs returns what the lease files say each uplink's IAs were, for
// config.InheritIAIDs.
func previousIAs(leases map[string]lease.Lease) map[string][]config.PreviousIA {
	out := make(map[string][]config.PreviousIA)
	for name, l := range leases {
		for _, ia := range l.IAs {
			if !ia.Retiring {
				out[name] = append(out[name], config.PreviousIA{IAID: ia.IAID, Downstreams: ia.Downstreams, Address: ia.NA})
			}
		}
	}
	return out
}

// leasesToPB converts leases for the engine, with the IAIDs of OpenBSD
// lines mapped to cfg's.
func leasesToPB(cfg *config.Config, leases map[string]lease.Lease) map[string]*pb.Lease {
	out := make(map[string]*pb.Lease)
	for name, l := range leases {
		out[name] = pb.LeaseToPB(openBSDIAIDs(l, cfg.Uplink(name)))
	}
	return out
}

// openBSDIAIDs maps the IAs of OpenBSD lease lines (no bound time) to
// ours: OpenBSD numbers an uplink's IAs 0, 1, 2 and sends that position as
// the IAID, where we derive IAIDs unique across the client (SPEC 4). The
// prefixes become Solicit hints for the IA at that position.
func openBSDIAIDs(l lease.Lease, u *config.Uplink) lease.Lease {
	for i, ia := range l.IAs {
		if ia.Bound.IsZero() && int(ia.IAID) < len(u.IAs) {
			l.IAs[i].IAID = u.IAs[ia.IAID].IAID
		}
	}
	return l
}

// cleanRoutes removes unreachable routes of ours that no lease holds while
// still valid: leftovers of a crash, of an uplink removed from the config,
// or of a lease that ended while the daemon was not running (a route has no
// lifetime of its own for the kernel to end it by).
func (d *daemon) cleanRoutes(leases map[string]lease.Lease) {
	now := time.Now()
	held := make(map[netip.Prefix]bool)
	for _, l := range leases {
		for _, ia := range l.IAs {
			if _, valid := ia.Remaining(now); valid > 0 {
				held[ia.Prefix] = true
			}
		}
	}
	routes, err := d.rt.ListUnreachable()
	if err != nil {
		d.log.Warn("list unreachable routes", "err", err)
		return
	}
	for _, r := range routes {
		if held[r] {
			continue
		}
		if err := d.rt.DeleteUnreachable(r); err != nil {
			d.log.Warn("remove stale route", "prefix", r, "err", err)
			continue
		}
		d.log.Info("removed stale route", "prefix", r)
	}
}
