package lab

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollInterval is how often WaitFor checks its condition: short against the
// millisecond-scale events of a DHCPv6 exchange, long enough not to load
// the two shared cores with ip invocations.
const pollInterval = 15 * time.Millisecond

// WaitFor calls cond until it returns true, the timeout passes or ctx ends.
//
// An error from cond does not end the wait: it describes what cond saw
// ("lan0 has [fe80::1/64]"), and the last one becomes part of the timeout
// error, which also names what. Only an error made by Abort ends the wait at
// once.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	start := time.Now()
	for {
		done, err := cond()
		var abort abortError
		switch {
		case done:
			return nil
		case errors.As(err, &abort):
			return fmt.Errorf("wait for %s: %w", what, abort.err)
		}
		select {
		case <-ctx.Done():
			waited := time.Since(start).Round(time.Millisecond)
			if err == nil {
				return fmt.Errorf("wait for %s: %w after %v", what, ctx.Err(), waited)
			}
			return fmt.Errorf("wait for %s: %w after %v; last seen: %w", what, ctx.Err(), waited, err)
		case <-tick.C:
		}
	}
}

// Abort wraps err so that WaitFor stops waiting when cond returns it; for a
// condition that can no longer come true, such as a server that exited.
func Abort(err error) error { return abortError{err} }

type abortError struct{ err error }

func (e abortError) Error() string { return e.err.Error() }
func (e abortError) Unwrap() error { return e.err }
