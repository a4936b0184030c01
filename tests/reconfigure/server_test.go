package reconfigure

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// testClient is a client socket on loopback talking to a server started
// with New on another.
type testClient struct {
	t    *testing.T
	conn *net.UDPConn
	srv  *net.UDPAddr
	duid []byte
}

func newServer(t *testing.T, cfg Config) (*Server, *testClient) {
	t.Helper()
	sc, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	s, err := New(sc, cfg)
	if err != nil {
		sc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	cc, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return s, &testClient{t: t, conn: cc, srv: sc.LocalAddr().(*net.UDPAddr), duid: dhcp6.DUIDUUID([16]byte{7})}
}

// send sends m from the client, with the client's DUID.
func (c *testClient) send(m dhcp6.Message) {
	c.t.Helper()
	m.ClientID = c.duid
	b, err := m.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.WriteToUDP(b, c.srv); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next datagram and its decoding.
func (c *testClient) recv() ([]byte, *dhcp6.Message) {
	c.t.Helper()
	buf := make([]byte, 65536)
	if err := c.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		c.t.Fatal(err)
	}
	n, _, err := c.conn.ReadFromUDP(buf)
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	var m dhcp6.Message
	if err := m.Unmarshal(buf[:n]); err != nil {
		c.t.Fatalf("decode %x: %v", buf[:n], err)
	}
	return buf[:n], &m
}

// exchange sends m and returns the answer.
func (c *testClient) exchange(m dhcp6.Message) *dhcp6.Message {
	c.t.Helper()
	c.send(m)
	_, a := c.recv()
	if a.TransactionID != m.TransactionID || !bytes.Equal(a.ClientID, c.duid) {
		c.t.Fatalf("answer %+v to %v", a, m.Type)
	}
	return a
}

func ias(iaids ...uint32) []dhcp6.IAPD {
	var out []dhcp6.IAPD
	for _, id := range iaids {
		out = append(out, dhcp6.IAPD{IAID: id})
	}
	return out
}

// bind runs Solicit with Rapid Commit and Reconfigure Accept and returns
// the Reply and its Reconfigure Key.
func bind(t *testing.T, s *Server, c *testClient) (*dhcp6.Message, [dhcp6.ReconfigureKeyLen]byte) {
	t.Helper()
	a := c.exchange(dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1}, RapidCommit: true,
		ReconfAccept: true, IAPDs: ias(7, 8)})
	if a.Type != dhcp6.Reply || !a.RapidCommit || !a.ReconfAccept {
		t.Fatalf("answer to Solicit with Rapid Commit: %+v", a)
	}
	key, err := a.ReconfigureKey()
	if err != nil {
		t.Fatalf("ReconfigureKey: %v", err)
	}
	if k, ok := s.Key(c.duid); !ok || k != key {
		t.Fatalf("server's key %x, %v; the Reply's %x", k, ok, key)
	}
	return a, key
}

