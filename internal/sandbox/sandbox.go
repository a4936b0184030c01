// Package sandbox confines the unprivileged children (frontend, engine)
// once their fds have arrived: SPEC 2's order is chroot, drop to the
// unprivileged user on every thread, then no_new_privs.
package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
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

// Confine chroots to dir, drops to u on all threads and sets no_new_privs.
// Go's syscall.Setgroups/Setresgid/Setresuid act on every thread (Go >=
// 1.16); x/sys/unix's do not, which would leave root threads behind
// (GO-NOTES). Dropping the uid from 0 clears the effective, permitted and
// ambient capability sets.
func Confine(dir string, u User) error {
	if err := syscall.Chroot(dir); err != nil {
		return fmt.Errorf("chroot %s: %w", dir, err)
	}
	if err := syscall.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in %s: %w", dir, err)
	}
	if err := syscall.Setgroups([]int{u.GID}); err != nil {
		return fmt.Errorf("setgroups %d: %w", u.GID, err)
	}
	if err := syscall.Setresgid(u.GID, u.GID, u.GID); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(u.UID, u.UID, u.UID); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, err)
	}
	// prctl acts on the calling thread only; AllThreadsSyscall applies it
	// to every thread of the process (needs CGO_ENABLED=0).
	const prSetNoNewPrivs = 38
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", errno)
	}
	return nil
}
