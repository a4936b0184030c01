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
