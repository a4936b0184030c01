package parent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/internal/privsep"
)

// child is a started child process.
type child struct {
	name   string
	cmd    *exec.Cmd
	ch     *imsg.Channel
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid once exited is closed
}

// died reports the death of first and, when it follows within a moment,
// of other: one child's death makes the other exit on EOF, and the parent
// cannot tell which it noticed first, so the log names both with how each
// ended (a signal, or an exit status).
func died(first, other *child) error {
	err := first.wait(2 * time.Second)
	if err == nil {
		err = fmt.Errorf("%s closed its channel", first.name)
	}
	if oerr := other.wait(500 * time.Millisecond); oerr != nil {
		err = fmt.Errorf("%w; %w", err, oerr)
	}
	return err
}

// wait waits up to d for the child's exit and describes it; nil if it is
// still running.
func (c *child) wait(d time.Duration) error {
	select {
	case <-c.exited:
	case <-time.After(d):
		return nil
	}
	if c.err == nil {
		return fmt.Errorf("%s exited: exit status 0", c.name)
	}
	return fmt.Errorf("%s exited: %w", c.name, c.err)
}

// start re-executes the binary as a child. It starts as root and confines
// itself once its fds have arrived: a chroot in SysProcAttr would happen
// before execve and hide /proc/self/exe (GO-NOTES).
func (d *daemon) start(name, flag string) (*child, error) {
	mine, theirs, err := imsg.Pair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	ch, err := imsg.New(mine)
	if err != nil {
		return nil, err
	}
	args := privsep.Options{User: d.opts.User, Foreground: d.opts.Foreground, Verbose: d.opts.Verbose}.Args(flag)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = "dhcp6leased: " + name
	cmd.Env = privsep.Env()
	cmd.ExtraFiles = []*os.File{theirs} // fd 3 = privsep.ParentFD
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// No Pdeathsig: it fires when the forking OS thread exits, which Go
	// does to threads a goroutine left locked. A child learns of the
	// parent's death from EOF on its channel (SPEC 2).
	if err := cmd.Start(); err != nil {
		ch.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, ch: ch, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// stopChildren ends the children: closing their channels first lets each
// see its parent's EOF and exit quietly, before it could mistake the other
// child's exit for a crash. One that lingers is killed after 2 s.
func stopChildren(children ...*child) {
	for _, c := range children {
		c.ch.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range children {
		select {
		case <-c.exited:
		case <-ctx.Done():
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
}
