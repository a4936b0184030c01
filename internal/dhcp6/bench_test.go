package dhcp6

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

// The benchmarks run the same operations with this package and with
// insomniacslk/dhcp, so that `go test -bench .` shows them side by side:
// Kea's Reply with two IA_PDs, an ISP's Reply that adds an IA_NA, Prefix
// Excludes, DNS servers, a search list and a Reconfigure Key, and our
// client's Solicits with and without IA_NA and Reconfigure Accept.

func benchmarkUnmarshal(b *testing.B, msg func() ([]byte, Message)) {
	wire, _ := msg()
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkInsomniacslkDecode(b *testing.B, msg func() ([]byte, Message)) {
	wire, _ := msg()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dhcpv6.MessageFromBytes(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkAppend(b *testing.B, msg func() ([]byte, Message)) {
	_, m := msg()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkInsomniacslkEncode(b *testing.B, msg func() ([]byte, Message)) {
	wire, _ := msg()
	m, err := dhcpv6.MessageFromBytes(wire)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.ToBytes()
	}
}

func BenchmarkUnmarshalReply(b *testing.B)             { benchmarkUnmarshal(b, keaReply) }
func BenchmarkInsomniacslkDecodeReply(b *testing.B)    { benchmarkInsomniacslkDecode(b, keaReply) }
func BenchmarkUnmarshalISPReply(b *testing.B)          { benchmarkUnmarshal(b, ispReply) }
func BenchmarkInsomniacslkDecodeISPReply(b *testing.B) { benchmarkInsomniacslkDecode(b, ispReply) }

func BenchmarkAppendSolicit(b *testing.B)               { benchmarkAppend(b, solicit) }
func BenchmarkInsomniacslkEncodeSolicit(b *testing.B)   { benchmarkInsomniacslkEncode(b, solicit) }
func BenchmarkAppendSolicitNA(b *testing.B)             { benchmarkAppend(b, solicitNA) }
func BenchmarkInsomniacslkEncodeSolicitNA(b *testing.B) { benchmarkInsomniacslkEncode(b, solicitNA) }
func BenchmarkAppendISPReply(b *testing.B)              { benchmarkAppend(b, ispReply) }
func BenchmarkInsomniacslkEncodeISPReply(b *testing.B)  { benchmarkInsomniacslkEncode(b, ispReply) }