func TestRapidCommitReply(t *testing.T) {
	s, c := newServer(t, Config{RapidCommit: true})
	a, _ := bind(t, s, c)
	if !bytes.Equal(a.ServerIDs[0], s.ServerID()) || len(a.ServerIDs) != 1 || len(a.IAPDs) != 2 {
		t.Fatalf("Reply %+v", a)
	}
	pool := netip.MustParsePrefix("2001:db8:200::/40")
	var got []netip.Prefix
	for i, ia := range a.IAPDs {
		p := ia.Prefixes[0]
		prefix := netip.PrefixFrom(p.Prefix, int(p.PrefixLen))
		want, ok := s.Delegated(c.duid, ia.IAID)
		if ia.IAID != []uint32{7, 8}[i] || !ok || prefix != want || !pool.Overlaps(prefix) || prefix.Bits() != 56 ||
			ia.T1 != 300 || ia.T2 != 480 || p.Preferred != 600 || p.Valid != 1200 {
			t.Errorf("IA_PD %+v, delegated %v", ia, want)
		}
		got = append(got, prefix)
	}
	if got[0] == got[1] {
		t.Errorf("both IAs got %v", got[0])
	}
	if n := s.Received(dhcp6.Solicit); n != 1 {
		t.Errorf("Received(Solicit) = %d, want 1", n)
	}

	// The same IAIDs keep their prefixes, and the key stays.
	r := c.exchange(dhcp6.Message{Type: dhcp6.Renew, TransactionID: [3]byte{2}, ReconfAccept: true, IAPDs: ias(8)})
	if r.Type != dhcp6.Reply || len(r.IAPDs) != 1 || netip.PrefixFrom(r.IAPDs[0].Prefixes[0].Prefix, 56) != got[1] {
		t.Errorf("Reply to Renew %+v, want %v", r, got[1])
	}
	if k1, _ := a.ReconfigureKey(); r.Auth.ReplayDetection <= a.Auth.ReplayDetection {
		t.Errorf("replay detection %d after %d", r.Auth.ReplayDetection, a.Auth.ReplayDetection)
	} else if k2, err := r.ReconfigureKey(); err != nil || k2 != k1 {
		t.Errorf("key in the Reply to Renew %x, %v; first %x", k2, err, k1)
	}
}

func TestAdvertiseThenReply(t *testing.T) {
	s, c := newServer(t, Config{DelegatedLen: 60})
	adv := c.exchange(dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1}, RapidCommit: true, ReconfAccept: true})
	if adv.Type != dhcp6.Advertise || adv.HasAuth || adv.RapidCommit || len(adv.IAPDs) != 1 || adv.IAPDs[0].IAID != 0 ||
		adv.IAPDs[0].Prefixes[0].PrefixLen != 60 {
		t.Fatalf("answer to Solicit without Rapid Commit configured: %+v", adv)
	}
	// Without Reconfigure Accept there is no key.
	r := c.exchange(dhcp6.Message{Type: dhcp6.Request, TransactionID: [3]byte{2}, IAPDs: ias(0)})
	if r.Type != dhcp6.Reply || r.HasAuth || r.ReconfAccept {
		t.Fatalf("Reply to Request without Reconfigure Accept: %+v", r)
	}
	if _, ok := s.Key(c.duid); ok {
		t.Error("server has a key for a client that sent no Reconfigure Accept")
	}
	if err := s.SendReconfigure(c.duid, dhcp6.Renew, Valid); err == nil {
		t.Error("SendReconfigure Valid without a key: no error")
	}
	if err := s.SendReconfigure([]byte{1, 2}, dhcp6.Renew, NoAuth); err == nil {
		t.Error("SendReconfigure to an unknown client: no error")
	}
	// An unauthenticated Reconfigure can still be sent, for the client
	// to drop.
	if err := s.SendReconfigure(c.duid, dhcp6.Renew, NoAuth); err != nil {
		t.Fatal(err)
	}
	if _, m := c.recv(); m.Type != dhcp6.Reconfigure || m.HasAuth {
		t.Errorf("Reconfigure %+v", m)
	}
	info := c.exchange(dhcp6.Message{Type: dhcp6.InformationRequest, TransactionID: [3]byte{3}})
	if info.Type != dhcp6.Reply || len(info.IAPDs) != 0 {
		t.Errorf("Reply to Information-request %+v", info)
	}
	for typ, want := range map[dhcp6.MessageType]int{dhcp6.Solicit: 1, dhcp6.Request: 1, dhcp6.InformationRequest: 1, dhcp6.Renew: 0} {
		if n := s.Received(typ); n != want {
			t.Errorf("Received(%v) = %d, want %d", typ, n, want)
		}
	}
}

