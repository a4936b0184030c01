package engine

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScheduleFor(t *testing.T) {
	tests := []struct {
		kind   exchangeKind
		solMax time.Duration
		want   schedule
	}{
		{solicitExchange, 0, schedule{irt: time.Second, mrt: 3600 * time.Second}},
		{solicitExchange, 120 * time.Second, schedule{irt: time.Second, mrt: 120 * time.Second}},
		{requestExchange, 120 * time.Second, schedule{irt: time.Second, mrt: 30 * time.Second, mrc: 10}},
		{renewExchange, 0, schedule{irt: 10 * time.Second, mrt: 600 * time.Second}},
		{rebindExchange, 0, schedule{irt: 10 * time.Second, mrt: 600 * time.Second}},
		{rebootExchange, 0, schedule{irt: time.Second, mrt: 4 * time.Second, mrd: 10 * time.Second}},
		{releaseExchange, 0, schedule{irt: time.Second, mrc: 4}},
	}
	for _, tt := range tests {
		if got := scheduleFor(tt.kind, tt.solMax); got != tt.want {
			t.Errorf("scheduleFor(%v, %v) = %+v, want %+v", tt.kind, tt.solMax, got, tt.want)
		}
	}
}

// With RAND = 0 (draw 0.5) the RTs are exact: doubling from IRT up to MRT.
func TestBackoffSequence(t *testing.T) {
	s := func(secs ...float64) []time.Duration {
		var d []time.Duration
		for _, x := range secs {
			d = append(d, time.Duration(x*float64(time.Second)))
		}
		return d
	}
	tests := []struct {
		kind exchangeKind
		want []time.Duration
	}{
		// The first Solicit RT has RAND in (0, 0.1]: draw 0.5 gives 0.05.
		{solicitExchange, s(1.05, 2.1, 4.2, 8.4, 16.8, 33.6, 67.2, 134.4, 268.8, 537.6, 1075.2, 2150.4, 3600, 3600)},
		{requestExchange, s(1, 2, 4, 8, 16, 30, 30)},
		{renewExchange, s(10, 20, 40, 80, 160, 320, 600, 600)},
		{rebindExchange, s(10, 20, 40, 80, 160, 320, 600, 600)},
		{rebootExchange, s(1, 2, 4, 4, 4)},
		{releaseExchange, s(1, 2, 4, 8, 16)},
	}
	for _, tt := range tests {
		b := backoff{s: scheduleFor(tt.kind, 0), positive: tt.kind == solicitExchange}
		var got []time.Duration
		for range tt.want {
			got = append(got, b.next(0.5))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("kind %d RTs (-want +got):\n%s", tt.kind, diff)
		}
	}
}

// Over many RAND draws, including both extremes, every RT stays within
// RFC 8415 section 15's bounds.
func TestBackoffBounds(t *testing.T) {
	draws := []float64{0, math.Nextafter(1, 0)}
	for range 2000 {
		draws = append(draws, rand.Float64())
	}
	within := func(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }
	scale := func(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }
	for _, kind := range []exchangeKind{solicitExchange, requestExchange, renewExchange, rebindExchange, rebootExchange, releaseExchange} {
		s := scheduleFor(kind, 0)
		b := backoff{s: s, positive: kind == solicitExchange}
		for i, draw := range draws {
			prev := b.rt
			rt := b.next(draw)
			switch {
			case i == 0 && kind == solicitExchange:
				if !within(rt, s.irt+1, scale(s.irt, 1.1)) {
					t.Fatalf("first Solicit RT %v, want in (IRT, 1.1 IRT]", rt)
				}
			case i == 0:
				if !within(rt, scale(s.irt, 0.9), scale(s.irt, 1.1)) {
					t.Fatalf("kind %d: first RT %v, want in IRT*[0.9, 1.1]", kind, rt)
				}
			case s.mrt > 0 && within(rt, scale(s.mrt, 0.9), scale(s.mrt, 1.1)):
				// Capped; it may only be capped once the doubling reached MRT.
				if scale(prev, 2.1) < scale(s.mrt, 0.9) {
					t.Fatalf("kind %d: RT %v after %v: capped before reaching MRT", kind, rt, prev)
				}
			case !within(rt, scale(prev, 1.9), scale(prev, 2.1)):
				t.Fatalf("kind %d: RT %v after %v, want doubling within [1.9, 2.1]", kind, rt, prev)
			}
			if s.mrt > 0 && rt > scale(s.mrt, 1.1) {
				t.Fatalf("kind %d: RT %v above 1.1 MRT", kind, rt)
			}
			if kind == releaseExchange && i == 20 {
				break // uncapped: stop before overflowing
			}
		}
	}
}

