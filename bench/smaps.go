package main

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory by what the pages hold (issue 13): /proc/PID/smaps by mapping, and
// for the program's own image, which sections its resident pages belong
// to, from /proc/PID/pagemap (which pages are present) and
// /proc/kpagecount (how many mappings share each), root only.

// pageKB is the size of a page in kB.
const pageKB = 4

// pageSize is the size of a page in bytes.
const pageSize = pageKB << 10

// breakdown is one process's PSS in kB by what the pages hold, and for the
// image's parts also their resident and total size.
type breakdown struct {
	// text, rodata and pclntab are the program's code, read-only data
	// and function tables (.gopclntab, which the runtime reads for stack
	// walks, tracebacks and the GC); imageOther the rest of its read-only
	// segments (build ids, type and itab links).
	text, rodata, pclntab, imageOther imagePart
	// data is the image's writable segment (.data, .noptrdata), copied
	// on write, with the zero-filled .bss and .noptrbss after it.
	data int64
	// stack is the main thread's stack ([stack]).
	stack int64
	// anon is every other anonymous mapping: the Go heap with the
	// goroutines' stacks and the runtime's own structures.
	anon int64
	// other is what is left: vdso, other files.
	other int64
}

// imagePart is a part of the program's image.
type imagePart struct {
	pss      float64 // kB
	resident int64   // kB present in this process
	size     int64   // kB
}

func (b breakdown) total() float64 {
	return b.text.pss + b.rodata.pss + b.pclntab.pss + b.imageOther.pss + float64(b.data+b.stack+b.anon+b.other)
}

// add sums two breakdowns' PSS (the image parts' sizes are not summed).
func (b breakdown) add(o breakdown) breakdown {
	sum := func(x, y imagePart) imagePart { return imagePart{pss: x.pss + y.pss} }
	return breakdown{text: sum(b.text, o.text), rodata: sum(b.rodata, o.rodata), pclntab: sum(b.pclntab, o.pclntab),
		imageOther: sum(b.imageOther, o.imageOther), data: b.data + o.data, stack: b.stack + o.stack,
		anon: b.anon + o.anon, other: b.other + o.other}
}

// mapping is one entry of /proc/PID/smaps.
type mapping struct {
	start, end uint64
	perm, path string
	pss        int64 // kB
}

// parseSmaps reads the mappings and their Pss from smaps text.
func parseSmaps(text string) ([]mapping, error) {
	var maps []mapping
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") && len(f) >= 5 {
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("parse smaps %q: %w", line, err)
			}
			m := mapping{start: start, end: end, perm: f[1]}
			if len(f) >= 6 {
				m.path = f[5]
			}
			maps = append(maps, m)
			continue
		}
		if f[0] == "Pss:" && len(f) == 3 && len(maps) > 0 {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse smaps %q: %w", line, err)
			}
			maps[len(maps)-1].pss = v
		}
	}
	if len(maps) == 0 {
		return nil, errors.New("parse smaps: no mappings")
	}
	return maps, nil
}

// section is an allocated ELF section of the image.
type section struct {
	name       string
	start, end uint64
}

func imageSections(path string) ([]section, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sections of %s: %w", path, err)
	}
	defer f.Close()
	var secs []section
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
			secs = append(secs, section{name: s.Name, start: s.Addr, end: s.Addr + s.Size})
		}
	}
	return secs, nil
}

