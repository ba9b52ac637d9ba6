package part

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// Encodings of the per-span values of the heavy columns and the helpers to
// decode or skip them. The byte layouts are in docs/format.md.

// keyDict assigns part-level indexes to attribute keys (first seen first)
// and keeps, per key, what the Writer needs for tokens and top values.
type keyDict struct {
	index map[string]uint32
	keys  []string
	info  []keyInfo
	cache strCache
}

type keyInfo struct {
	key     string
	hash    uint64  // token hash of the key
	gen     uint32  // token generation that last added hash
	top     *topKey // top-value counters (nil: not tracked)
	topDone bool    // top is set
	// Recent int and bool values (by value modulo numMemos) with their
	// token hashes and generations.
	nums [numMemos]numMemo
}

// numMemos is the number of numbers remembered per key: enough for small
// ranges (status codes, counts).
const numMemos = 8

type numMemo struct {
	ok   bool
	typ  model.ValueType
	gen  uint32
	num  uint64
	hash uint64
}

// ref returns the attrs-column ref of key: its dictionary index plus one,
// adding it if there is room, or 0 (stored inline). stable says whether
// key may be kept; otherwise it is cloned when added.
func (k *keyDict) ref(key string, stable bool) uint32 {
	if r := k.cache.get(key); r != 0 {
		return r
	}
	if i, ok := k.index[key]; ok {
		k.cache.put(k.keys[i], i+1)
		return i + 1
	}
	if len(k.keys) >= maxKeys || len(key) > maxNameLen {
		return 0
	}
	if !stable {
		key = strings.Clone(key)
	}
	i := uint32(len(k.keys))
	k.keys = append(k.keys, key)
	k.info = append(k.info, keyInfo{key: key, hash: bloom.HashString(key)})
	k.index[key] = i
	k.cache.put(key, i+1)
	return i + 1
}

// attrMemo remembers, for one attribute position of spans of one name and
// kind, the last key and string value there, so that spans of the same
// operation (same keys in the same order, often the same values) skip the
// key and value lookups. It holds the dictionaries' copies of the strings,
// which stay in cache, not the spans'.
//
// A caller that shares strings between spans passes the same pointers
// again: srcKey and srcVal, the caller's last strings, catch that without
// comparing bytes.
type attrMemo struct {
	key    string // keyDict.keys[ref-1]
	srcKey string
	ref    uint32 // key ref of key (0: memo empty)
	typ    model.ValueType
	val    string // valueDict.str(idx)
	srcVal string
	idx    int32  // value dictionary entry
	gen    uint32 // valueDict.gen idx and val are valid for (0: none)
}

// spanMemo holds the memos of spans of one name and kind: per attribute
// position, and the shape of the last one (index+1, 0: none), valid while
// every position matches its memo's ref and type and the count is n.
type spanMemo struct {
	attrs []attrMemo
	shape int32
	n     int
}

