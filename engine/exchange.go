package engine

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// offer is what one Advertise offers (RFC 8415 section 18.2.9).
type offer struct {
	server   []byte
	pref     uint8
	prefixes map[uint32]netip.Prefix // by IAID
}

// solicit starts a Solicit exchange after the Solicit delay (RFC 8415
// section 18.2.1). Held prefixes stay configured until they expire, and are
// the hints.
func (u *Uplink) solicit() {
	u.solicitAfter(max(u.solicitDelay(), u.restarts.wait(rand.Float64(), u.solMax)))
}

// solicitAfter starts a Solicit exchange whose first message goes out
// after delay.
func (u *Uplink) solicitAfter(delay time.Duration) {
	u.stopRenewal()
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
// else ::/HintLen as a hint (RFC 8415 section 18.2.1). Its lifetimes
// are 0, as RFC 8415 section 21.22 asks of clients. Request and Renew name
// the server (sections 18.2.2 and 18.2.4), Rebind must not (section 18.2.5).
func (u *Uplink) message(k exchangeKind, offered map[uint32]netip.Prefix) Transmit {
	v := rand.Uint32()
	t := Transmit{
		Uplink:      u.cfg.Uplink.Name,
		Type:        k.message(),
		XID:         [3]byte{byte(v >> 16), byte(v >> 8), byte(v)},
		RapidCommit: k == solicitExchange && u.cfg.RapidCommit,
		// RFC 8415 section 18.2.1 and following: in Solicit, Request,
		// Renew and Rebind, when the client accepts Reconfigure.
		ReconfigureAccept: u.cfg.ReconfigureAccept && k != releaseExchange,
	}
	if k == requestExchange || k == renewExchange || k == releaseExchange || k == informExchange {
		// RFC 8415 section 18.2.6: an Information-request in answer to a
		// Reconfigure names its server.
		t.ServerID = u.server
	}
	if k == informExchange {
		t.ReconfigureAccept = false
		return t // no IA options (section 18.2.6)
	}
	for _, ia := range u.ias {
		if k == releaseExchange && len(ia.all()) == 0 {
			continue // RFC 8415 section 18.2.7: the IAs to release only
		}
		p, ok := offered[ia.cfg.IAID]
		if !ok {
			p = ia.hint
		}
		if !p.IsValid() {
			p = netip.PrefixFrom(netip.IPv6Unspecified(), ia.cfg.HintLen)
		}
		if k == solicitExchange {
			// A held prefix too small for the plan (after a reload
			// that needs more), or than the length the config asks
			// for, is hinted widened to that length: a server that can
			// grow it in place keeps the LANs' addresses
			// (docs/CONFIG.md).
			limit := ia.cfg.RequiredLen
			if ia.cfg.FixedHint {
				limit = ia.cfg.HintLen
			}
			if p.Bits() > limit {
				p = netip.PrefixFrom(p.Addr(), ia.cfg.HintLen).Masked()
			}
			t.IAs = append(t.IAs, TransmitIA{IAID: ia.cfg.IAID, Prefix: p, NA: ia.na})
			continue
		}
		t.IAs = append(t.IAs, TransmitIA{IAID: ia.cfg.IAID, Prefix: p, NA: ia.na})
		// Every prefix assigned to the IA goes with it (RFC 8415 sections
		// 18.2.4, 18.2.5, 18.2.7): the retiring ones follow, one
		// TransmitIA each, which the frontend puts in the same IA_PD.
		for _, r := range ia.retiring {
			if r.Prefix != p {
				t.IAs = append(t.IAs, TransmitIA{IAID: ia.cfg.IAID, Prefix: r.Prefix, NA: ia.na})
			}
		}
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
		if p, ok := choose(pd, u.ia(iaid).held.Prefix); ok {
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

func (u *Uplink) stopExchange() {
	u.exTimer.cancel()
	u.ex, u.offer, u.collecting = nil, nil, false
}
