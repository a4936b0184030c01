package control

import (
	"errors"

	"golang.org/x/sys/unix"
)

// isNoDaemon tells a missing or dead socket from other dial errors.
func isNoDaemon(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED)
}
