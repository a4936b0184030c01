package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-seccomp-bpf/arch"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/imsg"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

// The test binary re-executes itself as a probe: as root, it confines
// itself with a profile in a throwaway directory, tries what the sandbox
// must refuse and what it must still allow, prints one line per check and
// waits for stdin to close, so that the test can read its /proc status.
const (
	envProfile = "SANDBOX_PROBE_PROFILE" // "frontend" or "engine"
	envDir     = "SANDBOX_PROBE_DIR"     // the chroot
	envStage   = "SANDBOX_PROBE_STAGE"   // "landlock": stop before seccomp
)

// probeTimeout bounds a probe run; it takes milliseconds.
const probeTimeout = 30 * time.Second

// probeID is the probe's unprivileged uid and gid; it needs no passwd
// entry, Confine takes numbers.
const probeID = 65534

func TestMain(m *testing.M) {
	if name := os.Getenv(envProfile); name != "" {
		os.Exit(probe(name))
	}
	os.Exit(m.Run())
}

// probe runs in the re-executed test binary.
func probe(name string) int {
	p := Frontend
	if name == Engine.String() {
		p = Engine
	}
	// What a child has before Confine: a channel, and threads the runtime
	// started already (TSYNC must filter them too).
	ends, err := channelPair()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	older, err := threadIDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	old := startLockedThread()

	dir, u := os.Getenv(envDir), User{Name: "probe", UID: probeID, GID: probeID}
	if os.Getenv(envStage) == "landlock" {
		err = confineUntilLandlock(dir, u, p)
	} else {
		err = Confine(dir, u, p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, c := range probeChecks(ends, old, older, os.Getenv(envStage)) {
		fmt.Printf("%s\t%s\n", c.name, outcome(c.run()))
	}
	fmt.Println("done")
	// Wait until the test has read /proc/PID/status and closes stdin.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// confineUntilLandlock is Confine without seccomp, to see Landlock's own
// refusals (seccomp would refuse the same calls first, with EPERM).
func confineUntilLandlock(dir string, u User, p Profile) error {
	if err := chroot(dir); err != nil {
		return err
	}
	if err := drop(u); err != nil {
		return err
	}
	if err := noNewPrivs(); err != nil {
		return err
	}
	return p.landlock()
}

type probeCheck struct {
	name string
	run  func() error
}

// probeChecks are the calls the probe tries once confined. The forbidden
// ones are all allowed to an ordinary unprivileged process, so that it is
// the sandbox that refuses them. The ones that would change the probe
// itself if they succeeded (fork, ptrace, execve, unshare) only run under
// seccomp.
func probeChecks(ends [2]*imsg.Channel, old *lockedThread, older []int, stage string) []probeCheck {
	checks := []probeCheck{
		{"open /", func() error { return open("/") }},
		{"open /file", func() error { return open("/file") }},
		{"open /file on a thread from before", func() error { return old.do(func() error { return open("/file") }) }},
		{"open /file on a new thread", func() error { return onNewThread(older, func() error { return open("/file") }) }},
		{"socket udp", func() error { return socket(unix.AF_INET6, unix.SOCK_DGRAM, 0) }},
		{"socket rtnetlink", func() error { return socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE) }},
		{"socketpair", socketpair},
		{"mmap executable", mmapExec},
		{"imsg", func() error { return exchange(ends) }},
		{"timer", timer},
		{"interface table", func() error { _, err := net.InterfaceByIndex(1); return err }},
	}
	if stage == "landlock" {
		return checks
	}
	return append(checks,
		probeCheck{"execve", func() error { return syscall.Exec("/file", []string{"file"}, nil) }},
		probeCheck{"fork", fork},
		probeCheck{"ptrace", func() error { return errnoOf(unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)) }},
		probeCheck{"user namespace", func() error { return syscall.Unshare(syscall.CLONE_NEWUSER) }},
	)
}

// outcome is "ok" or the errno's name.
func outcome(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func errnoOf(_, _ uintptr, errno syscall.Errno) error {
	if errno != 0 {
		return errno
	}
	return nil
}

func open(path string) error {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fd)
	}
	return err
}

