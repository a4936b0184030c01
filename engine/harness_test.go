package engine

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/config"
	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// DUIDs of the tests.
const (
	clientDUID = "\x00\x03\x00\x01\x02\x00\x00\x00\x00\x01"
	serverA    = "\x00\x03\x00\x01\x02\x00\x00\x00\x00\xaa"
	serverB    = "\x00\x03\x00\x01\x02\x00\x00\x00\x00\xbb"
)

// IAIDs of the tests' two IAs.
const (
	iaid1 = 0x1001
	iaid2 = 0x1002
)

// call is one call the Uplink made on its Env.
type call struct {
	op    string // transmit, set-address, remove-address, set-route, remove-route, save
	at    time.Duration
	tx    Transmit
	addr  Address
	route Route
	lease lease.Lease
}

// recorder is the tests' Env. AfterFunc callbacks come back through a
// channel that the test goroutine drains (harness.run), so the Uplink runs
// on one goroutine as in the engine.
type recorder struct {
	start  time.Time
	calls  []call
	events []Event
	fired  chan func()
}

func (r *recorder) add(c call) {
	c.at = time.Since(r.start)
	r.calls = append(r.calls, c)
}

func (r *recorder) Transmit(t Transmit)     { r.add(call{op: "transmit", tx: t}) }
func (r *recorder) SetAddress(a Address)    { r.add(call{op: "set-address", addr: a}) }
func (r *recorder) RemoveAddress(a Address) { r.add(call{op: "remove-address", addr: a}) }
func (r *recorder) SetRoute(rt Route)       { r.add(call{op: "set-route", route: rt}) }
func (r *recorder) RemoveRoute(rt Route)    { r.add(call{op: "remove-route", route: rt}) }
func (r *recorder) SaveLease(uplink string, l lease.Lease) {
	r.add(call{op: "save", lease: l})
}

// Event records hook events apart from the kernel and wire calls, which
// the tests compare in order.
func (r *recorder) Event(e Event) { r.events = append(r.events, e) }

func (r *recorder) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, func() { r.fired <- f }).Stop
}

// harness is an Uplink on a recorder, inside a synctest bubble.
type harness struct {
	t   *testing.T
	u   *Uplink
	env *recorder
}

// options changes the harness's configuration before the Uplink is made.
type options struct {
	cfg  UplinkConfig
	held lease.Lease
}

// plan returns an IA with iaid and entries, its addressing plan filled. The
// tests' plans are valid; an invalid one is a bug in the test.
func plan(iaid uint32, entries ...config.Entry) *config.IA {
	ia := &config.IA{IAID: iaid, Entries: entries}
	if err := ia.Plan(); err != nil {
		panic(err)
	}
	return ia
}

func entry(name string, bits int) config.Entry { return config.Entry{Name: name, PrefixLen: bits} }

// newHarness returns an uplink "eth0" with IA iaid1 = { lan0 lan1 } (a /63),
// rapid commit off, no Solicit delay, the unreachable route on, after
// modify (if not nil) changed its configuration. It must run in a bubble.
func newHarness(t *testing.T, modify func(*options)) *harness {
	t.Helper()
	var zero time.Duration
	o := options{cfg: UplinkConfig{
		Uplink: &config.Uplink{Name: "eth0", IAs: []*config.IA{
			plan(iaid1, entry("lan0", 64), entry("lan1", 64)),
		}},
		SolicitDelay:     &zero,
		UnreachableRoute: true,
		ClientID:         []byte(clientDUID),
		// The daemon's default (internal/config).
		ReconfigureAccept: true,
	}}
	if modify != nil {
		modify(&o)
	}
	env := &recorder{start: time.Now(), fired: make(chan func(), 64)}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &harness{t: t, u: NewUplink(o.cfg, o.held, env, log), env: env}
	t.Cleanup(h.u.Stop)
	return h
}

// bubble runs test in a synctest bubble with a fresh harness.
func bubble(t *testing.T, modify func(*options), test func(h *harness)) {
	synctest.Test(t, func(t *testing.T) { test(newHarness(t, modify)) })
}

