package dhcp6

import "testing"

func TestMessageTypeString(t *testing.T) {
	tests := []struct {
		t    MessageType
		want string
	}{
		{Solicit, "SOLICIT"},
		{Advertise, "ADVERTISE"},
		{Request, "REQUEST"},
		{Confirm, "CONFIRM"},
		{Renew, "RENEW"},
		{Rebind, "REBIND"},
		{Reply, "REPLY"},
		{Release, "RELEASE"},
		{Decline, "DECLINE"},
		{Reconfigure, "RECONFIGURE"},
		{InformationRequest, "INFORMATION-REQUEST"},
		{RelayForw, "RELAY-FORW"},
		{RelayRepl, "RELAY-REPL"},
		{0, "TYPE(0)"},
		{42, "TYPE(42)"},
	}
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("MessageType(%d).String() = %q, want %q", uint8(tc.t), got, tc.want)
		}
	}
}

func TestStatusCodeString(t *testing.T) {
	tests := []struct {
		c    StatusCode
		want string
	}{
		{StatusSuccess, "Success"},
		{StatusUnspecFail, "UnspecFail"},
		{StatusNoAddrsAvail, "NoAddrsAvail"},
		{StatusNoBinding, "NoBinding"},
		{StatusNotOnLink, "NotOnLink"},
		{StatusUseMulticast, "UseMulticast"},
		{StatusNoPrefixAvail, "NoPrefixAvail"},
		{7, "Status(7)"},
		{65535, "Status(65535)"},
	}
	for _, tc := range tests {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("StatusCode(%d).String() = %q, want %q", uint16(tc.c), got, tc.want)
		}
	}
}

func TestOptionCodeString(t *testing.T) {
	tests := []struct {
		c    OptionCode
		want string
	}{
		{OptClientID, "CLIENTID"},
		{OptServerID, "SERVERID"},
		{OptIANA, "IA_NA"},
		{OptIAAddr, "IAADDR"},
		{OptORO, "ORO"},
		{OptPreference, "PREFERENCE"},
		{OptElapsedTime, "ELAPSED_TIME"},
		{OptAuth, "AUTH"},
		{OptStatusCode, "STATUS_CODE"},
		{OptRapidCommit, "RAPID_COMMIT"},
		{OptReconfMsg, "RECONF_MSG"},
		{OptReconfAccept, "RECONF_ACCEPT"},
		{OptDNSServers, "DNS_SERVERS"},
		{OptDomainList, "DOMAIN_LIST"},
		{OptIAPD, "IA_PD"},
		{OptIAPrefix, "IAPREFIX"},
		{OptPDExclude, "PD_EXCLUDE"},
		{OptSolMaxRT, "SOL_MAX_RT"},
		{OptInfMaxRT, "INF_MAX_RT"},
		{0, "OPTION(0)"},
		{4, "OPTION(4)"},
		{65535, "OPTION(65535)"},
	}
	for _, tc := range tests {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("OptionCode(%d).String() = %q, want %q", uint16(tc.c), got, tc.want)
		}
	}
}
