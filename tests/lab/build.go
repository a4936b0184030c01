package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries are dhcp6leased and dhcp6leasectl built for one test run.
type Binaries struct {
	// Dir holds both; the caller removes it when done.
	Dir         string
	Daemon, Ctl string
}

// BuildBinaries builds dhcp6leased and dhcp6leasectl from this module, as
// `make build` does, into a new temporary directory. The binaries are
// static (CGO_ENABLED=0): with cgo the daemon's Landlock sandbox kills it
// inside its chroot (GO-NOTES). The directory is mode 0755, so that tests
// can run the binaries as other users too.
func BuildBinaries(ctx context.Context) (Binaries, error) {
	dir, err := tempDir("", "bin")
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Dir: dir, Daemon: filepath.Join(dir, "dhcp6leased"), Ctl: filepath.Join(dir, "dhcp6leasectl")}
	if err := os.Chmod(dir, 0o755); err != nil {
		return Binaries{}, errors.Join(err, os.RemoveAll(dir))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/",
		"github.com/dhcp6leased/dhcp6leased/cmd/dhcp6leased",
		"github.com/dhcp6leased/dhcp6leased/cmd/dhcp6leasectl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, errors.Join(fmt.Errorf("build the binaries: %w\n%s", err, out), os.RemoveAll(dir))
	}
	return b, nil
}

// daemonUser is the unprivileged user the daemon refuses to start without.
const daemonUser = "_dhcp6leased"

// MainWithBinaries is the TestMain of a package that runs the real
// daemon: as root it builds the binaries into bins and creates the
// daemon's user, runs the tests and removes the binaries; otherwise it
// only runs the tests, which skip with their reason (Require). It returns
// the exit code for os.Exit.
func MainWithBinaries(m *testing.M, bins *Binaries) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	var err error
	if *bins, err = BuildBinaries(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bins.Dir)
	if err := EnsureUser(context.Background(), daemonUser); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := EnsureGroup(context.Background(), SocketGroup); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
