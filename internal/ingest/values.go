package ingest

import (
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// validUTF8 returns s with every run of invalid UTF-8 bytes replaced by
// one U+FFFD. It does not allocate when s is valid.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// truncUTF8 cuts the valid UTF-8 string s to at most n bytes without
// splitting a character.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// insertUvarint inserts the uvarint encoding of v at position at of dst.
func insertUvarint(dst []byte, at int, v uint64) []byte {
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], v)
	dst = append(dst, hdr[:h]...)
	copy(dst[at+h:], dst[at:len(dst)-h])
	copy(dst[at:], hdr[:h])
	return dst
}

// fillAttrs converts the attribute map m into out (len(out) <= m.Len()),
// keeping the first len(out) attributes in wire order. It records
// truncated keys in st.trunc and returns how many attributes were left
// out.
func (st *state) fillAttrs(out []model.Attr, m pcommon.Map) int {
	i := 0
	for k, v := range m.All() {
		if i == len(out) {
			break
		}
		st.attr(&out[i], k, v)
		i++
	}
	return m.Len() - i
}

// attr converts one attribute with sanitising and truncation.
func (st *state) attr(a *model.Attr, key string, v pcommon.Value) {
	key = validUTF8(key)
	max := st.lim.MaxAttrValueBytes
	*a = model.Attr{Key: key}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := validUTF8(v.Str())
		if len(s) > max {
			s = truncUTF8(s, max)
			st.trunc = append(st.trunc, key)
		}
		a.Type, a.Str = model.TypeStr, s
	case pcommon.ValueTypeBool:
		a.Type = model.TypeBool
		if v.Bool() {
			a.Num = 1
		}
	case pcommon.ValueTypeInt:
		a.Type, a.Num = model.TypeInt, uint64(v.Int())
	case pcommon.ValueTypeDouble:
		a.Type, a.Num = model.TypeDouble, math.Float64bits(v.Double())
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if len(b) > max {
			b = b[:max]
			st.trunc = append(st.trunc, key)
		}
		a.Type, a.Str = model.TypeBytes, string(b)
	case pcommon.ValueTypeSlice:
		var cut bool
		st.buf, cut = st.appendSlice(st.buf[:0], v.Slice(), max, 1)
		a.Type, a.Str = model.TypeArray, string(st.buf)
		if cut {
			st.trunc = append(st.trunc, key)
		}
	case pcommon.ValueTypeMap:
		var cut bool
		st.buf, cut = st.appendMap(st.buf[:0], v.Map(), max, 1)
		a.Type, a.Str = model.TypeMap, string(st.buf)
		if cut {
			st.trunc = append(st.trunc, key)
		}
	}
}

// appendSlice appends the model encoding of an array value (the format of
// model.AppendAttrs, elements with empty keys) using at most budget bytes.
// Elements that do not fit are dropped; cut reports any loss.
func (st *state) appendSlice(dst []byte, s pcommon.Slice, budget, depth int) (_ []byte, cut bool) {
	start := len(dst)
	n := s.Len()
	budget -= uvarintLen(uint64(n))
	kept := 0
	for i := range n {
		var c, fit bool
		dst, c, fit = st.appendElem(dst, "", s.At(i), budget-(len(dst)-start), depth)
		if !fit {
			cut = true
			break
		}
		cut = cut || c
		kept++
	}
	return insertUvarint(dst, start, uint64(kept)), cut
}

// appendMap is appendSlice for map values.
func (st *state) appendMap(dst []byte, m pcommon.Map, budget, depth int) (_ []byte, cut bool) {
	start := len(dst)
	budget -= uvarintLen(uint64(m.Len()))
	kept := 0
	for k, v := range m.All() {
		var c, fit bool
		dst, c, fit = st.appendElem(dst, validUTF8(k), v, budget-(len(dst)-start), depth)
		if !fit {
			cut = true
			break
		}
		cut = cut || c
		kept++
	}
	return insertUvarint(dst, start, uint64(kept)), cut
}

// appendElem appends one element as model.AppendAttr would, within budget
// bytes. fit is false (and dst unchanged) if not even a shortened element
// fits; cut reports that the element was shortened.
func (st *state) appendElem(dst []byte, key string, v pcommon.Value, budget, depth int) (_ []byte, cut, fit bool) {
	start := len(dst)
	dst = model.AppendString(dst, key)
	room := budget - (len(dst) - start) - 1 // type byte
	if room < 0 {
		return dst[:start], false, false
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := validUTF8(v.Str())
		if n := room - uvarintLen(uint64(len(s))); len(s) > n {
			if n <= 0 {
				return dst[:start], false, false
			}
			s, cut = truncUTF8(s, n), true
		}
		dst = append(dst, byte(model.TypeStr))
		dst = model.AppendString(dst, s)
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if n := room - uvarintLen(uint64(len(b))); len(b) > n {
			if n <= 0 {
				return dst[:start], false, false
			}
			b, cut = b[:n], true
		}
		dst = append(dst, byte(model.TypeBytes))
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	case pcommon.ValueTypeBool:
		if room < 1 {
			return dst[:start], false, false
		}
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		dst = append(dst, byte(model.TypeBool), b)
	case pcommon.ValueTypeInt:
		var tmp [binary.MaxVarintLen64]byte
		n := binary.PutVarint(tmp[:], v.Int())
		if room < n {
			return dst[:start], false, false
		}
		dst = append(dst, byte(model.TypeInt))
		dst = append(dst, tmp[:n]...)
	case pcommon.ValueTypeDouble:
		if room < 8 {
			return dst[:start], false, false
		}
		dst = append(dst, byte(model.TypeDouble))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		// A nested list is length-prefixed; reserve room for the prefix.
		inner := room - uvarintLen(uint64(room))
		if depth >= maxValueDepth || inner < 1 {
			return dst[:start], false, false
		}
		typ := model.TypeArray
		if v.Type() == pcommon.ValueTypeMap {
			typ = model.TypeMap
		}
		dst = append(dst, byte(typ))
		at := len(dst)
		if typ == model.TypeArray {
			dst, cut = st.appendSlice(dst, v.Slice(), inner, depth+1)
		} else {
			dst, cut = st.appendMap(dst, v.Map(), inner, depth+1)
		}
		dst = insertUvarint(dst, at, uint64(len(dst)-at))
	default:
		dst = append(dst, byte(model.TypeEmpty))
	}
	return dst, cut, true
}

// stringArray encodes keys as an array attribute value of strings.
func stringArray(dst []byte, keys []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = model.AppendString(dst, "")
		dst = append(dst, byte(model.TypeStr))
		dst = model.AppendString(dst, k)
	}
	return dst
}
