package part

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"unsafe"
)

// The values column (format version 2) holds a granule's distinct string
// attribute values, grouped by attribute key; the attrs column refers to a
// value by its position in its key's group. Most string values repeat
// within a granule (service names, methods, statements, the user of a
// trace), so this removes most of the bytes zstd would otherwise have to
// find again, and lets the Writer compute tokens and top values once per
// distinct (key, value) per granule rather than once per span.

// valueDict is the value dictionary of the granule a Writer is filling:
// one entry per distinct (key ref, string value), in first-use order, each
// with its position in its key's group (local). Entries before mark are
// used by spans committed to the granule; the others only by the pending
// trace, which moves to the next granule if it does not fit (see rebase).
type valueDict struct {
	seed  maphash.Seed
	slots []int32 // open addressing by valueEnt.hash: entry index+1, 0 = empty
	valueStore
	mark      int // entries of committed spans
	markBytes int // len(data) at mark
	// gen changes whenever entry indexes are reused for other values, so
	// that caches of indexes (attrMemo, mergeInput) can tell they are stale.
	gen uint32

	spare valueStore // the previous contents, during rebase
	remap []int32    // previous index -> new index+1, during rebase
	keys  []uint32   // scratch for column
}

// valueStore holds the entries of a valueDict.
type valueStore struct {
	data     []byte // the values' bytes, in entry order
	ents     []valueEnt
	byKey    [][]int32 // by key ref: entry indexes in local order
	keysUsed []uint32  // key refs with entries, in first-use order
}

type valueEnt struct {
	off   uint32 // value bytes are data[off : off+n]
	n     uint32
	key   uint32 // attribute key ref (dictionary index+1, never 0)
	local uint32 // position in the key's group, from 1
	count uint32 // span attributes referring to the entry
	hash  uint64
}

func newValueDict() valueDict {
	return valueDict{seed: maphash.MakeSeed(), slots: make([]int32, 1024), gen: 1}
}

func (d *valueDict) hash(key uint32, v string) uint64 {
	return maphash.String(d.seed, v) ^ uint64(key)*golden64
}

// value returns the bytes of entry i.
func (s *valueStore) value(i int) []byte {
	e := &s.ents[i]
	return s.data[e.off : e.off+e.n : e.off+e.n]
}

// str returns the value of entry i as a string aliasing the store: valid,
// and unchanged, as long as valueDict.gen is.
func (s *valueStore) str(i int) string {
	e := &s.ents[i]
	return unsafe.String(unsafe.SliceData(s.data[e.off:]), e.n)
}

// find returns the entry of key with local position v, or -1.
func (s *valueStore) find(key uint32, v uint64) int {
	if int(key) >= len(s.byKey) || v == 0 || v > uint64(len(s.byKey[key])) {
		return -1
	}
	return int(s.byKey[key][v-1])
}

// clear empties the store, keeping its memory.
func (s *valueStore) clear() {
	for _, k := range s.keysUsed {
		s.byKey[k] = s.byKey[k][:0]
	}
	s.keysUsed = s.keysUsed[:0]
	s.data, s.ents = s.data[:0], s.ents[:0]
}

// ref returns the index of (key, v), adding it if needed, and counts a use;
// -1 if the dictionary is full. v is copied.
func (d *valueDict) ref(key uint32, v string) int {
	h := d.hash(key, v)
	mask := uint64(len(d.slots) - 1)
	i := h & mask
	for {
		s := d.slots[i]
		if s == 0 {
			break
		}
		if e := &d.ents[s-1]; e.hash == h && e.key == key && string(d.data[e.off:e.off+e.n]) == v {
			e.count++
			return int(s - 1)
		}
		i = (i + 1) & mask
	}
	if len(d.ents) >= maxGranuleValues {
		return -1
	}
	for int(key) >= len(d.byKey) {
		d.byKey = append(d.byKey, nil)
	}
	if len(d.byKey[key]) == 0 {
		d.keysUsed = append(d.keysUsed, key)
	}
	idx := len(d.ents)
	d.byKey[key] = append(d.byKey[key], int32(idx))
	d.ents = append(d.ents, valueEnt{off: uint32(len(d.data)), n: uint32(len(v)), key: key, local: uint32(len(d.byKey[key])), count: 1, hash: h})
	d.data = append(d.data, v...)
	if 2*len(d.ents) > len(d.slots) {
		d.rehash(2 * len(d.slots))
	} else {
		d.slots[i] = int32(idx + 1)
	}
	return idx
}

