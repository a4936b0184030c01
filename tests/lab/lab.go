// Package lab builds network-namespace test labs for dhcp6leased: namespaces
// joined by veth pairs, real DHCPv6 servers (Kea, ISC dhcpd) and observers
// (addresses, routes, netlink events, packets on the wire).
//
// Everything it creates carries the prefix "lab", the process id and a number
// in its name, so labs of parallel tests and of other processes on the same
// machine never collide, and Close deletes only what this process created.
// The core API takes a context and returns errors so that a plain main (make
// demo) can use it; the functions ending in T wrap it for tests.
//
// All of it needs root and iproute2; servers and observers need their
// programs (kea-dhcp6, dhcpd, tcpdump).
package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// namePrefix starts every namespace and temporary directory the lab creates.
const namePrefix = "lab"

// run runs a program on the host and returns its standard output. The error
// names the command and carries what it printed on standard error.
func run(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// tempDir creates a directory whose name carries the lab prefix and the
// process id; os.MkdirTemp makes the rest unique.
func tempDir(parent, role string) (string, error) {
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-%s-", namePrefix, os.Getpid(), role))
	if err != nil {
		return "", fmt.Errorf("create %s directory: %w", role, err)
	}
	return dir, nil
}
