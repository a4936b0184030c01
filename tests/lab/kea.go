package lab

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// KeaOptions configure Kea's DHCPv6 server.
type KeaOptions struct {
	ServerOptions
	ServerID ServerID
	// DNSServers and DomainSearch go out as options 23 and 24 (RFC 3646)
	// to clients that ask for them.
	DNSServers   []netip.Addr
	DomainSearch []string
	// AddressPool, when valid, is the subnet's pool of addresses for
	// IA_NA, e.g. 2001:db8:0:1::1000/116.
	AddressPool netip.Prefix
}

// ServerID selects the server's DUID. The zero value is a DUID-LL from the
// server interface's hardware address, not persisted: Kea's default
// DUID-LLT lives in /var/lib/kea, which may not exist.
type ServerID struct {
	// Enterprise, when not zero, selects a DUID-EN (RFC 8415 section 11.3)
	// with this enterprise number and Identifier.
	Enterprise uint32
	Identifier []byte
}

// DUID types from RFC 8415 section 11.1.
const (
	duidEN uint16 = 2
	duidLL uint16 = 3
)

// hwTypeEthernet is ARP hardware type 1, used in DUID-LL.
const hwTypeEthernet uint16 = 1

// Kea is a running kea-dhcp6 in SRV.
type Kea struct {
	*server
	topo *Topology
	opts KeaOptions
}

// StartKea writes a config into a new directory under topo.Dir, checks it
// with `kea-dhcp6 -t`, starts Kea in SRV listening on topo.ServerIf and
// waits until it listens on UDP port 547. Cancelling ctx stops Kea.
func StartKea(ctx context.Context, topo *Topology, opts KeaOptions) (*Kea, error) {
	s, err := newServer(topo, "kea-dhcp6", "kea-leases6.csv", "kea.log")
	if err != nil {
		return nil, err
	}
	k := &Kea{server: s, topo: topo}
	if err := k.start(ctx, opts); err != nil {
		return nil, err
	}
	return k, nil
}

// Restart stops Kea and starts it with opts, keeping its lease file.
func (k *Kea) Restart(ctx context.Context, opts KeaOptions) error {
	if err := k.Stop(); err != nil {
		return fmt.Errorf("restart kea-dhcp6: %w", err)
	}
	return k.start(ctx, opts)
}

func (k *Kea) start(ctx context.Context, opts KeaOptions) error {
	so, err := opts.ServerOptions.withDefaults()
	if err != nil {
		return fmt.Errorf("start kea-dhcp6: %w", err)
	}
	opts.ServerOptions = so
	cfg, err := keaConfig(opts, k.topo.ServerIf, k.dir, k.leaseFile, k.logFile)
	if err != nil {
		return err
	}
	path, err := k.writeConfig("kea-dhcp6.conf", cfg)
	if err != nil {
		return err
	}
	// kea-dhcp6 needs writable directories for its pid file and its
	// logger's lock file; the defaults under /run may not exist.
	argv := []string{"env", "KEA_PIDFILE_DIR=" + k.dir, "KEA_LOCKFILE_DIR=" + k.dir, "kea-dhcp6"}
	if _, err := k.ns.Run(ctx, append(argv, "-t", path)...); err != nil {
		return fmt.Errorf("check kea-dhcp6 config %s: %w", path, err)
	}
	if err := k.launch(ctx, false, append(argv, "-c", path)...); err != nil {
		return err
	}
	k.opts = opts
	return nil
}

// keaConfig builds Kea's JSON config (Kea 2.2 syntax).
func keaConfig(opts KeaOptions, ifname, dir, leaseFile, logFile string) ([]byte, error) {
	pools := make([]map[string]any, 0, len(opts.Pools))
	for _, p := range opts.Pools {
		pool := map[string]any{
			"prefix":        p.Prefix.Addr().String(),
			"prefix-len":    p.Prefix.Bits(),
			"delegated-len": p.DelegatedLen,
		}
		if p.Excluded.IsValid() {
			pool["excluded-prefix"] = p.Excluded.Addr().String()
			pool["excluded-prefix-len"] = p.Excluded.Bits()
		}
		pools = append(pools, pool)
	}
	serverID := map[string]any{"type": "LL", "persist": false}
	if opts.ServerID.Enterprise != 0 {
		serverID = map[string]any{
			"type":          "EN",
			"enterprise-id": opts.ServerID.Enterprise,
			"identifier":    hex.EncodeToString(opts.ServerID.Identifier),
			"persist":       false,
		}
	}
	var options []map[string]any
	if len(opts.DNSServers) > 0 {
		addrs := make([]string, len(opts.DNSServers))
		for i, a := range opts.DNSServers {
			addrs[i] = a.String()
		}
		options = append(options, map[string]any{"name": "dns-servers", "data": strings.Join(addrs, ", ")})
	}
	if len(opts.DomainSearch) > 0 {
		options = append(options, map[string]any{"name": "domain-search", "data": strings.Join(opts.DomainSearch, ", ")})
	}
	dhcp6 := map[string]any{
		"interfaces-config": map[string]any{
			"interfaces": []string{ifname},
			// Retry while the link-local address is still tentative.
			"service-sockets-max-retries":     10,
			"service-sockets-retry-wait-time": 500,
		},
		"data-directory": dir,
		"server-id":      serverID,
		"lease-database": map[string]any{
			"type": "memfile", "name": leaseFile, "persist": true, "lfc-interval": 0,
		},
		"preferred-lifetime": seconds(opts.Preferred),
		"valid-lifetime":     seconds(opts.Valid),
		"renew-timer":        seconds(opts.T1),
		"rebind-timer":       seconds(opts.T2),
		"subnet6": []map[string]any{{
			"id":     1,
			"subnet": opts.Subnet.String(),
			// Clients send from link-local addresses: without the
			// interface Kea matches no subnet and delegates nothing.
			"interface":    ifname,
			"rapid-commit": opts.RapidCommit,
			"pd-pools":     pools,
		}},
		"loggers": []map[string]any{{
			"name": "kea-dhcp6", "severity": "DEBUG", "debuglevel": 40,
			"output_options": []map[string]any{{"output": logFile, "flush": true}},
		}},
	}
	if len(options) > 0 {
		dhcp6["option-data"] = options
	}
	if p := opts.AddressPool; p.IsValid() {
		subnet := dhcp6["subnet6"].([]map[string]any)[0]
		subnet["pools"] = []map[string]any{{"pool": p.String()}}
	}
	cfg := map[string]any{"Dhcp6": dhcp6}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode kea-dhcp6 config: %w", err)
	}
	return b, nil
}

