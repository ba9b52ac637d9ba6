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

// cut is a range of spans, spans[from:to], that admit refused.
type cut struct{ from, to int }

// admit counts spans per trace and appends to cuts, in ascending order,
// the ranges of spans past limit; it does not modify spans. Consecutive
// spans of the same trace cost one map lookup.
func (t *traceCounter) admit(spans []model.Span, limit uint32, cuts []cut) []cut {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < len(spans); {
		id := spans[i].TraceID
		j := i + 1
		for j < len(spans) && spans[j].TraceID == id {
			j++
		}
		n := t.lookup(id)
		allow := 0
		if n < limit {
			allow = int(min(uint32(j-i), limit-n))
		}
		t.counts[id] = n + uint32(allow)
		if i+allow < j {
			cuts = append(cuts, cut{i + allow, j})
		}
		i = j
	}
	return cuts
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
