package dhcp6

import "fmt"

// String returns the message type's name as RFC 8415 section 7.3 spells
// it, or TYPE(n) for a number it does not define; logs and counters use it.
func (t MessageType) String() string {
	switch t {
	case Solicit:
		return "SOLICIT"
	case Advertise:
		return "ADVERTISE"
	case Request:
		return "REQUEST"
	case Confirm:
		return "CONFIRM"
	case Renew:
		return "RENEW"
	case Rebind:
		return "REBIND"
	case Reply:
		return "REPLY"
	case Release:
		return "RELEASE"
	case Decline:
		return "DECLINE"
	case Reconfigure:
		return "RECONFIGURE"
	case InformationRequest:
		return "INFORMATION-REQUEST"
	case RelayForw:
		return "RELAY-FORW"
	case RelayRepl:
		return "RELAY-REPL"
	}
	return fmt.Sprintf("TYPE(%d)", uint8(t))
}

// String returns the status code's name as RFC 8415 section 21.13 spells
// it, or Status(n) for a code it does not define.
func (c StatusCode) String() string {
	switch c {
	case StatusSuccess:
		return "Success"
	case StatusUnspecFail:
		return "UnspecFail"
	case StatusNoAddrsAvail:
		return "NoAddrsAvail"
	case StatusNoBinding:
		return "NoBinding"
	case StatusNotOnLink:
		return "NotOnLink"
	case StatusUseMulticast:
		return "UseMulticast"
	case StatusNoPrefixAvail:
		return "NoPrefixAvail"
	}
	return fmt.Sprintf("Status(%d)", uint16(c))
}

// String returns the option code's name as the IANA DHCPv6 registry
// spells it without the OPTION_ prefix (RFC 8415 section 24, RFC 3646,
// RFC 6603), for the options this package knows, or OPTION(n) for any
// other.
func (c OptionCode) String() string {
	switch c {
	case OptClientID:
		return "CLIENTID"
	case OptServerID:
		return "SERVERID"
	case OptIANA:
		return "IA_NA"
	case OptIAAddr:
		return "IAADDR"
	case OptORO:
		return "ORO"
	case OptPreference:
		return "PREFERENCE"
	case OptElapsedTime:
		return "ELAPSED_TIME"
	case OptAuth:
		return "AUTH"
	case OptStatusCode:
		return "STATUS_CODE"
	case OptRapidCommit:
		return "RAPID_COMMIT"
	case OptReconfMsg:
		return "RECONF_MSG"
	case OptReconfAccept:
		return "RECONF_ACCEPT"
	case OptDNSServers:
		return "DNS_SERVERS"
	case OptDomainList:
		return "DOMAIN_LIST"
	case OptIAPD:
		return "IA_PD"
	case OptIAPrefix:
		return "IAPREFIX"
	case OptPDExclude:
		return "PD_EXCLUDE"
	case OptSolMaxRT:
		return "SOL_MAX_RT"
	case OptInfMaxRT:
		return "INF_MAX_RT"
	}
	return fmt.Sprintf("OPTION(%d)", uint16(c))
}
