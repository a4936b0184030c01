package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/tests/lab"
)

// goMemory is what one of dhcp6leased's processes says of its Go memory
// on SIGUSR1 (internal/logging.Runtime), in bytes: mapped by the
// runtime's account, of which the pages never touched are not resident.
type goMemory struct {
	goroutines int64
	heapLive   int64 // heap_bytes: reachable objects, and garbage not yet swept
	heapInuse  int64 // spans holding objects
	heapFree   int64 // free spans not yet returned to the kernel
	stacks     int64 // goroutine stacks
	runtime    int64 // the runtime's own structures
	gcCycles   int64
}

// runtimeLine is the line Runtime logs, as the text handler writes it.
var runtimeLine = regexp.MustCompile(`msg=runtime proc=(\w+) goroutines=(\d+) heap_bytes=(\d+) .*mem.heap_inuse=(\d+) mem.heap_free=(\d+) mem.stacks=(\d+) mem.runtime=(\d+) mem.gc_cycles=(\d+)`)

// runtimeTimeout bounds the wait for the three processes' lines.
const runtimeTimeout = 5 * time.Second

// goMemories sends the parent SIGUSR1, on which each process logs its
// runtime figures, and returns them by role once all three have come.
func goMemories(ctx context.Context, r *running) (map[string]goMemory, error) {
	before := len(runtimeLine.FindAllString(r.proc.Output(), -1))
	if err := r.proc.Signal(unix.SIGUSR1); err != nil {
		return nil, err
	}
	out := map[string]goMemory{}
	err := lab.WaitFor(ctx, runtimeTimeout, "runtime figures of the three processes", func() (bool, error) {
		lines := runtimeLine.FindAllStringSubmatch(r.proc.Output(), -1)
		if len(lines) < before+len(roles) {
			return false, nil
		}
		for _, m := range lines[before:] {
			var v [7]int64
			for i := range v {
				n, err := strconv.ParseInt(m[2+i], 10, 64)
				if err != nil {
					return false, lab.Abort(fmt.Errorf("parse runtime line %q: %w", m[0], err))
				}
				v[i] = n
			}
			out[m[1]] = goMemory{goroutines: v[0], heapLive: v[1], heapInuse: v[2], heapFree: v[3], stacks: v[4], runtime: v[5], gcCycles: v[6]}
		}
		return true, nil
	})
	return out, err
}
