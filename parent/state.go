package parent

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

func (d *daemon) saveLease(s *pb.SaveLease) {
	if d.cfg.Uplink(s.Uplink) == nil {
		d.log.Warn("refused lease", "uplink", s.Uplink, "err", "not a configured uplink")
		return
	}
	path := filepath.Join(d.opts.StateDir, lease.FileName(s.Uplink))
	if err := lease.Write(path, pb.LeaseFromPB(s.Lease)); err != nil {
		d.log.Error("save lease", "err", err)
	}
}

// makeDUID returns the client DUID of the configuration (SPEC 8).
func (d *daemon) makeDUID() ([]byte, error) {
	c := d.cfg.DUID
	switch c.Kind {
	case config.DUIDRaw:
		return c.Raw, nil
	case config.DUIDLL, config.DUIDLLT:
		ifi, err := net.InterfaceByName(c.Interface)
		if err != nil {
			return nil, fmt.Errorf("duid from %s: %w", c.Interface, err)
		}
		if len(ifi.HardwareAddr) == 0 {
			return nil, fmt.Errorf("duid from %s: no hardware address", c.Interface)
		}
		const hwEthernet = 1 // RFC 826 hardware type
		if c.Kind == config.DUIDLL {
			return dhcp6.DUIDLL(hwEthernet, ifi.HardwareAddr), nil
		}
		t, err := lease.LoadOrCreateLLTTime(d.opts.StateDir, time.Now())
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDLLT(hwEthernet, t, ifi.HardwareAddr), nil
	default:
		u, err := lease.LoadOrCreateUUID(d.opts.StateDir)
		if err != nil {
			return nil, err
		}
		return dhcp6.DUIDUUID(u), nil
	}
}

// readLeases loads the lease file of each uplink of cfg. A torn or garbage
// file is reported and ignored (SPEC 8).
func (d *daemon) readLeases(cfg *config.Config) map[string]*pb.Lease {
	out := make(map[string]*pb.Lease)
	for _, u := range cfg.Uplinks {
		path := filepath.Join(d.opts.StateDir, lease.FileName(u.Name))
		l, err := lease.Read(path)
		if err != nil {
			d.log.Warn("ignoring lease file", "err", err)
			continue
		}
		out[u.Name] = pb.LeaseToPB(openBSDIAIDs(l, u))
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

// cleanRoutes removes unreachable routes of ours that no lease file holds:
// leftovers of a crash or of an uplink removed from the config.
func (d *daemon) cleanRoutes(leases map[string]*pb.Lease) {
	held := make(map[netip.Prefix]bool)
	for _, l := range leases {
		for _, ia := range l.Ias {
			held[netip.PrefixFrom(netip.AddrFrom16([16]byte(ia.Prefix)), int(ia.PrefixLen))] = true
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
		}
	}
}
