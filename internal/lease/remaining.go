package lease

import (
	"math"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// Forever is the remaining time of an infinite lifetime (0xffffffff, RFC 8415
// section 7.7).
const Forever time.Duration = math.MaxInt64

// Remaining returns how much of the preferred and valid lifetimes is left at
// now, counted from Bound. Infinite lifetimes stay Forever; spent ones are 0,
// never negative. If now is before Bound (the wall clock went back), no time
// counts as spent rather than more than was granted.
func (ia IA) Remaining(now time.Time) (preferred, valid time.Duration) {
	spent := max(now.Sub(ia.Bound), 0)
	return remaining(ia.Preferred, spent), remaining(ia.Valid, spent)
}

func remaining(lifetime uint32, spent time.Duration) time.Duration {
	if lifetime == dhcp6.Infinity {
		return Forever
	}
	return max(time.Duration(lifetime)*time.Second-spent, 0)
}

// clockSlack is how far a lease's bound time may lie ahead of the wall
// clock before its age counts as unknown: a clock that NTP slews or steps
// by seconds still tells it.
const clockSlack = time.Minute

// Reckon re-expresses ia's Bound on the wall clock at now, where boot is
// the kernel's boot clock at now. Within the boot that bound ia, the time
// spent is measured on CLOCK_BOOTTIME, which no wall-clock step moves
// (an RTC-less router that NTP sets a year forward after a restart keeps
// its lease). After a reboot only the wall clock is left; a Bound ahead of
// it means the clock is behind (no RTC, no NTP yet), and the lease's age is
// unknown: known is false and ia keeps only its prefix, as a hint, rather
// than lifetimes that would count from the future.
func (ia IA) Reckon(now time.Time, boot Boot) (_ IA, known bool) {
	switch {
	case ia.Boot.ID != "" && ia.Boot.ID == boot.ID && boot.Time >= ia.Boot.Time:
		ia.Bound = now.Add(-(boot.Time - ia.Boot.Time))
	case ia.Bound.After(now.Add(clockSlack)):
		ia.Preferred, ia.Valid, ia.Bound = 0, 0, time.Time{}
		return ia, false
	}
	return ia, true
}

// Stamp sets ia's Boot from the boot clock at now: the point on it that
// Bound was.
func (ia IA) Stamp(now time.Time, boot Boot) IA {
	ia.Boot = Boot{ID: boot.ID, Time: max(boot.Time-now.Sub(ia.Bound), 0)}
	return ia
}
