// Package logging sets up the slog loggers of the three processes: stderr
// in the foreground (-d), syslog (facility daemon) when detached.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
)

// Level maps the -v count (or dhcp6leasectl log's brief, verbose, debug)
// to a slog level: 0 info, 1 or more debug.
func Level(verbose int) slog.Level {
	if verbose > 0 {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// LevelVar returns a level that dhcp6leasectl log can change at run time,
// starting at Level(verbose).
func LevelVar(verbose int) *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(Level(verbose))
	return v
}

// New returns the logger for process proc ("parent", "frontend",
// "engine"). With foreground it writes text lines to stderr; otherwise it
// connects to syslog now, before any chroot makes /dev/log unreachable.
func New(proc string, foreground bool, level slog.Leveler) (*slog.Logger, error) {
	var w io.Writer = os.Stderr
	if !foreground {
		sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "dhcp6leased")
		if err != nil {
			return nil, fmt.Errorf("connect to syslog: %w", err)
		}
		w = sw
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			// syslog stamps its own time.
			if !foreground && len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(h).With("proc", proc), nil
}
