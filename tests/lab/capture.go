package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Packet is a DHCPv6 message tcpdump saw.
type Packet struct {
	Time time.Time // capture time, from tcpdump
	// Type is the message type as tcpdump names it: "solicit",
	// "advertise", "request", "confirm", "renew", "rebind", "reply",
	// "release", "decline", "reconfigure", "inf-req", "relay-fwd",
	// "relay-reply".
	Type     string
	XID      uint32 // transaction id; 0 for relay messages, which have none
	Src, Dst netip.AddrPort
	Line     string
}

// Capture records the DHCPv6 packets on an interface.
type Capture struct {
	proc    *Proc
	mu      sync.Mutex
	packets []Packet
	ready   bool
}

// StartCapture runs tcpdump on ifname in ns and returns once it captures.
// Cancelling ctx stops it.
func StartCapture(ctx context.Context, ns *Netns, ifname string) (*Capture, error) {
	c := &Capture{}
	// -v makes tcpdump print the transaction id; -tt the capture time as
	// Unix seconds; -l flushes every line.
	p, err := ns.start(ctx, &lineWriter{line: c.add},
		"tcpdump", "-n", "-l", "-tt", "-v", "-i", ifname, "udp port 546 or udp port 547")
	if err != nil {
		return nil, err
	}
	c.proc = p
	err = WaitFor(ctx, observerStartTimeout, "tcpdump listening on "+ifname+" in "+ns.Name, func() (bool, error) {
		select {
		case <-p.Done():
			return false, Abort(fmt.Errorf("tcpdump exited: %w: %s", p.Wait(), p.Output()))
		default:
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.ready, nil
	})
	if err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return c, nil
}

func (c *Capture) add(_ time.Time, line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// tcpdump prints this on stderr once the capture is open.
	if strings.HasPrefix(line, "tcpdump: listening on ") {
		c.ready = true
		return
	}
	if p, ok := parsePacket(line); ok {
		c.packets = append(c.packets, p)
	}
}

// Packets returns the DHCPv6 packets seen so far.
func (c *Capture) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.packets...)
}

// First returns the first packet of type typ captured after t.
func (c *Capture) First(typ string, after time.Time) (Packet, bool) {
	for _, p := range c.Packets() {
		if p.Type == typ && p.Time.After(after) {
			return p, true
		}
	}
	return Packet{}, false
}

// Stop stops tcpdump.
func (c *Capture) Stop() error { return c.proc.Stop() }

// packetLine matches tcpdump -n -tt -v output for DHCPv6 over IPv6:
//
//	1700000000.123456 IP6 (flowlabel ..., hlim 1, ...) fe80::1.546 > ff02::1:2.547: [udp sum ok] dhcp6 solicit (xid=1a2b3c (...))
var packetLine = regexp.MustCompile(`^(\d+)\.(\d+) IP6 .*?([0-9a-f:]+)\.(\d+) > ([0-9a-f:]+)\.(\d+): .*?dhcp6 ([a-z-]+)(?: \(xid=([0-9a-f]+))?`)

func parsePacket(line string) (Packet, bool) {
	m := packetLine.FindStringSubmatch(line)
	if m == nil {
		return Packet{}, false
	}
	sec, err1 := strconv.ParseInt(m[1], 10, 64)
	usec, err2 := strconv.ParseInt(m[2], 10, 64)
	src, err3 := addrPort(m[3], m[4])
	dst, err4 := addrPort(m[5], m[6])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Packet{}, false
	}
	p := Packet{Time: time.Unix(sec, usec*1000), Type: m[7], Src: src, Dst: dst, Line: line}
	if m[8] != "" {
		xid, err := strconv.ParseUint(m[8], 16, 32)
		if err != nil {
			return Packet{}, false
		}
		p.XID = uint32(xid)
	}
	return p, true
}

func addrPort(addr, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(n)), nil
}
