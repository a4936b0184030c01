package engine

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
)

// UplinkConfig is what an Uplink needs from the configuration.
type UplinkConfig struct {
	Uplink      *config.Uplink
	RapidCommit bool // ask for Rapid Commit in Solicit (RFC 8415 section 18.2.1)
	// SolicitDelay replaces the random wait of 0..SOL_MAX_DELAY before a
	// Solicit exchange (RFC 8415 section 18.2.1); nil keeps the RFC's.
	SolicitDelay     *time.Duration
	HostPart         netip.Addr // host bits of every downstream address; zero for ::1
	UnreachableRoute bool       // install an unreachable route per delegated prefix (RFC 7084 WPD-5)
	ClientID         []byte     // the client's DUID
	// ReconfigureAccept: offer Reconfigure Accept and obey authenticated
	// Reconfigure messages (RFC 8415 sections 18.2.11, 20.4).
	ReconfigureAccept bool
}

// State is where an uplink's lease state machine is.
type State int

// States (SPEC 6).
const (
	StateDown       State = iota // link down or socket unusable: nothing is sent
	StateInit                    // soliciting
	StateRequesting              // requesting what the chosen server advertised
	StateBound
	StateRenewing
	StateRebinding
	StateRebooting // confirming held prefixes with Rebind after link-up or restart
)

