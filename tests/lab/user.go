package lab

import (
	"context"
	"errors"
	"fmt"
	"os/user"
)

// EnsureUser creates the system user name (no home, no login shell) unless it
// exists; dhcp6leased refuses to start without its unprivileged user.
func EnsureUser(ctx context.Context, name string) error {
	_, err := user.Lookup(name)
	var unknown user.UnknownUserError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &unknown):
		return fmt.Errorf("look up user %s: %w", name, err)
	}
	if _, err := run(ctx, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name); err != nil {
		// A parallel test may have created it in the meantime.
		if _, lookupErr := user.Lookup(name); lookupErr == nil {
			return nil
		}
		return fmt.Errorf("create user %s: %w", name, err)
	}
	return nil
}
