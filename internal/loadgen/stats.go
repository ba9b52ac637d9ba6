package loadgen

import (
	"math/bits"
	"sync"
	"time"
)

// histogram is a log-linear latency histogram over microseconds: exact
// below 16µs, then 16 buckets per power of two (at most ~6% error). Fixed
// size, so recording never allocates.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const histBuckets = 16 + 16*48

func histBucket(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	if us < 16 {
		return int(us)
	}
	shift := bits.Len64(us) - 5 // us>>shift is in [16, 32)
	b := 16 + shift*16 + int(us>>shift) - 16
	return min(b, histBuckets-1)
}

// histValue is the midpoint of bucket b.
func histValue(b int) time.Duration {
	if b < 16 {
		return time.Duration(b) * time.Microsecond
	}
	shift := (b - 16) / 16
	m := uint64(16 + (b-16)%16)
	lo := m << shift
	return time.Duration(lo+(uint64(1)<<shift)/2) * time.Microsecond
}

func (h *histogram) record(d time.Duration) {
	h.counts[histBucket(d)]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0 < q <= 1), or 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return histValue(i)
		}
	}
	return histValue(histBuckets - 1)
}

// counts are span and request counters over some period.
type counts struct {
	sent, accepted, rejected, refused, failed int64 // spans
	dropped                                   int64 // spans given up on after their last attempt
	requests, retries                         int64 // attempts, and how many of them were retries
	traces                                    int64 // traces in accepted requests
	bytes                                     int64 // encoded (uncompressed) request bytes
	lat                                       histogram
}

func (c *counts) add(o *counts) {
	c.sent += o.sent
	c.accepted += o.accepted
	c.rejected += o.rejected
	c.refused += o.refused
	c.failed += o.failed
	c.dropped += o.dropped
	c.requests += o.requests
	c.retries += o.retries
	c.traces += o.traces
	c.bytes += o.bytes
	c.lat.merge(&o.lat)
}

// stats collects attempt outcomes from all workers. A few hundred
// requests per second go through it, so one mutex is plenty.
type stats struct {
	mu      sync.Mutex
	cur     counts // since the last report
	lastErr string
}

func (s *stats) record(spans, traces, size int, retry bool, r exportResult, lat time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.cur
	c.requests++
	if retry {
		c.retries++
	}
	c.sent += int64(spans)
	c.bytes += int64(size)
	c.lat.record(lat)
	switch r.outcome {
	case outcomeOK:
		rej := min(max(r.rejected, 0), int64(spans))
		c.rejected += rej
		c.accepted += int64(spans) - rej
		c.traces += int64(traces)
	case outcomeRefused:
		c.refused += int64(spans)
	default:
		c.failed += int64(spans)
	}
	if r.err != nil {
		s.lastErr = r.err.Error()
	}
}

func (s *stats) drop(spans int) {
	s.mu.Lock()
	s.cur.dropped += int64(spans)
	s.mu.Unlock()
}

// take returns the counts since the previous call and resets them.
func (s *stats) take() (counts, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	s.cur = counts{}
	return c, s.lastErr
}
