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
