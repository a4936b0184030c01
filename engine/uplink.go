package engine

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

	ex          *exchange     // the exchange in progress; nil in Down and Bound
	exTimer     timer         // its delayed first transmission, then its retransmissions
	collecting  bool          // the first RT of a Solicit: Advertises are being compared
	offer       *offer        // the best Advertise collected
	solMax      time.Duration // the server's SOL_MAX_RT; 0 for none
	lastSolicit time.Time     // first transmission of the last Solicit exchange

	t1, t2, expiry timer

	onReleased func() // Release's done, while a Release is under way

	// deprecated: the link went down (SPEC 9), so the addresses carry
	// preferred lifetime 0 until a Reply refreshes them.
	deprecated bool

	stats  Stats
	budget logBudget
}

// iaState is one configured IA_PD.
type iaState struct {
	cfg  *config.IA
	held lease.IA     // what the IA holds; Prefix is invalid when nothing
	hint netip.Prefix // the last prefix held: the Solicit hint
}

// offer is what one Advertise offers (RFC 8415 section 18.2.9).
type offer struct {
	server   []byte
	pref     uint8
	prefixes map[uint32]netip.Prefix // by IAID
}

// Downstream is one downstream interface's address from a delegated prefix.
type Downstream struct {
	Ifname string
	Addr   netip.Prefix // with the sub-prefix's length, e.g. 2001:db8:0:1::1/64
}

// NewUplink returns the state machine of cfg.Uplink, in state Down. held is
// the uplink's lease file, possibly empty: its prefixes that are still
// valid are held (and their expiry timed), and every prefix in it is the
// hint for its IA.
func NewUplink(cfg UplinkConfig, held lease.Lease, env Env, log *slog.Logger) *Uplink {
	u := &Uplink{
		cfg:   cfg,
		env:   env,
		log:   log.With("uplink", cfg.Uplink.Name),
		stats: newStats(),
	}
	now := time.Now()
	for _, c := range cfg.Uplink.IAs {
		ia := &iaState{cfg: c, held: lease.IA{IAID: c.IAID}}
		for _, h := range held.IAs {
			if h.IAID != c.IAID || !h.Prefix.IsValid() {
				continue
			}
			ia.hint = h.Prefix
			if _, valid := h.Remaining(now); valid > 0 {
				u.hold(ia, h)
			}
		}
		u.ias = append(u.ias, ia)
	}
	if u.holds(now) {
		u.server = bytes.Clone(held.ServerID)
	}
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
	switch u.state {
	case StateDown:
		u.log.Info("request ignored: uplink down")
	case StateBound, StateRenewing, StateRebinding:
		u.reboot()
	default:
		u.solicit()
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
		ia.held = lease.IA{IAID: ia.cfg.IAID}
	}
	u.server = nil
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
	default:
		u.reply(m, ias)
	}
}

// DownstreamAppeared configures the addresses a downstream interface that
// just appeared should have, with their remaining lifetimes (SPEC 9).
func (u *Uplink) DownstreamAppeared(ifname string) {
	u.configure(func(d Downstream) bool { return d.Ifname == ifname })
}

// Deprecate marks every held address deprecated after the link went down
// for good (SPEC 9): preferred lifetime 0, the valid lifetime counting on,
// so hosts stop choosing them for new connections but nothing is deleted
// (dhcpcd deletes them and the LAN loses its prefix for seconds).
func (u *Uplink) Deprecate() {
	u.deprecated = true
	u.configure(func(Downstream) bool { return true })
}

// configure (re)sets the held addresses of the downstreams that match with
// their remaining lifetimes, preferred 0 while deprecated. The parent
// replaces addresses in place, so this is idempotent.
func (u *Uplink) configure(match func(Downstream) bool) {
	for _, a := range u.placements() {
		if match(Downstream{Ifname: a.Ifname, Addr: a.Addr}) {
			u.env.SetAddress(a)
		}
	}
}

// snapshot returns what the uplink holds, for events.
func (u *Uplink) snapshot() (held []lease.IA, downs []Downstream) {
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			held = append(held, ia.held)
			placed, _ := place(ia.cfg, ia.held.Prefix, u.cfg.HostPart)
			downs = append(downs, placed...)
		}
	}
	return held, downs
}