func socket(domain, typ, proto int) error {
	fd, err := syscall.Socket(domain, typ, proto)
	if err == nil {
		syscall.Close(fd)
	}
	return err
}

func socketpair() error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
	}
	return err
}

// fork is clone(2) without CLONE_THREAD. Should it succeed, the new
// process exits at once, before running any Go code.
func fork() error {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func mmapExec() error {
	b, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_EXEC, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err == nil {
		syscall.Munmap(b)
	}
	return err
}

// channelPair is a connected pair of imsg channels.
func channelPair() ([2]*imsg.Channel, error) {
	var ends [2]*imsg.Channel
	a, b, err := imsg.Pair()
	if err != nil {
		return ends, err
	}
	for i, f := range []*os.File{a, b} {
		if ends[i], err = imsg.New(f); err != nil {
			return ends, err
		}
	}
	return ends, nil
}

// exchange sends a message one way and reads it at the other end.
func exchange(ends [2]*imsg.Channel) error {
	if err := ends[0].Send(pb.Type_TYPE_UPLINK_READY, &pb.UplinkReady{Uplink: "up0", Ready: true}); err != nil {
		return err
	}
	m, err := ends[1].Recv()
	if err != nil {
		return err
	}
	if m.Type != pb.Type_TYPE_UPLINK_READY {
		return fmt.Errorf("received %v", m.Type)
	}
	return nil
}

// timer waits on a runtime timer and checks the clock moved.
func timer() error {
	const d = 20 * time.Millisecond
	start := time.Now()
	<-time.After(d)
	if since := time.Since(start); since < d {
		return fmt.Errorf("timer fired after %v, set for %v", since, d)
	}
	return nil
}

// threadIDs lists the process's threads (before the chroot hides /proc).
func threadIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			return nil, fmt.Errorf("/proc/self/task/%s: %w", e.Name(), err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// lockedThread is a goroutine locked to its OS thread that runs functions
// on it.
type lockedThread struct{ funcs chan func() }

func startLockedThread() *lockedThread {
	t := &lockedThread{funcs: make(chan func())}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is the point
		close(ready)
		for f := range t.funcs {
			f()
		}
	}()
	<-ready
	return t
}

func (t *lockedThread) do(f func() error) error {
	errc := make(chan error)
	t.funcs <- func() { errc <- f() }
	return <-errc
}

// maxThreads bounds how many goroutines onNewThread locks at once to make
// the runtime start an OS thread that did not exist before.
const maxThreads = 32

// onNewThread runs f on an OS thread whose id is not in older. Each locked
// goroutine holds its thread while it waits, so the runtime has to start
// new ones.
func onNewThread(older []int, f func() error) error {
	release := make(chan struct{})
	defer close(release)
	type result struct {
		tid int
		err error
	}
	results := make(chan result)
	for range maxThreads {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tid := syscall.Gettid()
			if slices.Contains(older, tid) {
				results <- result{tid: tid}
			} else {
				results <- result{tid: tid, err: f()}
			}
			<-release
		}()
	}
	for range maxThreads {
		if r := <-results; !slices.Contains(older, r.tid) {
			// The others still send: drain them.
			go func() {
				for range maxThreads - 1 {
					<-results
				}
			}()
			return r.err
		}
	}
	return fmt.Errorf("no new thread among %d locked goroutines", maxThreads)
}

// runProbe runs the probe for p and returns its check results and its
// /proc status read while it waited.
func runProbe(t *testing.T, p Profile, stage string) (map[string]string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	// Readable by anyone: only the sandbox may refuse the probe.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envProfile+"="+p.String(), envDir+"="+dir, envStage+"="+stage)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := make(map[string]string)
	var status map[string]string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "done" {
			status, err = procStatus(cmd.Process.Pid)
			if err != nil {
				t.Error(err)
			}
			break
		}
		name, res, _ := strings.Cut(sc.Text(), "\t")
		results[name] = res
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("probe %v (%s): %v: %s", p, stage, err, stderr.String())
	}
	return results, status
}

