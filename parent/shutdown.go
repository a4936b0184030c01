package parent

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// releaseTimeout bounds release on shutdown: REL_MAX_RC (4) Releases
// with backoff take about 15 s (RFC 8415 section 7.6).
const releaseTimeout = 20 * time.Second

// release has the engine give every lease back (release on shutdown, SPEC
// 6) and carries out the removals it asks for, until it is done or
// releaseTimeout has passed. Addresses left then keep their lifetimes.
func (d *daemon) release(msgs <-chan received, fe, en *child) error {
	d.releasing = true
	d.send(d.en, pb.Type_TYPE_RELEASE, &pb.Empty{})
	timeout := time.After(releaseTimeout)
	for d.releasing {
		select {
		case <-timeout:
			d.log.Warn("release on shutdown timed out")
			return nil
		case <-fe.exited:
			return died(fe, en)
		case <-en.exited:
			return died(en, fe)
		case r := <-msgs:
			if err := d.handle(r); err != nil {
				return fmt.Errorf("%s: %w", r.from, err)
			}
		}
	}
	d.log.Info("leases released")
	return nil
}

// stopHooks runs the STOP event of every uplink with a script, with what
// it held last, and waits for the scripts to finish.
func (d *daemon) stopHooks() {
	for _, u := range d.cfg.Uplinks {
		if u.Script == "" {
			continue
		}
		ev := &pb.Event{Uplink: u.Name, State: "Down"}
		if last := d.last[u.Name]; last != nil {
			ev = proto.Clone(last).(*pb.Event)
			ev.OldPrefixes, ev.OldDownstreams = ev.Prefixes, ev.Downstreams
			ev.LinkPrevious, ev.LinkCurrent = "", ""
		}
		ev.Kind = "STOP"
		d.hooks.run(u.Script, ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	d.hooks.close(ctx)
}
