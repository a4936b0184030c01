package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// releaseRemovals is what a finished Release removes for grant1.
var releaseRemovals = []call{
	removeAddr(iaid1, "lan0", "2001:db8:1::1/64"),
	removeAddr(iaid1, "lan1", "2001:db8:1:1::1/64"),
	route("remove-route", iaid1, "2001:db8:1::/63"),
	{op: "save"},
}

func TestReleaseAnswered(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		done := false
		h.u.Release(func() { done = true })
		rel := h.last(dhcp6.Release)
		if !bytes.Equal(rel.ServerID, []byte(serverA)) || len(rel.IAs) != 1 || rel.IAs[0].Prefix.String() != "2001:db8:1::/63" {
			t.Fatalf("Release %+v, want the server and the held prefix", rel)
		}
		if done {
			t.Fatal("done before the Reply")
		}
		h.take()
		h.u.receive(answer(dhcp6.Reply, rel, serverA))
		if !done {
			t.Fatal("not done after the Reply")
		}
		if diff := cmp.Diff(releaseRemovals, ops(h.take()), cmpCalls()); diff != "" {
			t.Errorf("after the Reply (-want +got):\n%s", diff)
		}
	})
}

// TestReleaseUnanswered: REL_MAX_RC (4) Releases, 1 s apart and doubling
// (RFC 8415 section 7.6), then the bindings count as released.
func TestReleaseUnanswered(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		t := h.t
		h.bind(serverA, grant1())
		done := false
		h.u.Release(func() { done = true })
		h.run(time.Minute)
		calls := h.take()
		if tx := sent(calls); len(tx) != relMaxRC {
			t.Errorf("%d Releases, want %d", len(tx), relMaxRC)
		}
		if !done {
			t.Fatal("not done after REL_MAX_RC Releases")
		}
		if diff := cmp.Diff(releaseRemovals, ops(calls), cmpCalls()); diff != "" {
			t.Errorf("after giving up (-want +got):\n%s", diff)
		}
	})
}

func TestReleaseNothingHeld(t *testing.T) {
	bubble(t, nil, func(h *harness) {
		done := false
		h.u.Release(func() { done = true })
		if !done || len(sent(h.take())) != 0 {
			h.t.Fatal("a Release with nothing held, or not done at once")
		}
	})
}
