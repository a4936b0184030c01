package engine

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/dhcp6leased/dhcp6leased/internal/dhcp6"
)

// DropReason says why a received message, or one IA_PD or IA Prefix option
// in it, was discarded. The values are stable names for counters and logs.
type DropReason string

// Drop reasons. The first group are decoding failures, one per
// internal/dhcp6 sentinel error.
const (
	DropShort         DropReason = "short"
	DropOptionOverrun DropReason = "option-overrun"
	DropIAPDShort     DropReason = "ia-pd-short"
	DropIAPrefixShort DropReason = "ia-prefix-short"
	DropIANAShort     DropReason = "ia-na-short"
	DropIAAddrShort   DropReason = "ia-addr-short"
	DropOptionShort   DropReason = "option-short"
	DropRelay         DropReason = "relay-message"
	DropMalformed     DropReason = "malformed" // a decoding error of no known kind

	DropUnknownType     DropReason = "unknown-type"
	DropClientType      DropReason = "client-message"
	DropUnexpectedType  DropReason = "unexpected-type" // not expected in the current state
	DropTransactionID   DropReason = "transaction-id"
	DropNoClientID      DropReason = "client-id-missing"
	DropClientIDBad     DropReason = "client-id-mismatch"
	DropNoServerID      DropReason = "server-id-missing"
	DropTwoServerIDs    DropReason = "server-id-repeated"
	DropServerIDBad     DropReason = "server-id-mismatch" // Reply to Request or Renew from another server
	DropStatus          DropReason = "status"             // top-level failure status: the exchange goes on
	DropNothingUsable   DropReason = "no-usable-prefix"   // nothing in it to bind
	DropIAUnknown       DropReason = "ia-unknown-iaid"    // one IA_PD
	DropIARepeated      DropReason = "ia-repeated-iaid"   // one IA_PD
	DropIATimes         DropReason = "ia-t1-above-t2"     // one IA_PD
	DropPrefixLen       DropReason = "prefix-length"      // one IA Prefix
	DropPrefixLifetimes DropReason = "prefix-preferred-above-valid"
	DropPrefixUnheld    DropReason = "prefix-unheld-valid-zero"
	DropPrefixExclude   DropReason = "prefix-exclude-invalid" // one IA Prefix (RFC 6603)
	DropDomainList      DropReason = "domain-list-invalid"    // the option only (RFC 3646)

	// Reconfigure messages (RFC 8415 sections 18.2.11, 20.4).
	DropReconfigureNoKey   DropReason = "reconfigure-no-key"  // not accepted, or no key from the server
	DropReconfigureBusy    DropReason = "reconfigure-busy"    // an exchange is in progress
	DropReconfigureMessage DropReason = "reconfigure-message" // no or another msg-type than Renew, Rebind, Information-request
	DropReconfigureAuth    DropReason = "reconfigure-auth"    // no valid HMAC-MD5 with the key
	DropReconfigureReplay  DropReason = "reconfigure-replay"  // replay detection not above the last seen
)

// decodeReason returns the drop reason for an error of Message.Unmarshal:
// one per sentinel error of internal/dhcp6.
func decodeReason(err error) DropReason {
	switch {
	case errors.Is(err, dhcp6.ErrShort):
		return DropShort
	case errors.Is(err, dhcp6.ErrOptionOverrun):
		return DropOptionOverrun
	case errors.Is(err, dhcp6.ErrIAPDShort):
		return DropIAPDShort
	case errors.Is(err, dhcp6.ErrIAPrefixShort):
		return DropIAPrefixShort
	case errors.Is(err, dhcp6.ErrIANAShort):
		return DropIANAShort
	case errors.Is(err, dhcp6.ErrIAAddrShort):
		return DropIAAddrShort
	case errors.Is(err, dhcp6.ErrOptionShort):
		return DropOptionShort
	case errors.Is(err, dhcp6.ErrRelay):
		return DropRelay
	}
	return DropMalformed
}

