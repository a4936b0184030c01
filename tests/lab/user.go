package lab

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// SocketGroup is the control socket's default group (parent.DefaultGroup):
// members may run dhcp6leasectl's read-only commands.
const SocketGroup = "dhcp6leasectl"

// EnsureUser creates the system user name (no home, no login shell) unless it
// exists; dhcp6leased refuses to start without its unprivileged user.
func EnsureUser(ctx context.Context, name string) error {
	return ensure(ctx, "user", name, func() error { _, err := user.Lookup(name); return err },
		"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
}

// EnsureGroup creates the system group name unless it exists and returns
// its gid.
func EnsureGroup(ctx context.Context, name string) (uint32, error) {
	var g *user.Group
	lookup := func() error {
		var err error
		g, err = user.LookupGroup(name)
		return err
	}
	if err := ensure(ctx, "group", name, lookup, "groupadd", "--system", name); err != nil {
		return 0, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	return uint32(gid), nil
}

// ensure runs create unless lookup finds the user or group.
func ensure(ctx context.Context, kind, name string, lookup func() error, create ...string) error {
	err := lookup()
	var unknownUser user.UnknownUserError
	var unknownGroup user.UnknownGroupError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &unknownUser) && !errors.As(err, &unknownGroup):
		return fmt.Errorf("look up %s %s: %w", kind, name, err)
	}
	if _, err := run(ctx, create...); err != nil {
		// A parallel test may have created it in the meantime.
		if lookup() == nil {
			return nil
		}
		return fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	return lookup()
}
