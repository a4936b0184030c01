package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// serverStartTimeout bounds a server's start until it listens.
const serverStartTimeout = 15 * time.Second

// logTailSize is how much of a server's log an error message quotes.
const logTailSize = 2048

// ServerOptions configure what a DHCPv6 server delegates. Zero fields take
// the defaults LAB.md uses: short lifetimes keep timer tests fast.
type ServerOptions struct {
	// Subnet is the link's subnet6; 2001:db8:0:1::/64 when zero.
	Subnet netip.Prefix
	// Preferred and Valid are the delegated prefixes' lifetimes (RFC 8415
	// section 21.22); 30 s and 60 s when zero. Whole seconds.
	Preferred, Valid time.Duration
	// T1 (renew-timer) and T2 (rebind-timer) go in IA_PD (RFC 8415 section
	// 21.21); 10 s and 20 s when zero. Whole seconds.
	T1, T2 time.Duration
	// RapidCommit lets the server answer a Solicit carrying Rapid Commit
	// with a Reply (RFC 8415 section 18.3.1).
	RapidCommit bool
	// Pools to delegate from; one pool 2001:db8:100::/40 in /56 pieces when
	// empty.
	Pools []PDPool
}

// PDPool is a pool of prefixes to delegate.
type PDPool struct {
	Prefix       netip.Prefix // the pool, e.g. 2001:db8:100::/40
	DelegatedLen int          // length of each delegated prefix, e.g. 56
	// Excluded, when valid, is the RFC 6603 excluded prefix (Kea only).
	Excluded netip.Prefix
}

// withDefaults fills zero fields and checks the rest.
func (o ServerOptions) withDefaults() (ServerOptions, error) {
	if !o.Subnet.IsValid() {
		o.Subnet = netip.MustParsePrefix("2001:db8:0:1::/64")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.Preferred, 30 * time.Second}, {&o.Valid, 60 * time.Second}, {&o.T1, 10 * time.Second}, {&o.T2, 20 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v%time.Second != 0 || *d.v < 0 {
			return o, fmt.Errorf("server options: lifetime %v is not a whole number of seconds", *d.v)
		}
	}
	if len(o.Pools) == 0 {
		o.Pools = []PDPool{{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56}}
	}
	for _, p := range o.Pools {
		if !p.Prefix.IsValid() || !p.Prefix.Addr().Is6() || p.DelegatedLen < p.Prefix.Bits() || p.DelegatedLen > 128 {
			return o, fmt.Errorf("server options: invalid pool %v delegating /%d", p.Prefix, p.DelegatedLen)
		}
	}
	return o, nil
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// server is what Kea and dhcpd have in common: a program in SRV with a
// directory for its files.
type server struct {
	ns        *Netns
	dir       string
	name      string // program name, for messages
	leaseFile string
	logFile   string
	proc      *Proc
}

func newServer(topo *Topology, name, leaseFile, logFile string) (*server, error) {
	dir, err := tempDir(topo.Dir, name)
	if err != nil {
		return nil, err
	}
	return &server{
		ns:        topo.SRV,
		dir:       dir,
		name:      name,
		leaseFile: filepath.Join(dir, leaseFile),
		logFile:   filepath.Join(dir, logFile),
	}, nil
}

// path names a file in the server's directory.
func (s *server) path(name string) string { return filepath.Join(s.dir, name) }

// launch starts argv in SRV and waits until the program has a socket on UDP
// port 547. With outputIsLog the program's output is appended to the log
// file too.
func (s *server) launch(ctx context.Context, outputIsLog bool, argv ...string) error {
	var log *os.File
	var tee io.Writer
	if outputIsLog {
		var err error
		if log, err = os.OpenFile(s.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("open %s log: %w", s.name, err)
		}
		tee = log
	}
	p, err := s.ns.start(ctx, tee, argv...)
	if log != nil {
		if err != nil {
			log.Close()
		} else {
			// exec's copying goroutine writes to the log until the
			// program exits.
			go func() {
				<-p.Done()
				log.Close()
			}()
		}
	}
	if err != nil {
		return err
	}
	s.proc = p
	err = WaitFor(ctx, serverStartTimeout, s.name+" listening on UDP 547 in "+s.ns.Name, func() (bool, error) {
		select {
		case <-p.Done():
			return false, Abort(fmt.Errorf("%s exited: %w\noutput: %s\nlog: %s", s.name, p.Wait(), p.Output(), s.LogTail()))
		default:
		}
		return listening(p.Pid(), 547)
	})
	if err != nil {
		select {
		case <-p.Done():
		default:
			err = errors.Join(err, p.Stop())
		}
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after a grace period).
func (s *server) Stop() error { return s.proc.Stop() }

// Pid is the server's process id.
func (s *server) Pid() int { return s.proc.Pid() }

// LeaseFile is the path of the server's lease file.
func (s *server) LeaseFile() string { return s.leaseFile }

// Log is the path of the server's log file.
func (s *server) Log() string { return s.logFile }

// LogTail returns the end of the log file, for error messages.
func (s *server) LogTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-logTailSize):])
}

// writeConfig writes a config file into the server's directory.
func (s *server) writeConfig(name string, data []byte) (string, error) {
	path := s.path(name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write %s config: %w", s.name, err)
	}
	return path, nil
}

// listening reports whether process pid owns a UDP socket on port: it looks
// up the port's sockets in /proc/PID/net/udp6 (ports in hex, inode in column
// 10) and the process's descriptors in /proc/PID/fd ("socket:[inode]").
// Another server's socket in the same namespace does not count.
func listening(pid, port int) (bool, error) {
	path := fmt.Sprintf("/proc/%d/net/udp6", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 9 && strings.HasSuffix(f[1], suffix) {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", fdDir, err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[target] {
			return true, nil
		}
	}
	return false, fmt.Errorf("pid %d has no UDP socket on port %d", pid, port)
}
