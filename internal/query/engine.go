package query

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Filter is what a Block can use to skip data that cannot match. A block
// may return spans that do not satisfy the filter (pruning is best effort);
// it must never skip a span that does.
type Filter struct {
	MinStart, MaxStart       int64    // span start, inclusive; 0 = unbounded
	MinDuration, MaxDuration int64    // span duration, inclusive; 0 = unbounded
	Services                 []string // span's service is one of these; nil = any
	// Tokens must all be present among the attributes of the span, its
	// resource, scope, events and links: "key" for a key, "key=value" for a
	// string, int or bool value (ints in decimal, bools as true/false).
	Tokens []string
	// Complete says that the caller's pre will accept most spans that
	// satisfy the rest of the filter: a block may then read what completes
	// them ahead (in parallel) instead of when pre asks.
	Complete bool
}

// Block is one searchable unit of storage: the in-memory head or one part.
type Block interface {
	// Bounds returns the smallest and largest span start time in the block.
	Bounds() (minStart, maxStart int64)
	// Scan visits the block's spans that may satisfy f. pre sees a span
	// with its cheap fields (IDs, name, kind, status, times, resource,
	// scope); only when pre returns true is the span completed (attributes,
	// events, links) and passed to fn. fn returning false stops the scan.
	// Spans are only valid during the callbacks.
	Scan(ctx context.Context, f *Filter, pre, fn func(*model.Span) bool) error
}

// Storage is what the engine needs from a store.
type Storage interface {
	// Blocks returns a consistent snapshot of the searchable blocks; the
	// blocks stay readable until release is called.
	Blocks(ctx context.Context) (blocks []Block, release func(), err error)
	// Trace returns every stored span of a trace (nil if none). The caller
	// owns the result.
	Trace(ctx context.Context, id model.TraceID) ([]model.Span, error)
}

// CheapTracer is implemented by a Storage that can return a trace's spans
// with only their cheap fields (IDs, name, kind, status, times, resource,
// scope) faster than whole: all that summaries and trace-level conditions
// need. The engine then reads whole traces only for the results.
type CheapTracer interface {
	TraceCheap(ctx context.Context, id model.TraceID) ([]model.Span, error)
}

// Engine runs queries over a Storage.
type Engine struct {
	Storage Storage
}

// ErrTooManyCandidates is returned when a search would have to keep more
// candidate traces in memory than MaxCandidates.
var ErrTooManyCandidates = errors.New("search matched too many traces to order; narrow the time range or add filters")

// MaxCandidates bounds the candidate traces kept by one search.
const MaxCandidates = 2_000_000

// Result is one trace found by a search, with its spans (complete, unless
// the query asked for SummariesOnly).
type Result struct {
	Summary Summary
	Spans   []model.Span
}

type candidate struct {
	id    model.TraceID
	upper int64 // the earliest start seen among the trace's matching spans: an upper bound of the trace start
}

