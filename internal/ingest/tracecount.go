package ingest

import (
	"sync"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// traceCounter remembers how many spans were accepted for each of the
// last `capacity` trace IDs it saw first. When full, the trace seen first
// longest ago is forgotten (FIFO), so memory stays bounded and a trace
// whose spans keep arriving after `capacity` newer traces starts counting
// from zero again. See docs/ingest.md.
type traceCounter struct {
	mu       sync.Mutex
	capacity int
	counts   map[model.TraceID]uint32
	ring     []model.TraceID // keys of counts, in first-seen order from next
	next     int
}

func newTraceCounter(capacity int) *traceCounter {
	capacity = max(capacity, 1)
	return &traceCounter{capacity: capacity, counts: make(map[model.TraceID]uint32, min(capacity, 1024))}
}

// admit counts spans per trace and removes, in place, those past limit;
// it returns the kept spans (same order) and records the removed ones in
// over. Consecutive spans of the same trace cost one map lookup.
func (t *traceCounter) admit(spans []model.Span, limit uint32, over *overLimit) []model.Span {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := 0
	for i := 0; i < len(spans); {
		id := spans[i].TraceID
		j := i + 1
		for j < len(spans) && spans[j].TraceID == id {
			j++
		}
		n := t.lookup(id)
		allow := uint32(0)
		if n < limit {
			allow = min(uint32(j-i), limit-n)
		}
		t.counts[id] = n + allow
		for k := i; k < j; k++ {
			if uint32(k-i) < allow {
				if w != k {
					spans[w] = spans[k]
				}
				w++
				continue
			}
			if over.n < len(over.first) {
				over.first[over.n] = spans[k]
			}
			over.n++
		}
		i = j
	}
	clear(spans[w:])
	return spans[:w]
}

// lookup returns the count for id, starting to track id (and evicting
// the oldest tracked trace if full) when it is new.
func (t *traceCounter) lookup(id model.TraceID) uint32 {
	if n, ok := t.counts[id]; ok {
		return n
	}
	if len(t.ring) < t.capacity {
		if len(t.ring) == cap(t.ring) { // grow, but never past capacity
			ring := make([]model.TraceID, len(t.ring), min(max(2*cap(t.ring), 1024), t.capacity))
			copy(ring, t.ring)
			t.ring = ring
		}
		t.ring = append(t.ring, id)
	} else {
		delete(t.counts, t.ring[t.next])
		t.ring[t.next] = id
		t.next = (t.next + 1) % t.capacity
	}
	t.counts[id] = 0
	return 0
}

// forget subtracts spans from the counts of traces still tracked.
func (t *traceCounter) forget(spans []model.Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range spans {
		if n, ok := t.counts[spans[i].TraceID]; ok && n > 0 {
			t.counts[spans[i].TraceID] = n - 1
		}
	}
}