// String returns the state's name as dhcp6leasectl shows it.
func (s State) String() string {
	switch s {
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateRequesting:
		return "Requesting"
	case StateBound:
		return "Bound"
	case StateRenewing:
		return "Renewing"
	case StateRebinding:
		return "Rebinding"
	case StateRebooting:
		return "Rebooting"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Uplink is the lease state machine of one uplink: a requesting router
// (RFC 8415, IA_PD only) with one IA_PD per configured IA. It is not safe
// for concurrent use: the engine calls every method, and runs every
// Env.AfterFunc callback, on one goroutine.
type Uplink struct {
	cfg    UplinkConfig
	env    Env
	log    *slog.Logger
	state  State
	ias    []*iaState
	server []byte // DUID of the server bound to or requested from

	ex         *exchange     // the exchange in progress; nil in Down and Bound
	exTimer    timer         // its delayed first transmission, then its retransmissions
	collecting bool          // the first RT of a Solicit: Advertises are being compared
	offer      *offer        // the best Advertise collected
	solMax     time.Duration // the server's SOL_MAX_RT; 0 for none
	restarts   restartBackoff

	t1, t2, expiry timer

	onReleased func() // Release's done, while a Release is under way

	// deprecated: the link went down (SPEC 9), so the addresses carry
	// preferred lifetime 0 until a Reply refreshes them.
	deprecated bool

	// What the server's last Reply that bound said besides the leases:
	// DNS (RFC 3646) and its Reconfigure Key (RFC 8415 section 20.4).
	dns    []netip.Addr
	search []string
	reconf *lease.ReconfigureKey

	stats   Stats
	budget  logBudget
	repairs repairs
	// The kernel's last refusal of the plan (from the parent) since the
	// plan was last applied, for dhcp6leasectl.
	kernelErr   string
	kernelErrAt time.Time
}

// NewUplink returns the state machine of cfg.Uplink, in state Down. held is
// the uplink's lease file, possibly empty: its prefixes that are still
// valid are held (and their expiry timed) and configured at once, with
// their remaining lifetimes, as the kernel would still have them after a
// restart and no longer has them after a reboot; every current prefix in
// it is the hint for its IA.
func NewUplink(cfg UplinkConfig, held lease.Lease, env Env, log *slog.Logger) *Uplink {
	u := &Uplink{
		cfg:   cfg,
		env:   env,
		log:   log.With("uplink", cfg.Uplink.Name),
		stats: newStats(),
	}
	now := time.Now()
	for _, c := range iaConfigs(cfg.Uplink) {
		ia := newIAState(cfg.Uplink, c)
		for _, h := range held.IAs {
			if h.IAID != c.IAID || !h.Prefix.IsValid() {
				continue
			}
			_, valid := h.Remaining(now)
			switch {
			case h.Retiring && valid > 0 && len(ia.retiring) < lease.MaxRetiring:
				ia.retiring = append(ia.retiring, h)
			case h.Retiring:
			case valid > 0:
				u.hold(ia, h)
			default:
				ia.hint = h.Prefix
			}
		}
		u.ias = append(u.ias, ia)
	}
	if u.holds(now) {
		u.server = bytes.Clone(held.ServerID)
		u.dns, u.search, u.reconf = held.DNSServers, held.DomainSearch, held.Reconfigure
	}
	u.restore()
	u.armExpiry(now)
	return u
}

// SetReady tells the uplink whether it can exchange messages: its link is up
// and its UDP socket usable. Not ready stops every exchange and the renewal
// timers; the lease still expires on time. Ready after not ready confirms
// the held prefixes (Rebooting) while one is still valid, else solicits.
func (u *Uplink) SetReady(ready bool) {
	switch {
	case !ready && u.state != StateDown:
		u.stopExchange()
		u.stopRenewal()
		u.state = StateDown
		u.log.Debug("not ready: exchanges stopped")
	case ready && u.state == StateDown:
		if u.holds(time.Now()) {
			u.reboot()
		} else {
			u.solicit()
		}
	}
}

// Request asks for a new lease (dhcp6leasectl request): a bound uplink
// confirms its prefixes with Rebind, any other starts over with Solicit. A
// Down uplink does nothing until it is ready.
func (u *Uplink) Request() {
	u.restarts.reset()
	switch u.state {
	case StateDown:
		u.log.Info("request: waiting for the uplink")
	case StateBound, StateRenewing, StateRebinding:
		u.reboot()
	default:
		// The operator asked: no Solicit delay (SOL_MAX_DELAY spreads the
		// clients of a link that all start at once, RFC 8415 section
		// 18.2.1) and no wait from earlier failures.
		u.solicitAfter(0)
	}
}

// Release gives the held prefixes back to the server (release on
// shutdown, SPEC 6; RFC 8415 section 18.2.7), then removes what they
// configured and saves an empty lease, and calls done: once the server has
// answered, or REL_MAX_RC Releases went unanswered, or at once when there
// is nothing to release or no link to send it on.
func (u *Uplink) Release(done func()) {
	u.onReleased = done
	if u.state == StateDown || !u.holds(time.Now()) {
		u.released()
		return
	}
	u.stopRenewal()
	u.log.Info("releasing", "server", dhcp6.FormatDUID(u.server))
	u.begin(releaseExchange, nil, 0)
}

// released ends a Release: the uplink stops for good with nothing held.
func (u *Uplink) released() {
	u.Remove()
	for _, ia := range u.ias {
		ia.held, ia.retiring = lease.IA{IAID: ia.cfg.IAID}, nil
	}
	u.server, u.dns, u.search, u.reconf = nil, nil, nil, nil
	u.save()
	if done := u.onReleased; done != nil {
		u.onReleased = nil
		done()
	}
}

// Stop cancels every timer, for good: the uplink is Down and not used again.
func (u *Uplink) Stop() {
	u.stopExchange()
	u.stopRenewal()
	u.stopRepairs()
	u.expiry.cancel()
	u.state = StateDown
}

// Receive handles one UDP payload from the uplink's socket.
func (u *Uplink) Receive(b []byte) {
	var m dhcp6.Message
	if err := m.Unmarshal(b); err != nil {
		u.drop(decodeReason(err), nil, "err", err)
		return
	}
	if m.Type == dhcp6.Reconfigure {
		// Its digest covers the wire bytes, which only this call has.
		u.stats.Received[m.Type]++
		u.reconfigure(b, &m)
		return
	}
	u.receive(&m)
}

// receive validates a decoded message and acts on it.
func (u *Uplink) receive(m *dhcp6.Message) {
	u.stats.Received[m.Type]++
	if reason := u.check(m); reason != "" {
		u.drop(reason, m)
		return
	}
	u.debug("receive", "type", m.Type, xidAttr(m.TransactionID),
		"server", dhcp6.FormatDUID(m.ServerIDs[0]), "ia_pds", len(m.IAPDs))
	u.setSolMax(m.SolMaxRT)
	ias := u.usableIAs(m)
	switch {
	case m.Type == dhcp6.Advertise:
		u.advertise(m, ias)
	case u.ex.kind == releaseExchange:
		// Whatever the status, the server has heard: done (RFC 8415
		// section 18.2.10.2).
		u.released()
	case u.ex.kind == informExchange:
		u.informed(m)
	default:
		u.reply(m, ias)
	}
}

// DownstreamAppeared configures the addresses a downstream interface that
// just appeared, or whose IPv6 just started, should have, with their
// remaining lifetimes (SPEC 9); after a refusal by the kernel, the whole
// plan (RetryRefused).
func (u *Uplink) DownstreamAppeared(ifname string) {
	if !u.RetryRefused() {
		u.configure(func(d Downstream) bool { return d.Ifname == ifname })
	}
}

// RetryRefused applies the whole plan again if the kernel refused part of
// it since it was last applied, and reports whether it did. The engine
// calls it when an interface of the uplink may take addresses again
// (a downstream appeared or its IPv6 started, the uplink's socket is back:
// IPv6 was off there, say, and the kernel says nothing when it is on
// again). It clears the refusal shown; the parent reports it again if it
// still holds.
func (u *Uplink) RetryRefused() bool {
	if u.kernelErr == "" {
		return false
	}
	u.restore()
	return true
}

// Deprecate marks every held address deprecated after the link went down
// for good (SPEC 9): preferred lifetime 0, the valid lifetime counting on,
// so hosts stop choosing them for new connections but nothing is deleted
// (dhcpcd deletes them and the LAN loses its prefix for seconds).
func (u *Uplink) Deprecate() {
	u.deprecated = true
	u.configure(func(Downstream) bool { return true })
}

// holds reports whether any IA holds a prefix still valid at now.
func (u *Uplink) holds(now time.Time) bool {
	return slices.ContainsFunc(u.ias, func(ia *iaState) bool {
		_, valid := ia.held.Remaining(now)
		return ia.held.Prefix.IsValid() && valid > 0
	})
}

// ia returns the configured IA with iaid, or nil.
func (u *Uplink) ia(iaid uint32) *iaState {
	for _, ia := range u.ias {
		if ia.cfg.IAID == iaid {
			return ia
		}
	}
	return nil
}

func xidAttr(xid [3]byte) slog.Attr { return slog.String("xid", hex.EncodeToString(xid[:])) }

// iaidAttr logs an IAID in hex, as the lease file and dhcp6leasectl show it.
func iaidAttr(iaid uint32) slog.Attr { return slog.String("iaid", fmt.Sprintf("%#08x", iaid)) }
