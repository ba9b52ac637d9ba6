//go:build unix

package otlp

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU reports the process CPU time (user+system, all threads,
// GC included) per item since start, a figure that, unlike ns/op, does
// not grow when other processes compete for the CPU.
func reportCPU(b *testing.B, start time.Duration, items int) {
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N*items), "cpu-ns/span")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