func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the probe needs root to chroot and change its uid")
	}
}

// TestConfine: once confined, each child can open nothing and make none
// of the calls outside its allow-list, on every thread, old or new; its
// channels, timers and (frontend) interface lookups still work; /proc
// shows the unprivileged uid, no capabilities, no_new_privs and a seccomp
// filter (SPEC 2).
func TestConfine(t *testing.T) {
	requireRoot(t)
	const (
		denied = "EPERM"
		ok     = "ok"
	)
	for _, p := range []Profile{Frontend, Engine} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			want := map[string]string{
				"open /":                             denied,
				"open /file":                         denied,
				"open /file on a thread from before": denied,
				"open /file on a new thread":         denied,
				"execve":                             denied,
				"fork":                               denied,
				"ptrace":                             denied,
				"user namespace":                     denied,
				"socket udp":                         denied,
				"socket rtnetlink":                   denied,
				"socketpair":                         denied,
				"mmap executable":                    denied,
				"imsg":                               ok,
				"timer":                              ok,
				"interface table":                    denied,
			}
			got, status := runProbe(t, p, "seccomp")
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s: %q, want %q", name, got[name], w)
				}
			}
			wantStatus := map[string]string{
				"Uid":             strings.Repeat(fmt.Sprint(probeID)+"\t", 3) + fmt.Sprint(probeID),
				"Groups":          fmt.Sprint(probeID),
				"CapEff":          "0000000000000000",
				"CapPrm":          "0000000000000000",
				"NoNewPrivs":      "1",
				"Seccomp":         "2",
				"Seccomp_filters": "1",
			}
			for k, w := range wantStatus {
				if status[k] != w {
					t.Errorf("/proc status %s: %q, want %q", k, status[k], w)
				}
			}
		})
	}
}

// TestLandlock: Landlock alone (no seccomp yet) refuses every open, on
// every thread, where the chroot and the file modes would allow it; the
// calls seccomp refuses in TestConfine are Landlock's to allow, so those
// refusals are seccomp's.
func TestLandlock(t *testing.T) {
	requireRoot(t)
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		t.Skipf("kernel without Landlock (ABI %d, %v)", abi, err)
	}
	const denied = "EACCES"
	want := map[string]string{
		"open /":                             denied,
		"open /file":                         denied,
		"open /file on a thread from before": denied,
		"open /file on a new thread":         denied,
		"socket udp":                         "ok",
		"socketpair":                         "ok",
		"mmap executable":                    "ok",
	}
	for _, p := range []Profile{Frontend, Engine} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			got, status := runProbe(t, p, "landlock")
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s: %q, want %q", name, got[name], w)
				}
			}
			if status["Seccomp"] != "0" {
				t.Errorf("/proc status Seccomp %q before seccomp, want 0", status["Seccomp"])
			}
		})
	}
}

// TestAllowListNames: every call of each allow-list exists on every
// architecture the lists are for (Assemble checks only the running one).
func TestAllowListNames(t *testing.T) {
	for _, name := range architectures() {
		info, err := arch.GetInfo(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Profile{Frontend, Engine} {
			list, err := p.allowList(1)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				if _, ok := info.SyscallNames[a.name]; !ok {
					t.Errorf("%v allows %s, which %s does not have", p, a.name, name)
				}
			}
		}
	}
}

// TestPolicyAssembles: each allow-list names only system calls this
// architecture has, and compiles to a filter.
func TestPolicyAssembles(t *testing.T) {
	for _, p := range []Profile{Frontend, Engine} {
		policy, err := p.policy(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		insts, err := policy.Assemble()
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		t.Logf("%v: %d allowed calls, %d BPF instructions", p, len(policy.Syscalls[0].Names)+len(policy.Syscalls[0].NamesWithCondtions), len(insts))
	}
	if _, err := Profile(0).policy(1); err == nil {
		t.Error("policy of an unknown profile: no error")
	}
}
