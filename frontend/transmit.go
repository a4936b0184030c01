package frontend

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
	pb "github.com/dhcp6leased/dhcp6leased/proto"
)

// allServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 section 7.1).
var allServers = netip.MustParseAddr("ff02::1:2")

// serverPort is the DHCPv6 server port (RFC 8415 section 7.2).
const serverPort = 547

// transmit builds the message the engine asked for and multicasts it on
// the uplink.
func (f *frontend) transmit(t *pb.Transmit) {
	l := f.uplinkByName(t.Uplink)
	switch {
	case l != nil && l.conn == nil && l.asked:
		f.log.Debug("held until the socket is open", "uplink", t.Uplink, "type", dhcp6.MessageType(t.Type))
		l.pending = t
		return
	case l == nil || l.conn == nil:
		f.log.Debug("not sent: no socket", "uplink", t.Uplink, "type", dhcp6.MessageType(t.Type))
		return
	}
	b, err := buildMessage(t, f.duid)
	if err != nil {
		f.log.Error("build message", "uplink", t.Uplink, "err", err)
		return
	}
	if err := sendTo(l.conn, b, l.index); err != nil {
		f.log.Warn("send", "uplink", t.Uplink, "type", dhcp6.MessageType(t.Type), "err", err)
		return
	}
	f.log.Debug("sent", "uplink", t.Uplink, "type", dhcp6.MessageType(t.Type), "xid", fmt.Sprintf("%x", t.Xid), "elapsed", t.Elapsed, "ias", len(t.Ias))
}

// sendTo multicasts b to the servers on the link ifindex. It goes through
// sendto(2) with the index as scope id: net.UDPConn.WriteTo takes the zone
// as a name, and resolves a number by dumping every interface over
// rtnetlink first, on every send (at 128 uplinks, most of the frontend's
// CPU and garbage).
func sendTo(conn *os.File, b []byte, ifindex int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	dst := &unix.SockaddrInet6{Port: serverPort, Addr: allServers.As16(), ZoneId: uint32(ifindex)}
	var serr error
	if err := raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, dst)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return serr
}

// buildMessage encodes a client message as SPEC 6 lists its options:
// Client ID, Server ID (Request, Renew, Release), one IA_PD per IA with
// T1 = T2 = 0 and an IA_PREFIX per prefix, ORO with SOL_MAX_RT and INF_MAX_RT
// (RFC 8415 section 18.2: required in Solicit, Request, Renew, Rebind),
// Elapsed Time, Rapid Commit in Solicit when configured.
func buildMessage(t *pb.Transmit, duid []byte) ([]byte, error) {
	typ := dhcp6.MessageType(t.Type)
	switch typ {
	case dhcp6.Solicit, dhcp6.Request, dhcp6.Renew, dhcp6.Rebind, dhcp6.Release, dhcp6.InformationRequest:
	default:
		return nil, fmt.Errorf("engine asked to send %v", typ)
	}
	m := dhcp6.Message{
		Type:        typ,
		ClientID:    duid,
		ElapsedTime: uint16(t.Elapsed),
		HasElapsed:  true,
		RapidCommit: t.RapidCommit && typ == dhcp6.Solicit,
	}
	copy(m.TransactionID[:], t.Xid)
	if typ != dhcp6.Release {
		// The options a CE router uses: DNS for its LANs (RFC 3646),
		// Prefix Exclude (RFC 6603 section 4.1: asked for in the ORO), and
		// the Solicit and Information-request backoff caps (RFC 8415
		// section 21.7: required).
		m.ORO = []dhcp6.OptionCode{dhcp6.OptDNSServers, dhcp6.OptDomainList, dhcp6.OptPDExclude, dhcp6.OptSolMaxRT, dhcp6.OptInfMaxRT}
		m.ReconfAccept = t.ReconfigureAccept
	}
	if len(t.ServerId) > 0 && (typ == dhcp6.Request || typ == dhcp6.Renew || typ == dhcp6.Release || typ == dhcp6.InformationRequest) {
		m.ServerIDs = [][]byte{t.ServerId}
	}
	for _, ia := range t.Ias {
		if ia.Na {
			appendAddress(&m, ia)
			continue
		}
		p := dhcp6.IAPrefix{
			Preferred: ia.Preferred,
			Valid:     ia.Valid,
			PrefixLen: uint8(ia.PrefixLen),
			Prefix:    netip.AddrFrom16([16]byte(ia.Prefix)),
		}
		// An IA with several prefixes (one retiring while the server
		// renumbers) comes as consecutive entries of one IAID: one IA_PD
		// with an IA Prefix option each (RFC 8415 section 21.21).
		if n := len(m.IAPDs); n > 0 && m.IAPDs[n-1].IAID == ia.Iaid {
			m.IAPDs[n-1].Prefixes = append(m.IAPDs[n-1].Prefixes, p)
			continue
		}
		m.IAPDs = append(m.IAPDs, dhcp6.IAPD{IAID: ia.Iaid, Prefixes: []dhcp6.IAPrefix{p}})
	}
	return m.Marshal()
}

// appendAddress adds ia, an IA_NA entry, to m: one IA_NA per IAID with an
// IA Address option per address, none for :: (a Solicit without a hint),
// as buildMessage does for IA_PDs.
func appendAddress(m *dhcp6.Message, ia *pb.TransmitIA) {
	addr := netip.AddrFrom16([16]byte(ia.Prefix))
	n := len(m.IANAs)
	if n == 0 || m.IANAs[n-1].IAID != ia.Iaid {
		m.IANAs = append(m.IANAs, dhcp6.IANA{IAID: ia.Iaid})
		n++
	}
	if !addr.IsUnspecified() {
		m.IANAs[n-1].Addresses = append(m.IANAs[n-1].Addresses, dhcp6.IAAddress{Address: addr, Preferred: ia.Preferred, Valid: ia.Valid})
	}
}
