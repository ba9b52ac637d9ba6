// Package head holds the most recent spans in memory, searchable as soon as
// they are appended, until the store writes them to an immutable part.
package head

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

type ref struct{ batch, idx int32 }

// Head is an append-only in-memory block. It is safe for concurrent use:
// appends, trace lookups and scans may run at the same time. Appended spans
// are owned by the head and never modified.
type Head struct {
	mu       sync.RWMutex
	batches  [][]model.Span
	byTrace  map[model.TraceID][]ref
	spans    int
	bytes    int64
	minStart int64
	maxStart int64
	created  time.Time
}

// New returns an empty head.
func New(now time.Time) *Head {
	return &Head{byTrace: map[model.TraceID][]ref{}, minStart: math.MaxInt64, maxStart: math.MinInt64, created: now}
}

// Append adds spans; the head takes ownership of the slice. size is the
// caller's estimate of the batch's memory (the store uses its WAL record
// length).
func (h *Head) Append(spans []model.Span, size int64) {
	if len(spans) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := int32(len(h.batches))
	h.batches = append(h.batches, spans)
	for i := range spans {
		s := &spans[i]
		h.byTrace[s.TraceID] = append(h.byTrace[s.TraceID], ref{b, int32(i)})
		h.minStart = min(h.minStart, s.Start)
		h.maxStart = max(h.maxStart, s.Start)
	}
	h.spans += len(spans)
	h.bytes += size
}

// Len returns the number of spans.
func (h *Head) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.spans
}

// Bytes returns the accumulated size estimate.
func (h *Head) Bytes() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.bytes
}

// Created returns when the head was created.
func (h *Head) Created() time.Time { return h.created }

// Bounds implements query.Block.
func (h *Head) Bounds() (int64, int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.minStart, h.maxStart
}

// Trace returns copies of the trace's spans (shallow: attribute slices are
// shared and immutable), nil if none.
func (h *Head) Trace(id model.TraceID) []model.Span {
	h.mu.RLock()
	defer h.mu.RUnlock()
	refs := h.byTrace[id]
	if len(refs) == 0 {
		return nil
	}
	out := make([]model.Span, len(refs))
	for i, r := range refs {
		out[i] = h.batches[r.batch][r.idx]
	}
	return out
}

// MayContain reports whether the head has spans of the trace.
func (h *Head) MayContain(id model.TraceID) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byTrace[id]) > 0
}

func (h *Head) snapshot() [][]model.Span {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clip(h.batches)
}

// Batches returns every span, in append order, as the batches appended.
// Call it only once the head no longer receives appends (the store seals
// it before flushing). The slices are the head's: read them only.
func (h *Head) Batches() [][]model.Span { return h.snapshot() }

// Each calls fn for every span from the from-th on (in append order)
// until fn returns false, and returns the number of spans it went past
// (from plus those visited).
func (h *Head) Each(from int, fn func(*model.Span) bool) int {
	n := 0
	for _, batch := range h.snapshot() {
		if n+len(batch) <= from {
			n += len(batch)
			continue
		}
		for i := max(0, from-n); i < len(batch); i++ {
			if !fn(&batch[i]) {
				return n + i
			}
		}
		n += len(batch)
	}
	return n
}

// Scan implements query.Block. Spans are fully decoded already, so pre and
// fn see the same span.
func (h *Head) Scan(ctx context.Context, f *query.Filter, pre, fn func(*model.Span) bool) error {
	for bi, batch := range h.snapshot() {
		if bi%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for i := range batch {
			s := &batch[i]
			if f.MinStart != 0 && s.Start < f.MinStart || f.MaxStart != 0 && s.Start > f.MaxStart {
				continue
			}
			if d := s.End - s.Start; f.MinDuration != 0 && d < f.MinDuration || f.MaxDuration != 0 && d > f.MaxDuration {
				continue
			}
			if len(f.Services) > 0 && !slices.Contains(f.Services, s.Service()) {
				continue
			}
			if pre(s) && !fn(s) {
				return nil
			}
		}
	}
	return nil
}
