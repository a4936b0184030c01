// Package logging sets up the slog loggers of the three processes: stderr
// in the foreground (-d), syslog (facility daemon) when detached. Each
// line carries its priority (sd-daemon(3), syslog(3)): errors at err,
// warnings at warning, lease events at info, packets at debug, so that
// `journalctl -p err` or a syslog filter by level finds them.
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
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

// Priority is the syslog severity of a slog level, as sd-daemon(3)'s
// SD_ERR..SD_DEBUG number them: error 3 (err), warn 4 (warning), info 6
// (info), debug 7 (debug).
func Priority(l slog.Level) syslog.Priority {
	switch {
	case l >= slog.LevelError:
		return syslog.LOG_ERR
	case l >= slog.LevelWarn:
		return syslog.LOG_WARNING
	case l >= slog.LevelInfo:
		return syslog.LOG_INFO
	}
	return syslog.LOG_DEBUG
}

// New returns the logger for process proc ("parent", "frontend",
// "engine"). With foreground it writes text lines to stderr, each with an
// sd-daemon(3) "<N>" prefix when stderr is the journal; otherwise it
// connects to syslog now, before any chroot makes /dev/log unreachable.
func New(proc string, foreground bool, level slog.Leveler) (*slog.Logger, error) {
	var s sink
	switch {
	case !foreground:
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "dhcp6leased")
		if err != nil {
			return nil, fmt.Errorf("connect to syslog: %w", err)
		}
		s = syslogSink{w}
	case ToJournal(os.Stderr):
		s = journalSink{os.Stderr}
	default:
		s = plainSink{os.Stderr}
	}
	return newLogger(proc, s, level), nil
}

// Prefix is what a line written to stderr at level l starts with: its
// "<N>" when stderr is the journal, else nothing. For the one line a
// process writes without its logger (the error it exits with).
func Prefix(l slog.Level) string {
	if ToJournal(os.Stderr) {
		return journalPrefix(l)
	}
	return ""
}

// ToJournal reports whether f is the stream systemd connected to the
// journal: JOURNAL_STREAM holds its "device:inode" (systemd.exec(5)). A
// stderr redirected elsewhere by the service's command keeps the variable
// but not the inode, and gets no prefixes.
func ToJournal(f *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return dev == strconv.FormatUint(st.Dev, 10) && ino == strconv.FormatUint(st.Ino, 10)
}

func journalPrefix(l slog.Level) string {
	return "<" + strconv.Itoa(int(Priority(l))) + ">"
}

// sink takes one formatted line with its level.
type sink interface {
	emit(l slog.Level, line []byte) error
	// stamps reports whether the sink adds its own time to each line.
	stamps() bool
}

type plainSink struct{ w io.Writer }

func (s plainSink) emit(_ slog.Level, line []byte) error { _, err := s.w.Write(line); return err }
func (plainSink) stamps() bool                           { return false }

// journalSink prefixes each line with its priority, which journald
// strips and records (sd-daemon(3)).
type journalSink struct{ w io.Writer }

func (s journalSink) emit(l slog.Level, line []byte) error {
	_, err := s.w.Write(append([]byte(journalPrefix(l)), line...))
	return err
}
func (journalSink) stamps() bool { return true }

// syslogSink sends each line at its own severity (the Writer's facility,
// daemon, stays).
type syslogSink struct{ w *syslog.Writer }

func (s syslogSink) emit(l slog.Level, line []byte) error {
	m := string(line)
	switch Priority(l) {
	case syslog.LOG_ERR:
		return s.w.Err(m)
	case syslog.LOG_WARNING:
		return s.w.Warning(m)
	case syslog.LOG_INFO:
		return s.w.Info(m)
	}
	return s.w.Debug(m)
}
func (syslogSink) stamps() bool { return true }

func newLogger(proc string, s sink, level slog.Leveler) *slog.Logger {
	o := &output{sink: s}
	text := slog.NewTextHandler(o, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if s.stamps() && len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(&handler{text: text, out: o}).With("proc", proc)
}

// output collects the one line a TextHandler writes per record, so that
// the handler can pass it to the sink with the record's level.
type output struct {
	sink sink
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) { return o.buf.Write(p) }

// handler formats with slog's TextHandler and emits with the level.
type handler struct {
	text slog.Handler
	out  *output
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.text.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	return h.out.sink.emit(r.Level, h.out.buf.Bytes())
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{text: h.text.WithAttrs(as), out: h.out}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{text: h.text.WithGroup(name), out: h.out}
}