// readBreakdown classifies pid's pages; exe is the path its image was
// mapped from.
func readBreakdown(pid int, exe string) (breakdown, error) {
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return breakdown{}, fmt.Errorf("read smaps of %d: %w", pid, err)
	}
	maps, err := parseSmaps(string(smaps))
	if err != nil {
		return breakdown{}, err
	}
	secs, err := imageSections(exe)
	if err != nil {
		return breakdown{}, err
	}
	pages, err := openPages(pid)
	if err != nil {
		return breakdown{}, err
	}
	defer pages.close()
	var b breakdown
	var dataEnd uint64
	for _, m := range maps {
		switch {
		case m.path == exe && !strings.Contains(m.perm, "w"):
			resident, pss, err := pages.scan(m.start, m.end)
			if err != nil {
				return breakdown{}, err
			}
			for i := range resident {
				part := b.imagePart(secs, m.start+uint64(i)*pageSize)
				part.size += pageKB
				if resident[i] {
					part.resident += pageKB
					part.pss += pss[i]
				}
			}
		case m.path == exe:
			b.data += m.pss
			dataEnd = m.end
		case m.path == "" && m.start == dataEnd:
			b.data += m.pss // .bss and .noptrbss follow .data
		case m.path == "[stack]":
			b.stack += m.pss
		case m.path == "" || strings.HasPrefix(m.path, "[anon"):
			b.anon += m.pss
		default:
			b.other += m.pss
		}
	}
	return b, nil
}

// imagePart returns the part of the image the page at addr belongs to:
// that of the section holding its first byte, else of the first section
// starting in it (a page between two sections counts once).
func (b *breakdown) imagePart(secs []section, addr uint64) *imagePart {
	name := ""
	for _, s := range secs {
		if s.start <= addr && addr < s.end {
			name = s.name
			break
		}
		if name == "" && addr <= s.start && s.start < addr+pageSize {
			name = s.name
		}
	}
	switch name {
	case ".text":
		return &b.text
	case ".rodata":
		return &b.rodata
	case ".gopclntab":
		return &b.pclntab
	}
	return &b.imageOther
}

// pageInfo reads a process's page table entries and the kernel's page
// map counts.
type pageInfo struct {
	pagemap, kpagecount *os.File
}

func openPages(pid int) (*pageInfo, error) {
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, fmt.Errorf("open pagemap: %w", err)
	}
	kc, err := os.Open("/proc/kpagecount")
	if err != nil {
		pm.Close()
		return nil, fmt.Errorf("open kpagecount: %w", err)
	}
	return &pageInfo{pagemap: pm, kpagecount: kc}, nil
}

func (p *pageInfo) close() {
	p.pagemap.Close()
	p.kpagecount.Close()
}

// scan returns, for each page from lo to hi, whether it is present and
// its PSS in kB (the page divided by the number of mappings of it).
func (p *pageInfo) scan(lo, hi uint64) ([]bool, []float64, error) {
	n := (hi - lo + pageSize - 1) / pageSize
	entries := make([]byte, 8*n)
	if _, err := p.pagemap.ReadAt(entries, int64(lo/pageSize*8)); err != nil {
		return nil, nil, fmt.Errorf("read pagemap: %w", err)
	}
	resident := make([]bool, n)
	pss := make([]float64, n)
	count := make([]byte, 8)
	for i := range n {
		e := binary.LittleEndian.Uint64(entries[8*i:])
		if e&(1<<63) == 0 {
			continue // not present
		}
		resident[i] = true
		pfn := e & (1<<55 - 1)
		if _, err := p.kpagecount.ReadAt(count, int64(pfn*8)); err != nil {
			return nil, nil, fmt.Errorf("read kpagecount: %w", err)
		}
		if c := binary.LittleEndian.Uint64(count); c > 0 {
			pss[i] = pageKB / float64(c)
		}
	}
	return resident, pss, nil
}

// roleBreakdowns reads the breakdown of each of dhcp6leased's processes,
// started from image, by role.
func roleBreakdowns(r *running, image string) (map[string]breakdown, error) {
	pids, err := rolePids(r)
	if err != nil {
		return nil, err
	}
	out := map[string]breakdown{}
	for role, pid := range pids {
		if out[role], err = readBreakdown(pid, image); err != nil {
			return nil, fmt.Errorf("pages of the %s: %w", role, err)
		}
	}
	return out, nil
}