// event tells the parent of a lease event; old and oldDowns are what was
// held before it.
func (u *Uplink) event(kind string, old []lease.IA, oldDowns []Downstream) {
	held, downs := u.snapshot()
	u.env.Event(Event{
		Uplink: u.cfg.Uplink.Name, Kind: kind, State: u.state.String(), Server: bytes.Clone(u.server),
		Prefixes: held, OldPrefixes: old, Downstreams: downs, OldDownstreams: oldDowns,
	})
}

// LinkEvent tells the parent of a link event the engine acted on, with
// ifplugd's previous and current link states.
func (u *Uplink) LinkEvent(kind, previous, current string) {
	held, downs := u.snapshot()
	u.env.Event(Event{
		Uplink: u.cfg.Uplink.Name, Kind: kind, State: u.state.String(), Server: bytes.Clone(u.server),
		Prefixes: held, OldPrefixes: held, Downstreams: downs, OldDownstreams: downs,
		LinkPrevious: previous, LinkCurrent: current,
	})
}

// solicit starts a Solicit exchange after the Solicit delay (RFC 8415
// section 18.2.1). Held prefixes stay configured until they expire, and are
// the hints.
func (u *Uplink) solicit() {
	u.stopRenewal()
	now := time.Now()
	delay := u.solicitDelay()
	// RFC 8415 section 14.1: the client must rate-limit what it sends, so
	// that a loop (a server that advertises but refuses every Request, a
	// NotOnLink answered at once) cannot make it burst. Solicit exchanges
	// begin at most once per SOL_TIMEOUT.
	if next := u.lastSolicit.Add(solTimeout); next.After(now.Add(delay)) {
		delay = next.Sub(now)
	}
	u.lastSolicit = now.Add(delay)
	u.state = StateInit
	u.log.Info("soliciting", "delay", delay)
	u.begin(solicitExchange, nil, delay)
}

func (u *Uplink) solicitDelay() time.Duration {
	if d := u.cfg.SolicitDelay; d != nil {
		return *d
	}
	return rand.N(solMaxDelay)
}

// request asks server for the offered prefixes (RFC 8415 section 18.2.2),
// or with offered nil for every IA's held prefix or hint.
func (u *Uplink) request(server []byte, offered map[uint32]netip.Prefix) {
	u.stopRenewal()
	u.server = server
	u.state = StateRequesting
	u.log.Info("requesting", "server", dhcp6.FormatDUID(server))
	u.begin(requestExchange, offered, 0)
}

// renew runs at T1 (RFC 8415 section 18.2.4).
func (u *Uplink) renew() {
	u.state = StateRenewing
	u.log.Info("renewing", "server", dhcp6.FormatDUID(u.server))
	u.begin(renewExchange, nil, 0)
}

// rebind runs at T2 (RFC 8415 section 18.2.5).
func (u *Uplink) rebind() {
	u.stopRenewal()
	u.state = StateRebinding
	u.log.Info("rebinding")
	u.begin(rebindExchange, nil, 0)
}

// reboot confirms the held prefixes with any server (SPEC 6, Rebooting).
func (u *Uplink) reboot() {
	u.stopRenewal()
	u.state = StateRebooting
	u.log.Info("rebooting: rebinding held prefixes")
	u.begin(rebootExchange, nil, 0)
}

// begin starts an exchange of kind k with a new transaction ID (RFC 8415
// section 16.1), sending its first message after delay.
func (u *Uplink) begin(k exchangeKind, offered map[uint32]netip.Prefix, delay time.Duration) {
	u.exTimer.cancel()
	u.ex = newExchange(k, u.message(k, offered), u.solMax)
	u.collecting, u.offer = k == solicitExchange, nil
	if delay > 0 {
		u.exTimer.set(u.env, delay, u.transmit)
		return
	}
	u.transmit()
}

// message returns what an exchange of kind k sends: one IA_PD per
// configured IA, with the offered prefix, else the held or last held one,
// else ::/RequiredLen as a hint (RFC 8415 section 18.2.1). Its lifetimes
// are 0, as RFC 8415 section 21.22 asks of clients. Request and Renew name
// the server (sections 18.2.2 and 18.2.4), Rebind must not (section 18.2.5).
func (u *Uplink) message(k exchangeKind, offered map[uint32]netip.Prefix) Transmit {
	v := rand.Uint32()
	t := Transmit{
		Uplink:      u.cfg.Uplink.Name,
		Type:        k.message(),
		XID:         [3]byte{byte(v >> 16), byte(v >> 8), byte(v)},
		RapidCommit: k == solicitExchange && u.cfg.RapidCommit,
	}
	if k == requestExchange || k == renewExchange || k == releaseExchange {
		t.ServerID = u.server
	}
	for _, ia := range u.ias {
		if k == releaseExchange && !ia.held.Prefix.IsValid() {
			continue // RFC 8415 section 18.2.7: the IAs to release only
		}
		p, ok := offered[ia.cfg.IAID]
		if !ok {
			p = ia.hint
		}
		if !p.IsValid() {
			p = netip.PrefixFrom(netip.IPv6Unspecified(), ia.cfg.RequiredLen)
		}
		t.IAs = append(t.IAs, TransmitIA{IAID: ia.cfg.IAID, Prefix: p})
	}
	return t
}

