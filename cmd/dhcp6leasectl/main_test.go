package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var now = time.UnixMilli(1_700_000_000_000)

// fakeDaemon answers on a control socket as the frontend and engine would,
// for two uplinks: up0 (Bound once pending show requests have passed) and
// up1 (never Bound). It records every request.
type fakeDaemon struct {
	refuse    bool   // refuse mutating commands, as to a non-root peer
	reloadErr string // what a reload answers, as the parent would for a bad file

	mu       sync.Mutex
	pending  int // show requests that still see up0 not yet Bound
	requests []string
}

func (f *fakeDaemon) status(name string) *pb.InterfaceStatus {
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	switch {
	case name == "up1":
		return &pb.InterfaceStatus{Name: "up1", State: "Init", LinkUp: true, Ias: []*pb.IAStatus{{Iaid: 0x2}}}
	case f.pending > 0:
		f.pending--
		return &pb.InterfaceStatus{Name: "up0", State: "Rebooting", LinkUp: true, Ias: []*pb.IAStatus{{Iaid: 0x1}}}
	}
	return &pb.InterfaceStatus{
		Name: "up0", State: "Bound", LinkUp: true, ServerId: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 1},
		T1UnixMs: ms(30 * time.Minute), T2UnixMs: ms(48 * time.Minute),
		Ias: []*pb.IAStatus{{
			Iaid: 0x1, Prefix: "2001:db8:1200::/56",
			PreferredUntilUnixMs: ms(time.Hour), ValidUntilUnixMs: ms(2 * time.Hour),
			Downstreams: []*pb.Downstream{{Ifname: "lan0", Address: "2001:db8:1200::1/64"}},
		}},
	}
}

func (f *fakeDaemon) answer(req *pb.CtlRequest) *pb.CtlReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fmt.Sprintf("%v %q %q", req.Command, req.Ifname, req.LogLevel))
	if req.Ifname != "" && req.Ifname != "up0" && req.Ifname != "up1" {
		return &pb.CtlReply{Error: "unknown interface " + req.Ifname}
	}
	names := []string{"up0", "up1"}
	if req.Ifname != "" {
		names = []string{req.Ifname}
	}
	reply := new(pb.CtlReply)
	switch req.Command {
	case pb.CtlRequest_COMMAND_RELOAD, pb.CtlRequest_COMMAND_LOG:
		if f.refuse {
			return &pb.CtlReply{Error: control.Refusal(req)}
		}
		if req.Command == pb.CtlRequest_COMMAND_RELOAD {
			return &pb.CtlReply{Error: f.reloadErr}
		}
	case pb.CtlRequest_COMMAND_REQUEST:
		if f.refuse {
			return &pb.CtlReply{Error: control.Refusal(req)}
		}
		if req.Ifname == "up0" {
			f.pending = 1
		}
	case pb.CtlRequest_COMMAND_SHOW_INTERFACE:
		for _, n := range names {
			reply.Interfaces = append(reply.Interfaces, f.status(n))
		}
	case pb.CtlRequest_COMMAND_SHOW_STATS:
		for _, n := range names {
			s := &pb.InterfaceStats{Name: n}
			if n == "up0" {
				s.Sent = map[string]uint64{"SOLICIT": 1, "REQUEST": 1}
				s.Received = map[string]uint64{"ADVERTISE": 1, "REPLY": 1}
			}
			reply.Stats = append(reply.Stats, s)
		}
	}
	return reply
}

// serve listens at sock until the test ends.
func (f *fakeDaemon) serve(t *testing.T, sock string) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			req := new(pb.CtlRequest)
			if err := control.Read(c, req); err == nil {
				control.Write(c, f.answer(req))
			}
			c.Close()
		}
	}()
}

