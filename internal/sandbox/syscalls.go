package sandbox

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"

	"github.com/elastic/go-seccomp-bpf"
)

// Profile is one child's seccomp allow-list and Landlock network rules.
type Profile int

// The two sandboxed children (SPEC 2).
const (
	Frontend Profile = iota + 1
	Engine
)

// dhcpServerPort is where clients send (RFC 8415 section 7.2).
const dhcpServerPort = 547

func (p Profile) String() string {
	switch p {
	case Frontend:
		return "frontend"
	case Engine:
		return "engine"
	}
	return fmt.Sprintf("profile %d", int(p))
}

// allowed is a system call a child may make: with any arguments when args
// is empty, else only when every condition holds.
type allowed struct {
	name string
	args []seccomp.Condition
}

// allowList is what p may call once confined, in a process whose pid is
// pid. The lists were taken from `strace -f` of the daemon through the
// end-to-end tests, plus the runtime's calls on paths the tests do not
// reach (the scavenger, a thread's or the process's end, a fatal signal).
// Calls seen only before Confine (open, socketpair, execve, setsockopt...)
// are not in them, nor two the runtime makes later and survives being
// refused: openat of /etc/localtime (time stays UTC, which the chroot
// makes it anyway) and pread64 of the cgroup's cpu.max (GOMAXPROCS then
// follows the CPU set alone). A call a list names twice is needed for both
// reasons.
func (p Profile) allowList(pid int) ([]allowed, error) {
	self := []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: uint64(pid)}}
	// What the Go runtime does by itself, in any program.
	list := []allowed{
		// Parking and waking goroutines and threads; runtime locks.
		{name: "futex"},
		// The scheduler's short sleeps (sysmon, spinning threads) and yields.
		{name: "nanosleep"},
		{name: "sched_yield"},
		// The netpoller: sockets, timers and deadlines wait in epoll_pwait;
		// fds join and leave it with epoll_ctl.
		{name: "epoll_pwait"},
		{name: "epoll_ctl"},
		// The netpoller's wake-up eventfd; logs to stderr or the syslog
		// socket connected before the chroot.
		{name: "read"},
		{name: "write"},
		{name: "close"},
		// Heap and stacks grow by anonymous mappings, never executable ones;
		// the scavenger gives memory back.
		{name: "mmap", args: []seccomp.Condition{{Argument: 2, Operation: seccomp.BitsNotSet, Value: syscall.PROT_EXEC}}},
		{name: "munmap"},
		{name: "madvise"},
		// The runtime starts OS threads on demand (they inherit this
		// filter). Only threads: a new process (fork) is refused.
		{name: "clone", args: []seccomp.Condition{{Argument: 0, Operation: seccomp.BitsSet, Value: syscall.CLONE_THREAD}}},
		// A new thread's set-up (runtime minit).
		{name: "gettid"},
		{name: "sigaltstack"},
		{name: "rt_sigprocmask"},
		// Asynchronous preemption: SIGURG to the process's own threads,
		// the return from the handler, and the kernel's restart of the
		// sleep or wait the signal interrupted (seen under strace -p).
		{name: "getpid"},
		{name: "tgkill", args: self},
		{name: "rt_sigreturn"},
		{name: "restart_syscall"},
		// The runtime throws when rt_sigaction fails (os/signal changes,
		// and a fatal signal's handler reset before the process raises it
		// on itself with kill).
		{name: "rt_sigaction"},
		{name: "kill", args: self},
		// GOMAXPROCS follows the CPU set (Go >= 1.25 re-reads it).
		{name: "sched_getaffinity"},
		// A thread ends (a goroutine exits locked to it); the process exits.
		{name: "exit"},
		{name: "exit_group"},
		// imsg: one datagram per message with SCM_RIGHTS (SPEC 3).
		{name: "sendmsg"},
		{name: "recvmsg"},
	}
	switch p {
	case Engine:
		// The engine has no sockets but its channels (SPEC 2).
	case Frontend:
		list = append(list,
			// rtnetlink events from the parent's socket, DHCPv6 in and out
			// on the UDP sockets the parent bound (SPEC 6).
			allowed{name: "recvmsg"},
			allowed{name: "recvfrom"},
			allowed{name: "sendto"},
			// No socket(2) or bind(2): the UDP sockets stay *os.File read
			// and written with recvfrom/sendto and scope ids (frontend/),
			// so the net package never names a zone by opening an
			// rtnetlink socket of its own.
			// Wrapping the control and rtnetlink sockets that arrive from
			// the parent (duplicated, their type and address read);
			// SO_PEERCRED of control clients (SPEC 10).
			allowed{name: "getsockname"},
			allowed{name: "fcntl"},
			allowed{name: "getsockopt"},
			allowed{name: "getpeername"},
			// Control clients (dhcp6leasectl).
			allowed{name: "accept4"},
		)
	default:
		return nil, fmt.Errorf("seccomp: unknown %v", p)
	}
	return list, nil
}

// architectures names the GOARCH values the allow-lists are written for:
// Go's 64-bit Linux ABIs. The 32-bit ones make other calls for the same
// work (mmap2, fcntl64, socketcall), which the lists would refuse.
func architectures() []string { return []string{"amd64", "arm64"} }

// policy turns p's allow-list into a seccomp policy: everything else fails
// with EPERM. An errno rather than killing the process: the runtime and
// the standard library treat a refused call as an error (a time zone that
// cannot be opened is UTC), while a child killed by the kernel would take
// the daemon down (SPEC 2: one child's death stops all).
func (p Profile) policy(pid int) (seccomp.Policy, error) {
	if !slices.Contains(architectures(), runtime.GOARCH) {
		return seccomp.Policy{}, fmt.Errorf("seccomp %v: no allow-list for %s", p, runtime.GOARCH)
	}
	list, err := p.allowList(pid)
	if err != nil {
		return seccomp.Policy{}, err
	}
	group := seccomp.SyscallGroup{Action: seccomp.ActionAllow}
	seen := make(map[string]bool)
	for _, a := range list {
		if seen[a.name] {
			continue
		}
		seen[a.name] = true
		if len(a.args) == 0 {
			group.Names = append(group.Names, a.name)
		} else {
			group.NamesWithCondtions = append(group.NamesWithCondtions, seccomp.NameWithConditions{Name: a.name, Conditions: a.args})
		}
	}
	return seccomp.Policy{DefaultAction: seccomp.ActionErrno, Syscalls: []seccomp.SyscallGroup{group}}, nil
}
