package engine

import (
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// exchangeKind is a client-initiated message exchange (RFC 8415 section 18).
type exchangeKind int

const (
	solicitExchange exchangeKind = iota
	requestExchange
	renewExchange
	rebindExchange
	// rebootExchange is the Rebind a client with held prefixes sends after
	// link-up or a restart, in the role RFC 8415 section 18.2.3 gives Confirm
	// for addresses (SPEC 6, Rebooting).
	rebootExchange
	releaseExchange
	// informExchange is the Information-request a Reconfigure asks for
	// (RFC 8415 section 18.2.11): it refreshes the DNS options only.
	informExchange
)

// message returns the type of the message the exchange sends.
func (k exchangeKind) message() dhcp6.MessageType {
	switch k {
	case solicitExchange:
		return dhcp6.Solicit
	case requestExchange:
		return dhcp6.Request
	case renewExchange:
		return dhcp6.Renew
	case releaseExchange:
		return dhcp6.Release
	case informExchange:
		return dhcp6.InformationRequest
	}
	return dhcp6.Rebind
}

// Transmission and retransmission parameters (RFC 8415 section 7.6). The
// Rebooting Rebind uses Confirm's CNF_* values, as the exchange it stands in
// for.
const (
	solMaxDelay = 1 * time.Second
	solTimeout  = 1 * time.Second
	solMaxRT    = 3600 * time.Second
	reqTimeout  = 1 * time.Second
	reqMaxRT    = 30 * time.Second
	reqMaxRC    = 10
	cnfTimeout  = 1 * time.Second
	cnfMaxRT    = 4 * time.Second
	cnfMaxRD    = 10 * time.Second
	renTimeout  = 10 * time.Second
	renMaxRT    = 600 * time.Second
	rebTimeout  = 10 * time.Second
	rebMaxRT    = 600 * time.Second
	relTimeout  = 1 * time.Second
	relMaxRC    = 4
	infTimeout  = 1 * time.Second
	infMaxRT    = 3600 * time.Second

	// The range a server's SOL_MAX_RT option must be in to count (RFC 8415
	// section 21.24).
	solMaxRTMin = 60 * time.Second
	solMaxRTMax = 86400 * time.Second
)

// schedule is an exchange's retransmission parameters (RFC 8415 section 15).
// A zero mrt means no cap; zero mrc and mrd mean no limit.
type schedule struct {
	irt, mrt time.Duration
	mrc      int
	mrd      time.Duration
}

// scheduleFor returns the parameters of exchange k. solMax is the server's
// SOL_MAX_RT, 0 when none was received. Renew and Rebind have no MRD of
// their own here: RFC 8415 section 18.2.4 ends Renew at T2 and section
// 18.2.5 ends Rebind when the lease is gone, and the Uplink's T2 and expiry
// timers do exactly that.
func scheduleFor(k exchangeKind, solMax time.Duration) schedule {
	switch k {
	case solicitExchange:
		if solMax == 0 {
			solMax = solMaxRT
		}
		return schedule{irt: solTimeout, mrt: solMax}
	case requestExchange:
		return schedule{irt: reqTimeout, mrt: reqMaxRT, mrc: reqMaxRC}
	case renewExchange:
		return schedule{irt: renTimeout, mrt: renMaxRT}
	case rebindExchange:
		return schedule{irt: rebTimeout, mrt: rebMaxRT}
	case rebootExchange:
		return schedule{irt: cnfTimeout, mrt: cnfMaxRT, mrd: cnfMaxRD}
	case informExchange:
		return schedule{irt: infTimeout, mrt: infMaxRT}
	}
	return schedule{irt: relTimeout, mrc: relMaxRC}
}

// backoff computes an exchange's successive retransmission timeouts
// (RFC 8415 section 15).
type backoff struct {
	s  schedule
	rt time.Duration // the previous RT; 0 before the first message
	// positive makes the first RT's RAND strictly positive, as RFC 8415
	// section 18.2.1 requires of the first Solicit so that Advertises are
	// collected for longer than IRT.
	positive bool
}

// next returns the RT that follows the message about to be sent. draw is
// uniform in [0, 1) and becomes RAND, uniform in [-0.1, 0.1) (or (0, 0.1]
// for a positive first RT).
func (b *backoff) next(draw float64) time.Duration {
	rnd := draw*0.2 - 0.1
	var rt float64
	if b.rt == 0 {
		if b.positive {
			rnd = (1 - draw) * 0.1
		}
		rt = float64(b.s.irt) * (1 + rnd)
	} else {
		rt = float64(b.rt) * (2 + rnd)
	}
	if mrt := float64(b.s.mrt); mrt > 0 && rt > mrt {
		rt = mrt * (1 + rnd)
	}
	b.rt = time.Duration(rt)
	return b.rt
}

// exchange is one message exchange in progress: what it sends and how far
// its retransmissions have got.
type exchange struct {
	kind    exchangeKind
	msg     Transmit  // every transmission's content but Elapsed
	start   time.Time // of the first transmission
	sent    int
	backoff backoff
}

// newExchange returns an exchange of kind k that sends msg.
func newExchange(k exchangeKind, msg Transmit, solMax time.Duration) *exchange {
	return &exchange{
		kind:    k,
		msg:     msg,
		backoff: backoff{s: scheduleFor(k, solMax), positive: k == solicitExchange},
	}
}

// elapsed returns the Elapsed Time option's value for a transmission at now
// (RFC 8415 section 21.9): centiseconds since the first transmission,
// capped at 0xffff, and 0 for the first.
func (x *exchange) elapsed(now time.Time) uint16 {
	if x.sent == 0 {
		return 0
	}
	return uint16(min(now.Sub(x.start)/(10*time.Millisecond), 0xffff))
}

// transmitted records a transmission at now and returns how long to wait
// before the next one (draw as for backoff.next). The wait never runs past
// MRD, so the exchange fails on time.
func (x *exchange) transmitted(now time.Time, draw float64) time.Duration {
	if x.sent == 0 {
		x.start = now
	}
	x.sent++
	rt := x.backoff.next(draw)
	if mrd := x.backoff.s.mrd; mrd > 0 {
		rt = min(rt, x.start.Add(mrd).Sub(now))
	}
	return rt
}

// exhausted reports whether the exchange has failed at now: MRC messages
// were sent or MRD has passed since the first (RFC 8415 section 15).
func (x *exchange) exhausted(now time.Time) bool {
	s := x.backoff.s
	return x.sent > 0 && (s.mrc > 0 && x.sent >= s.mrc || s.mrd > 0 && !now.Before(x.start.Add(s.mrd)))
}

// timer is one pending Env.AfterFunc callback that can be replaced or
// cancelled. A callback the loop had already queued when it was cancelled
// does nothing: the generation it captured is stale.
type timer struct {
	stop func() bool
	gen  uint64
}

// set replaces any pending callback with f after d.
func (t *timer) set(env Env, d time.Duration, f func()) {
	t.cancel()
	gen := t.gen
	t.stop = env.AfterFunc(d, func() {
		if t.gen == gen {
			t.stop = nil
			f()
		}
	})
}

// cancel drops the pending callback, if any.
func (t *timer) cancel() {
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
	t.gen++
}

// restartBackoff spaces Solicit exchanges that follow each other without a
// lease bound in between, by RFC 8415 section 15's Solicit backoff
// continued across them: a server that advertises and then refuses every
// Request, or answers NotOnLink at once, would otherwise make the client
// start over at the server's pace (section 14.1 asks the client to rate
// limit what it sends). A binding resets it, and so does the operator's
// dhcp6leasectl request.
type restartBackoff struct {
	b       backoff
	started bool
}

// wait returns how long the Solicit exchange about to begin waits beyond
// the Solicit delay: nothing for the first since the reset, then RTs
// doubling from SOL_TIMEOUT up to SOL_MAX_RT (solMax when the server set
// one). draw is as for backoff.next.
func (r *restartBackoff) wait(draw float64, solMax time.Duration) time.Duration {
	if !r.started {
		r.started = true
		r.b = backoff{s: scheduleFor(solicitExchange, solMax)}
		return 0
	}
	r.b.s = scheduleFor(solicitExchange, solMax)
	return r.b.next(draw)
}

func (r *restartBackoff) reset() { r.started = false }
