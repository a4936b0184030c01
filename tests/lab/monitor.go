package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// observerStartTimeout bounds the start of ip monitor and tcpdump.
const observerStartTimeout = 10 * time.Second

// MonitorLine is one line of `ip -o monitor`, with the time it was read.
type MonitorLine struct {
	Time time.Time
	Text string
}

// AddrEvent is an address line of `ip -o monitor`.
type AddrEvent struct {
	Time    time.Time
	Deleted bool
	Ifname  string
	Prefix  netip.Prefix
	Line    string
}

// Monitor records the address and route events of a namespace.
type Monitor struct {
	proc  *Proc
	mu    sync.Mutex
	lines []MonitorLine
}

// StartMonitor runs `ip -o monitor address route` in ns and returns once it
// is subscribed, so no later event is missed. Cancelling ctx stops it.
func StartMonitor(ctx context.Context, ns *Netns) (*Monitor, error) {
	m := &Monitor{}
	p, err := ns.start(ctx, &lineWriter{line: m.add}, "ip", "-o", "monitor", "address", "route")
	if err != nil {
		return nil, err
	}
	m.proc = p
	err = WaitFor(ctx, observerStartTimeout, "ip monitor subscribed in "+ns.Name, func() (bool, error) {
		select {
		case <-p.Done():
			return false, Abort(fmt.Errorf("ip monitor exited: %w: %s", p.Wait(), p.Output()))
		default:
		}
		return subscribed(p.Pid())
	})
	if err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return m, nil
}

func (m *Monitor) add(t time.Time, text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, MonitorLine{Time: t, Text: text})
}

// Lines returns every line seen so far.
func (m *Monitor) Lines() []MonitorLine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MonitorLine(nil), m.lines...)
}

// AddrEvents returns the address additions and deletions seen on ifname.
func (m *Monitor) AddrEvents(ifname string) []AddrEvent {
	var events []AddrEvent
	for _, l := range m.Lines() {
		if e, ok := parseAddrEvent(l); ok && e.Ifname == ifname {
			events = append(events, e)
		}
	}
	return events
}

// DeletedAddrs returns the address deletions seen on ifname.
func (m *Monitor) DeletedAddrs(ifname string) []AddrEvent {
	var deleted []AddrEvent
	for _, e := range m.AddrEvents(ifname) {
		if e.Deleted {
			deleted = append(deleted, e)
		}
	}
	return deleted
}

// Stop stops ip monitor.
func (m *Monitor) Stop() error { return m.proc.Stop() }

// parseAddrEvent decodes an address line of `ip -o monitor`:
//
//	[Deleted ]3: lan0    inet6 2001:db8::1/64 scope global ...
func parseAddrEvent(l MonitorLine) (AddrEvent, bool) {
	f := strings.Fields(l.Text)
	e := AddrEvent{Time: l.Time, Line: l.Text}
	if len(f) > 0 && f[0] == "Deleted" {
		e.Deleted = true
		f = f[1:]
	}
	if len(f) < 4 || !strings.HasSuffix(f[0], ":") || f[2] != "inet6" {
		return AddrEvent{}, false
	}
	p, err := netip.ParsePrefix(f[3])
	if err != nil {
		return AddrEvent{}, false
	}
	e.Ifname, e.Prefix = f[1], p
	return e, true
}

// subscribed reports whether process pid has a routing netlink socket joined
// to multicast groups, per /proc/PID/net/netlink. Its first socket's port id
// is its pid.
func subscribed(pid int) (bool, error) {
	path := fmt.Sprintf("/proc/%d/net/netlink", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	// Columns: sk Eth Pid Groups ...; Eth 0 is NETLINK_ROUTE.
	port := strconv.Itoa(pid)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 3 && f[1] == "0" && f[2] == port && strings.Trim(f[3], "0") != "" {
			return true, nil
		}
	}
	return false, fmt.Errorf("pid %d has no subscribed routing netlink socket", pid)
}
