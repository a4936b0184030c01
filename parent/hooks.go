package parent

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	"github.com/dhcp6leased/dhcp6leased/internal/lease"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// Hook limits (docs/HOOKS.md).
const (
	hookTimeout = 30 * time.Second // a script still running then is killed
	hookBacklog = 64               // events queued per uplink while a script runs
)

// hooks runs the hook scripts (SPEC 12): asynchronously, one at a time per
// uplink in event order, with a timeout, output logged. Nothing a script
// does can stop the daemon.
type hooks struct {
	log     *slog.Logger
	timeout time.Duration // hookTimeout; shorter in tests
	mu      sync.Mutex
	queues  map[string]chan hookJob // by uplink
	wg      sync.WaitGroup
}

type hookJob struct {
	script string
	ev     *pb.Event
	at     time.Time // when the event happened, for remaining lifetimes
}

func newHooks(log *slog.Logger) *hooks {
	return &hooks{log: log, timeout: hookTimeout, queues: make(map[string]chan hookJob)}
}

// run queues ev for script; it never blocks: with the backlog full the
// event is dropped and logged.
func (h *hooks) run(script string, ev *pb.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queues[ev.Uplink]
	if q == nil {
		q = make(chan hookJob, hookBacklog)
		h.queues[ev.Uplink] = q
		h.wg.Add(1)
		go h.worker(q)
	}
	select {
	case q <- hookJob{script: script, ev: ev, at: time.Now()}:
	default:
		h.log.Warn("hook backlog full, event dropped", "uplink", ev.Uplink, "event", ev.Kind, "script", script)
	}
}

// close lets the queued scripts finish, waiting at most until ctx ends.
func (h *hooks) close(ctx context.Context) {
	h.mu.Lock()
	for _, q := range h.queues {
		close(q)
	}
	h.queues = make(map[string]chan hookJob)
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		h.log.Warn("hook scripts still running at exit")
	}
}

func (h *hooks) worker(q <-chan hookJob) {
	defer h.wg.Done()
	for job := range q {
		h.exec(job)
	}
}

func (h *hooks) exec(job hookJob) {
	log := h.log.With("script", job.script, "uplink", job.ev.Uplink, "event", job.ev.Kind)
	if err := checkScript(job.script); err != nil {
		log.Error("hook refused", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, job.script, job.ev.Uplink, job.ev.Kind)
	cmd.Env = hookEnv(job.ev, job.at)
	cmd.Dir = "/"
	// Its own process group, so the timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Error("hook", "err", err)
		return
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		log.Error("hook", "err", err)
		return
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		log.Info("hook output", "line", sc.Text())
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		log.Error("hook killed after timeout", "timeout", h.timeout)
	case err != nil:
		log.Warn("hook failed", "err", err)
	default:
		log.Debug("hook done")
	}
}

// checkScript refuses a script that someone other than root could have
// changed (SPEC 12): it must be an absolute path to a regular file (not a
// symlink) owned by root and not writable by group or others.
func checkScript(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", path)
	case !ok || sys.Uid != 0:
		return fmt.Errorf("%s: not owned by root", path)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s: writable by group or others (mode %v)", path, st.Mode().Perm())
	case st.Mode().Perm()&0o100 == 0:
		return fmt.Errorf("%s: not executable by its owner", path)
	}
	return nil
}

// hookEnv is the script's whole environment (docs/HOOKS.md).
func hookEnv(ev *pb.Event, at time.Time) []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"DHCP6LEASED_EVENT=" + ev.Kind,
		"DHCP6LEASED_UPLINK=" + ev.Uplink,
		"DHCP6LEASED_STATE=" + ev.State,
		"DHCP6LEASED_SERVER=" + dhcp6.FormatDUID(ev.Server),
		"DHCP6LEASED_PREFIXES=" + prefixList(ev.Prefixes, at),
		"DHCP6LEASED_OLD_PREFIXES=" + prefixList(ev.OldPrefixes, at),
		"DHCP6LEASED_DOWNSTREAMS=" + downstreamList(ev.Downstreams),
		"DHCP6LEASED_OLD_DOWNSTREAMS=" + downstreamList(ev.OldDownstreams),
		"DHCP6LEASED_DNS_SERVERS=" + addrList(ev.DnsServers),
		"DHCP6LEASED_DOMAIN_SEARCH=" + strings.Join(ev.DomainSearch, " "),
		"DHCP6LEASED_ADDRESSES=" + prefixList(ev.Addresses, at),
		"DHCP6LEASED_OLD_ADDRESSES=" + prefixList(ev.OldAddresses, at),
	}
	if ev.LinkCurrent != "" {
		env = append(env, "IFPLUGD_PREVIOUS="+ev.LinkPrevious, "IFPLUGD_CURRENT="+ev.LinkCurrent)
	}
	return env
}

// prefixList formats PREFIX/LEN,PREFERRED,VALID with the lifetimes left at
// time at.
func prefixList(ias []*pb.LeaseIA, at time.Time) string {
	var parts []string
	for _, ia := range pb.LeaseFromPB(&pb.Lease{Ias: ias}).IAs {
		pref, valid := ia.Remaining(at)
		parts = append(parts, fmt.Sprintf("%v,%s,%s", ia.Prefix, lifetime(pref), lifetime(valid)))
	}
	return strings.Join(parts, " ")
}

func lifetime(d time.Duration) string {
	if d == lease.Forever {
		return "infinity"
	}
	return fmt.Sprint(int64(d / time.Second))
}

func addrList(bs [][]byte) string {
	parts := make([]string, len(bs))
	for i, a := range pb.AddrsFromPB(bs) {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

func downstreamList(ds []*pb.Downstream) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Ifname + "=" + d.Address
	}
	return strings.Join(parts, " ")
}

// event runs the uplink's hook script, if it has one, and remembers the
// event for the STOP event at shutdown.
func (d *daemon) event(ev *pb.Event) {
	u := d.cfg.Uplink(ev.Uplink)
	if u == nil {
		d.log.Warn("refused event", "uplink", ev.Uplink, "err", "not a configured uplink")
		return
	}
	d.log.Debug("event", "uplink", ev.Uplink, "event", ev.Kind, "state", ev.State)
	d.last[ev.Uplink] = ev
	if u.Script != "" {
		d.hooks.run(u.Script, ev)
	}
}