// check returns why m must be dropped as a whole, or "" to keep it
// (RFC 8415 sections 16.3 and 16.10, and SPEC 6).
func (u *Uplink) check(m *dhcp6.Message) DropReason {
	switch m.Type {
	case dhcp6.Advertise, dhcp6.Reply, dhcp6.Reconfigure:
	case dhcp6.Solicit, dhcp6.Request, dhcp6.Confirm, dhcp6.Renew, dhcp6.Rebind,
		dhcp6.Release, dhcp6.Decline, dhcp6.InformationRequest:
		return DropClientType
	case dhcp6.RelayForw, dhcp6.RelayRepl:
		return DropRelay
	default:
		return DropUnknownType
	}
	if !u.expects(m) {
		return DropUnexpectedType
	}
	if m.TransactionID != u.ex.msg.XID {
		return DropTransactionID
	}
	switch {
	case m.ClientID == nil:
		return DropNoClientID
	case !bytes.Equal(m.ClientID, u.cfg.ClientID):
		return DropClientIDBad
	}
	switch len(m.ServerIDs) {
	case 0:
		return DropNoServerID
	case 1:
	default:
		return DropTwoServerIDs
	}
	if m.Type == dhcp6.Reply && u.ex.msg.ServerID != nil && !bytes.Equal(m.ServerIDs[0], u.ex.msg.ServerID) {
		return DropServerIDBad
	}
	return ""
}

// expects reports whether a message of m's type answers the exchange in
// progress. A Reconfigure never does: it starts one (reconfigure.go). A
// Reply answers a Solicit only with Rapid Commit on both sides (RFC 8415
// section 18.2.1).
func (u *Uplink) expects(m *dhcp6.Message) bool {
	if u.ex == nil || u.ex.sent == 0 {
		return false
	}
	switch m.Type {
	case dhcp6.Advertise:
		return u.ex.kind == solicitExchange
	case dhcp6.Reply:
		return u.ex.kind != solicitExchange || u.cfg.RapidCommit && m.RapidCommit
	}
	return false
}

// usableIAs returns m's IA_PDs by IAID, without the options RFC 8415
// requires the client to discard while it keeps the rest of the message:
// an IA_PD with T1 > T2 (section 21.21) or that the client did not ask for
// (section 18.2.10.1); an IA Prefix with preferred > valid lifetime (section
// 21.22), with a length outside 1..128, or with valid lifetime 0 for a
// prefix the client does not hold (section 18.2.10.1: 0 only withdraws a
// held one). Each discard is counted. Prefixes are returned masked to their
// length.
func (u *Uplink) usableIAs(m *dhcp6.Message) map[uint32]*dhcp6.IAPD {
	ias := make(map[uint32]*dhcp6.IAPD, len(m.IAPDs)+len(m.IANAs))
	all := slices.Concat(m.IAPDs, addressIAs(m.IANAs))
	for i, pd := range all {
		ia := u.ia(pd.IAID)
		switch {
		case ia == nil || ia.na != (i >= len(m.IAPDs)):
			// Not ours, or an IA_NA where we asked for an IA_PD or the
			// other way round.
			u.drop(DropIAUnknown, m, iaidAttr(pd.IAID))
			continue
		case ias[pd.IAID] != nil:
			u.drop(DropIARepeated, m, iaidAttr(pd.IAID))
			continue
		case pd.T1 > pd.T2 && pd.T1 != 0 && pd.T2 != 0:
			u.drop(DropIATimes, m, iaidAttr(pd.IAID), "t1", pd.T1, "t2", pd.T2)
			continue
		}
		kept := pd
		kept.Prefixes = nil
		for _, p := range pd.Prefixes {
			if reason := u.checkPrefix(ia, p); reason != "" {
				u.drop(reason, m, iaidAttr(pd.IAID), "prefix", p.Prefix, "len", p.PrefixLen,
					"preferred", p.Preferred, "valid", p.Valid)
				continue
			}
			p.Prefix = prefixOf(p).Addr()
			kept.Prefixes = append(kept.Prefixes, p)
		}
		ias[pd.IAID] = &kept
	}
	return ias
}

