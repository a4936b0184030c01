package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// DefaultServerMAC is the server interface's hardware address unless
// TopologyOptions says otherwise; fixed so that Kea's DUID-LL is known.
const DefaultServerMAC = "02:6c:61:62:00:01"

// bridgeName is the server-side bridge when there are several uplinks.
const bridgeName = "br-s"

// linkLocalTimeout bounds the wait for link-local addresses after link-up.
const linkLocalTimeout = 10 * time.Second

// TopologyOptions shape a lab.
type TopologyOptions struct {
	// Uplink names the client's uplink in CLI; "up0" when empty.
	Uplink string
	// ExtraUplinks are more client uplinks to the same server. With any,
	// the server's veth ends hang off one bridge, "br-s", and the server
	// listens on the bridge.
	ExtraUplinks []string
	// Downstreams names the client's downstream interfaces in CLI; each is
	// a veth whose peer, NAME-p, sits in LAN.
	Downstreams []string
	// ServerMAC is the hardware address of the server interface;
	// DefaultServerMAC when nil.
	ServerMAC net.HardwareAddr
	// ClientDAD leaves duplicate address detection on in CLI, so the
	// uplink's link-local address is tentative for a while after link-up.
	ClientDAD bool
	// Bridge puts the server on the bridge even with one uplink, so that an
	// uplink can be deleted and re-created (RecreateUplink) while the
	// server keeps listening.
	Bridge bool
}

// Topology is a lab of three namespaces:
//
//	SRV: server interface ----- uplink(s) :CLI: downstreams ----- NAME-p :LAN
//
// The server interface is a veth end, or the bridge over all server veth
// ends when there are extra uplinks.
type Topology struct {
	SRV, CLI, LAN *Netns
	// Dir is a temporary directory for configs, leases and logs; Close
	// removes it.
	Dir string
	// Uplinks are the client's uplinks in CLI, the main one first.
	Uplinks []string
	// ServerIf is the interface in SRV servers listen on.
	ServerIf string

	mu          sync.Mutex
	downstreams []string
	serverMAC   net.HardwareAddr
	closed      bool
}

// NewTopology creates the namespaces and links and waits until the server
// interface (and, without ClientDAD, the uplinks) have a usable link-local
// address. On error everything created so far is deleted.
func NewTopology(ctx context.Context, opts TopologyOptions) (*Topology, error) {
	uplink := opts.Uplink
	if uplink == "" {
		uplink = "up0"
	}
	mac := opts.ServerMAC
	if mac == nil {
		mac, _ = net.ParseMAC(DefaultServerMAC) // a valid constant
	}
	t := &Topology{Uplinks: append([]string{uplink}, opts.ExtraUplinks...), serverMAC: mac}
	if err := t.build(ctx, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("create topology: %w", err), t.Close())
	}
	return t, nil
}

func (t *Topology) build(ctx context.Context, opts TopologyOptions) error {
	var err error
	if t.Dir, err = tempDir("", "topo"); err != nil {
		return err
	}
	if t.SRV, err = NewNetns(ctx, "srv", false); err != nil {
		return err
	}
	if t.CLI, err = NewNetns(ctx, "cli", opts.ClientDAD); err != nil {
		return err
	}
	if t.LAN, err = NewNetns(ctx, "lan", false); err != nil {
		return err
	}

	// With a bridge, create it first: Kea derives DUID-LL from the first
	// interface with a hardware address, so the bridge must have the
	// lowest index.
	t.ServerIf = "veth-s0"
	if len(t.Uplinks) > 1 || opts.Bridge {
		t.ServerIf = bridgeName
		if _, err := t.SRV.IP(ctx, "link", "add", "name", bridgeName, "address", t.serverMAC.String(),
			"type", "bridge", "mcast_snooping", "0"); err != nil {
			return fmt.Errorf("add bridge %s: %w", bridgeName, err)
		}
		if err := t.SRV.SetLinkUp(ctx, bridgeName); err != nil {
			return err
		}
	}
	for i, up := range t.Uplinks {
		if err := t.addUplink(ctx, fmt.Sprintf("veth-s%d", i), up); err != nil {
			return err
		}
	}
	for _, down := range opts.Downstreams {
		if err := t.AddVethDownstream(ctx, down); err != nil {
			return err
		}
	}

	if err := waitLinkLocal(ctx, t.SRV, t.ServerIf); err != nil {
		return err
	}
	if !opts.ClientDAD {
		for _, up := range t.Uplinks {
			if err := waitLinkLocal(ctx, t.CLI, up); err != nil {
				return err
			}
		}
	}
	return nil
}

