package parent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolders names the holders of a UDP socket on port, as /proc tells:
// "dhcpcd (pid 812)", for the log and dhcp6leasectl show when the client
// port is taken. It reads the parent's network namespace's /proc/net/udp6
// and /proc/net/udp, then every process's fds. Under the unit's
// capabilities (no CAP_SYS_PTRACE) the fds of a process that holds a
// capability the parent lacks, such as any root daemon started outside
// the unit, are closed to it (ptrace access mode): such a socket is named
// by its owner's uid from the table, and how to find the process.
// Whatever else cannot be read (a process gone meanwhile) is skipped.
func portHolders(port int) []string {
	var sockets []udpSocket
	for _, table := range []string{"/proc/net/udp6", "/proc/net/udp"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sockets = append(sockets, socketsOn(f, port)...)
		f.Close()
	}
	if len(sockets) == 0 {
		return nil
	}
	byInode := make(map[string]bool)
	for _, s := range sockets {
		byInode[s.inode] = true
	}
	seen := make(map[string]bool)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			ino, ok := strings.CutPrefix(link, "socket:[")
			ino = strings.TrimSuffix(ino, "]")
			if err != nil || !ok || !byInode[ino] {
				continue
			}
			seen[ino] = true
			comm, _ := os.ReadFile(filepath.Join(p, "comm"))
			out = append(out, fmt.Sprintf("%s (pid %s)", strings.TrimSpace(string(comm)), filepath.Base(p)))
			break
		}
	}
	for _, s := range sockets {
		if !seen[s.inode] {
			seen[s.inode] = true
			out = append(out, hiddenHolder(s.uid, port))
		}
	}
	return out
}

// hiddenHolder names the owner of a socket whose process the parent
// cannot see, and how an administrator finds it.
func hiddenHolder(uid string, port int) string {
	owner := "uid " + uid
	if u, err := user.LookupId(uid); err == nil {
		owner = fmt.Sprintf("user %s (uid %s)", u.Username, uid)
	}
	return fmt.Sprintf("a process of %s that the daemon may not look into; ss -lupn 'sport = :%d' names it", owner, port)
}

// udpSocket is a socket of a /proc/net/udp or udp6 table: its inode and
// its owner's uid.
type udpSocket struct{ inode, uid string }

// socketsOn returns the sockets in a /proc/net/udp or udp6 table whose
// local port is port.
func socketsOn(r io.Reader, port int) []udpSocket {
	var out []udpSocket
	sc := bufio.NewScanner(r)
	sc.Scan() // the header line
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if ok && err == nil && int(p) == port && f[9] != "0" {
			out = append(out, udpSocket{inode: f[9], uid: f[7]})
		}
	}
	return out
}