// TestSendReconfigure: each Reconfigure the server can send reaches the
// client as the case says, and the client's answers are counted.
func TestSendReconfigure(t *testing.T) {
	s, c := newServer(t, Config{RapidCommit: true})
	reply, key := bind(t, s, c)
	last := reply.Auth.ReplayDetection
	tests := []struct {
		msgType dhcp6.MessageType
		fault   Fault
		verify  error // VerifyReconfigure's error with the client's key
		replay  bool  // replay detection above the last one seen
	}{
		{dhcp6.Renew, Valid, nil, true},
		{dhcp6.Rebind, Valid, nil, true},
		{dhcp6.InformationRequest, Valid, nil, true},
		{dhcp6.Renew, WrongKey, dhcp6.ErrAuthDigest, true},
		{dhcp6.Renew, Replayed, nil, false},
		{dhcp6.Request, Valid, nil, true}, // a msg-type the client must refuse
		{0, Valid, nil, true},             // no Reconfigure Message option
		{dhcp6.Renew, NoAuth, dhcp6.ErrAuthMissing, false},
	}
	for _, tc := range tests {
		t.Run(tc.msgType.String()+"-"+tc.fault.String(), func(t *testing.T) {
			if err := s.SendReconfigure(c.duid, tc.msgType, tc.fault); err != nil {
				t.Fatal(err)
			}
			wire, m := c.recv()
			if m.Type != dhcp6.Reconfigure || m.TransactionID != [3]byte{} || !bytes.Equal(m.ClientID, c.duid) ||
				len(m.ServerIDs) != 1 || !bytes.Equal(m.ServerIDs[0], s.ServerID()) || m.ReconfMsg != uint8(tc.msgType) {
				t.Fatalf("Reconfigure %+v", m)
			}
			if err := m.VerifyReconfigure(wire, key); !errors.Is(err, tc.verify) {
				t.Errorf("VerifyReconfigure = %v, want %v", err, tc.verify)
			}
			if m.HasAuth {
				if above := m.Auth.ReplayDetection > last; above != tc.replay {
					t.Errorf("replay detection %d after %d", m.Auth.ReplayDetection, last)
				}
				last = max(last, m.Auth.ReplayDetection)
			}
		})
	}
	// The client answers a good Reconfigure with a Renew: counted and
	// answered with its prefix.
	r := c.exchange(dhcp6.Message{Type: dhcp6.Renew, TransactionID: [3]byte{9}, ReconfAccept: true, IAPDs: ias(7)})
	if want, _ := s.Delegated(c.duid, 7); r.Type != dhcp6.Reply || netip.PrefixFrom(r.IAPDs[0].Prefixes[0].Prefix, 56) != want {
		t.Errorf("Reply to Renew %+v, want %v", r, want)
	}
	if n := s.Received(dhcp6.Renew); n != 1 {
		t.Errorf("Received(Renew) = %d, want 1", n)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Pool: netip.MustParsePrefix("10.0.0.0/8")},
		{Pool: netip.MustParsePrefix("2001:db8::/56"), DelegatedLen: 48},
		{Pool: netip.MustParsePrefix("2001:db8::/16"), DelegatedLen: 64},
	} {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	// A /62 pool of /64s has four.
	s, c := newServer(t, Config{Pool: netip.MustParsePrefix("2001:db8::/62"), DelegatedLen: 64})
	a := c.exchange(dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{1}, IAPDs: ias(1, 2, 3, 4)})
	for i, ia := range a.IAPDs {
		if want := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 7: byte(i)}), 64); netip.PrefixFrom(ia.Prefixes[0].Prefix, 64) != want {
			t.Errorf("IA %d: %v, want %v", ia.IAID, ia.Prefixes[0].Prefix, want)
		}
	}
	// No answer comes when the pool is exhausted; the error waits for
	// Close, and is taken here instead.
	c.send(dhcp6.Message{Type: dhcp6.Solicit, TransactionID: [3]byte{2}, IAPDs: ias(5)})
	var err error
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		err, s.err = s.err, nil
		s.mu.Unlock()
	}
	if want := "reconfigure server: pool 2001:db8::/62 exhausted after 4 /64"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if n := s.Received(dhcp6.Solicit); n != 2 {
		t.Errorf("Received(Solicit) = %d, want 2", n)
	}
}