// run lets d of virtual time pass, running every timer due until then.
func (h *harness) run(d time.Duration) {
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		select {
		case f := <-h.env.fired:
			f()
		case <-end.C:
			// Timers due at the same instant as end.
			synctest.Wait()
			for {
				select {
				case f := <-h.env.fired:
					f()
				default:
					return
				}
			}
		}
	}
}

// take returns the calls recorded since the last take.
func (h *harness) take() []call {
	c := h.env.calls
	h.env.calls = nil
	return c
}

// sent returns the transmissions among calls.
func sent(calls []call) []call {
	return slices.DeleteFunc(slices.Clone(calls), func(c call) bool { return c.op != "transmit" })
}

// last returns the most recent transmission, which must be of type typ.
func (h *harness) last(typ dhcp6.MessageType) Transmit {
	h.t.Helper()
	tx := sent(h.env.calls)
	if len(tx) == 0 {
		h.t.Fatalf("no transmission, want %v", typ)
	}
	if got := tx[len(tx)-1].tx; got.Type != typ {
		h.t.Fatalf("last transmission %v, want %v", got.Type, typ)
	}
	return tx[len(tx)-1].tx
}

func (h *harness) wantState(want State) {
	h.t.Helper()
	if h.u.state != want {
		h.t.Fatalf("state %v, want %v", h.u.state, want)
	}
}

// answer returns a message of typ from server answering tx.
func answer(typ dhcp6.MessageType, tx Transmit, server string, pds ...dhcp6.IAPD) *dhcp6.Message {
	return &dhcp6.Message{
		Type:          typ,
		TransactionID: tx.XID,
		ClientID:      []byte(clientDUID),
		ServerIDs:     [][]byte{[]byte(server)},
		IAPDs:         pds,
	}
}

func iapd(iaid, t1, t2 uint32, prefixes ...dhcp6.IAPrefix) dhcp6.IAPD {
	return dhcp6.IAPD{IAID: iaid, T1: t1, T2: t2, Prefixes: prefixes}
}

func iaprefix(prefix string, preferred, valid uint32) dhcp6.IAPrefix {
	p := netip.MustParsePrefix(prefix)
	return dhcp6.IAPrefix{Preferred: preferred, Valid: valid, PrefixLen: uint8(p.Bits()), Prefix: p.Addr()}
}

func withStatus(pd dhcp6.IAPD, code dhcp6.StatusCode) dhcp6.IAPD {
	pd.Status = &dhcp6.Status{Code: code}
	return pd
}

// bind brings the uplink from Down to Bound with server through Solicit,
// Advertise (preference 255), Request and Reply, each IA_PD of pds
// advertised and granted, and clears the recorded calls.
func (h *harness) bind(server string, pds ...dhcp6.IAPD) {
	h.t.Helper()
	h.u.SetReady(true)
	h.run(0)
	adv := answer(dhcp6.Advertise, h.last(dhcp6.Solicit), server, pds...)
	adv.Preference = 255
	adv.HasPreference = true
	h.u.receive(adv)
	h.u.receive(answer(dhcp6.Reply, h.last(dhcp6.Request), server, pds...))
	h.wantState(StateBound)
	h.take()
}

// addr returns the Address call of eth0 for ifname.
func addr(iaid uint32, ifname, prefix string, preferred, valid uint32) call {
	return call{op: "set-address", addr: Address{
		Uplink: "eth0", IAID: iaid, Ifname: ifname, Addr: netip.MustParsePrefix(prefix),
		Preferred: preferred, Valid: valid,
	}}
}

func route(op string, iaid uint32, prefix string) call {
	return call{op: op, route: Route{Uplink: "eth0", IAID: iaid, Prefix: netip.MustParsePrefix(prefix)}}
}

// ops returns calls without their times and transmissions, for comparing
// what the Uplink configured.
func ops(calls []call) []call {
	var out []call
	for _, c := range calls {
		if c.op == "transmit" {
			continue
		}
		c.at = 0
		out = append(out, c)
	}
	return out
}

// cmpCalls compares calls, netip values by ==.
func cmpCalls() cmp.Options {
	return cmp.Options{cmp.AllowUnexported(call{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})}
}
