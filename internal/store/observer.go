package store

import "github.com/ariadne-tracing/ariadne/internal/model"

// Observer derives data from the spans the store keeps (the metrics
// pipeline, package pipeline). The store drives it so that what it derived
// is durable exactly when the spans are:
//
//   - Recover is called once at Open, after the parts are loaded and before
//     the WAL is replayed; committed(seq) reports whether part seq (or a
//     part merged from it) exists.
//   - Observe sees every batch once it is in the WAL, under the store's
//     read lock, and every batch replayed from the WAL at Open. It must
//     not keep or modify the spans.
//   - Seal is called under the store's write lock when the head is cut for
//     a flush: what Observe saw since the previous Seal belongs to that
//     head.
//   - Prepare(seq) is called before that head is written as part seq (again
//     with a new seq if a failed flush is retried); an error fails the
//     flush, which is retried.
//   - Commit(seq) is called once part seq is in place, before the WAL
//     segments it covers are dropped.
type Observer interface {
	Recover(committed func(seq uint64) bool) error
	Observe(spans []model.Span)
	Seal()
	Prepare(seq uint64) error
	Commit(seq uint64) error
}

// KeptObserver is an Observer that also takes the spans of the traces tail
// sampling kept, when they reach the head (its exemplars come from them:
// pipeline.Config.KeptExemplars).
type KeptObserver interface {
	ObserveKept(spans []model.Span)
}

// observeKept passes kept spans to the Observer if it takes them. Called
// under db.mu's read lock, with the head append, so that they go with the
// same cut.
func (db *DB) observeKept(spans []model.Span) {
	if ko, ok := db.opts.Observer.(KeptObserver); ok && len(spans) > 0 {
		ko.ObserveKept(spans)
	}
}

// partCommitted reports whether a live part is seq or was merged from it.
func (db *DB) partCommitted(seq uint64) bool {
	for _, p := range db.parts {
		if p.seq == seq {
			return true
		}
		for _, r := range p.r.Meta().Replaces {
			if r == seq {
				return true
			}
		}
	}
	return false
}