// transmit sends the exchange's message and times the next transmission.
func (u *Uplink) transmit() {
	now := time.Now()
	x := u.ex
	t := x.msg
	t.Elapsed = x.elapsed(now)
	if x.sent > 0 {
		u.stats.Retransmissions++
	}
	rt := x.transmitted(now, rand.Float64())
	u.stats.Sent[t.Type]++
	u.log.Debug("send", "type", t.Type, xidAttr(t.XID), "elapsed_cs", t.Elapsed, "rt", rt)
	u.env.Transmit(t)
	u.exTimer.set(u.env, rt, u.timeout)
}

// timeout runs when an RT passes without an answer.
func (u *Uplink) timeout() {
	if u.collecting {
		// The first RT is over: the best Advertise collected wins; without
		// one, the first acceptable one will (RFC 8415 section 18.2.1).
		u.collecting = false
		if o := u.offer; o != nil {
			u.request(o.server, o.prefixes)
			return
		}
	}
	if u.ex.exhausted(time.Now()) && u.ex.kind == releaseExchange {
		// RFC 8415 section 18.2.7: after REL_MAX_RC the client gives up
		// and considers the bindings released.
		u.released()
		return
	}
	if u.ex.exhausted(time.Now()) {
		// Only Request (MRC) and the Rebooting Rebind (MRD) run out; held
		// prefixes stay until they expire and become the Solicit hints.
		u.log.Info("no reply, soliciting", "to", u.ex.msg.Type, "sent", u.ex.sent)
		u.solicit()
		return
	}
	u.transmit()
}

// setSolMax applies a SOL_MAX_RT option, even from a message that is
// otherwise ignored (RFC 8415 sections 18.2.9 and 18.2.10); a value out of
// range, or absent (0), does not count (section 21.24).
func (u *Uplink) setSolMax(secs uint32) {
	d := time.Duration(secs) * time.Second
	if d < solMaxRTMin || d > solMaxRTMax {
		return
	}
	u.solMax = d
	if u.ex.kind == solicitExchange {
		u.ex.backoff.s.mrt = d
	}
}

// advertise handles an Advertise to the Solicit in progress (RFC 8415
// sections 18.2.1 and 18.2.9). One that offers no usable prefix, in no IA_PD
// without a failure status, is ignored. Preference 255 wins at once; within
// the first RT the highest preference wins, the first received on a tie;
// after it, the first acceptable Advertise wins.
func (u *Uplink) advertise(m *dhcp6.Message, ias map[uint32]*dhcp6.IAPD) {
	if code := statusOf(m.Status); code != dhcp6.StatusSuccess {
		u.drop(DropStatus, m, "status", code)
		return
	}
	o := &offer{server: bytes.Clone(m.ServerIDs[0]), pref: m.Preference, prefixes: make(map[uint32]netip.Prefix)}
	for iaid, pd := range ias {
		if statusOf(pd.Status) != dhcp6.StatusSuccess {
			continue
		}
		if p, ok := pick(pd, u.ia(iaid).held.Prefix); ok {
			o.prefixes[iaid] = prefixOf(p)
		}
	}
	if len(o.prefixes) == 0 {
		u.drop(DropNothingUsable, m)
		return
	}
	switch {
	case o.pref == 255 || !u.collecting:
		u.request(o.server, o.prefixes)
	case u.offer == nil || o.pref > u.offer.pref:
		u.offer = o
	}
}

