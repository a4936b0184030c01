package engine

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// uplinkState is what the engine knows of an uplink beyond its lease: the
// link and socket state that together make it usable, debounced by the
// link-plug monitor.
type uplinkState struct {
	fsm     *Uplink
	plug    *linkPlug
	ifindex int
	linkUp  bool // IFF_UP and IFF_RUNNING or IFF_LOWER_UP, as last reported
	sockOK  bool // the frontend has its UDP socket
	gone    bool // the last down was the link's deletion
	exists  bool // the interface is there, as last reported
	// Why the frontend has no socket, and when it tries again (Unix ms),
	// as it last said.
	sockErr   string
	sockRetry int64
	// The uplink's IPv6 sysctls as last reported; ra is 0 when unknown.
	ra                   int32 // 1 accepted, 2 dropped
	forwarding, acceptRA int32
}

// Router advertisement states, for dhcp6leasectl (InterfaceStatus).
const (
	raAccepted = 1
	raDropped  = 2
	raProgram  = 3
)

// checkRA records whether the kernel accepts router advertisements on the
// uplink and warns when it starts dropping them. A router forwards, and with
// forwarding=1 Linux drops RAs unless accept_ra=2 (ipv6_accept_ra()): the
// upstream's default route then never comes, which no DHCPv6 message can
// tell. accept_ra=0 is no such trap but a choice: systemd-networkd
// (IPv6AcceptRA=yes) and NetworkManager set it and handle the RAs
// themselves, so it is shown, not warned of (tests/boot saw the warning's
// advice under networkd's recipe, where it was wrong). The kernel reports
// the sysctls with the link, so this is checked at start and at every
// change of the uplink's link.
func (s *uplinkState) checkRA(l *pb.Link, log *slog.Logger) {
	c := rtnl.IPv6Conf{Forwarding: l.Forwarding, AcceptRA: l.AcceptRa}
	ra := int32(raAccepted)
	switch {
	case c.AcceptsRA():
	case c.AcceptRA == 0:
		ra = raProgram
	default:
		ra = raDropped
	}
	if ra == raDropped && s.ra != raDropped {
		log.Warn("the kernel drops router advertisements on the uplink: no default route will come from them",
			"uplink", l.Name, "forwarding", c.Forwarding, "accept_ra", c.AcceptRA,
			"fix", "sysctl net.ipv6.conf."+l.Name+".accept_ra=2")
	}
	s.ra, s.forwarding, s.acceptRA = ra, c.Forwarding, c.AcceptRA
}

// linkAct is what the link-plug monitor does once a change has held: up
// confirms the held prefixes (Rebooting) or solicits; down stops the
// exchanges and deprecates the addresses, deleting nothing (SPEC 9).
func (s *uplinkState) linkAct(up, gone bool) {
	if up {
		previous := "down"
		if s.gone {
			previous = "error"
		}
		s.fsm.log.Info("link up")
		s.fsm.SetReady(true)
		s.fsm.LinkEvent(EventLinkUp, previous, "up")
		return
	}
	s.gone = gone
	current := "down"
	if gone {
		current = "error"
	}
	s.fsm.log.Info("link down: addresses deprecated", "gone", gone)
	s.fsm.SetReady(false)
	s.fsm.Deprecate()
	s.fsm.LinkEvent(EventLinkDown, "up", current)
}

// link takes a link state report. Uplinks are tracked by ifindex, as
// brcompatd learned to: a device deleted and re-created under the same name
// is a new link, whose socket the frontend opens anew.
func (e *engine) link(l *pb.Link) {
	if l.Deleted {
		if last := e.links[l.Name]; last != nil && last.Ifindex == l.Ifindex {
			delete(e.links, l.Name)
		}
	} else {
		e.links[l.Name] = l
	}
	if s := e.uplinks[l.Name]; s != nil {
		if s.ifindex != int(l.Ifindex) {
			if l.Deleted {
				return // an old index going away
			}
			s.ifindex, s.sockOK = int(l.Ifindex), false
		}
		up := !l.Deleted && linkUsable(l.Flags, l.Operstate)
		if up != s.linkUp || l.Deleted {
			e.log.Info("link", "uplink", l.Name, "ifindex", l.Ifindex, "up", up, "deleted", l.Deleted)
		}
		s.linkUp, s.exists = up, !l.Deleted
		if l.Deleted {
			s.sockOK = false
		}
		if l.HasIpv6Conf {
			s.checkRA(l, e.log)
		}
		s.plug.set(s.linkUp && s.sockOK, l.Deleted)
		return
	}
	for _, s := range e.uplinks {
		if l.Deleted {
			s.fsm.DownstreamGone(l.Name)
		} else {
			s.fsm.DownstreamAppeared(l.Name)
		}
	}
}

// linkUsable tells from a link's flags and RFC 2863 operstate whether
// packets can flow: administratively up (IFF_UP) with carrier (IFF_RUNNING,
// or IFF_LOWER_UP), as ifplugd's netlink mode reads it, and not held back
// by an operstate that says otherwise: down, lower layer down, or dormant
// (802.1X not yet authenticated). UNKNOWN is what many drivers (tun, ppp)
// report while working, so it counts as usable.
func linkUsable(flags, operstate uint32) bool {
	const (
		operDown           = 2
		operLowerLayerDown = 3
		operDormant        = 5
	)
	if flags&unix.IFF_UP == 0 || flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) == 0 {
		return false
	}
	switch operstate {
	case operDown, operLowerLayerDown, operDormant:
		return false
	}
	return true
}