// addUplink joins server end srvEnd in SRV to uplink in CLI.
func (t *Topology) addUplink(ctx context.Context, srvEnd, uplink string) error {
	args := []string{"link", "add", "name", srvEnd}
	if t.ServerIf == srvEnd {
		args = append(args, "address", t.serverMAC.String())
	}
	args = append(args, "type", "veth", "peer", "name", uplink, "netns", t.CLI.Name)
	if _, err := t.SRV.IP(ctx, args...); err != nil {
		return fmt.Errorf("add uplink %s: %w", uplink, err)
	}
	if t.ServerIf == bridgeName {
		if _, err := t.SRV.IP(ctx, "link", "set", "dev", srvEnd, "master", bridgeName); err != nil {
			return fmt.Errorf("add %s to %s: %w", srvEnd, bridgeName, err)
		}
	}
	if err := t.SRV.SetLinkUp(ctx, srvEnd); err != nil {
		return err
	}
	return t.CLI.SetLinkUp(ctx, uplink)
}

// RecreateUplink deletes the veth pair of uplink and creates it again with
// the same names, as an operator or a hot-plugged device would: the new
// uplink has a new ifindex. It needs a topology with a bridge.
func (t *Topology) RecreateUplink(ctx context.Context, uplink string) error {
	if t.ServerIf != bridgeName {
		return fmt.Errorf("recreate %s: the server is not on a bridge (TopologyOptions.Bridge)", uplink)
	}
	i := slices.Index(t.Uplinks, uplink)
	if i < 0 {
		return fmt.Errorf("recreate %s: not an uplink of the lab", uplink)
	}
	if err := t.CLI.DeleteLink(ctx, uplink); err != nil {
		return err
	}
	return t.addUplink(ctx, fmt.Sprintf("veth-s%d", i), uplink)
}

// AddVethDownstream adds a downstream interface name in CLI, with its peer
// name-p in LAN; both ends are up, so name has carrier.
func (t *Topology) AddVethDownstream(ctx context.Context, name string) error {
	peer := name + "-p"
	if _, err := t.CLI.IP(ctx, "link", "add", "name", name, "type", "veth", "peer", "name", peer, "netns", t.LAN.Name); err != nil {
		return fmt.Errorf("add downstream %s: %w", name, err)
	}
	if err := t.CLI.SetLinkUp(ctx, name); err != nil {
		return err
	}
	if err := t.LAN.SetLinkUp(ctx, peer); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.downstreams = append(t.downstreams, name)
	return nil
}

// Downstreams lists the downstream interfaces in CLI, in creation order.
func (t *Topology) Downstreams() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.downstreams...)
}

// ServerMAC is the current hardware address of the server interface.
func (t *Topology) ServerMAC() net.HardwareAddr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(net.HardwareAddr(nil), t.serverMAC...)
}

// SetServerMAC changes the server interface's hardware address; a Kea
// started afterwards with a DUID-LL server-id is "a different server".
func (t *Topology) SetServerMAC(ctx context.Context, mac net.HardwareAddr) error {
	if err := t.SRV.SetMAC(ctx, t.ServerIf, mac); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.serverMAC = append(net.HardwareAddr(nil), mac...)
	return nil
}

// Close stops what runs in the namespaces, deletes them and removes Dir.
// Calling it again does nothing.
func (t *Topology) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	for _, ns := range []*Netns{t.SRV, t.CLI, t.LAN} {
		if ns != nil {
			errs = append(errs, ns.Close())
		}
	}
	if t.Dir != "" {
		if err := os.RemoveAll(t.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", t.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// waitLinkLocal waits until ifname in ns has a link-local address that is no
// longer tentative, so that programs can bind to it.
func waitLinkLocal(ctx context.Context, ns *Netns, ifname string) error {
	return WaitFor(ctx, linkLocalTimeout, "link-local address on "+ifname+" in "+ns.Name, func() (bool, error) {
		addrs, err := ns.Addrs(ctx, ifname)
		if err != nil {
			return false, err
		}
		for _, a := range addrs {
			if a.Scope == "link" && !a.Tentative {
				return true, nil
			}
		}
		return false, fmt.Errorf("addresses %v", addrs)
	})
}
