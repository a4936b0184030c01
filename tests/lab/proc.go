package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 5 * time.Second

// Proc is a program running inside a namespace. Its standard output and
// standard error are kept in memory for diagnostics.
type Proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

// start runs argv with stdout and stderr going to the Proc's buffer and to
// tee when tee is not nil.
func start(ctx context.Context, tee io.Writer, argv ...string) (*Proc, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	p := &Proc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	var out io.Writer = p.out
	if tee != nil {
		out = io.MultiWriter(p.out, tee)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	// Servers shut down cleanly on SIGTERM; SIGKILL only if they hang.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	// Own process group: Ctrl-C reaches the controlling program only, which
	// then stops its children in order. No Pdeathsig: it fires when the
	// forking OS thread exits, and Go retires threads that goroutines left
	// locked (Netns.Do does), killing servers in the middle of a test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id of the program (ip netns exec replaces itself with
// it, so this is the program's own pid).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Output returns what the program printed so far on stdout and stderr.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the program has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the program to exit and returns its exit error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the program unless it has exited.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("signal %v to pid %d: process has exited", sig, p.Pid())
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to pid %d: %w", sig, p.Pid(), err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to stopGrace, then sends SIGKILL. Exiting
// because of a signal counts as success; any other failure exit is returned,
// with the program's output.
func (p *Proc) Stop() error {
	select {
	case <-p.done:
	default:
		// Errors here mean the process is exiting already; Wait tells.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if cleanStop(p.err) {
		return nil
	}
	return fmt.Errorf("stop %s (pid %d): %w: %s", strings.Join(p.cmd.Args, " "), p.Pid(), p.err, p.Output())
}

// cleanStop reports whether err, from exec.Cmd.Wait, means a clean exit or
// death by a signal (ours, or the one the context's cancellation sent).
func cleanStop(err error) bool {
	var exit *exec.ExitError
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &exit):
		return !exit.Exited()
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for exec's copying goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWriter calls line for every complete line written to it, with the time
// the line arrived.
type lineWriter struct {
	line    func(time.Time, string)
	partial []byte // only touched by exec's single copying goroutine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(now, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}
