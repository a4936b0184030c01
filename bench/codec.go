package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
)

// codecPackage holds the codec benchmarks, ours beside insomniacslk/dhcp's
// (internal/dhcp6/bench_test.go).
const codecPackage = "./internal/dhcp6"

// codecCount is how often `go test` runs each benchmark; the median run
// counts, so that other work on the shared machine during one run does not
// make the figure.
const codecCount = 5

// benchResult is one line of `go test -bench -benchmem` output.
type benchResult struct {
	nsPerOp     float64
	allocsPerOp int64
	bytesPerOp  int64
}

// codecPair is one operation done by both codecs.
type codecPair struct {
	op            string
	ours, theirs  string // benchmark names without "Benchmark"
	oursR, theirR benchResult
}

// speedup is how many times faster ours is.
func (p codecPair) speedup() float64 { return p.theirR.nsPerOp / p.oursR.nsPerOp }

// codecPairs names the benchmarks of internal/dhcp6/bench_test.go that do
// the same operation.
func codecPairs() []codecPair {
	return []codecPair{
		{op: "decode a Reply with two IA_PDs", ours: "UnmarshalReply", theirs: "InsomniacslkDecodeReply"},
		{op: "encode a Solicit", ours: "AppendSolicit", theirs: "InsomniacslkEncodeSolicit"},
	}
}

// runCodec runs the codec benchmarks in one `go test` run and pairs them up.
func runCodec(ctx context.Context, goTool string) ([]codecPair, error) {
	cmd := exec.CommandContext(ctx, goTool, "test", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", strconv.Itoa(codecCount), codecPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w: %s%s", codecPackage, err, out, stderr.Bytes())
	}
	results := parseBench(string(out))
	pairs := codecPairs()
	for i, p := range pairs {
		var ok1, ok2 bool
		pairs[i].oursR, ok1 = results[p.ours]
		pairs[i].theirR, ok2 = results[p.theirs]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("go test -bench %s: no results for Benchmark%s and Benchmark%s in:\n%s", codecPackage, p.ours, p.theirs, out)
		}
	}
	return pairs, nil
}

// benchLine matches a `go test -bench -benchmem` result line:
//
//	BenchmarkUnmarshalReply-2   3512317   501.8 ns/op   0 B/op   0 allocs/op
var benchLine = regexp.MustCompile(`(?m)^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// parseBench returns the results by benchmark name, without "Benchmark"
// and the GOMAXPROCS suffix; of a benchmark run several times (-count), the
// run with the median time.
func parseBench(out string) map[string]benchResult {
	runs := map[string][]benchResult{}
	for _, m := range benchLine.FindAllStringSubmatch(out, -1) {
		// The pattern admits only numbers here.
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		allocs, _ := strconv.ParseInt(m[4], 10, 64)
		runs[m[1]] = append(runs[m[1]], benchResult{nsPerOp: ns, bytesPerOp: b, allocsPerOp: allocs})
	}
	results := map[string]benchResult{}
	for name, rs := range runs {
		slices.SortFunc(rs, func(a, b benchResult) int { return cmp.Compare(a.nsPerOp, b.nsPerOp) })
		results[name] = rs[(len(rs)-1)/2]
	}
	return results
}
