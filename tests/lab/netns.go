package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// maxNetnsTries bounds the search for a free namespace name.
const maxNetnsTries = 100

// Netns is a named network namespace created by this process.
type Netns struct {
	// Name is the namespace's name for `ip netns` (and `ip -n`).
	Name string

	mu     sync.Mutex
	procs  []*Proc
	closed bool
}

// NewNetns creates a namespace named "lab<pid>-<n>-<role>", n a random
// number in hex. `ip netns add` creates the name with O_EXCL, so parallel
// callers never share one; n is random, not the smallest free, so that a
// name is not given again right after its namespace is deleted: a test
// that checks its deleted namespace is gone would otherwise find a
// parallel test's new one of the same name (TestCloseLeavesNothing did).
//
// Unless dad is true, duplicate address detection is switched off in the
// namespace before any link exists: otherwise a new link-local address stays
// tentative for about two seconds and binding to it fails (RFC 4862 section
// 5.4). Loopback is brought up.
func NewNetns(ctx context.Context, role string, dad bool) (*Netns, error) {
	for range maxNetnsTries {
		name := fmt.Sprintf("%s%d-%06x-%s", namePrefix, os.Getpid(), rand.Uint32N(1<<24), role)
		if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
			continue
		}
		_, err := run(ctx, "ip", "netns", "add", name)
		if err != nil {
			if _, statErr := os.Stat(filepath.Join(netnsDir, name)); statErr == nil {
				continue // another goroutine or process took it first
			}
			return nil, fmt.Errorf("create namespace %s: %w", name, err)
		}
		n := &Netns{Name: name}
		if err := n.setup(ctx, dad); err != nil {
			return nil, errors.Join(err, n.Close())
		}
		return n, nil
	}
	return nil, fmt.Errorf("create namespace for %s: no free name after %d tries", role, maxNetnsTries)
}

func (n *Netns) setup(ctx context.Context, dad bool) error {
	if !dad {
		if _, err := n.Run(ctx, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
			"net.ipv6.conf.all.dad_transmits=0", "net.ipv6.conf.default.dad_transmits=0"); err != nil {
			return fmt.Errorf("disable DAD in %s: %w", n.Name, err)
		}
	}
	return n.SetLinkUp(ctx, "lo")
}

// Path is the namespace's file, usable with setns(2).
func (n *Netns) Path() string { return filepath.Join(netnsDir, n.Name) }

// Run runs a program inside the namespace and returns its standard output.
func (n *Netns) Run(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, append([]string{"ip", "netns", "exec", n.Name}, args...)...)
}

// IP runs `ip -n NAME args...`.
func (n *Netns) IP(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, append([]string{"ip", "-n", n.Name}, args...)...)
}

// Start starts a program inside the namespace. Cancelling ctx sends it
// SIGTERM; Close stops it if it still runs.
func (n *Netns) Start(ctx context.Context, args ...string) (*Proc, error) {
	return n.start(ctx, nil, args...)
}

func (n *Netns) start(ctx context.Context, tee io.Writer, args ...string) (*Proc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("start %v in %s: namespace closed", args, n.Name)
	}
	p, err := start(ctx, tee, append([]string{"ip", "netns", "exec", n.Name}, args...)...)
	if err != nil {
		return nil, err
	}
	n.procs = append(n.procs, p)
	return p, nil
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn opens
// belong to the namespace and stay there after Do returns. The thread is
// thrown away afterwards instead of being switched back: a goroutine that
// exits while locked to its thread takes the thread with it.
func (n *Netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open(n.Path())
		if err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", n.Name, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", n.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Close stops the programs started in the namespace that still run and
// deletes the namespace. Calling it again does nothing.
func (n *Netns) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, p := range n.procs {
		select {
		case <-p.Done():
		default:
			// A program that fails on SIGTERM is reported; the namespace
			// goes anyway.
			errs = append(errs, p.Stop())
		}
	}
	if _, err := run(context.Background(), "ip", "netns", "delete", n.Name); err != nil {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", n.Name, err))
	}
	return errors.Join(errs...)
}

// SetLinkUp sets ifname administratively up.
func (n *Netns) SetLinkUp(ctx context.Context, ifname string) error {
	return n.link(ctx, "set", "dev", ifname, "up")
}

// SetLinkDown sets ifname administratively down; for a veth the peer loses
// its carrier.
func (n *Netns) SetLinkDown(ctx context.Context, ifname string) error {
	return n.link(ctx, "set", "dev", ifname, "down")
}

// DeleteLink deletes ifname (for a veth, both ends).
func (n *Netns) DeleteLink(ctx context.Context, ifname string) error {
	return n.link(ctx, "delete", "dev", ifname)
}

// SetMAC sets the hardware address of ifname.
func (n *Netns) SetMAC(ctx context.Context, ifname string, mac net.HardwareAddr) error {
	return n.link(ctx, "set", "dev", ifname, "address", mac.String())
}

func (n *Netns) link(ctx context.Context, args ...string) error {
	if _, err := n.IP(ctx, append([]string{"link"}, args...)...); err != nil {
		return fmt.Errorf("link %v in %s: %w", args, n.Name, err)
	}
	return nil
}