func (d *valueDict) rehash(size int) {
	if cap(d.slots) >= size {
		d.slots = d.slots[:size]
		clear(d.slots)
	} else {
		d.slots = make([]int32, size)
	}
	mask := uint64(size - 1)
	for idx := range d.ents {
		i := d.ents[idx].hash & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = int32(idx + 1)
	}
}

// pendingBytes returns the bytes of the entries not yet committed.
func (d *valueDict) pendingBytes() int { return len(d.data) - d.markBytes }

// commit marks every entry as used by committed spans.
func (d *valueDict) commit() { d.mark, d.markBytes = len(d.ents), len(d.data) }

// truncate removes entries n and after (added by a span that was then
// dropped; no other span refers to them).
func (d *valueDict) truncate(n int) {
	if n >= len(d.ents) {
		return
	}
	for i := len(d.ents) - 1; i >= n; i-- { // last first: locals decrease
		e := &d.ents[i]
		d.byKey[e.key] = d.byKey[e.key][:e.local-1]
	}
	for len(d.keysUsed) > 0 && len(d.byKey[d.keysUsed[len(d.keysUsed)-1]]) == 0 {
		d.keysUsed = d.keysUsed[:len(d.keysUsed)-1]
	}
	d.data = d.data[:d.ents[n].off]
	d.ents = d.ents[:n]
	d.rehash(len(d.slots))
	d.gen++
}

// reset empties the dictionary.
func (d *valueDict) reset() {
	d.clear()
	clear(d.slots)
	d.mark, d.markBytes = 0, 0
	d.gen++
}

