package store

import (
	"fmt"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/sampling/tail"
)

// Tail sampling in the store.
//
// With Options.Tail set, Append writes every batch to the WAL and shows it
// to the Observer as before, but hands it to the sampler instead of the
// head. The sampler keeps only the WAL position of each record with spans
// of undecided traces. decideLoop asks it, every tick, which traces are
// decided, reads the records of the kept ones back, and appends their spans
// to the head. The WAL is truncated only before the oldest record that an
// undecided trace, or the current head, still needs (truncateBound), so
// held spans survive a crash; at Open they are offered to the sampler
// again.

const decideInterval = 100 * time.Millisecond

func (db *DB) decideLoop() {
	defer db.wg.Done()
	t := time.NewTicker(decideInterval)
	defer t.Stop()
	var buf []byte
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		var err error
		if buf, err = db.decide(buf); err != nil {
			db.log.Error("tail sampling: store kept traces", "err", err)
			db.lastError.Store(err.Error())
		}
	}
}

// decide applies one round of tail sampling decisions.
func (db *DB) decide(buf []byte) ([]byte, error) {
	ts := db.opts.Tail
	b := ts.Decide()
	if b.Empty() {
		return buf, nil
	}
	var kept []model.Span
	var size int64
	var firstErr error
	src := -1
	r := db.wal.NewReader()
	for _, rd := range b.Reads {
		rec, err := r.Read(rd.Pos, buf)
		if err == nil {
			buf = rec
			// Most spans of a record belong to dropped traces: only the
			// kept ones are decoded.
			var spans []model.Span
			var n int
			if spans, n, err = model.DecodeBatchFilter(rec, func(id model.TraceID) bool { return rd.Traces[id] != nil }, tail.AnnotateAttrs); err == nil {
				for i := range spans {
					rd.Traces[spans[i].TraceID].Annotate(&spans[i])
				}
				kept = append(kept, spans...)
				size += int64(len(rec)) * int64(len(spans)) / int64(max(n, 1))
				if src < 0 || rd.Pos.Segment < src {
					src = rd.Pos.Segment
				}
			}
		}
		if err != nil && firstErr == nil {
			// The record passed its checksum when written; losing it now
			// means the disk lost it. Keep going with the others.
			firstErr = fmt.Errorf("read back held spans at WAL segment %d offset %d: %w", rd.Pos.Segment, rd.Pos.Offset, err)
		}
	}
	r.Close()
	db.mu.RLock()
	h := db.head
	if len(kept) > 0 {
		h.Append(kept, size)
		db.observeKept(kept)
		db.tailMu.Lock()
		db.headSrcSeg = min(db.headSrcSeg, src)
		db.tailMu.Unlock()
	}
	ts.Release(b)
	db.mu.RUnlock()
	db.m.spansStored.Add(float64(len(kept)))
	if h.Len() >= db.opts.HeadMaxSpans {
		db.requestFlush()
	}
	return buf, firstErr
}

// TailStats returns the tail sampler's counters; ok is false when tail
// sampling is off.
func (db *DB) TailStats() (tail.Stats, bool) {
	if db.opts.Tail == nil {
		return tail.Stats{}, false
	}
	return db.opts.Tail.Stats(), true
}
