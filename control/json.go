package control

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

// The types below are the JSON that `dhcp6leasectl -j` prints, documented
// field by field in docs/CONTROL.md. They are built from the protobuf
// messages instead of marshalling those, so that a field renamed in
// proto/ cannot silently change what scripts parse. Every field is always
// present: absent values are null, empty lists [] and empty maps {}.

// ShowInterface is the output of `show interface -j`, `request -j` and the
// OpenBSD form with -j.
type ShowInterface struct {
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one uplink.
type Interface struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	LinkUp     bool      `json:"link_up"`
	ServerDUID *string   `json:"server_duid"`
	T1         *Deadline `json:"t1"`
	T2         *Deadline `json:"t2"`
	Lease      *Deadline `json:"lease"`
	IAPDs      []IAPD    `json:"ia_pds"`
	// Socket is why the uplink has no UDP socket, null when it has one.
	Socket *SocketError `json:"socket_error"`
	// Repaired counts what was put back after someone else removed it.
	Repaired Repaired `json:"repaired"`
	// LinkExists: the uplink's interface is there.
	LinkExists bool `json:"link_exists"`
	// AcceptsRA: whether the kernel accepts router advertisements on the
	// uplink (forwarding=1 needs accept_ra=2); null when not known yet.
	AcceptsRA *bool `json:"accepts_router_advertisements"`
	// DNS from the server's last Reply (RFC 3646).
	DNSServers   []string `json:"dns_servers"`
	DomainSearch []string `json:"domain_search"`
	// ReconfigureKey: the server gave a Reconfigure Key, so its
	// authenticated Reconfigure messages are obeyed (RFC 8415 section 20.4).
	ReconfigureKey bool `json:"reconfigure_key"`
	// Address is the uplink's own address from its IA_NA ("request
	// address"); null when it asks for none.
	Address *Address `json:"address"`
	// KernelError is the kernel's last refusal of an address or route of
	// the plan since the plan was last applied; null when none.
	KernelError *KernelError `json:"kernel_error"`
}

// KernelError is what the kernel refused, and when.
type KernelError struct {
	Error string `json:"error"`
	At    string `json:"at"` // RFC 3339, UTC
}

// Address is an uplink's IA_NA.
type Address struct {
	IAID      string    `json:"iaid"`
	Address   *string   `json:"address"` // "2001:db8::5/128", null while none is held
	Preferred *Deadline `json:"preferred"`
	Valid     *Deadline `json:"valid"`
}

// SocketError is why the UDP socket of an uplink could not be opened, and
// when the next attempt is.
type SocketError struct {
	Error string    `json:"error"`
	Retry *Deadline `json:"retry"`
}

// Repaired counts the addresses and routes of the plan put back after
// someone else removed them; Last is null when none was.
type Repaired struct {
	Addresses uint64  `json:"addresses"`
	Routes    uint64  `json:"routes"`
	Last      *string `json:"last"` // RFC 3339, UTC
}

// IAPD is one IA_PD of an uplink, in configuration order.
type IAPD struct {
	Index       int          `json:"index"`
	IAID        string       `json:"iaid"`
	Prefix      *string      `json:"prefix"`
	Preferred   *Deadline    `json:"preferred"`
	Valid       *Deadline    `json:"valid"`
	Downstreams []Downstream `json:"downstreams"`
	Unfit       []string     `json:"unfit"`
	Retiring    []Retiring   `json:"retiring"`
	// Excluded is the part of the prefix the server excluded (RFC 6603),
	// which no downstream gets; null when none.
	Excluded *string `json:"excluded"`
}

// Retiring is an earlier prefix of an IA_PD that the server still grants
// while it renumbers; its addresses are deprecated until Valid.
type Retiring struct {
	Prefix      string       `json:"prefix"`
	Valid       *Deadline    `json:"valid"`
	Downstreams []Downstream `json:"downstreams"`
}

// Downstream is an interface that holds an address from an IA_PD.
type Downstream struct {
	Interface string `json:"interface"`
	Address   string `json:"address"`
}

// Deadline is a point in time both absolute and as seconds left, so that
// scripts need neither a clock nor a date parser. A nil *Deadline (JSON
// null) is a time that does not apply or never comes (an infinite
// lifetime, RFC 8415 section 7.7).
type Deadline struct {
	Time    string `json:"time"`    // RFC 3339, UTC, to the second
	Seconds int64  `json:"seconds"` // left from now, rounded; 0 once past
}

// ShowStats is the output of `show stats -j`.
type ShowStats struct {
	Stats []Stats `json:"stats"`
}

// Stats are one uplink's counters; the maps' keys are DHCPv6 message type
// names (RFC 8415 section 7.3: "SOLICIT") and drop reasons.
type Stats struct {
	Name            string            `json:"name"`
	Sent            map[string]uint64 `json:"sent"`
	Received        map[string]uint64 `json:"received"`
	Dropped         map[string]uint64 `json:"dropped"`
	Retransmissions uint64            `json:"retransmissions"`
	Repaired        Repaired          `json:"repaired"`
}

