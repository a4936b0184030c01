package parent

import (
	"net"
	"strings"
	"testing"
)

func TestDUIDHardware(t *testing.T) {
	eth0 := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	eth1 := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11}
	ifaces := []net.Interface{
		{Index: 1, Name: "lo", HardwareAddr: make(net.HardwareAddr, 6)}, // all zero
		{Index: 7, Name: "ppp0"},
		{Index: 3, Name: "eth1", HardwareAddr: eth1},
		{Index: 2, Name: "eth0", HardwareAddr: eth0},
		{Index: 9, Name: "wg0"},
	}
	for _, tt := range []struct {
		name, want string
		hw         net.HardwareAddr
	}{
		{"eth1", "eth1", eth1},
		{"ppp0", "eth0", eth0}, // no MAC: the lowest index with one
		{"wg0", "eth0", eth0},
	} {
		name, hw, err := duidHardware(tt.name, append([]net.Interface(nil), ifaces...))
		if err != nil || name != tt.want || hw.String() != tt.hw.String() {
			t.Errorf("duidHardware(%s) = %s, %v, %v; want %s, %v", tt.name, name, hw, err, tt.want, tt.hw)
		}
	}
	if _, _, err := duidHardware("ppp9", ifaces); err == nil || !strings.Contains(err.Error(), "no such interface") {
		t.Errorf("a missing interface: %v, want no such interface", err)
	}
	if _, _, err := duidHardware("ppp0", ifaces[:2]); err == nil {
		t.Error("no Ethernet address anywhere: no error")
	}
}

func TestMachineUUID(t *testing.T) {
	a, err := machineUUID("3d1219c7c4c5404aaa1f6d2a48adfda4")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := machineUUID("3d1219c7c4c5404aaa1f6d2a48adfda4")
	c, _ := machineUUID("00000000000000000000000000000001")
	if a != b || a == c {
		t.Errorf("machineUUID: %x, %x, %x; want stable per ID and different across IDs", a, b, c)
	}
	if a[6]>>4 != 4 || a[8]>>6 != 2 {
		t.Errorf("machineUUID %x: not a version 4, variant 10 UUID", a)
	}
	if strings.Contains(string(a[:]), "\x3d\x12\x19\xc7") {
		t.Error("the machine ID shows in the UUID")
	}
	if _, err := machineUUID("xyz"); err == nil {
		t.Error("a bad machine ID: no error")
	}
}
