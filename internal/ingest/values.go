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

// value is one attribute value as the limits see it, whichever decoder
// produced it. typ is model's type; num holds bools, ints and doubles as
// in model.Attr.
type value struct {
	typ model.ValueType
	num uint64
	// str is a string value: pdata's string, or for protobuf a view of
	// the request bytes (see view) that must go through state.text to be
	// stored.
	str string
	// bin is a bytes value (not yet copied).
	bin []byte
	// An array or map value: pd for pdata, raw (the ArrayValue or
	// KeyValueList message, already validated) for protobuf.
	pd  pcommon.Value
	raw []byte
}

// setPdata sets v to describe the pdata value pv (only the fields its
// type uses).
func (v *value) setPdata(pv pcommon.Value) {
	switch pv.Type() {
	case pcommon.ValueTypeStr:
		v.typ, v.str = model.TypeStr, pv.Str()
	case pcommon.ValueTypeBool:
		v.typ, v.num = model.TypeBool, 0
		if pv.Bool() {
			v.num = 1
		}
	case pcommon.ValueTypeInt:
		v.typ, v.num = model.TypeInt, uint64(pv.Int())
	case pcommon.ValueTypeDouble:
		v.typ, v.num = model.TypeDouble, math.Float64bits(pv.Double())
	case pcommon.ValueTypeBytes:
		v.typ, v.bin = model.TypeBytes, pv.Bytes().AsRaw()
	case pcommon.ValueTypeSlice:
		v.typ, v.pd = model.TypeArray, pv
	case pcommon.ValueTypeMap:
		v.typ, v.pd = model.TypeMap, pv
	default:
		v.typ = model.TypeEmpty
	}
}

// text returns s repaired (valid UTF-8), as a string that may be stored:
// when decoding protobuf s is a view of the request, and text returns a
// copy, shared through the interner if s is short.
func (st *state) text(s string) string {
	if !st.proto {
		return validUTF8(s)
	}
	if len(s) == 0 {
		return ""
	}
	var e *internEntry
	var x, y uint64
	if len(s) <= maxIntern {
		// The interner's lookup, inlined (see interner.get).
		x, y = fingerprint(s)
		e = st.sc.intern.slot(x, y, len(s))
		if len(e.s) == len(s) && e.x == x && e.y == y && (len(s) <= 16 || e.s[8:len(s)-8] == s[8:len(s)-8]) {
			return e.s
		}
	}
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD") // a new string, not a view
	}
	c := strings.Clone(s)
	if e != nil {
		*e = internEntry{c, x, y}
	}
	return c
}

// textMax is text for a value limited to max bytes: it is cut at a UTF-8
// boundary after repair; cut reports that.
func (st *state) textMax(s string, max int) (_ string, cut bool) {
	if len(s) <= max {
		t := st.text(s)
		if len(t) > max { // grew by repair
			return truncUTF8(t, max), true
		}
		return t, false
	}
	t := validUTF8(s)
	if len(t) > max {
		t, cut = truncUTF8(t, max), true
	}
	return st.text(t), cut
}

// attr converts one attribute into a (zeroed) with sanitising and
// truncation: the key
// and string values are made valid UTF-8, string and bytes values cut to
// MaxAttrValueBytes, arrays and maps encoded within it (model.AppendAttrs
// format). Keys of cut values are recorded in the scratch's trunc.
func (st *state) attr(a *model.Attr, key string, v *value) {
	// a is zeroed arena memory: set only what is not zero. (The pdata
	// branches are text and textMax, inlined for the pdata decoder.)
	if st.proto {
		key = st.text(key)
	} else {
		key = validUTF8(key)
	}
	max := st.lim.MaxAttrValueBytes
	a.Key, a.Type = key, v.typ
	switch v.typ {
	case model.TypeStr:
		s, cut := v.str, false
		switch {
		case !st.proto:
			if s = validUTF8(s); len(s) > max {
				s, cut = truncUTF8(s, max), true
			}
		case len(s) <= max: // textMax's common case
			if s = st.text(s); len(s) > max {
				s, cut = truncUTF8(s, max), true
			}
		default:
			s, cut = st.textMax(s, max)
		}
		a.Str = s
		if cut {
			st.sc.trunc = append(st.sc.trunc, key)
		}
	case model.TypeBool, model.TypeInt, model.TypeDouble:
		a.Num = v.num
	case model.TypeBytes:
		b := v.bin
		if len(b) > max {
			b = b[:max]
			st.sc.trunc = append(st.sc.trunc, key)
		}
		a.Str = string(b)
	case model.TypeArray, model.TypeMap:
		var cut bool
		st.sc.buf, cut = st.appendList(st.sc.buf[:0], v, max, 1)
		a.Str = string(st.sc.buf)
		if cut {
			st.sc.trunc = append(st.sc.trunc, key)
		}
	}
}