func TestExchangeLimits(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(secs float64) time.Time { return start.Add(time.Duration(secs * float64(time.Second))) }

	// Rebooting: sends at 0, 1, 3 and 7 s; the RT after 7 s (4 s) is cut to
	// MRD, and the exchange fails at 10 s.
	x := newExchange(rebootExchange, Transmit{}, 0)
	var now float64
	var waits []time.Duration
	for !x.exhausted(at(now)) {
		rt := x.transmitted(at(now), 0.5)
		waits = append(waits, rt)
		now += rt.Seconds()
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Second}
	if diff := cmp.Diff(want, waits); diff != "" || now != 10 {
		t.Errorf("Rebooting waits (-want +got):\n%s\nfailed at %v s, want 10 s", diff, now)
	}

	// Request: fails after 10 messages, whatever the time.
	x = newExchange(requestExchange, Transmit{}, 0)
	for i := range 10 {
		if x.exhausted(at(0)) {
			t.Fatalf("Request exhausted after %d messages", i)
		}
		x.transmitted(at(0), 0.5)
	}
	if !x.exhausted(at(0)) {
		t.Error("Request not exhausted after 10 messages")
	}

	// Solicit never fails.
	x = newExchange(solicitExchange, Transmit{}, 0)
	for range 100 {
		x.transmitted(at(0), 0.5)
	}
	if x.exhausted(at(1e6)) {
		t.Error("Solicit exhausted")
	}
}

func TestExchangeElapsed(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	x := newExchange(solicitExchange, Transmit{}, 0)
	if got := x.elapsed(start); got != 0 {
		t.Errorf("elapsed before the first transmission = %d, want 0", got)
	}
	x.transmitted(start, 0.5)
	for _, tt := range []struct {
		after time.Duration
		want  uint16
	}{
		{0, 0},
		{1049 * time.Millisecond, 104},
		{3 * time.Second, 300},
		{655350 * time.Millisecond, 0xffff},
		{time.Hour, 0xffff},
	} {
		if got := x.elapsed(start.Add(tt.after)); got != tt.want {
			t.Errorf("elapsed after %v = %d, want %d", tt.after, got, tt.want)
		}
	}
}

// queueEnv queues AfterFunc callbacks for the test to run by hand, as the
// engine loop would after a stop that came too late.
type queueEnv struct {
	Env
	queued []func()
}

func (e *queueEnv) AfterFunc(d time.Duration, f func()) func() bool {
	e.queued = append(e.queued, f)
	return func() bool { return false }
}

func TestTimerIgnoresStaleCallbacks(t *testing.T) {
	var env queueEnv
	var tm timer
	var ran []string
	tm.set(&env, time.Second, func() { ran = append(ran, "first") })
	tm.set(&env, time.Second, func() { ran = append(ran, "second") })
	tm.set(&env, time.Second, func() { ran = append(ran, "third") })
	tm.cancel()
	tm.set(&env, time.Second, func() { ran = append(ran, "fourth") })
	for _, f := range env.queued {
		f()
	}
	if diff := cmp.Diff([]string{"fourth"}, ran); diff != "" {
		t.Errorf("callbacks run (-want +got):\n%s", diff)
	}
}