// TestCommandLines runs every form of the command line against the fake
// daemon and compares what the daemon was asked, the output and the exit
// status with testdata/NAME.golden (`go test ./cmd/dhcp6leasectl -update`
// rewrites them). SOCKET stands for the socket's path.
func TestCommandLines(t *testing.T) {
	tests := []struct {
		name      string
		args      string
		pending   int
		refuse    bool
		noSock    bool
		reloadErr string
	}{
		{name: "reload", args: "reload"},
		{name: "reload-bad-file", args: "reload", reloadErr: "/etc/dhcp6leased.conf:3: unknown macro lan"},
		{name: "reload-refused", args: "reload", refuse: true},
		{name: "log", args: "log debug"},
		{name: "log-refused", args: "log brief", refuse: true},
		{name: "usage-log-level", args: "log loud"},
		{name: "usage-reload-json", args: "-j reload"},
		{name: "show-interface", args: "show interface"},
		{name: "show-interface-one", args: "show interface up0"},
		{name: "show-interface-json", args: "-j show interface"},
		{name: "show-interface-unknown", args: "show interface nosuch0"},
		{name: "show-stats", args: "show stats"},
		{name: "show-stats-json", args: "-j show stats up0"},
		{name: "request", args: "request up0"},
		{name: "request-json", args: "-j -w 5 request up0"},
		{name: "request-no-wait", args: "-w 0 request up1"},
		{name: "request-refused", args: "request up0", refuse: true},
		{name: "request-unknown", args: "request nosuch0"},
		{name: "openbsd", args: "up0"},
		{name: "openbsd-list", args: "-l up0", pending: 2},
		{name: "openbsd-list-wait", args: "-l -w 5 up0", pending: 2},
		{name: "openbsd-list-json", args: "-jl up0"},
		{name: "no-daemon", args: "show interface", noSock: true},
		{name: "usage-none", args: ""},
		{name: "usage-lone-command", args: "show"},
		{name: "usage-list-show", args: "-l show interface"},
		{name: "usage-wait-show", args: "-w 5 show interface"},
		{name: "usage-flag", args: "-x up0"},
		{name: "usage-maxwait", args: "-w soon up0"},
		{name: "usage-unknown-command", args: "shwo interface"},
		{name: "openbsd-typo", args: "shwo"},
		{name: "help", args: "-h"},
		{name: "help-long", args: "--help"},
		{name: "openbsd-list-typo", args: "-l shwo"},
		{name: "openbsd-typo-refused", args: "shwo", refuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sock := filepath.Join(t.TempDir(), "ctl.sock")
			f := &fakeDaemon{refuse: tt.refuse, pending: tt.pending, reloadErr: tt.reloadErr}
			if !tt.noSock {
				f.serve(t, sock)
			}
			var stdout, stderr strings.Builder
			code := run(append([]string{"-s", sock}, strings.Fields(tt.args)...), &stdout, &stderr, func() time.Time { return now })
			f.mu.Lock()
			got := fmt.Sprintf("$ dhcp6leasectl %s\nexit %d\n--- requests\n%s--- stdout\n%s--- stderr\n%s",
				tt.args, code, lines(f.requests), stdout.String(), strings.ReplaceAll(stderr.String(), sock, "SOCKET"))
			f.mu.Unlock()
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-golden +got):\n%s", path, diff)
			}
		})
	}
}

func lines(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// TestErrorsAreOneLine: every failure that is not a bad command line is
// one line on stderr and exit 1 (SPEC 10).
func TestErrorsAreOneLine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	(&fakeDaemon{refuse: true}).serve(t, sock)
	for _, args := range [][]string{
		{"-s", sock, "show", "interface", "nosuch0"},
		{"-s", sock, "request", "up0"},
		{"-s", sock + ".missing", "show", "stats"},
		{"-s", sock, "shwo"},
	} {
		var stdout, stderr strings.Builder
		code := run(args, &stdout, &stderr, time.Now)
		if code != 1 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), "dhcp6leasectl: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and one line on stderr", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestVersion: --version prints one line naming the command and exits 0.
func TestVersion(t *testing.T) {
	var stdout, stderr strings.Builder
	code := run([]string{"--version"}, &stdout, &stderr, time.Now)
	if out := stdout.String(); code != 0 || !strings.HasPrefix(out, "dhcp6leasectl ") || strings.Count(out, "\n") != 1 || stderr.Len() != 0 {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, stderr.String())
	}
}