// list tracks an array or map value being encoded.
type list struct {
	start, budget, depth, kept int
	cut                        bool
}

// appendList appends the model encoding of an array or map value (the
// format of model.AppendAttrs, array elements with empty keys) using at
// most budget bytes. Elements that do not fit are dropped; cut reports any
// loss.
func (st *state) appendList(dst []byte, v *value, budget, depth int) ([]byte, bool) {
	l := list{start: len(dst), depth: depth}
	isMap := v.typ == model.TypeMap
	switch {
	case st.proto:
		l.budget = budget - uvarintLen(uint64(countElems(v.raw)))
		var key string
		var e value
		for i, ok := elem(v.raw, 0, isMap, &key, &e); ok; i, ok = elem(v.raw, i, isMap, &key, &e) {
			if dst, ok = st.appendElem(dst, &l, key, &e); !ok {
				break
			}
		}
	case isMap:
		m := v.pd.Map()
		l.budget = budget - uvarintLen(uint64(m.Len()))
		var e value
		for k, pv := range m.All() {
			e.setPdata(pv)
			var ok bool
			if dst, ok = st.appendElem(dst, &l, validUTF8(k), &e); !ok {
				break
			}
		}
	default:
		s := v.pd.Slice()
		l.budget = budget - uvarintLen(uint64(s.Len()))
		var e value
		for i := range s.Len() {
			e.setPdata(s.At(i))
			var ok bool
			if dst, ok = st.appendElem(dst, &l, "", &e); !ok {
				break
			}
		}
	}
	return insertUvarint(dst, l.start, uint64(l.kept)), l.cut
}

// appendElem appends one element of l as model.AppendAttr would, within
// the bytes l has left. It returns false (and dst unchanged) if not even a
// shortened element fits: the list ends there.
func (st *state) appendElem(dst []byte, l *list, key string, v *value) ([]byte, bool) {
	dst, cut, fit := st.appendValue(dst, key, v, l.budget-(len(dst)-l.start), l.depth)
	if !fit {
		l.cut = true
		return dst, false
	}
	l.cut = l.cut || cut
	l.kept++
	return dst, true
}

// appendValue appends one element within budget bytes. fit is false (and
// dst unchanged) if not even a shortened element fits; cut reports that
// the element was shortened.
func (st *state) appendValue(dst []byte, key string, v *value, budget, depth int) (_ []byte, cut, fit bool) {
	start := len(dst)
	dst = model.AppendString(dst, key)
	room := budget - (len(dst) - start) - 1 // type byte
	if room < 0 {
		return dst[:start], false, false
	}
	switch v.typ {
	case model.TypeStr:
		s := validUTF8(v.str)
		if n := room - uvarintLen(uint64(len(s))); len(s) > n {
			if n <= 0 {
				return dst[:start], false, false
			}
			s, cut = truncUTF8(s, n), true
		}
		dst = append(dst, byte(model.TypeStr))
		dst = model.AppendString(dst, s)
	case model.TypeBytes:
		b := v.bin
		if n := room - uvarintLen(uint64(len(b))); len(b) > n {
			if n <= 0 {
				return dst[:start], false, false
			}
			b, cut = b[:n], true
		}
		dst = append(dst, byte(model.TypeBytes))
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	case model.TypeBool:
		if room < 1 {
			return dst[:start], false, false
		}
		dst = append(dst, byte(model.TypeBool), byte(v.num))
	case model.TypeInt:
		var tmp [binary.MaxVarintLen64]byte
		n := binary.PutVarint(tmp[:], int64(v.num))
		if room < n {
			return dst[:start], false, false
		}
		dst = append(dst, byte(model.TypeInt))
		dst = append(dst, tmp[:n]...)
	case model.TypeDouble:
		if room < 8 {
			return dst[:start], false, false
		}
		dst = append(dst, byte(model.TypeDouble))
		dst = binary.LittleEndian.AppendUint64(dst, v.num)
	case model.TypeArray, model.TypeMap:
		// A nested list is length-prefixed; reserve room for the prefix.
		inner := room - uvarintLen(uint64(room))
		if depth >= maxValueDepth || inner < 1 {
			return dst[:start], false, false
		}
		dst = append(dst, byte(v.typ))
		at := len(dst)
		dst, cut = st.appendList(dst, v, inner, depth+1)
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
