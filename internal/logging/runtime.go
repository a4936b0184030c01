package logging

import (
	"log/slog"
	"runtime"
)

// Runtime logs the process's runtime figures (SIGUSR1): goroutines and
// heap, which a soak test compares at its start and end, and where the Go
// runtime's memory goes, which bench/ reads beside /proc/PID/smaps.
func Runtime(log *slog.Logger) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	log.Info("runtime", "goroutines", runtime.NumGoroutine(), "heap_bytes", m.HeapAlloc,
		"heap_objects", m.HeapObjects, "sys_bytes", m.Sys, memoryClasses(&m))
}

// memoryClasses groups the runtime's mapped memory by use, in bytes:
// spans holding objects (live, or garbage not yet swept), free spans still
// mapped, goroutine stacks, and the runtime's own structures (span and
// cache metadata, GC bitmaps and work buffers, profiling buckets, other).
// Mapped is not resident: pages never touched cost nothing.
func memoryClasses(m *runtime.MemStats) slog.Attr {
	return slog.Group("mem",
		"heap_inuse", m.HeapInuse,
		"heap_free", m.HeapIdle-m.HeapReleased,
		"stacks", m.StackInuse,
		"runtime", m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys,
		"gc_cycles", m.NumGC)
}
