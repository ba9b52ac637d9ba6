package part

import (
	"container/heap"
	"fmt"
)

// Merge writes the spans of inputs, which must not be modified or closed
// during the call, as one part at path. It is a k-way merge by (trace ID,
// start), ties in input order, through a Writer, so memory stays bounded by
// one decoded granule per input plus the Writer's. Exact duplicates (same
// trace, start, span ID and encoding, as when a client resent a batch that
// landed in several parts) are written once. The inputs stay open.
func Merge(path string, inputs []*Reader, opts WriteOptions) (*Meta, error) {
	w, err := Create(path, opts)
	if err != nil {
		return nil, err
	}
	h := make(iterHeap, 0, len(inputs))
	defer func() {
		for _, it := range h {
			it.Close()
		}
	}()
	for i, r := range inputs {
		it := &mergeIter{Iter: r.Iter(), input: i}
		if it.Next() {
			h = append(h, it)
		} else if err := it.Err(); err != nil {
			w.Abort()
			return nil, fmt.Errorf("merge %s: read %s: %w", path, r.Path(), err)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		it := h[0]
		if err := w.Add(it.Span()); err != nil {
			w.Abort()
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		if it.Next() {
			heap.Fix(&h, 0)
			continue
		}
		if err := it.Err(); err != nil {
			w.Abort()
			return nil, fmt.Errorf("merge %s: read %s: %w", path, inputs[it.input].Path(), err)
		}
		heap.Pop(&h)
	}
	return w.Finish()
}

type mergeIter struct {
	*Iter
	input int
}

type iterHeap []*mergeIter

func (h iterHeap) Len() int { return len(h) }
func (h iterHeap) Less(i, j int) bool {
	if c := Compare(h[i].Span(), h[j].Span()); c != 0 {
		return c < 0
	}
	return h[i].input < h[j].input
}
func (h iterHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)   { *h = append(*h, x.(*mergeIter)) }
func (h *iterHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
