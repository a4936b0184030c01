package engine

import (
	"golang.org/x/sys/unix"

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
	// Why the frontend has no socket, and when it tries again (Unix ms),
	// as it last said.
	sockErr   string
	sockRetry int64
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
		s.linkUp = up
		if l.Deleted {
			s.sockOK = false
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