// ServerDUID is the DUID Kea sends in its Server Identifier option.
func (k *Kea) ServerDUID() []byte {
	if id := k.opts.ServerID; id.Enterprise != 0 {
		b := binary.BigEndian.AppendUint16(nil, duidEN)
		b = binary.BigEndian.AppendUint32(b, id.Enterprise)
		return append(b, id.Identifier...)
	}
	b := binary.BigEndian.AppendUint16(nil, duidLL)
	b = binary.BigEndian.AppendUint16(b, hwTypeEthernet)
	return append(b, k.topo.ServerMAC()...)
}

// ServerLease is a delegated prefix as Kea's lease file records it.
type ServerLease struct {
	Prefix    netip.Prefix
	DUID      []byte // the client's DUID
	IAID      uint32
	Valid     time.Duration // 0: released or expired
	Preferred time.Duration
	Expire    time.Time
}

// keaLeaseTypePD is lease_type for a delegated prefix in Kea's memfile.
const keaLeaseTypePD = "2"

// Leases reads Kea's lease file and returns the delegated prefixes, the
// latest record of each (the file is append-only: the last row wins).
func (k *Kea) Leases() ([]ServerLease, error) {
	f, err := os.Open(k.leaseFile)
	if err != nil {
		return nil, fmt.Errorf("read kea leases: %w", err)
	}
	defer f.Close()
	leases, err := parseKeaLeases(f)
	if err != nil {
		return nil, fmt.Errorf("read kea leases %s: %w", k.leaseFile, err)
	}
	return leases, nil
}

func parseKeaLeases(r io.Reader) ([]ServerLease, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"address", "duid", "valid_lifetime", "expire", "pref_lifetime", "lease_type", "iaid", "prefix_len"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("no column %q in header %v", name, rows[0])
		}
	}
	var leases []ServerLease
	index := map[netip.Prefix]int{}
	for _, row := range rows[1:] {
		if row[col["lease_type"]] != keaLeaseTypePD {
			continue
		}
		l, err := parseKeaLease(row, col)
		if err != nil {
			return nil, fmt.Errorf("row %v: %w", row, err)
		}
		if i, ok := index[l.Prefix]; ok {
			leases[i] = l
			continue
		}
		index[l.Prefix] = len(leases)
		leases = append(leases, l)
	}
	return leases, nil
}

func parseKeaLease(row []string, col map[string]int) (ServerLease, error) {
	var l ServerLease
	addr, err := netip.ParseAddr(row[col["address"]])
	if err != nil {
		return l, err
	}
	var n [5]uint64
	for i, name := range []string{"prefix_len", "iaid", "valid_lifetime", "pref_lifetime", "expire"} {
		if n[i], err = strconv.ParseUint(row[col[name]], 10, 64); err != nil {
			return l, fmt.Errorf("%s: %w", name, err)
		}
	}
	if l.Prefix = netip.PrefixFrom(addr, int(n[0])); !l.Prefix.IsValid() {
		return l, fmt.Errorf("invalid prefix %v/%d", addr, n[0])
	}
	if l.DUID, err = hex.DecodeString(strings.ReplaceAll(row[col["duid"]], ":", "")); err != nil {
		return l, fmt.Errorf("duid: %w", err)
	}
	l.IAID = uint32(n[1])
	l.Valid = time.Duration(n[2]) * time.Second
	l.Preferred = time.Duration(n[3]) * time.Second
	l.Expire = time.Unix(int64(n[4]), 0)
	return l, nil
}