// deadline converts a Unix millisecond time of the protocol, where 0 is
// unset and -1 infinite, to a Deadline.
func deadline(ms int64, now time.Time) *Deadline {
	if ms <= 0 {
		return nil
	}
	at := time.UnixMilli(ms)
	return &Deadline{
		Time:    at.UTC().Format(time.RFC3339),
		Seconds: int64(max(at.Sub(now), 0).Round(time.Second) / time.Second),
	}
}

// NewShowInterface converts interface statuses to their JSON form.
func NewShowInterface(ifs []*pb.InterfaceStatus, now time.Time) ShowInterface {
	out := ShowInterface{Interfaces: []Interface{}}
	for _, s := range ifs {
		j := Interface{
			Name: s.Name, State: s.State, LinkUp: s.LinkUp,
			T1: deadline(s.T1UnixMs, now), T2: deadline(s.T2UnixMs, now),
			Lease:          deadline(leaseEnd(s), now),
			IAPDs:          []IAPD{},
			Repaired:       Repaired{Addresses: s.RepairedAddresses, Routes: s.RepairedRoutes},
			LinkExists:     s.LinkExists,
			DNSServers:     append([]string{}, s.DnsServers...),
			DomainSearch:   append([]string{}, s.DomainSearch...),
			ReconfigureKey: s.ReconfigureKey,
		}
		for _, a := range s.Addresses {
			ja := &Address{IAID: fmt.Sprintf("%#08x", a.Iaid)}
			if a.Prefix != "" {
				ja.Address = &a.Prefix
				ja.Preferred, ja.Valid = deadline(a.PreferredUntilUnixMs, now), deadline(a.ValidUntilUnixMs, now)
			}
			j.Address = ja
		}
		if s.RouterAdvertisements != 0 {
			ok := s.RouterAdvertisements == raAccepted
			j.AcceptsRA = &ok
		}
		if s.LastRepairUnixMs > 0 {
			last := time.UnixMilli(s.LastRepairUnixMs).UTC().Format(time.RFC3339)
			j.Repaired.Last = &last
		}
		if s.SocketError != "" {
			j.Socket = &SocketError{Error: s.SocketError, Retry: deadline(s.SocketRetryUnixMs, now)}
		}
		if s.KernelError != "" {
			j.KernelError = &KernelError{Error: s.KernelError, At: time.UnixMilli(s.KernelErrorUnixMs).UTC().Format(time.RFC3339)}
		}
		if len(s.ServerId) > 0 {
			duid := dhcp6.FormatDUID(s.ServerId)
			j.ServerDUID = &duid
		}
		for _, ia := range s.Ias {
			p := IAPD{Index: int(ia.Index), IAID: fmt.Sprintf("%#08x", ia.Iaid),
				Downstreams: []Downstream{}, Unfit: append([]string{}, ia.Unfit...), Retiring: []Retiring{}}
			for _, r := range ia.Retiring {
				p.Retiring = append(p.Retiring, Retiring{Prefix: r.Prefix, Valid: deadline(r.ValidUntilUnixMs, now),
					Downstreams: downstreams(r.Downstreams)})
			}
			if ia.Excluded != "" {
				p.Excluded = &ia.Excluded
			}
			if ia.Prefix != "" {
				p.Prefix = &ia.Prefix
				p.Preferred = deadline(ia.PreferredUntilUnixMs, now)
				p.Valid = deadline(ia.ValidUntilUnixMs, now)
			}
			p.Downstreams = downstreams(ia.Downstreams)
			j.IAPDs = append(j.IAPDs, p)
		}
		out.Interfaces = append(out.Interfaces, j)
	}
	return out
}

func downstreams(ds []*pb.Downstream) []Downstream {
	out := []Downstream{}
	for _, d := range ds {
		out = append(out, Downstream{Interface: d.Ifname, Address: d.Address})
	}
	return out
}

// NewShowStats converts counters to their JSON form.
func NewShowStats(stats []*pb.InterfaceStats) ShowStats {
	out := ShowStats{Stats: []Stats{}}
	nonNil := func(m map[string]uint64) map[string]uint64 {
		if m == nil {
			return map[string]uint64{}
		}
		return m
	}
	for _, s := range stats {
		out.Stats = append(out.Stats, Stats{Name: s.Name, Sent: nonNil(s.Sent), Received: nonNil(s.Received),
			Dropped: nonNil(s.Drops), Retransmissions: s.Retransmissions,
			Repaired: Repaired{Addresses: s.RepairedAddresses, Routes: s.RepairedRoutes}})
	}
	return out
}

// WriteJSON prints v indented, with a final newline. encoding/json sorts
// map keys, so the output is stable.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
