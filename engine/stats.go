package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// Stats are an uplink's packet counters, the ones arpd keeps, for
// `dhcp6leasectl show stats` and SIGUSR1.
type Stats struct {
	Sent     map[dhcp6.MessageType]uint64 // every transmission, retransmissions included
	Received map[dhcp6.MessageType]uint64 // every message that decoded, dropped or not
	// Drops counts discarded messages, and discarded IA_PD and IA Prefix
	// options of messages that were kept, by reason.
	Drops           map[DropReason]uint64
	Retransmissions uint64
	// Addresses and routes put back after someone else removed them.
	RepairedAddresses, RepairedRoutes uint64
}

func newStats() Stats {
	return Stats{
		Sent:     make(map[dhcp6.MessageType]uint64),
		Received: make(map[dhcp6.MessageType]uint64),
		Drops:    make(map[DropReason]uint64),
	}
}

// clone returns a copy that shares no map with s.
func (s Stats) clone() Stats {
	s.Sent = maps.Clone(s.Sent)
	s.Received = maps.Clone(s.Received)
	s.Drops = maps.Clone(s.Drops)
	return s
}

// Stats returns a copy of the uplink's counters.
func (u *Uplink) Stats() Stats {
	s := u.stats.clone()
	s.RepairedAddresses, s.RepairedRoutes = u.repairs.addrCount, u.repairs.routeCount
	return s
}

// counts formats counters for a log line as NAME:N pairs joined by commas,
// sorted by name: "REPLY:1,SOLICIT:2" (one log format, no Go map syntax,
// nothing the text handler must quote).
func counts[K ~string | ~uint8](m map[K]uint64) string {
	pairs := make([]string, 0, len(m))
	for k, n := range m {
		pairs = append(pairs, fmt.Sprintf("%v:%d", k, n))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}