// column appends the values column of the committed entries: uvarint
// number of groups, then per key ref in increasing order: uvarint key ref,
// uvarint count and the values as strings, in local order. (Committed
// entries of a key have the locals 1..n; pending ones come after.)
func (d *valueDict) column(dst []byte) []byte {
	keys := d.keys[:0]
	for _, k := range d.keysUsed {
		if int(d.byKey[k][0]) < d.mark {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	d.keys = keys
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		idx := d.byKey[k]
		n := len(idx)
		for n > 0 && int(idx[n-1]) >= d.mark {
			n--
		}
		dst = binary.AppendUvarint(dst, uint64(k))
		dst = binary.AppendUvarint(dst, uint64(n))
		for _, i := range idx[:n] {
			v := d.value(int(i))
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return dst
}

// rebase empties the dictionary after its granule was written and re-adds
// the entries the pending trace uses, rewriting its attrs rows (rows, with
// spans starting at the offsets in starts, which are updated); shapes are
// the Writer's. It returns the new rows in dst.
func (d *valueDict) rebase(dst, rows []byte, starts []uint32, shapes *shapeTable, buf []uint64) ([]byte, error) {
	d.spare, d.valueStore = d.valueStore, d.spare
	d.clear()
	old := &d.spare
	clear(d.slots)
	d.mark, d.markBytes = 0, 0
	d.gen++
	if cap(d.remap) < len(old.ents) {
		d.remap = make([]int32, len(old.ents))
	}
	remap := d.remap[:len(old.ents)]
	clear(remap)
	for si := range starts {
		src := rows[starts[si]:]
		starts[si] = uint32(len(dst))
		var err error
		dst, _, err = walkAttrsRow(dst, src, shapes, buf, true, func(dst []byte, key uint32, v uint64) ([]byte, bool) {
			i := old.find(key, v)
			if i < 0 {
				return dst, false
			}
			if r := remap[i]; r != 0 {
				d.ents[r-1].count++
				return binary.AppendUvarint(dst, uint64(d.ents[r-1].local)), true
			}
			idx := d.ref(key, old.str(i))
			remap[i] = int32(idx + 1)
			return binary.AppendUvarint(dst, uint64(d.ents[idx].local)), true
		})
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// uncount undoes the counts of the references in attrs rows.
func (d *valueDict) uncount(rows []byte, shapes *shapeTable, buf []uint64) {
	for len(rows) > 0 {
		_, n, err := walkAttrsRow(nil, rows, shapes, buf, false, func(dst []byte, key uint32, v uint64) ([]byte, bool) {
			if i := d.find(key, v); i >= 0 {
				d.ents[i].count--
			}
			return dst, true
		})
		if err != nil || n == 0 {
			return // cannot happen: the Writer wrote rows
		}
		rows = rows[n:]
	}
}

var errBadRow = fmt.Errorf("bad attribute encoding")

const typeStr = 1 // model.TypeStr

// skipStringAt returns the position after the string at b[p:], or -1.
func skipStringAt(b []byte, p int) int {
	n, q := uvarint(b, p)
	if q < 0 || n > uint64(len(b)-q) {
		return -1
	}
	return q + int(n)
}

// skipValueAt returns the position after a value of type t (not a version
// 2 string) at b[p:], or -1.
func skipValueAt(b []byte, p int, t byte) int {
	switch t {
	case 0: // empty
		return p
	case 2: // bool
		if p >= len(b) {
			return -1
		}
		return p + 1
	case 3: // int
		_, k := binary.Varint(b[p:])
		if k <= 0 {
			return -1
		}
		return p + k
	case 4: // double
		if len(b)-p < 8 {
			return -1
		}
		return p + 8
	default: // string (version 1), bytes, array, map
		return skipStringAt(b, p)
	}
}

// valueTable is a granule's values column as a reader sees it.
type valueTable struct {
	v1     bool // version 1 part: string values are inline, there is no table
	data   []byte
	ents   []valueSpan
	groups []valueGroup // by key ref
	strs   []string     // decoded values, "" until first used
}

type valueSpan struct{ start, end uint32 }

// valueGroup locates a key's values in ents: ents[start : start+n].
type valueGroup struct{ start, n uint32 }

// parse reads a values column; keys is the number of attribute keys in
// the part's dictionary.
func (t *valueTable) parse(col []byte, v1 bool, keys int) error {
	t.v1, t.data = v1, col
	t.ents = t.ents[:0]
	clear(t.groups)
	clear(t.strs)
	t.strs = t.strs[:0]
	if v1 {
		if len(col) != 0 {
			return fmt.Errorf("values column in a version 1 part")
		}
		return nil
	}
	if cap(t.groups) < keys+1 {
		t.groups = make([]valueGroup, keys+1)
	}
	t.groups = t.groups[:keys+1]
	ng, p := uvarint(col, 0)
	if p < 0 || ng > uint64(keys) {
		return fmt.Errorf("bad group count")
	}
	prev := uint64(0)
	for g := uint64(0); g < ng; g++ {
		var key, n uint64
		if key, p = uvarint(col, p); p < 0 || key <= prev || key > uint64(keys) {
			return fmt.Errorf("bad group %d key", g)
		}
		prev = key
		if n, p = uvarint(col, p); p < 0 || n == 0 || n > uint64(len(col)-p) {
			return fmt.Errorf("bad group %d count", g)
		}
		t.groups[key] = valueGroup{uint32(len(t.ents)), uint32(n)}
		for ; n > 0; n-- {
			var l uint64
			if l, p = uvarint(col, p); p < 0 || l > uint64(len(col)-p) {
				return fmt.Errorf("bad value in group %d", g)
			}
			t.ents = append(t.ents, valueSpan{uint32(p), uint32(p + int(l))})
			p += int(l)
		}
	}
	if p != len(col) {
		return fmt.Errorf("trailing bytes")
	}
	if cap(t.strs) < len(t.ents) {
		t.strs = make([]string, len(t.ents))
	}
	t.strs = t.strs[:len(t.ents)]
	return nil
}

// index returns the entry index of value v (≥ 1) of key ref key, or -1.
func (t *valueTable) index(key uint32, v uint64) int {
	if int(key) >= len(t.groups) {
		return -1
	}
	g := t.groups[key]
	if v == 0 || v > uint64(g.n) {
		return -1
	}
	return int(g.start) + int(v) - 1
}

// str returns entry i as a string, shared by every span of the granule
// that uses it.
func (t *valueTable) str(i int) string {
	s := t.strs[i]
	if s == "" {
		e := t.ents[i]
		if e.start == e.end {
			return ""
		}
		s = string(t.data[e.start:e.end])
		t.strs[i] = s
	}
	return s
}

// bytes returns entry i, aliasing the column.
func (t *valueTable) bytes(i int) []byte {
	e := t.ents[i]
	return t.data[e.start:e.end:e.end]
}
