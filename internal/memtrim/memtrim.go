// Package memtrim gives back, once start-up is over, the pages of the
// program's image that only start-up touched.
//
// The kernel maps a file's pages around each page fault in blocks of
// 64 KiB (fault-around), and start-up (the runtime, every package's init,
// the configuration, the sandbox) faults in nearly every block of the
// image: each of the three processes ends up mapping the whole binary,
// about 5.7 MiB, of which a bound daemon runs about 1 MiB. Dropping the
// mappings of the image's read-only segments (madvise MADV_DONTNEED) leaves
// the pages in the page cache, where the kernel can reclaim them; what the
// process runs afterwards faults back in from there, without I/O.
package memtrim

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// span is a mapping of the executable, from start to end.
type span struct{ start, end uintptr }

// Image is the read-only mappings of the running executable.
type Image struct {
	spans []span
}

// Find reads the executable's read-only mappings from /proc/self/maps; the
// children call it before they chroot. It finds none in a program built
// other than with -buildmode=exe: a position-independent one has its
// read-only data relocated at start (copied on write), which dropping the
// pages would undo.
func Find() (*Image, error) {
	if mode, ok := buildMode(); !ok || mode != "exe" {
		return &Image{}, nil
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("find image: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("find image: %w", err)
	}
	spans, err := readOnlySpans(string(maps), exe)
	if err != nil {
		return nil, fmt.Errorf("find image of %s: %w", exe, err)
	}
	return &Image{spans: spans}, nil
}

// buildMode is the -buildmode the binary was built with.
func buildMode() (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, s := range info.Settings {
		if s.Key == "-buildmode" {
			return s.Value, true
		}
	}
	return "", false
}

// readOnlySpans returns the mappings of path without write permission in
// maps, the text of /proc/PID/maps (proc(5): address perms offset dev
// inode pathname).
func readOnlySpans(maps, path string) ([]span, error) {
	var spans []span
	for _, line := range strings.Split(maps, "\n") {
		f := strings.SplitN(line, " ", 6)
		if len(f) < 6 || strings.TrimLeft(f[5], " ") != path || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("parse mapping %q", line)
		}
		spans = append(spans, span{uintptr(start), uintptr(end)})
	}
	return spans, nil
}

// Drop unmaps the image's pages from the process; they stay in the page
// cache, and the next access to one maps it again.
func (im *Image) Drop() error {
	for _, s := range im.spans {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise %#x-%#x MADV_DONTNEED: %w", s.start, s.end, errno)
		}
	}
	return nil
}

// DropAfter drops the image's pages once d has passed, and reports a
// failure to report (an error here only costs memory).
func (im *Image) DropAfter(d time.Duration, report func(error)) {
	time.AfterFunc(d, func() {
		if err := im.Drop(); err != nil {
			report(err)
		}
	})
}
