package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The plot: two panels side by side, in hand-written SVG.
const (
	plotWidth   = 960
	plotHeight  = 360
	panelTop    = 50
	panelBottom = 300 // y of the x axes
	labelWidth  = 190 // left of each panel, for the row labels
	leftX0      = labelWidth + 10
	leftX1      = 560
	rightX0     = leftX1 + labelWidth - 40
	rightX1     = plotWidth - 30
)

// palette colours the clients in both panels alike; the Go floor is grey.
func palette() []string { return []string{"#1b9e77", "#66a61e", "#d95f02", "#7570b3", "#888888"} }

// plot draws the time-to-prefix samples of every client on a log scale
// (left) and memory while bound (right).
func plot(res results) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotWidth, plotHeight)
	plotTimes(&b, res)
	plotMemory(&b, res)
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555" font-size="11">%s, %d CPUs, Linux %s, %s, %s</text>`+"\n",
		plotHeight-10, esc(res.machine.cpuModel), res.machine.cpus, esc(res.machine.kernel), res.machine.goVersion,
		res.machine.date.Format("2006-01-02"))
	b.WriteString("</svg>\n")
	return b.String()
}

// rowY is the centre of row i of n between panelTop and panelBottom.
func rowY(i, n int) float64 {
	h := float64(panelBottom-panelTop) / float64(n)
	return panelTop + h*(float64(i)+0.5)
}

func plotTimes(b *strings.Builder, res results) {
	fmt.Fprintf(b, `<text x="%d" y="25" font-size="14" font-weight="bold">Time to prefix: exec to first address on lan0 (%d cold starts)</text>`+"\n",
		10, res.settings.runs)
	// A log axis over whole decades around all samples.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range res.coldStarts {
		lo = math.Min(lo, math.Floor(math.Log10(msOf(c.toPrefix.min()))))
		hi = math.Max(hi, math.Ceil(math.Log10(msOf(c.toPrefix.max()))))
	}
	if len(res.coldStarts) == 0 { // not run (-only): an empty axis, 1 ms to 1 s
		lo, hi = 0, 3
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(d time.Duration) float64 {
		return leftX0 + (math.Log10(msOf(d))-lo)/(hi-lo)*(leftX1-leftX0)
	}
	axis(b, leftX0, leftX1)
	for e := lo; e <= hi; e++ {
		tx := leftX0 + (e-lo)/(hi-lo)*(leftX1-leftX0)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", tx, panelTop, tx, panelBottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", tx, panelBottom+16, decadeLabel(e))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">milliseconds (log scale); bar: median, tick: p95</text>`+"\n",
		(leftX0+leftX1)/2, panelBottom+34)
	colors := palette()
	for i, c := range res.coldStarts {
		y := rowY(i, len(res.coldStarts))
		color := colors[i%len(colors)]
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", leftX0-8, y, esc(c.client))
		for j, d := range c.toPrefix {
			// Spread the dots over five lanes so that equal times stay visible.
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s" fill-opacity="0.6"/>`+"\n", x(d), y+float64(j%5-2)*4, color)
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-width="2"/>`+"\n",
			x(c.toPrefix.median()), y-14, x(c.toPrefix.median()), y+14)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n",
			x(c.toPrefix.p95()), y-8, x(c.toPrefix.p95()), y+8)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" dominant-baseline="middle" font-size="11">%s</text>`+"\n",
			x(c.toPrefix.max())+8, y, ms(c.toPrefix.median()))
	}
}

func plotMemory(b *strings.Builder, res results) {
	fmt.Fprintf(b, `<text x="%d" y="25" font-size="14" font-weight="bold">Memory while bound, all processes</text>`+"\n", rightX0-labelWidth+50)
	type bar struct {
		label string
		mem   memory
		color string
	}
	colors := palette()
	var bars []bar
	for i, c := range res.coldStarts {
		bars = append(bars, bar{c.client, c.mem, colors[i%len(colors)]})
	}
	bars = append(bars, bar{fmt.Sprintf("Go floor (%d)", floorProcs), res.floor, colors[len(colors)-1]})
	var top int64
	for _, br := range bars {
		top = max(top, br.mem.RSS)
	}
	topMiB := math.Ceil(float64(top)/1024/5) * 5 // gridlines every 5 MiB
	x := func(kb int64) float64 { return rightX0 + float64(kb)/1024/topMiB*(rightX1-rightX0) }
	axis(b, rightX0, rightX1)
	for v := 0.0; v <= topMiB; v += 5 {
		tx := x(int64(v * 1024))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", tx, panelTop, tx, panelBottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>`+"\n", tx, panelBottom+16, v)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">MiB; dark: PSS, light: RSS</text>`+"\n", (rightX0+rightX1)/2, panelBottom+34)
	for i, br := range bars {
		y := rowY(i, len(bars))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", rightX0-8, y, esc(br.label))
		fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%.1f" height="18" fill="%s" fill-opacity="0.3"/>`+"\n",
			rightX0, y-9, x(br.mem.RSS)-rightX0, br.color)
		fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%.1f" height="18" fill="%s"/>`+"\n", rightX0, y-9, x(br.mem.PSS)-rightX0, br.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" dominant-baseline="middle" font-size="11">%.1f / %.1f</text>`+"\n",
			x(br.mem.RSS)+4, y, float64(br.mem.PSS)/1024, float64(br.mem.RSS)/1024)
	}
}

// axis draws a panel's x axis.
func axis(b *strings.Builder, x0, x1 int) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0, panelBottom, x1, panelBottom)
}

func msOf(d time.Duration) float64 { return math.Max(float64(d)/float64(time.Millisecond), 0.01) }

// decadeLabel prints 10^e milliseconds: 0.1, 1, 10, 100, 1000.
func decadeLabel(e float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", math.Pow(10, e)), "0"), ".")
}

// esc escapes text for SVG.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
