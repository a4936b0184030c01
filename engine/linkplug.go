package engine

import (
	"log/slog"
	"time"
)

// linkPlug is ifplugd's debounce for one uplink (SPEC 9): the uplink is
// usable when its link is up and running and its socket is open; a change
// acts only once it has held for the up-delay or down-delay, and a flap
// that returns to the acted-on state within the delay is logged and
// ignored. A departure (the link deleted) acts at once.
type linkPlug struct {
	after    func(d time.Duration, f func()) (stop func() bool) // Env.AfterFunc
	log      *slog.Logger
	up, down time.Duration
	act      func(up bool, gone bool)

	seen    bool        // the last state reported
	state   bool        // the state acted on
	pending func() bool // stops the timer of a change not yet acted on
}

// set reports the uplink's current state; gone means the link was deleted.
func (p *linkPlug) set(up, gone bool) {
	if up == p.seen && !gone {
		return
	}
	p.seen = up
	if p.pending != nil {
		p.pending()
		p.pending = nil
		if up == p.state && !gone {
			p.log.Info("link flap ignored: back within the delay", "up", up)
			return
		}
	}
	if up == p.state {
		return
	}
	delay := p.down
	if up {
		delay = p.up
	}
	if gone || delay == 0 {
		p.fire(up, gone)
		return
	}
	p.log.Info("link change, waiting", "up", up, "delay", delay)
	p.pending = p.after(delay, func() {
		p.pending = nil
		p.fire(p.seen, false)
	})
}

func (p *linkPlug) fire(up, gone bool) {
	p.state = up
	p.act(up, gone)
}

// stop cancels a pending change.
func (p *linkPlug) stop() {
	if p.pending != nil {
		p.pending()
		p.pending = nil
	}
}
