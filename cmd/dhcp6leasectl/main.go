// Command dhcp6leasectl shows and steers a running dhcp6leased over its
// control socket (SPEC 10).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/dhcp6leased/dhcp6leased/control"
	"github.com/dhcp6leased/dhcp6leased/internal/getopt"
	"github.com/dhcp6leased/dhcp6leased/proto"
)

const usage = `usage: dhcp6leasectl [-s socket] show interface [ifname]
       dhcp6leasectl [-s socket] show stats [ifname]
       dhcp6leasectl [-s socket] [-w maxwait] request ifname`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "dhcp6leasectl: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dhcp6leasectl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(os.Stderr, usage) }
	socket := fs.String("s", control.DefaultSocket, "control socket")
	maxwait := fs.Int("w", 10, "seconds request waits for Bound")
	if err := fs.Parse(getopt.Expand(args, "", "sw")); err != nil {
		return errors.New("bad arguments")
	}
	a := fs.Args()
	switch {
	case len(a) >= 2 && len(a) <= 3 && a[0] == "show" && a[1] == "interface":
		req := &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE}
		if len(a) == 3 {
			req.Ifname = a[2]
		}
		reply, err := control.Do(*socket, req, 5*time.Second)
		if err != nil {
			return err
		}
		return control.WriteText(os.Stdout, reply.Interfaces, time.Now())
	case len(a) >= 2 && len(a) <= 3 && a[0] == "show" && a[1] == "stats":
		req := &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_STATS}
		if len(a) == 3 {
			req.Ifname = a[2]
		}
		reply, err := control.Do(*socket, req, 5*time.Second)
		if err != nil {
			return err
		}
		return control.WriteStats(os.Stdout, reply.Stats)
	case len(a) == 2 && a[0] == "request":
		return request(*socket, a[1], time.Duration(*maxwait)*time.Second)
	}
	fs.Usage()
	return errors.New("bad arguments")
}

// request asks for a new lease and polls until the uplink is Bound again
// or maxwait passes, then prints the state.
func request(socket, ifname string, maxwait time.Duration) error {
	if _, err := control.Do(socket, &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_REQUEST, Ifname: ifname}, 5*time.Second); err != nil {
		return err
	}
	deadline := time.Now().Add(maxwait)
	show := &pb.CtlRequest{Command: pb.CtlRequest_COMMAND_SHOW_INTERFACE, Ifname: ifname}
	for {
		reply, err := control.Do(socket, show, 5*time.Second)
		if err != nil {
			return err
		}
		if reply.Interfaces[0].State == "Bound" || time.Now().After(deadline) {
			return control.WriteText(os.Stdout, reply.Interfaces, time.Now())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
