package frontend

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

var testDUID = []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func transmitIA(iaid uint32, pfx string, pref, valid uint32) *pb.TransmitIA {
	p := netip.MustParsePrefix(pfx)
	return &pb.TransmitIA{Iaid: iaid, Prefix: p.Addr().AsSlice(), PrefixLen: uint32(p.Bits()), Preferred: pref, Valid: valid}
}

func TestBuildMessage(t *testing.T) {
	server := []byte{0, 3, 0, 1, 2, 0x6c, 0x61, 0x62, 0, 1}
	oro := []dhcp6.OptionCode{dhcp6.OptDNSServers, dhcp6.OptDomainList, dhcp6.OptPDExclude, dhcp6.OptSolMaxRT, dhcp6.OptInfMaxRT}
	hint := func(iaid uint32, pfx string, pref, valid uint32) dhcp6.IAPD {
		p := netip.MustParsePrefix(pfx)
		return dhcp6.IAPD{IAID: iaid, Prefixes: []dhcp6.IAPrefix{{Preferred: pref, Valid: valid, PrefixLen: uint8(p.Bits()), Prefix: p.Addr()}}}
	}
	tests := []struct {
		name string
		in   *pb.Transmit
		want dhcp6.Message
	}{{
		name: "solicit with hint, rapid commit and reconfigure accept",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Solicit), Xid: []byte{1, 2, 3}, RapidCommit: true, ReconfigureAccept: true,
			ServerId: server, // never in a Solicit
			Ias:      []*pb.TransmitIA{transmitIA(7, "::/56", 0, 0), transmitIA(8, "2001:db8:1::/60", 0, 0)}},
		want: dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1, 2, 3}, ClientID: testDUID,
			IAPDs: []dhcp6.IAPD{hint(7, "::/56", 0, 0), hint(8, "2001:db8:1::/60", 0, 0)},
			ORO:   oro, HasElapsed: true, RapidCommit: true, ReconfAccept: true},
	}, {
		name: "request carries the server and no rapid commit",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Request), Xid: []byte{4, 5, 6}, Elapsed: 120, RapidCommit: true,
			ServerId: server, Ias: []*pb.TransmitIA{transmitIA(7, "2001:db8:100::/56", 30, 60)}},
		want: dhcp6.Message{Type: dhcp6.Request, TransactionID: [3]byte{4, 5, 6}, ClientID: testDUID, ServerIDs: [][]byte{server},
			IAPDs: []dhcp6.IAPD{hint(7, "2001:db8:100::/56", 30, 60)}, ORO: oro, ElapsedTime: 120, HasElapsed: true},
	}, {
		name: "rebind has no server",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Rebind), Xid: []byte{7, 8, 9}, Elapsed: 0xffff,
			ServerId: server, Ias: []*pb.TransmitIA{transmitIA(7, "2001:db8:100::/56", 30, 60)}},
		want: dhcp6.Message{Type: dhcp6.Rebind, TransactionID: [3]byte{7, 8, 9}, ClientID: testDUID,
			IAPDs: []dhcp6.IAPD{hint(7, "2001:db8:100::/56", 30, 60)}, ORO: oro, ElapsedTime: 0xffff, HasElapsed: true},
	}, {
		// RFC 8415 section 18.2.6: no IA; the Server ID of the Reconfigure
		// that asked for it.
		name: "information-request",
		in:   &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.InformationRequest), Xid: []byte{2, 2, 2}, ServerId: server},
		want: dhcp6.Message{Type: dhcp6.InformationRequest, TransactionID: [3]byte{2, 2, 2}, ClientID: testDUID, ServerIDs: [][]byte{server},
			ORO: oro, HasElapsed: true},
	}, {
		// RFC 8415 section 21.4: an IA_NA beside the IA_PD, without an
		// address in a Solicit, with the held one in a Renew.
		name: "solicit with an IA_NA",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Solicit), Xid: []byte{3, 3, 3},
			Ias: []*pb.TransmitIA{transmitIA(7, "::/56", 0, 0), {Iaid: 9, Prefix: make([]byte, 16), PrefixLen: 128, Na: true}}},
		want: dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{3, 3, 3}, ClientID: testDUID,
			IAPDs: []dhcp6.IAPD{hint(7, "::/56", 0, 0)}, IANAs: []dhcp6.IANA{{IAID: 9}}, ORO: oro, HasElapsed: true},
	}, {
		name: "renew with an IA_NA address",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Renew), Xid: []byte{4, 4, 4}, ServerId: server,
			Ias: []*pb.TransmitIA{{Iaid: 9, Prefix: netip.MustParseAddr("2001:db8:0:1::5").AsSlice(), PrefixLen: 128, Na: true}}},
		want: dhcp6.Message{Type: dhcp6.Renew, TransactionID: [3]byte{4, 4, 4}, ClientID: testDUID, ServerIDs: [][]byte{server},
			IANAs: []dhcp6.IANA{{IAID: 9, Addresses: []dhcp6.IAAddress{{Address: netip.MustParseAddr("2001:db8:0:1::5")}}}},
			ORO:   oro, HasElapsed: true},
	}, {
		// A retiring prefix goes in the IA_PD of its IA, after the current
		// one (RFC 8415 section 18.2.4: every prefix of the IA).
		name: "renew with a retiring prefix",
		in: &pb.Transmit{Uplink: "up0", Type: uint32(dhcp6.Renew), Xid: []byte{1, 1, 1}, ServerId: server,
			Ias: []*pb.TransmitIA{transmitIA(7, "2001:db8:200::/56", 0, 0), transmitIA(7, "2001:db8:100::/56", 0, 0),
				transmitIA(8, "2001:db8:300::/56", 0, 0)}},
		want: dhcp6.Message{Type: dhcp6.Renew, TransactionID: [3]byte{1, 1, 1}, ClientID: testDUID, ServerIDs: [][]byte{server},
			IAPDs: []dhcp6.IAPD{
				{IAID: 7, Prefixes: append(hint(7, "2001:db8:200::/56", 0, 0).Prefixes, hint(7, "2001:db8:100::/56", 0, 0).Prefixes...)},
				hint(8, "2001:db8:300::/56", 0, 0),
			}, ORO: oro, HasElapsed: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := buildMessage(tt.in, testDUID)
			if err != nil {
				t.Fatal(err)
			}
			var got dhcp6.Message
			if err := got.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildMessageRefusesServerTypes(t *testing.T) {
	for _, typ := range []dhcp6.MessageType{dhcp6.Advertise, dhcp6.Reply, dhcp6.Reconfigure, 0, 200} {
		if _, err := buildMessage(&pb.Transmit{Type: uint32(typ), Xid: []byte{1, 2, 3}}, testDUID); err == nil {
			t.Errorf("buildMessage(%v) succeeded", typ)
		}
	}
}
