package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// floorProcs is how many Go processes make the floor: as many as
// dhcp6leased runs (parent, frontend, engine).
const floorProcs = 3

// buildFloor builds bench/gofloor into dir the way `make build` builds the
// daemon (CGO_ENABLED=0) and returns the binary's path.
func buildFloor(ctx context.Context, goTool, dir string) (string, error) {
	bin := filepath.Join(dir, "gofloor")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./bench/gofloor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build gofloor: %w: %s", err, out)
	}
	return bin, nil
}

// goFloor is floorProcs running copies of the floor binary.
type goFloor struct {
	cmds []*exec.Cmd
}

func startFloor(bin string) (*goFloor, error) {
	f := &goFloor{}
	for range floorProcs {
		cmd := exec.Command(bin)
		if err := cmd.Start(); err != nil {
			return nil, errors.Join(fmt.Errorf("start %s: %w", bin, err), f.stop())
		}
		f.cmds = append(f.cmds, cmd)
	}
	return f, nil
}

func (f *goFloor) procs() processes {
	ps := make(processes, 0, len(f.cmds))
	for _, c := range f.cmds {
		ps = append(ps, c.Process.Pid)
	}
	return ps
}

// stop sends SIGTERM, on which the floor exits 0.
func (f *goFloor) stop() error {
	var errs []error
	for _, c := range f.cmds {
		if err := c.Process.Signal(unix.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("stop gofloor %d: %w", c.Process.Pid, err))
			continue
		}
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("stop gofloor %d: %w", c.Process.Pid, err))
		}
	}
	return errors.Join(errs...)
}

// floorMemory starts the floor, lets it settle and reads its memory.
func floorMemory(ctx context.Context, bin string) (memory, error) {
	f, err := startFloor(bin)
	if err != nil {
		return memory{}, err
	}
	if err := pause(ctx, settleTime); err != nil {
		return memory{}, errors.Join(err, f.stop())
	}
	m, err := f.procs().memory()
	return m, errors.Join(err, f.stop())
}

// imageSize is the size in bytes of a program's read-only loaded segments,
// code and read-only data: what all its processes share, and what ends up
// almost wholly resident because the kernel maps the page cache around
// each fault in blocks (fault_around_bytes, 64 KiB).
func imageSize(path string) (int64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("image size of %s: %w", path, err)
	}
	defer f.Close()
	var n int64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			n += int64(p.Filesz)
		}
	}
	return n, nil
}
