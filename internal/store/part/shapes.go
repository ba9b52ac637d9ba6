package part

import (
	"encoding/binary"
	"fmt"
)

// A span's attribute "shape" (format version 2) is the sequence of its
// attributes' tags, uvarint(key ref<<3 | type). Spans of one operation
// share their shape, so the attrs column stores a shape index per span and
// then only the values; the part's shapes are in the dictionary block.

// maxShapes bounds the shape table; spans with other shapes store theirs
// inline.
const maxShapes = 1 << 16

// shapeTable holds shapes as lists of tags.
type shapeTable struct {
	tags []uint64
	off  []uint32 // shape k is tags[off[k]:off[k+1]]; len(off) = shapes+1
}

func (t *shapeTable) reset() {
	t.tags = t.tags[:0]
	t.off = append(t.off[:0], 0)
}

func (t *shapeTable) len() int { return len(t.off) - 1 }

func (t *shapeTable) add(tags []uint64) {
	if len(t.off) == 0 {
		t.off = append(t.off, 0)
	}
	t.tags = append(t.tags, tags...)
	t.off = append(t.off, uint32(len(t.tags)))
}

// get returns shape s-1 (s ≥ 1).
func (t *shapeTable) get(s uint64) ([]uint64, bool) {
	if s == 0 || s >= uint64(len(t.off)) {
		return nil, false
	}
	return t.tags[t.off[s-1]:t.off[s]], true
}

// parse reads n shapes as encoded in the dictionary block (uvarint count
// and that many uvarint tags each) from b[p:] and returns the position
// after them.
func (t *shapeTable) parse(b []byte, p int, n uint64) (int, error) {
	t.reset()
	for i := uint64(0); i < n; i++ {
		var m uint64
		if m, p = uvarint(b, p); p < 0 || m > uint64(len(b)) {
			return -1, fmt.Errorf("bad shape %d", i)
		}
		for ; m > 0; m-- {
			var tag uint64
			if tag, p = uvarint(b, p); p < 0 {
				return -1, fmt.Errorf("bad shape %d", i)
			}
			t.tags = append(t.tags, tag)
		}
		t.off = append(t.off, uint32(len(t.tags)))
	}
	return p, nil
}

// shapeDict is the Writer's shape table: the shapes, their dictionary
// block encoding, and an index by encoding.
type shapeDict struct {
	shapeTable
	enc   []byte // concatenated encodings, in index order
	index map[string]uint32
}

func newShapeDict() shapeDict {
	d := shapeDict{index: map[string]uint32{}}
	d.reset()
	return d
}

// lookup returns the index of the shape whose encoding (uvarint count, then
// the tags) is enc and whose tags are tags, adding it if there is room;
// -1 if there is not.
func (d *shapeDict) lookup(enc []byte, tags []uint64) int {
	if i, ok := d.index[string(enc)]; ok {
		return int(i)
	}
	if d.len() >= maxShapes {
		return -1
	}
	i := d.len()
	d.index[string(enc)] = uint32(i)
	d.enc = append(d.enc, enc...)
	d.add(tags)
	return i
}

// appendShape appends the encoding of tags.
func appendShape(dst []byte, tags []uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(tags)))
	for _, t := range tags {
		dst = binary.AppendUvarint(dst, t)
	}
	return dst
}

// rowShape reads the shape at the start of a version 2 attrs entry src:
// the tags (from shapes, or inline, then appended to buf) and the position
// of the first value.
func rowShape(src []byte, shapes *shapeTable, buf []uint64) (tags []uint64, p int, err error) {
	s, p := uvarint(src, 0)
	if p < 0 {
		return nil, -1, errBadRow
	}
	if s != 0 {
		tags, ok := shapes.get(s)
		if !ok {
			return nil, -1, errBadRow
		}
		return tags, p, nil
	}
	n, p := uvarint(src, p)
	if p < 0 || n > uint64(len(src)) {
		return nil, -1, errBadRow
	}
	tags = buf[:0]
	for ; n > 0; n-- {
		var tag uint64
		if tag, p = uvarint(src, p); p < 0 {
			return nil, -1, errBadRow
		}
		tags = append(tags, tag)
	}
	return tags, p, nil
}

// walkAttrsRow parses the version 2 attrs entry at the start of src, whose
// shapes are in shapes, and, if copyOut, appends it to dst, calling ref for
// every value reference v (≥ 1) of a string attribute with key ref key;
// ref appends the reference to write instead and reports whether v was
// valid. It returns the length of the entry in src, or an error for a
// malformed one.
func walkAttrsRow(dst, src []byte, shapes *shapeTable, buf []uint64, copyOut bool, ref func(dst []byte, key uint32, v uint64) ([]byte, bool)) ([]byte, int, error) {
	tags, p, err := rowShape(src, shapes, buf)
	if err != nil {
		return dst, 0, err
	}
	if copyOut {
		dst = append(dst, src[:p]...)
	}
	for _, tag := range tags {
		start := p
		if tag>>3 == 0 {
			if p = skipStringAt(src, p); p < 0 {
				return dst, 0, errBadRow
			}
		}
		if tag&7 == typeStr {
			vpos := p
			var v uint64
			if v, p = uvarint(src, p); p < 0 {
				return dst, 0, errBadRow
			}
			if v == 0 {
				if p = skipStringAt(src, p); p < 0 {
					return dst, 0, errBadRow
				}
				if copyOut {
					dst = append(dst, src[start:p]...)
				}
				continue
			}
			if copyOut {
				dst = append(dst, src[start:vpos]...)
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
