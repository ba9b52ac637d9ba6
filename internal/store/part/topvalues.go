package part

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
)

// topValues estimates the most frequent values per attribute key with the
// Space-Saving algorithm (Metwally et al.): per key at most capacity
// counters; a new value replaces the least counted one and inherits its
// count. Memory is bounded by maxTopKeys*capacity entries.
type topValues struct {
	n        int // values kept per key in the footer
	capacity int // counters per key
	keys     map[string]*topKey
	order    []*topKey
}

type topKey struct {
	key     string
	index   map[string]int // value -> position in heap
	entries []topEntry
}

type topEntry struct {
	value string
	count int64
}

func newTopValues(n int) *topValues {
	return &topValues{n: n, capacity: max(4*n, 16), keys: map[string]*topKey{}}
}

// key returns the counters of key, creating them if fewer than maxTopKeys
// keys are tracked; nil otherwise.
func (t *topValues) key(key string) *topKey {
	if t.n <= 0 {
		return nil
	}
	if k, ok := t.keys[key]; ok {
		return k
	}
	if len(t.keys) >= maxTopKeys {
		return nil
	}
	k := &topKey{key: strings.Clone(key), index: map[string]int{}}
	t.keys[k.key] = k
	t.order = append(t.order, k)
	return k
}

func (t *topValues) add(k *topKey, value string, w int64) {
	if k == nil || len(value) > maxTopValueLen {
		return
	}
	if i, ok := k.index[value]; ok {
		k.entries[i].count += w
		k.fix(i)
		return
	}
	if len(k.entries) < t.capacity {
		value = strings.Clone(value)
		k.entries = append(k.entries, topEntry{value: value, count: w})
		k.index[value] = len(k.entries) - 1
		k.fix(len(k.entries) - 1)
		return
	}
	// Replace the minimum.
	delete(k.index, k.entries[0].value)
	value = strings.Clone(value)
	k.entries[0] = topEntry{value: value, count: k.entries[0].count + w}
	k.index[value] = 0
	k.fix(0)
}

// fix restores the min-heap order after entries[i] changed.
func (k *topKey) fix(i int) { heap.Fix(k, i) }

// topKey implements heap.Interface (a min-heap by count, then by value
// descending so that ties evict the greatest value first), keeping index in
// sync. Push and Pop are not used.
func (k *topKey) Len() int { return len(k.entries) }
func (k *topKey) Less(i, j int) bool {
	a, b := &k.entries[i], &k.entries[j]
	if a.count != b.count {
		return a.count < b.count
	}
	return a.value > b.value
}
func (k *topKey) Swap(i, j int) {
	k.entries[i], k.entries[j] = k.entries[j], k.entries[i]
	k.index[k.entries[i].value] = i
	k.index[k.entries[j].value] = j
}
func (k *topKey) Push(any) { panic("part: topKey.Push") }
func (k *topKey) Pop() any { panic("part: topKey.Pop") }

// result returns the top values per key, sorted by key; values most
// frequent first, ties by value.
func (t *topValues) result() []KeyValues {
	out := make([]KeyValues, 0, len(t.order))
	for _, k := range t.order {
		vals := make([]ValueCount, len(k.entries))
		for i, e := range k.entries {
			vals[i] = ValueCount{Value: e.value, Count: e.count}
		}
		slices.SortFunc(vals, func(a, b ValueCount) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		})
		if len(vals) > t.n {
			vals = vals[:t.n]
		}
		out = append(out, KeyValues{Key: k.key, Values: vals})
	}
	slices.SortFunc(out, func(a, b KeyValues) int { return strings.Compare(a.Key, b.Key) })
	return out
}
