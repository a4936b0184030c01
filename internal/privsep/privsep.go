// Package privsep holds what the parent and its two children agree on to
// start a child: the hidden flags, the fd the parent channel arrives on, and
// the child's options.
package privsep

import (
	"os"
	"strconv"
)

// Hidden flags that make the binary run as a child (as OpenBSD's -E/-F).
const (
	FlagEngine   = "-E"
	FlagFrontend = "-F"
)

// ParentFD is the fd on which a child finds its channel to the parent
// (the first of exec.Cmd.ExtraFiles).
const ParentFD = 3

// ChrootDir is the empty directory the children chroot into.
const ChrootDir = "/var/empty"

// Options are what a child learns from its command line.
type Options struct {
	User       string
	Foreground bool
	Verbose    int
}

// Args returns the command line that starts a child with o; flag is
// FlagEngine or FlagFrontend.
func (o Options) Args(flag string) []string {
	args := []string{flag, "-u", o.User}
	if o.Foreground {
		args = append(args, "-d")
	}
	for range o.Verbose {
		args = append(args, "-v")
	}
	return args
}

// ParentChannel returns the file of the channel to the parent.
func ParentChannel() *os.File {
	return os.NewFile(ParentFD, "parent-channel-"+strconv.Itoa(ParentFD))
}
