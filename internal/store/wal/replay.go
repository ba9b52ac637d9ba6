package wal

import (
	"fmt"
	"os"
)

// CorruptionError describes a segment that is not intact from Offset on: a
// torn or partial record, a bad length or checksum, or garbage after the last
// good record. Replay repairs it by truncating the segment at Offset.
type CorruptionError struct {
	Segment int   // segment index
	Offset  int64 // end of the last intact record (0: the header is damaged)
	Err     error // what was wrong
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal segment %d corrupt at offset %d: %v", e.Segment, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// ReplayStats says what Replay read and what it dropped.
type ReplayStats struct {
	Segments     int                // segments read
	Records      int                // records passed to fn
	Bytes        int64              // payload bytes passed to fn
	DroppedBytes int64              // bytes truncated away by repairs
	Corruptions  []*CorruptionError // one per repaired segment
}

// Replay calls fn for every intact record of the segments that existed when
// the WAL was opened, in append order (oldest segment first). rec is valid
// only during the call; fn must copy what it keeps.
//
// A segment that is not intact to its end (a torn tail from a crash, a bad
// checksum, garbage) is replayed up to its last intact record, truncated
// there, and Replay goes on with the next segment. Each repair is logged,
// counted in Metrics.Corruptions and reported in ReplayStats; it is not an
// error. A segment whose header is damaged is reset to an empty segment.
//
// Replay stops and returns an error if fn does, if a segment cannot be read
// or repaired, or if a segment has a format version this build cannot read
// (ErrUnsupportedVersion; nothing is changed then). Calling Replay again
// replays the same records; repairs are idempotent.
func (w *WAL) Replay(fn func(rec []byte) error) (ReplayStats, error) {
	return w.ReplayPos(func(_ Pos, rec []byte) error { return fn(rec) })
}

// ReplayPos is Replay that also passes each record's position, which
// ReadRecord accepts.
func (w *WAL) ReplayPos(fn func(p Pos, rec []byte) error) (ReplayStats, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	var st ReplayStats
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return st, ErrClosed
	}

	w.segMu.Lock()
	var segs []segment
	for _, s := range w.segs {
		if s.index < w.replayEnd {
			segs = append(segs, s)
		}
	}
	w.segMu.Unlock()

	sr := newSegmentReader()
	for i, s := range segs {
		size, ce, err := w.replaySegment(sr, s.index, fn, &st)
		if err != nil {
			return st, err
		}
		st.Segments++
		if ce == nil {
			continue
		}
		dropped := size - ce.Offset
		newSize, err := repairSegment(segmentPath(w.opts.Dir, s.index), ce.Offset)
		if err != nil {
			return st, fmt.Errorf("repair %w: %w", ce, err)
		}
		st.DroppedBytes += dropped
		st.Corruptions = append(st.Corruptions, ce)
		w.m.corruption()
		w.setSegmentSize(s.index, newSize)
		msg := "wal: truncated torn or corrupt segment tail"
		if i < len(segs)-1 {
			msg = "wal: truncated corrupt segment, continuing with the next one"
		}
		w.log.Warn(msg, "dir", w.opts.Dir, "segment", s.index, "offset", ce.Offset,
			"dropped_bytes", dropped, "reason", ce.Err)
	}
	return st, nil
}

// replaySegment reads one segment. It returns the segment's size and, if it
// is not intact, where the damage starts.
func (w *WAL) replaySegment(sr *segmentReader, idx int, fn func(Pos, []byte) error, st *ReplayStats) (int64, *CorruptionError, error) {
	f, err := os.Open(segmentPath(w.opts.Dir, idx))
	if err != nil {
		return 0, nil, fmt.Errorf("replay wal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("replay wal: %w", err)
	}
	err = sr.read(f, fi.Size(), idx, fn, st)
	if ce, ok := err.(*CorruptionError); ok {
		return fi.Size(), ce, nil
	}
	return fi.Size(), nil, err
}

func (w *WAL) setSegmentSize(idx int, size int64) {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	for i := range w.segs {
		if w.segs[i].index == idx {
			w.segs[i].size = size
		}
	}
}
