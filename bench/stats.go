package main

import (
	"slices"
	"time"
)

// distribution is a sorted set of durations.
type distribution []time.Duration

func newDistribution(samples []time.Duration) distribution {
	d := slices.Clone(samples)
	slices.Sort(d)
	return d
}

// median is the middle sample, or the mean of the two middle ones.
func (d distribution) median() time.Duration {
	n := len(d)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// p95 is the 95th percentile by the nearest-rank method: the smallest
// sample that at least 95 % of the samples do not exceed (with 20 samples,
// the 19th).
func (d distribution) p95() time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := (95*len(d) + 99) / 100 // ceil(0.95 n)
	return d[rank-1]
}

func (d distribution) min() time.Duration { return d[0] }
func (d distribution) max() time.Duration { return d[len(d)-1] }
