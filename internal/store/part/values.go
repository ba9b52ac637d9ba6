package part

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"unsafe"
)

// The values column (format version 2) holds a granule's distinct string
// attribute values; the attrs column refers to them by index. Most string
// values repeat within a granule (service names, methods, statements, the
// user of a trace), so this removes most of the bytes zstd would otherwise
// have to find again, and lets the Writer compute tokens and top values once
// per distinct (key, value) per granule rather than once per span.

// valueDict is the value dictionary of the granule a Writer is filling:
// one entry per distinct (key ref, string value), in first-use order.
// Entries before mark are used by spans committed to the granule; the
// others only by the pending trace, which moves to the next granule if it
// does not fit (see rebase).
type valueDict struct {
	seed      maphash.Seed
	data      []byte // the entries as strings: the values column after its count
	ents      []valueEnt
	slots     []int32 // open addressing by valueEnt.hash: entry index+1, 0 = empty
	mark      int     // entries of committed spans
	markBytes int     // len(data) at mark
	// gen changes whenever entry indexes are reused for other values, so
	// that caches of indexes (mergeSource) can tell they are stale.
	gen uint32

	spare valueDict2 // the previous contents, during rebase
	remap []int32    // previous index -> new index+1, during rebase
}

type valueDict2 struct {
	data []byte
	ents []valueEnt
}