// reply handles a Reply to the exchange in progress (RFC 8415 section
// 18.2.10). Per IA_PD: a granted prefix is bound (a different one is a
// prefix change); a held prefix with valid lifetime 0 is removed;
// NoPrefixAvail leaves the IA holding nothing until it is asked for again
// in the next Renew; NoBinding, in answer to Renew or Rebind, makes the
// client Request all IAs; an IA_PD left out keeps its lifetimes. NotOnLink
// starts over; other failures leave the exchange to retransmit.
func (u *Uplink) reply(m *dhcp6.Message, ias map[uint32]*dhcp6.IAPD) {
	if code := statusOf(m.Status); code != dhcp6.StatusSuccess {
		if code == dhcp6.StatusNotOnLink {
			u.startOver(m, "NotOnLink")
			return
		}
		// UnspecFail and the rest: retry with the normal backoff. UseMulticast
		// too: every message is multicast already.
		u.drop(DropStatus, m, "status", code)
		return
	}
	for _, pd := range ias {
		if statusOf(pd.Status) == dhcp6.StatusNotOnLink {
			u.startOver(m, "NotOnLink")
			return
		}
	}

	now := time.Now()
	k := u.ex.kind
	renewing := k == renewExchange || k == rebindExchange || k == rebootExchange
	oldHeld, oldDowns := u.snapshot()
	var refreshed []*iaState
	changed, needRequest := false, false
	for _, ia := range u.ias {
		pd := ias[ia.cfg.IAID]
		if pd == nil {
			continue
		}
		switch code := statusOf(pd.Status); {
		case code == dhcp6.StatusNoBinding && renewing:
			needRequest = true
		case code == dhcp6.StatusNoPrefixAvail && ia.held.Prefix.IsValid():
			u.log.Info("no prefix available", "iaid", ia.cfg.IAID, "removed", ia.held.Prefix)
			u.release(ia)
			changed = true
		case code == dhcp6.StatusSuccess:
			// usableIAs kept a prefix with valid lifetime 0 only if it is the
			// held one.
			withdrawn := slices.ContainsFunc(pd.Prefixes, func(p dhcp6.IAPrefix) bool { return p.Valid == 0 })
			p, ok := pick(pd, ia.held.Prefix)
			switch {
			case ok:
				u.bind(ia, lease.IA{
					IAID: ia.cfg.IAID, Prefix: prefixOf(p), Preferred: p.Preferred, Valid: p.Valid,
					Bound: now, T1: pd.T1, T2: pd.T2,
				}, withdrawn, now)
				refreshed = append(refreshed, ia)
			case withdrawn:
				u.log.Info("prefix withdrawn", "iaid", ia.cfg.IAID, "removed", ia.held.Prefix)
				u.release(ia)
			}
			changed = changed || ok || withdrawn
		}
	}

	if needRequest || len(refreshed) > 0 {
		u.server = bytes.Clone(m.ServerIDs[0])
	}
	if changed {
		u.armExpiry(now)
		u.save()
	}
	switch {
	case needRequest:
		u.request(u.server, nil)
	case len(refreshed) > 0:
		u.bound(refreshed)
	}
	if needRequest || len(refreshed) > 0 {
		u.event(u.eventKind(k, oldHeld), oldHeld, oldDowns)
	}
	switch {
	case needRequest, len(refreshed) > 0:
	case u.holds(now):
		// Nothing renewed: retransmit with backoff rather than at once, as
		// RFC 8415 section 18.2.10.1 asks for IAs a Reply leaves out.
		u.drop(DropNothingUsable, m)
	default:
		u.startOver(m, "no prefix delegated")
	}
}

// startOver goes back to Solicit. A failed Reply to a Solicit (Rapid
// Commit) leaves the Solicit exchange running with its backoff, so that a
// server cannot make the client restart it at the server's pace.
func (u *Uplink) startOver(m *dhcp6.Message, why string) {
	if u.state == StateInit {
		u.drop(DropNothingUsable, m, "why", why)
		return
	}
	u.log.Info("starting over", "why", why)
	u.solicit()
}

// bind makes h ia's binding and configures it: the downstream addresses
// with h's lifetimes (replace semantics refresh them in place) and the
// unreachable route. When h brings a different prefix, the new addresses go
// first; then the old ones are deprecated (preferred 0, valid at most 2 h,
// RFC 7084 L-13), or removed if the server withdrew the old prefix
// (withdrawn); then the route moves.
func (u *Uplink) bind(ia *iaState, h lease.IA, withdrawn bool, now time.Time) {
	old := ia.held
	placed := u.hold(ia, h)
	for _, d := range placed {
		u.env.SetAddress(u.address(ia, d, h.Preferred, h.Valid))
	}
	if old.Prefix.IsValid() && old.Prefix != h.Prefix {
		u.log.Info("prefix changed", "iaid", ia.cfg.IAID, "old", old.Prefix, "new", h.Prefix)
		_, valid := old.Remaining(now)
		gone, _ := place(ia.cfg, old.Prefix, u.cfg.HostPart)
		for _, d := range gone {
			switch {
			case slices.Contains(placed, d):
			case withdrawn:
				u.env.RemoveAddress(u.address(ia, d, 0, 0))
			default:
				u.env.SetAddress(u.address(ia, d, 0, min(seconds(valid), deprecatedValid)))
			}
		}
		if u.cfg.UnreachableRoute {
			u.env.RemoveRoute(u.route(ia, old.Prefix))
		}
	}
	if u.cfg.UnreachableRoute {
		u.env.SetRoute(u.route(ia, h.Prefix))
	}
}

