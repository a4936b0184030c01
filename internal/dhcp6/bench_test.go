package dhcp6

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// The benchmarks run the same operations with this package and with
// insomniacslk/dhcp, so that `go test -bench .` shows them side by side.

func BenchmarkUnmarshalReply(b *testing.B) {
	wire, _ := keaReply()
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInsomniacslkDecodeReply(b *testing.B) {
	wire, _ := keaReply()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dhcpv6.MessageFromBytes(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSolicit(b *testing.B) {
	_, m := solicit()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInsomniacslkEncodeSolicit(b *testing.B) {
	wire, _ := solicit()
	m, err := dhcpv6.MessageFromBytes(wire)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.ToBytes()
	}
}
