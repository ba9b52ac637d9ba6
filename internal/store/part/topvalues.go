package part

import (
	"cmp"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// topValues estimates the most frequent values per attribute key with the
// Space-Saving algorithm (Metwally et al.) with randomized admission: per
// key at most capacity counters; once they are all in use, a new value
// replaces a least counted one, and inherits its count, only with
// probability weight/(min count+weight). Memory is bounded by
// maxTopKeys*capacity entries.
//
// The hot path (add) costs one probe of a small open-addressing table keyed
// by a fast (AES-based) hash of the value: no Go map, no heap. The minimum
// for an eviction is found with a cursor over the entries (see evictee),
// amortised O(1). Each entry also keeps the value's token hash (xxh64 of
// key=value), so the Writer hashes a tracked value for its token filter only
// when the value is new.
type topValues struct {
	n        int // values kept per key in the footer
	capacity int // counters per key
	keys     map[string]*topKey
	order    []*topKey
	seed     maphash.Seed
	buf      []byte
	rng      uint64   // state of rand
	scratch  topEntry // entry returned for a value not admitted
}

// rand returns the next number of a fixed sequence (splitmix64): a
// Writer's output depends only on its input.
func (t *topValues) rand() uint64 {
	t.rng += 0x9e3779b97f4a7c15
	z := t.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

type topKey struct {
	key     string
	arena   []byte // the values' bytes (entries' strings alias it)
	garbage int    // bytes of arena no entry uses
	entries []topEntry
	slots   []int32 // open addressing by topEntry.vhash: entry index+1, 0 = empty
	// Every entry before cursor counts more than minCount, and no entry
	// counts less than minCount.
	minCount int64
	cursor   int
}

type topEntry struct {
	value string
	vhash uint64 // maphash of value
	token uint64 // token hash of key=value
	count int64
	gen   uint32 // Writer token generation that last saw this value
}

func newTopValues(n int) *topValues {
	return &topValues{n: n, capacity: max(4*n, 16), keys: map[string]*topKey{}, seed: maphash.MakeSeed()}
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
	k := &topKey{key: strings.Clone(key), slots: make([]int32, 16), minCount: math.MaxInt64}
	t.keys[k.key] = k
	t.order = append(t.order, k)
	return k
}

// add counts value w more times and returns its entry, valid until the
// next add on k (nil if k is nil: the key is not tracked). value may alias
// memory the caller reuses: it is cloned when stored.
func (t *topValues) add(k *topKey, value string, w int64) *topEntry {
	if k == nil {
		return nil
	}
	vh := maphash.String(t.seed, value)
	mask := uint64(len(k.slots) - 1)
	i := vh & mask
	for {
		e := k.slots[i]
		if e == 0 {
			break
		}
		if en := &k.entries[e-1]; en.vhash == vh && en.value == value {
			en.count += w
			return en
		}
		i = (i + 1) & mask
	}
	t.buf = append(append(append(t.buf[:0], k.key...), '='), value...)
	en := topEntry{vhash: vh, token: bloom.Hash(t.buf), count: w}
	if len(k.entries) >= t.capacity {
		// Randomized admission: the new value replaces a least counted
		// one only with probability w/(min+w), else it is not tracked
		// (its entry is a scratch copy, valid until the next add).
		// High-cardinality keys (IDs, URLs with IDs) then churn through
		// the counters far less, and the most frequent values are found
		// as reliably (Ben Basat et al., "Randomized Admission Policy for
		// Efficient Top-k and Frequency Estimation", 2017).
		if m := k.entries[k.evictee()].count; t.rand()%uint64(m+w) >= uint64(w) {
			t.scratch = en
			return &t.scratch
		}
	}
	if len(k.entries) < t.capacity {
		en.value = k.store(value)
		k.entries = append(k.entries, en)
		idx := len(k.entries) - 1
		if w < k.minCount {
			k.minCount = w
		}
		if 2*len(k.entries) > len(k.slots) {
			k.grow()
		} else {
			k.slots[i] = int32(idx + 1)
		}
		return &k.entries[idx]
	}
	// Replace a minimum.
	idx := k.evictee()
	old := &k.entries[idx]
	k.deleteSlot(old.vhash, idx)
	en.count += old.count
	k.garbage += len(old.value)
	*old = en
	old.value = k.store(value)
	k.insertSlot(vh, idx)
	return old
}

// store copies v into the arena and returns the copy. When most of the
// arena is garbage it first compacts it into a new one (strings of the old
// one stay valid: they keep it alive until no entry refers to it).
func (k *topKey) store(v string) string {
	if len(k.arena)+len(v) > cap(k.arena) && k.garbage > len(k.arena)/2 {
		arena := make([]byte, 0, 2*(len(k.arena)-k.garbage)+len(v)+256)
		for i := range k.entries {
			e := &k.entries[i]
			if len(e.value) == 0 {
				continue
			}
			start := len(arena)
			arena = append(arena, e.value...)
			e.value = unsafe.String(unsafe.SliceData(arena[start:]), len(e.value))
		}
		k.arena, k.garbage = arena, 0
	}
	if len(k.arena)+len(v) > cap(k.arena) {
		// Grow by hand: the old array stays referenced by entries.
		arena := make([]byte, len(k.arena), 2*cap(k.arena)+len(v)+256)
		copy(arena, k.arena)
		for i := range k.entries {
			e := &k.entries[i]
			if len(e.value) == 0 {
				continue // may point anywhere
			}
			off := int(uintptr(unsafe.Pointer(unsafe.StringData(e.value))) - uintptr(unsafe.Pointer(unsafe.SliceData(k.arena))))
			e.value = unsafe.String(unsafe.SliceData(arena[off:]), len(e.value))
		}
		k.arena = arena
	}
	start := len(k.arena)
	k.arena = append(k.arena, v...)
	return unsafe.String(unsafe.SliceData(k.arena[start:]), len(v))
}

// evictee returns the index of an entry with the minimum count.
func (k *topKey) evictee() int {
	for {
		for ; k.cursor < len(k.entries); k.cursor++ {
			if k.entries[k.cursor].count == k.minCount {
				return k.cursor
			}
		}
		m := int64(math.MaxInt64)
		for i := range k.entries {
			m = min(m, k.entries[i].count)
		}
		k.minCount, k.cursor = m, 0
	}
}

func (k *topKey) grow() {
	k.slots = make([]int32, 2*len(k.slots))
	for i := range k.entries {
		k.insertSlot(k.entries[i].vhash, i)
	}
}

func (k *topKey) insertSlot(h uint64, idx int) {
	mask := uint64(len(k.slots) - 1)
	i := h & mask
	for k.slots[i] != 0 {
		i = (i + 1) & mask
	}
	k.slots[i] = int32(idx + 1)
}

// deleteSlot removes the slot of entry idx, whose hash is h, by
// backward-shift deletion.
func (k *topKey) deleteSlot(h uint64, idx int) {
	mask := uint64(len(k.slots) - 1)
	i := h & mask
	for k.slots[i] != int32(idx+1) {
		i = (i + 1) & mask
	}
	for {
		k.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			e := k.slots[j]
			if e == 0 {
				return
			}
			home := k.entries[e-1].vhash & mask
			// The entry at j may move to i unless its home slot lies
			// cyclically in (i, j].
			if i <= j && (home <= i || home > j) || i > j && home <= i && home > j {
				k.slots[i] = e
				i = j
				break
			}
		}
	}
}

// result returns the top values per key, sorted by key; values most
// frequent first, ties by value.
func (t *topValues) result() []KeyValues {
	out := make([]KeyValues, 0, len(t.order))
	for _, k := range t.order {
		if len(k.entries) == 0 {
			continue // reserved by a span or resource that was not written
		}
		vals := make([]ValueCount, len(k.entries))
		for i, e := range k.entries {
			vals[i] = ValueCount{Value: strings.Clone(e.value), Count: e.count}
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