// eventKind names the event of a Reply to exchange k that refreshed or
// changed the binding, old being what was held before: CHANGED when a
// prefix differs, else by exchange.
func (u *Uplink) eventKind(k exchangeKind, old []lease.IA) string {
	held, _ := u.snapshot()
	if len(old) > 0 && !slices.EqualFunc(held, old, func(a, b lease.IA) bool { return a.Prefix == b.Prefix }) {
		return EventChanged
	}
	switch k {
	case renewExchange:
		return EventRenew
	case rebindExchange:
		return EventRebind
	}
	return EventBound
}

// deprecatedValid caps the valid lifetime of the addresses of a prefix that
// was replaced, in seconds: two hours (RFC 7084 L-13).
const deprecatedValid = 2 * 60 * 60

// hold records h as ia's binding and returns the downstream addresses of the
// plan in it. Entries that do not fit are logged once per prefix (SPEC 5).
func (u *Uplink) hold(ia *iaState, h lease.IA) []Downstream {
	placed, unfit := place(ia.cfg, h.Prefix, u.cfg.HostPart)
	if h.Prefix != ia.held.Prefix && len(unfit) > 0 {
		names := make([]string, len(unfit))
		for i, e := range unfit {
			names[i] = e.Name
		}
		u.log.Warn("delegated prefix too small for the plan", "iaid", ia.cfg.IAID,
			"prefix", h.Prefix, "required_len", ia.cfg.RequiredLen, "unassigned", names)
	}
	ia.held, ia.hint = h, h.Prefix
	return placed
}

// release forgets ia's binding and removes what it configured.
func (u *Uplink) release(ia *iaState) {
	placed, _ := place(ia.cfg, ia.held.Prefix, u.cfg.HostPart)
	for _, d := range placed {
		u.env.RemoveAddress(u.address(ia, d, 0, 0))
	}
	if u.cfg.UnreachableRoute {
		u.env.RemoveRoute(u.route(ia, ia.held.Prefix))
	}
	ia.held = lease.IA{IAID: ia.cfg.IAID}
}

// bound enters Bound after a Reply refreshed the IAs in refreshed: Renew at
// the earliest of their T1, Rebind at the earliest T2. IAs the Reply left out
// do not count, so one the server ignores cannot make the client renew in a
// loop; it is renewed with the others and expires if never refreshed.
func (u *Uplink) bound(refreshed []*iaState) {
	t1, t2 := lease.Forever, lease.Forever
	for _, ia := range refreshed {
		h := ia.held
		u.log.Info("bound", "iaid", h.IAID, "prefix", h.Prefix, "preferred", h.Preferred,
			"valid", h.Valid, "server", dhcp6.FormatDUID(u.server), "reply_to", u.ex.msg.Type)
		a, b := renewTimes(h)
		t1, t2 = min(t1, a), min(t2, b)
	}
	u.stopExchange()
	u.state = StateBound
	u.deprecated = false
	u.arm(&u.t1, t1, u.renew)
	u.arm(&u.t2, t2, u.rebind)
}

// expire ends the lease at the end of the shortest valid lifetime held
// (SPEC 6): what it configured is removed and the client solicits again.
func (u *Uplink) expire() {
	oldHeld, oldDowns := u.snapshot()
	defer func() { u.event(EventExpire, oldHeld, oldDowns) }()
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			u.log.Info("expired", "iaid", ia.cfg.IAID, "prefix", ia.held.Prefix)
			u.release(ia)
		}
	}
	u.server = nil
	u.save()
	if u.state != StateDown && u.state != StateInit {
		u.solicit()
	}
}

// armExpiry times the end of the lease.
func (u *Uplink) armExpiry(now time.Time) {
	end := lease.Forever
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			_, valid := ia.held.Remaining(now)
			end = min(end, valid)
		}
	}
	u.arm(&u.expiry, end, u.expire)
}