// Search returns the most recent matching traces, newest first (by trace
// start, ties by trace ID), at most q.Limit. q must have been validated.
//
// Blocks are visited newest first. A trace's start is never later than the
// start of any of its spans, so once Limit traces are confirmed and the
// next block's newest span starts before the oldest confirmed trace, no
// later block can contribute and the search stops.
func (e *Engine) Search(ctx context.Context, q *Query) ([]Result, error) {
	blocks, release, err := e.Storage.Blocks(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	slices.SortFunc(blocks, func(a, b Block) int {
		_, am := a.Bounds()
		_, bm := b.Bounds()
		return cmp.Compare(bm, am)
	})
	f := q.filter()
	needFull := len(q.Conds) > 0
	f.Complete = needFull

	cands := map[model.TraceID]int64{}
	done := map[model.TraceID]bool{}
	var results []Result
	oldest := func() int64 { // start of the Limit-th result, or MinInt64
		if len(results) < q.Limit {
			return -1 << 63
		}
		return results[len(results)-1].Summary.Start
	}
	for bi, b := range blocks {
		_, maxStart := b.Bounds()
		if maxStart < oldest() {
			break
		}
		if !q.Start.IsZero() && maxStart < q.Start.UnixNano() {
			continue
		}
		if min, _ := b.Bounds(); !q.End.IsZero() && min > q.End.UnixNano() {
			continue
		}
		add := func(s *model.Span) bool {
			if done[s.TraceID] {
				return true
			}
			if u, ok := cands[s.TraceID]; !ok || s.Start < u {
				cands[s.TraceID] = s.Start
			}
			return len(cands) < MaxCandidates
		}
		pre := func(s *model.Span) bool {
			if done[s.TraceID] || !q.matchCheap(s) {
				return false
			}
			if !needFull {
				add(s)
				return false
			}
			if u, ok := cands[s.TraceID]; ok && u <= s.Start {
				return false // already a candidate with an earlier matching span
			}
			return true
		}
		fn := func(s *model.Span) bool {
			if q.MatchSpan(s) {
				return add(s)
			}
			return true
		}
		if err := b.Scan(ctx, &f, pre, fn); err != nil {
			return nil, err
		}
		if len(cands) >= MaxCandidates {
			return nil, ErrTooManyCandidates
		}
		// Resolve candidates that no later block can beat: those whose
		// upper bound is at least the next block's newest start.
		next := int64(-1 << 63)
		if bi+1 < len(blocks) {
			_, next = blocks[bi+1].Bounds()
		}
		if err := e.resolve(ctx, q, cands, done, &results, next); err != nil {
			return nil, err
		}
	}
	if err := e.resolve(ctx, q, cands, done, &results, -1<<63); err != nil {
		return nil, err
	}
	if _, cheap := e.Storage.(CheapTracer); cheap && q.TraceMatch == nil {
		for i := range results {
			results[i].Spans = nil
			if q.SummariesOnly {
				continue
			}
			spans, err := e.Storage.Trace(ctx, results[i].Summary.TraceID)
			if err != nil {
				return nil, err
			}
			results[i].Spans = spans
		}
	}
	return results, nil
}

// traceForResolve reads a candidate trace: only its cheap fields when the
// storage can and the query has no TraceMatch (which may look at anything).
func (e *Engine) traceForResolve(ctx context.Context, q *Query, id model.TraceID) ([]model.Span, error) {
	if ct, ok := e.Storage.(CheapTracer); ok && q.TraceMatch == nil {
		return ct.TraceCheap(ctx, id)
	}
	return e.Storage.Trace(ctx, id)
}

// resolve fetches candidates in descending order of their upper bound while
// they can still enter the top Limit, verifies trace-level predicates and
// inserts them into results (kept sorted newest first, at most Limit).
func (e *Engine) resolve(ctx context.Context, q *Query, cands map[model.TraceID]int64, done map[model.TraceID]bool, results *[]Result, floor int64) error {
	if len(cands) == 0 {
		return nil
	}
	list := make([]candidate, 0, len(cands))
	for id, u := range cands {
		if u >= floor {
			list = append(list, candidate{id, u})
		}
	}
	slices.SortFunc(list, func(a, b candidate) int {
		if c := cmp.Compare(b.upper, a.upper); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	for _, c := range list {
		if len(*results) >= q.Limit && c.upper < (*results)[len(*results)-1].Summary.Start {
			// Neither this nor any later candidate can enter the top Limit.
			for _, rest := range list {
				if rest.upper < (*results)[len(*results)-1].Summary.Start {
					delete(cands, rest.id)
					done[rest.id] = true
				}
			}
			return nil
		}
		delete(cands, c.id)
		done[c.id] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		spans, err := e.traceForResolve(ctx, q, c.id)
		if err != nil {
			return err
		}
		if len(spans) == 0 || !q.MatchTrace(spans) {
			continue
		}
		sum := Summarize(spans)
		r := Result{Summary: sum}
		if !q.SummariesOnly {
			r.Spans = spans
		}
		i, _ := slices.BinarySearchFunc(*results, r, compareResults)
		*results = slices.Insert(*results, i, r)
		if len(*results) > q.Limit {
			*results = (*results)[:q.Limit]
		}
	}
	return nil
}

func compareResults(a, b Result) int {
	if c := cmp.Compare(b.Summary.Start, a.Summary.Start); c != 0 {
		return c
	}
	return bytes.Compare(a.Summary.TraceID[:], b.Summary.TraceID[:])
}

func (q *Query) filter() Filter {
	var f Filter
	if !q.Start.IsZero() {
		f.MinStart = q.Start.UnixNano()
	}
	if !q.End.IsZero() {
		f.MaxStart = q.End.UnixNano()
	}
	if q.DurationLevel == LevelSpan {
		f.MinDuration, f.MaxDuration = int64(q.MinDuration), int64(q.MaxDuration)
	}
	if q.Service != "" {
		f.Services = []string{q.Service}
	}
	for _, c := range q.Conds {
		// Every operator, negations included, needs the key to exist.
		f.Tokens = append(f.Tokens, c.Key)
		// A non-numeric value can only equal a string or bool attribute,
		// which the token filters index by value.
		if c.Op == OpEq && !c.isNum {
			f.Tokens = append(f.Tokens, c.Key+"="+c.Value)
		}
	}
	return f
}
