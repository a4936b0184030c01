package frontend

import (
	"errors"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/control"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// ctlTimeout bounds how long a control client may take to send its
// request, so a silent client cannot pin a goroutine forever.
const ctlTimeout = 5 * time.Second

type ctlRequest struct {
	conn net.Conn
	req  *pb.CtlRequest
}

func (f *frontend) acceptControl(out chan<- event) {
	for {
		c, err := f.ctl.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error("control accept", "err", err)
			}
			return
		}
		go f.readControl(c, out)
	}
}

// readControl reads one request and checks who may make it: read-only
// commands are open to anyone who can open the socket, the others need
// peer uid 0 (SPEC 10).
func (f *frontend) readControl(c *net.UnixConn, out chan<- event) {
	c.SetDeadline(time.Now().Add(ctlTimeout))
	req := new(pb.CtlRequest)
	if err := control.Read(c, req); err != nil {
		c.Close()
		return
	}
	reply := func(msg string) {
		control.Write(c, &pb.CtlReply{Error: msg})
		c.Close()
	}
	if err := req.Validate(); err != nil {
		reply(err.Error())
		return
	}
	if !req.ReadOnly() {
		uid, err := peerUID(c)
		if err != nil || uid != 0 {
			reply(control.Refusal(req))
			return
		}
	}
	out <- event{from: "control", ctl: &ctlRequest{conn: c, req: req}}
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// ctlRequest forwards a checked request and parks the client until the
// reply: reload and log go to the parent, which owns the configuration and
// the log level; the rest to the engine, which owns the lease state.
func (f *frontend) ctlRequest(r *ctlRequest) {
	f.nextID++
	r.req.Id = f.nextID
	f.pending[r.req.Id] = r.conn
	switch r.req.Command {
	case pb.CtlRequest_COMMAND_RELOAD, pb.CtlRequest_COMMAND_LOG:
		if err := f.parent.Send(pb.Type_TYPE_CTL_PARENT, r.req); err != nil {
			f.log.Error("send to parent", "err", err)
		}
	case pb.CtlRequest_COMMAND_REQUEST:
		// The operator asks for a lease now: an uplink waiting to retry
		// its socket tries at once.
		f.retryNow(r.req.Ifname)
		f.toEngine(pb.Type_TYPE_CTL_REQUEST, r.req)
	default:
		f.toEngine(pb.Type_TYPE_CTL_REQUEST, r.req)
	}
}

func (f *frontend) ctlReply(r *pb.CtlReply) {
	c, ok := f.pending[r.Id]
	if !ok {
		return
	}
	delete(f.pending, r.Id)
	r.Id = 0
	control.Write(c, r)
	c.Close()
}