// arm sets t to run f after d, or cancels it if d is lease.Forever.
func (u *Uplink) arm(t *timer, d time.Duration, f func()) {
	if d == lease.Forever {
		t.cancel()
		return
	}
	t.set(u.env, d, f)
}

// save writes the lease file.
func (u *Uplink) save() {
	var l lease.Lease
	for _, ia := range u.ias {
		if ia.held.Prefix.IsValid() {
			l.IAs = append(l.IAs, ia.held)
		}
	}
	if l.IAs != nil {
		l.ServerID = u.server
	}
	u.env.SaveLease(u.cfg.Uplink.Name, l)
}

func (u *Uplink) stopExchange() {
	u.exTimer.cancel()
	u.ex, u.offer, u.collecting = nil, nil, false
}

func (u *Uplink) stopRenewal() {
	u.t1.cancel()
	u.t2.cancel()
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

func (u *Uplink) address(ia *iaState, d Downstream, preferred, valid uint32) Address {
	return Address{
		Uplink: u.cfg.Uplink.Name, IAID: ia.cfg.IAID, Ifname: d.Ifname, Addr: d.Addr,
		Preferred: preferred, Valid: valid,
	}
}

func (u *Uplink) route(ia *iaState, p netip.Prefix) Route {
	return Route{Uplink: u.cfg.Uplink.Name, IAID: ia.cfg.IAID, Prefix: p}
}

// place returns the downstream addresses of ia's plan inside delegated, and
// the named entries that do not fit (SPEC 5). Reserved entries get nothing
// either way.
func place(ia *config.IA, delegated netip.Prefix, host netip.Addr) (placed []Downstream, unfit []config.Entry) {
	for _, e := range ia.Entries {
		if e.Name == "" {
			continue
		}
		sub, ok := config.SubPrefix(delegated, e)
		if !ok {
			unfit = append(unfit, e)
			continue
		}
		placed = append(placed, Downstream{Ifname: e.Name, Addr: config.HostAddress(sub, host)})
	}
	return placed, unfit
}

// pick returns the prefix of pd for its IA to hold: the held one while the
// server grants it, else the first granted. A server may grant several; an
// IA holds one, as the lease file records.
func pick(pd *dhcp6.IAPD, held netip.Prefix) (dhcp6.IAPrefix, bool) {
	granted := slices.DeleteFunc(slices.Clone(pd.Prefixes), func(p dhcp6.IAPrefix) bool { return p.Valid == 0 })
	if len(granted) == 0 {
		return dhcp6.IAPrefix{}, false
	}
	if i := slices.IndexFunc(granted, func(p dhcp6.IAPrefix) bool { return prefixOf(p) == held }); i >= 0 {
		return granted[i], true
	}
	return granted[0], true
}

// statusOf returns a Status Code option's code; an absent option means
// Success (RFC 8415 section 21.13).
func statusOf(s *dhcp6.Status) dhcp6.StatusCode {
	if s == nil {
		return dhcp6.StatusSuccess
	}
	return s.Code
}

// minRenew is the shortest T1 or T2 the client uses, so that no server (nor
// a preferred lifetime of 0 with T1 left to the client) can make it renew in
// a tight loop.
const minRenew = time.Second

// renewTimes returns how long after h was bound to Renew and to Rebind
// (RFC 8415 section 21.21): T1 and T2 as the server sent them, or where it
// sent 0 the client's choice, 0.5 and 0.8 times the preferred lifetime (the
// ratios section 21.21 recommends). Infinity is lease.Forever.
func renewTimes(h lease.IA) (t1, t2 time.Duration) {
	return renewTime(h.T1, h.Preferred, 0.5), renewTime(h.T2, h.Preferred, 0.8)
}

func renewTime(t, preferred uint32, share float64) time.Duration {
	switch {
	case t == dhcp6.Infinity, t == 0 && preferred == dhcp6.Infinity:
		return lease.Forever
	case t == 0:
		return max(time.Duration(float64(preferred)*share*float64(time.Second)), minRenew)
	}
	return max(time.Duration(t)*time.Second, minRenew)
}

// seconds returns d as a lifetime in seconds, lease.Forever as infinity.
func seconds(d time.Duration) uint32 {
	if d == lease.Forever {
		return dhcp6.Infinity
	}
	return uint32(d / time.Second)
}

func xidAttr(xid [3]byte) slog.Attr { return slog.String("xid", hex.EncodeToString(xid[:])) }
