package frontend

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/rtnl"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// TestDownstreamLinkLocal: IPv6 switched on again on a downstream
// (disable_ipv6=0) sends no link message, only the downstream's new
// link-local address; the frontend tells the engine of the downstream
// again, so that it configures it. The same address reported again, and
// a downstream's link-local address going, tell the engine nothing.
func TestDownstreamLinkLocal(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("request prefix delegation on up0 for { lan0 }\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs, err := imsg.Pair()
	if err != nil {
		t.Fatal(err)
	}
	en, err := imsg.New(ours)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := imsg.New(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	f := &frontend{log: slog.New(slog.DiscardHandler), cfg: cfg, engine: en, links: map[int]*link{}}

	const lan0 = 3
	ll := rtnl.Addr{Index: lan0, Prefix: netip.MustParsePrefix("fe80::1/64"), Scope: unix.RT_SCOPE_LINK}
	gone := ll
	gone.Deleted = true
	f.rtEvent(rtnl.Link{Index: lan0, Name: "lan0", Flags: unix.IFF_UP | unix.IFF_RUNNING})
	f.rtEvent(ll)   // the first link-local address
	f.rtEvent(ll)   // the same again (a flags change)
	f.rtEvent(gone) // disable_ipv6=1
	f.rtEvent(ll)   // disable_ipv6=0
	en.Close()

	var got []string
	for {
		m, err := peer.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var l pb.Link
		if m.Type != pb.Type_TYPE_LINK || proto.Unmarshal(m.Payload, &l) != nil {
			t.Fatalf("to the engine: %v %x, want only LINK", m.Type, m.Payload)
		}
		got = append(got, l.Name)
	}
	// The link itself, its first link-local address, IPv6 back on it.
	if diff := cmp.Diff([]string{"lan0", "lan0", "lan0"}, got); diff != "" {
		t.Errorf("LINK messages to the engine (-want +got):\n%s", diff)
	}
}