type valueEnt struct {
	off   uint32 // value bytes are data[off : off+n]
	n     uint32
	key   uint32 // attribute key ref (dictionary index+1, never 0)
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
func (d *valueDict) value(i int) []byte {
	e := &d.ents[i]
	return d.data[e.off : e.off+e.n : e.off+e.n]
}

// str returns the value of entry i as a string aliasing the dictionary:
// valid, and unchanged, as long as gen is.
func (d *valueDict) str(i int) string {
	e := &d.ents[i]
	return unsafe.String(unsafe.SliceData(d.data[e.off:]), e.n)
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
	d.data = binary.AppendUvarint(d.data, uint64(len(v)))
	idx := len(d.ents)
	d.ents = append(d.ents, valueEnt{off: uint32(len(d.data)), n: uint32(len(v)), key: key, count: 1, hash: h})
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
	start := int(d.ents[n].off) - uvarintLen(uint64(d.ents[n].n))
	d.ents = d.ents[:n]
	d.data = d.data[:start]
	d.rehash(len(d.slots))
	d.gen++
}

// reset empties the dictionary.
func (d *valueDict) reset() {
	d.data, d.ents = d.data[:0], d.ents[:0]
	clear(d.slots)
	d.mark, d.markBytes = 0, 0
	d.gen++
}

// rebase empties the dictionary after its granule was written and re-adds
// the entries the pending trace uses, rewriting its attrs rows (rows, with
// spans starting at the offsets in starts, which are updated). It returns
// the new rows in dst.
func (d *valueDict) rebase(dst, rows []byte, starts []uint32) ([]byte, error) {
	d.spare.data, d.data = d.data, d.spare.data[:0]
	d.spare.ents, d.ents = d.ents, d.spare.ents[:0]
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
		dst, _, err = walkAttrsRow(dst, src, true, func(dst []byte, key uint32, v uint64) ([]byte, bool) {
			if v == 0 || v > uint64(len(old.ents)) {
				return dst, false
			}
			if r := remap[v-1]; r != 0 {
				d.ents[r-1].count++
				return binary.AppendUvarint(dst, uint64(r)), true
			}
			e := &old.ents[v-1]
			idx := d.ref(e.key, unsafe.String(unsafe.SliceData(old.data[e.off:]), e.n))
			remap[v-1] = int32(idx + 1)
			return binary.AppendUvarint(dst, uint64(idx+1)), true
		})
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// uncount undoes the counts of the references in attrs rows.
func (d *valueDict) uncount(rows []byte) {
	for len(rows) > 0 {
		_, n, err := walkAttrsRow(nil, rows, false, func(dst []byte, key uint32, v uint64) ([]byte, bool) {
			if v <= uint64(len(d.ents)) {
				d.ents[v-1].count--
			}
			return dst, true
		})
		if err != nil || n == 0 {
			return // cannot happen: the Writer wrote rows
		}
		rows = rows[n:]
	}
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// walkAttrsRow parses one span's entry in a version 2 attrs column (src
// starts with it) and, if copyOut, appends it to dst, calling ref for every
// value dictionary reference v (≥ 1) of a string attribute with key ref
// key; ref appends the reference to write instead and reports whether v
// was valid. It returns the length of the entry in src, or an error for a
// malformed one.
func walkAttrsRow(dst, src []byte, copyOut bool, ref func(dst []byte, key uint32, v uint64) ([]byte, bool)) ([]byte, int, error) {
	n, p := binary.Uvarint(src)
	if p <= 0 || n > uint64(len(src)) {
		return dst, 0, errBadRow
	}
	if copyOut {
		dst = append(dst, src[:p]...)
	}
	for ; n > 0; n-- {
		tag, k := binary.Uvarint(src[p:])
		if k <= 0 {
			return dst, 0, errBadRow
		}
		start := p
		p += k
		if tag>>3 == 0 {
			if p = skipStringAt(src, p); p < 0 {
				return dst, 0, errBadRow
			}
		}
		if tag&7 == uint64(typeStr) {
			v, k := binary.Uvarint(src[p:])
			if k <= 0 {
				return dst, 0, errBadRow
			}
			if copyOut {
				dst = append(dst, src[start:p]...)
			}
			p += k
			if v == 0 {
				vs := p
				if p = skipStringAt(src, p); p < 0 {
					return dst, 0, errBadRow
				}
				if copyOut {
					dst = append(dst, src[vs-k:p]...)
				}
				continue
			}
			var ok bool
			if dst, ok = ref(dst, uint32(tag>>3), v); !ok {
				return dst, 0, errBadRow
			}
			continue
		}
		if p = skipValueAt(src, p, byte(tag&7)); p < 0 {
			return dst, 0, errBadRow
		}
		if copyOut {
			dst = append(dst, src[start:p]...)
		}
	}
	return dst, p, nil
}

var errBadRow = fmt.Errorf("bad attribute encoding")

const typeStr = 1 // model.TypeStr, as a byte

// skipStringAt returns the position after the string at b[p:], or -1.
func skipStringAt(b []byte, p int) int {
	n, k := binary.Uvarint(b[p:])
	if k <= 0 || n > uint64(len(b)-p-k) {
		return -1
	}
	return p + k + int(n)
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
	v1   bool // version 1 part: string values are inline, there is no table
	data []byte
	ents []valueSpan
	strs []string // decoded values, "" until first used
}

type valueSpan struct{ start, end uint32 }

// parse reads a values column.
func (t *valueTable) parse(col []byte, v1 bool) error {
	t.v1, t.data = v1, col
	t.ents = t.ents[:0]
	clear(t.strs)
	t.strs = t.strs[:0]
	if v1 {
		if len(col) != 0 {
			return fmt.Errorf("values column in a version 1 part")
		}
		return nil
	}
	n, p := binary.Uvarint(col)
	if p <= 0 || n > uint64(len(col)) {
		return fmt.Errorf("bad value count")
	}
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(col[p:])
		if k <= 0 || l > uint64(len(col)-p-k) {
			return fmt.Errorf("bad value %d", i)
		}
		p += k
		t.ents = append(t.ents, valueSpan{uint32(p), uint32(p + int(l))})
		p += int(l)
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

// str returns value v (≥ 1) as a string, shared by every span of the
// granule that uses it.
func (t *valueTable) str(v uint64) (string, bool) {
	if v == 0 || v > uint64(len(t.ents)) {
		return "", false
	}
	s := t.strs[v-1]
	if s == "" {
		e := t.ents[v-1]
		if e.start == e.end {
			return "", true
		}
		s = string(t.data[e.start:e.end])
		t.strs[v-1] = s
	}
	return s, true
}

// bytes returns value v (≥ 1), aliasing the column.
func (t *valueTable) bytes(v uint64) ([]byte, bool) {
	if v == 0 || v > uint64(len(t.ents)) {
		return nil, false
	}
	e := t.ents[v-1]
	return t.data[e.start:e.end:e.end], true
}
