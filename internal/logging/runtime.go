package logging

import (
	"log/slog"
	"runtime"
)

// Runtime logs the process's runtime figures (SIGUSR1): goroutines and
// heap, which a soak test compares at its start and end.
func Runtime(log *slog.Logger) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	log.Info("runtime", "goroutines", runtime.NumGoroutine(), "heap_bytes", m.HeapAlloc,
		"heap_objects", m.HeapObjects, "sys_bytes", m.Sys)
}
