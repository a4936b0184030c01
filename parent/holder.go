package parent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolders names the processes that hold a UDP socket on port, as
// /proc tells: "dhcpcd (pid 812)", for the log and dhcpctl show when the
// client port is taken. It reads the parent's network namespace's
// /proc/net/udp6 and /proc/net/udp, then every process's fds; whatever
// cannot be read (a process gone meanwhile, /proc hidden by the service's
// sandbox) is skipped, so the answer may be empty.
func portHolders(port int) []string {
	inodes := make(map[string]bool)
	for _, table := range []string{"/proc/net/udp6", "/proc/net/udp"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		for _, ino := range socketInodes(f, port) {
			inodes[ino] = true
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return nil
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			ino, ok := strings.CutPrefix(link, "socket:[")
			if err != nil || !ok || !inodes[strings.TrimSuffix(ino, "]")] {
				continue
			}
			comm, _ := os.ReadFile(filepath.Join(p, "comm"))
			out = append(out, fmt.Sprintf("%s (pid %s)", strings.TrimSpace(string(comm)), filepath.Base(p)))
			break
		}
	}
	return out
}

// socketInodes returns the inodes of the sockets in a /proc/net/udp or
// udp6 table whose local port is port.
func socketInodes(r io.Reader, port int) []string {
	var out []string
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
			out = append(out, f[9])
		}
	}
	return out
}