// addressIAs returns IA_NAs as IA_PDs whose prefixes are /128s, so that
// one code path validates and binds both: an IA Address has the same
// lifetimes, status and rules as an IA Prefix (RFC 8415 sections 21.6 and
// 21.22). NoAddrsAvail stands as NoPrefixAvail.
func addressIAs(nas []dhcp6.IANA) []dhcp6.IAPD {
	var out []dhcp6.IAPD
	for _, na := range nas {
		pd := dhcp6.IAPD{IAID: na.IAID, T1: na.T1, T2: na.T2, Status: noAddrsAsNoPrefix(na.Status)}
		for _, a := range na.Addresses {
			pd.Prefixes = append(pd.Prefixes, dhcp6.IAPrefix{Preferred: a.Preferred, Valid: a.Valid,
				PrefixLen: 128, Prefix: a.Address, Status: noAddrsAsNoPrefix(a.Status)})
		}
		out = append(out, pd)
	}
	return out
}

func noAddrsAsNoPrefix(s *dhcp6.Status) *dhcp6.Status {
	if s != nil && s.Code == dhcp6.StatusNoAddrsAvail {
		return &dhcp6.Status{Code: dhcp6.StatusNoPrefixAvail, Message: s.Message}
	}
	return s
}

// checkPrefix returns why p must be discarded from ia's IA_PD, or "".
func (u *Uplink) checkPrefix(ia *iaState, p dhcp6.IAPrefix) DropReason {
	switch {
	case p.PrefixLen == 0 || p.PrefixLen > 128:
		return DropPrefixLen
	case p.Preferred > p.Valid:
		return DropPrefixLifetimes
	case p.Valid == 0 && !ia.holdsPrefix(prefixOf(p)):
		return DropPrefixUnheld
	}
	if _, _, err := p.Excluded(); err != nil {
		// RFC 6603 section 4.2: without a valid exclusion the client cannot
		// know which part it must not use, so the prefix goes.
		return DropPrefixExclude
	}
	return ""
}

// prefixOf returns p's prefix with its host bits cleared. p's length must
// be 0..128.
func prefixOf(p dhcp6.IAPrefix) netip.Prefix {
	return netip.PrefixFrom(p.Prefix, int(p.PrefixLen)).Masked()
}

// drop counts a discard and logs it at debug within the log budget.
func (u *Uplink) drop(reason DropReason, m *dhcp6.Message, args ...any) {
	u.stats.Drops[reason]++
	if m != nil {
		args = append(args, "type", m.Type, xidAttr(m.TransactionID))
	}
	u.debug("drop", append(args, "reason", reason)...)
}

// debug logs a line caused by a received packet. A peer controls how many
// packets arrive, so these lines are rate limited (SPEC 13).
func (u *Uplink) debug(msg string, args ...any) {
	ok, suppressed := u.budget.take(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed_before", suppressed)
	}
	u.log.Debug(msg, args...)
}

// Packet-caused log lines allowed per window.
const (
	logBurst  = 20
	logWindow = time.Second
)

// logBudget allows logBurst lines per logWindow; the first line of a window
// reports how many the previous windows suppressed.
type logBudget struct {
	start      time.Time
	lines      int
	suppressed int
}

// take reports whether a line may be logged at now and, if so, how many
// were suppressed since the last one logged.
func (b *logBudget) take(now time.Time) (ok bool, suppressed int) {
	if now.Sub(b.start) >= logWindow {
		b.start, b.lines = now, 0
	}
	if b.lines >= logBurst {
		b.suppressed++
		return false, 0
	}
	b.lines++
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}
