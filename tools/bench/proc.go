package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const userHZ = 100

// procSample is one reading of a process.
type procSample struct {
	cpu time.Duration // user + system, since the process started
	rss int64         // VmRSS, bytes
	hwm int64         // VmHWM (peak RSS), bytes
}

// readProc reads CPU time from /proc/<pid>/stat and VmRSS and VmHWM from
// /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may contain spaces;
	// fields after it start with field 3 (state). utime and stime are
	// fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	s.cpu = time.Duration(utime+stime) * time.Second / userHZ

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			s.rss = kb << 10
		} else {
			s.hwm = kb << 10
		}
	}
	return s, nil
}

// sampler reads a process every interval until stopped.
type sampler struct {
	stopc   chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples []procSample
	err     error
}

func startSampler(pid int, every time.Duration) *sampler {
	sm := &sampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-sm.stopc:
				return
			case <-t.C:
			}
			s, err := readProc(pid)
			sm.mu.Lock()
			if err != nil {
				sm.err = err
			} else {
				sm.samples = append(sm.samples, s)
			}
			sm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return sm
}

// stop ends sampling and returns the samples taken.
func (sm *sampler) stop() ([]procSample, error) {
	close(sm.stopc)
	<-sm.done
	return sm.samples, sm.err
}

// rssStats returns the median and maximum VmRSS of samples.
func rssStats(samples []procSample) (median, peak float64) {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = float64(s.rss)
		peak = max(peak, v[i])
	}
	return medianOf(v), peak
}

// selfCPU is the CPU time (user + system) of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// diskUsage is the apparent size (sum of file sizes, like du -b) of a data
// directory, split into parts/, wal/ and everything else.
type diskUsage struct {
	parts, wal, other int64
}

func (d diskUsage) total() int64 { return d.parts + d.wal + d.other }

func (d diskUsage) sub(o diskUsage) diskUsage {
	return diskUsage{d.parts - o.parts, d.wal - o.wal, d.other - o.other}
}

func measureDisk(dir string) (diskUsage, error) {
	var d diskUsage
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch top, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); top {
		case "parts":
			d.parts += info.Size()
		case "wal":
			d.wal += info.Size()
		default:
			d.other += info.Size()
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("measure %s: %w", dir, err)
	}
	return d, nil
}