// same reports whether a and b are the same string in memory.
func same(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// Memos are kept for the first maxMemoNames span names and maxMemoAttrs
// attribute positions, bounding their memory.
const (
	maxMemoNames = 256
	maxMemoAttrs = 32
)

func appendValue(dst []byte, a *model.Attr) []byte {
	switch a.Type {
	case model.TypeEmpty:
	case model.TypeBool:
		dst = append(dst, byte(a.Num&1))
	case model.TypeInt:
		dst = binary.AppendVarint(dst, int64(a.Num))
	case model.TypeDouble:
		dst = binary.LittleEndian.AppendUint64(dst, a.Num)
	default:
		dst = model.AppendString(dst, a.Str)
	}
	return dst
}

// decodeAttrs decodes one span's attrs-column entry, appending to dst[:0].
func (gd *gdec) decodeAttrs(d *model.Decoder, dst []model.Attr) []model.Attr {
	dst = dst[:0]
	keys, vals := gd.dict.keys, &gd.vals
	if vals.v1 {
		n := d.Count(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			tag := d.Uvarint()
			a, ok := decodeAttr(d, tag, keys, vals)
			if !ok {
				return dst
			}
			dst = append(dst, a)
		}
		return dst
	}
	tags, ok := gd.shape(d)
	if !ok {
		return dst
	}
	for _, tag := range tags {
		a, ok := decodeAttr(d, tag, keys, vals)
		if !ok || d.Err() != nil {
			return dst
		}
		dst = append(dst, a)
	}
	return dst
}

// shape reads the shape at the start of a version 2 attrs entry.
func (gd *gdec) shape(d *model.Decoder) ([]uint64, bool) {
	s := d.Uvarint()
	if s != 0 {
		tags, ok := gd.dict.shapes.get(s)
		if !ok {
			fail(d)
		}
		return tags, ok
	}
	n := d.Count(1)
	gd.tagBuf = gd.tagBuf[:0]
	for i := 0; i < n && d.Err() == nil; i++ {
		gd.tagBuf = append(gd.tagBuf, d.Uvarint())
	}
	return gd.tagBuf, d.Err() == nil
}

// decodeAttr decodes the key (if inline) and value of an attribute with
// tag (ref<<3 | type).
func decodeAttr(d *model.Decoder, tag uint64, keys []string, vals *valueTable) (model.Attr, bool) {
	var a model.Attr
	a.Type = model.ValueType(tag & 7)
	ref := tag >> 3
	switch {
	case ref == 0:
		a.Key = d.String()
	case ref-1 < uint64(len(keys)):
		a.Key = keys[ref-1]
	default:
		fail(d)
		return a, false
	}
	switch a.Type {
	case model.TypeEmpty:
	case model.TypeBool:
		a.Num = uint64(d.Byte() & 1)
	case model.TypeInt:
		a.Num = uint64(d.Varint())
	case model.TypeDouble:
		if b := d.Bytes(8); b != nil {
			a.Num = binary.LittleEndian.Uint64(b)
		}
	case model.TypeStr:
		if vals.v1 {
			a.Str = d.String()
			break
		}
		v := d.Uvarint()
		if v == 0 {
			a.Str = d.String()
			break
		}
		i := vals.index(uint32(ref), v)
		if i < 0 {
			fail(d)
			return a, false
		}
		a.Str = vals.str(i)
	default:
		a.Str = d.String()
	}
	return a, true
}

// fail makes d fail (model.Decoder reports a short read for n < 0).
func fail(d *model.Decoder) { d.Bytes(-1) }

func skipString(d *model.Decoder) { d.Bytes(d.Count(1)) }

func skipValue(d *model.Decoder, t model.ValueType) {
	switch t {
	case model.TypeEmpty:
	case model.TypeBool:
		d.Byte()
	case model.TypeInt:
		d.Varint()
	case model.TypeDouble:
		d.Bytes(8)
	case model.TypeStr, model.TypeBytes, model.TypeArray, model.TypeMap:
		skipString(d)
	default:
		fail(d) // unknown type
	}
}

// skipAttrs skips one span's attrs-column entry, checking it.
func (gd *gdec) skipAttrs(d *model.Decoder) {
	vals := &gd.vals
	if vals.v1 {
		n := d.Count(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			tag := d.Uvarint()
			if tag>>3 == 0 {
				skipString(d)
			}
			skipValue(d, model.ValueType(tag&7))
		}
		return
	}
	tags, ok := gd.shape(d)
	if !ok {
		return
	}
	for _, tag := range tags {
		if d.Err() != nil {
			return
		}
		ref := tag >> 3
		if ref == 0 {
			skipString(d)
		} else if ref > uint64(len(gd.dict.keys)) {
			fail(d)
			return
		}
		if t := model.ValueType(tag & 7); t == model.TypeStr {
			if v := d.Uvarint(); v == 0 {
				skipString(d)
			} else if vals.index(uint32(ref), v) < 0 {
				fail(d)
			}
		} else {
			skipValue(d, t)
		}
	}
}

// skipModelAttrs skips a model.AppendAttrs encoding.
func skipModelAttrs(d *model.Decoder) {
	n := d.Count(2)
	for i := 0; i < n && d.Err() == nil; i++ {
		skipString(d)
		skipValue(d, model.ValueType(d.Byte()))
	}
}

// skipEvents skips a model.AppendEvents encoding.
func skipEvents(d *model.Decoder) {
	n := d.Count(4)
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Varint()
		skipString(d)
		skipModelAttrs(d)
		d.Uvarint()
	}
}

// skipLinks skips a model.AppendLinks encoding.
func skipLinks(d *model.Decoder) {
	n := d.Count(28)
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Bytes(24)
		skipString(d)
		d.Uvarint()
		skipModelAttrs(d)
		d.Uvarint()
	}
}

// appendMisc appends the misc-column encoding of s: trace state, flags,
// status message, dropped attribute, event and link counts.
func appendMisc(dst []byte, s *model.Span) []byte {
	dst = model.AppendString(dst, s.TraceState)
	dst = binary.AppendUvarint(dst, uint64(s.Flags))
	dst = model.AppendString(dst, s.StatusMessage)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedAttrs))
	dst = binary.AppendUvarint(dst, uint64(s.DroppedEvents))
	return binary.AppendUvarint(dst, uint64(s.DroppedLinks))
}

func decodeMisc(d *model.Decoder, s *model.Span) {
	s.TraceState = d.String()
	s.Flags = d.Uint32()
	s.StatusMessage = d.String()
	s.DroppedAttrs = d.Uint32()
	s.DroppedEvents = d.Uint32()
	s.DroppedLinks = d.Uint32()
}

func skipMisc(d *model.Decoder) {
	skipString(d)
	d.Uvarint()
	skipString(d)
	d.Uvarint()
	d.Uvarint()
	d.Uvarint()
}
