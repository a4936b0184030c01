// Package sandbox confines the unprivileged children (frontend, engine)
// once their fds have arrived, in SPEC 2's order: chroot to an empty
// directory, drop to the unprivileged user on every thread, no_new_privs,
// Landlock without filesystem access, then a seccomp allow-list on every
// thread. The allow-lists are in syscalls.go.
package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"github.com/elastic/go-seccomp-bpf"
	"github.com/landlock-lsm/go-landlock/landlock"
)

// User is the unprivileged account the children run as.
type User struct {
	Name     string
	UID, GID int
}

// LookupUser resolves name from the password database. The parent calls it
// to refuse to start without the user; the children call it before they
// chroot, while /etc/passwd is still reachable.
func LookupUser(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, fmt.Errorf("unknown user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return User{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return User{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 || gid == 0 {
		return User{}, fmt.Errorf("user %s: uid %d gid %d: must not be root", name, uid, gid)
	}
	return User{Name: name, UID: uid, GID: gid}, nil
}

// EmptyDir makes sure dir exists as an empty directory owned by root that
// nobody else can write, for the children to chroot into.
func EmptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("chroot directory %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("chroot directory %s: %w", dir, err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || !ok || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("chroot directory %s: must be a directory owned by root, not group/other writable", dir)
	}
	return nil
}

// Confine chroots to dir, drops to u on all threads, sets no_new_privs,
// forbids every filesystem access with Landlock and installs p's seccomp
// allow-list on all threads. It is called once, with every fd the child
// needs already open: afterwards nothing can be opened, and of the socket
// calls only what p's allow-list names remains.
func Confine(dir string, u User, p Profile) error {
	if err := chroot(dir); err != nil {
		return err
	}
	if err := drop(u); err != nil {
		return err
	}
	if err := noNewPrivs(); err != nil {
		return err
	}
	if err := p.landlock(); err != nil {
		return err
	}
	return p.seccomp()
}

func chroot(dir string) error {
	if err := syscall.Chroot(dir); err != nil {
		return fmt.Errorf("chroot %s: %w", dir, err)
	}
	if err := syscall.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in %s: %w", dir, err)
	}
	return nil
}

// drop switches every thread to u. Go's syscall.Setgroups/Setresgid/
// Setresuid act on every thread (Go >= 1.16); x/sys/unix's do not, which
// would leave root threads behind (GO-NOTES). Dropping the uid from 0
// clears the effective, permitted and ambient capability sets.
func drop(u User) error {
	if err := syscall.Setgroups([]int{u.GID}); err != nil {
		return fmt.Errorf("setgroups %d: %w", u.GID, err)
	}
	if err := syscall.Setresgid(u.GID, u.GID, u.GID); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(u.UID, u.UID, u.UID); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, err)
	}
	return nil
}

// noNewPrivs sets no_new_privs on every thread: prctl acts on the calling
// thread only, AllThreadsSyscall on all of them (it needs CGO_ENABLED=0).
// Landlock and seccomp refuse an unprivileged caller without it.
func noNewPrivs() error {
	const prSetNoNewPrivs = 38
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", errno)
	}
	return nil
}

// landlock restricts every access right the kernel's Landlock ABI knows,
// degrading to what the kernel has (none at all before Linux 5.13). No
// path rule is given, so no file or directory can be opened, even one the
// chroot left reachable. Network rules only matter from ABI 4 (TCP) and 10
// (UDP): the frontend sends to servers on UDP port 547 (RFC 8415 section
// 7.2) from sockets the parent bound, nothing else connects or binds.
// Scoped rights (ABI 6) keep both from signalling processes outside their
// domain and from connecting to abstract unix sockets.
func (p Profile) landlock() error {
	var rules []landlock.Rule
	if p == Frontend {
		rules = append(rules, landlock.ConnectSendUDP(dhcpServerPort))
	}
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("landlock %v: %w", p, err)
	}
	return nil
}

// seccomp installs p's allow-list on every thread (TSYNC), so threads the
// Go runtime started before are filtered as well as those it starts later
// (they inherit the filter). The calling thread stays locked while the
// filter loads: seccomp(2) installs it on the caller and synchronises the
// others to it.
func (p Profile) seccomp() error {
	policy, err := p.policy(os.Getpid())
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := seccomp.LoadFilter(seccomp.Filter{Flag: seccomp.FilterFlagTSync, Policy: policy}); err != nil {
		return fmt.Errorf("seccomp %v: %w", p, err)
	}
	return nil
}
