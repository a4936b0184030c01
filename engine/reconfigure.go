package engine

import (
	"bytes"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// A server that gave the client a Reconfigure Key (RFC 8415 section 20.4)
// may tell it to Renew, Rebind or ask for information now: an ISP about to
// renumber, or with new DNS servers. Only a Reconfigure the key
// authenticates, with a replay detection value above every one before it,
// counts; everything else is dropped and counted (section 18.2.11).

// reconfigure handles a Reconfigure decoded from wire.
func (u *Uplink) reconfigure(wire []byte, m *dhcp6.Message) {
	if reason := u.checkReconfigure(wire, m); reason != "" {
		u.drop(reason, m, "replay", m.Auth.ReplayDetection)
		return
	}
	// Section 20.3: the value seen is the one to beat from now on, also
	// after a restart.
	u.reconf.Replay = m.Auth.ReplayDetection
	u.save()
	kind := dhcp6.MessageType(m.ReconfMsg)
	u.log.Info("reconfigure from the server", "do", kind, "replay", m.Auth.ReplayDetection)
	switch kind {
	case dhcp6.Renew:
		u.stopRenewal()
		u.renew()
	case dhcp6.Rebind:
		u.rebind()
	default:
		u.inform()
	}
}

// checkReconfigure returns why a Reconfigure must be dropped, or "". The
// order keeps the cheap and the public checks first, and the replay check
// after the digest, so that no unauthenticated message moves the counter.
func (u *Uplink) checkReconfigure(wire []byte, m *dhcp6.Message) DropReason {
	switch {
	case !u.cfg.ReconfigureAccept || u.reconf == nil || !u.holds(time.Now()):
		return DropReconfigureNoKey
	case m.ClientID == nil:
		return DropNoClientID
	case !bytes.Equal(m.ClientID, u.cfg.ClientID):
		return DropClientIDBad
	case len(m.ServerIDs) == 0:
		return DropNoServerID
	case len(m.ServerIDs) > 1:
		return DropTwoServerIDs
	case !bytes.Equal(m.ServerIDs[0], u.server):
		return DropServerIDBad
	}
	switch dhcp6.MessageType(m.ReconfMsg) {
	case dhcp6.Renew, dhcp6.Rebind, dhcp6.InformationRequest:
	default:
		return DropReconfigureMessage
	}
	if err := m.VerifyReconfigure(wire, u.reconf.Key); err != nil {
		return DropReconfigureAuth
	}
	if m.Auth.ReplayDetection <= u.reconf.Replay {
		return DropReconfigureReplay
	}
	if u.ex != nil || u.state != StateBound {
		// Section 18.2.11: discarded while a transaction is in progress.
		// Checked last, so that a forged or replayed message is counted
		// as what it is whatever the client is doing (a replay sent
		// right behind the genuine Reconfigure meets its Renew).
		return DropReconfigureBusy
	}
	return ""
}

// inform asks the server for its information only (RFC 8415 section
// 18.2.6), as a Reconfigure with msg-type Information-request says; the
// lease and its timers go on meanwhile.
func (u *Uplink) inform() {
	u.begin(informExchange, nil, 0)
}

// informed takes the Reply to an Information-request: the DNS options,
// then back to Bound.
func (u *Uplink) informed(m *dhcp6.Message) {
	u.takeOptions(m)
	u.stopExchange()
	u.save()
	held, downs := u.snapshot()
	u.event(EventInform, held, downs)
}
