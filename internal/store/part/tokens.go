package part

import (
	"encoding/binary"
	"strconv"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// Granule token filters hold, for every attribute of the granule's spans,
// events, links, resources and scopes, the token "key" and, for string, int
// and bool values, the token "key=value" with the value written as by
// AppendAttrValue. Filter.Tokens are looked up in them: a granule is skipped
// when one of the tokens is certainly absent.

// KeyToken returns the token for the presence of an attribute key.
func KeyToken(key string) string { return key }

// AttrToken returns the token for attribute a ("key=value") and true, or ""
// and false when a's type is not indexed by value (double, bytes, array,
// map, empty: only KeyToken is indexed for those).
func AttrToken(a *model.Attr) (string, bool) {
	b, ok := appendAttrToken(nil, a)
	return string(b), ok
}

// AppendAttrValue appends the token form of a string, int or bool value:
// the string itself, the decimal integer, or "true"/"false". It reports
// false for other types.
func AppendAttrValue(dst []byte, a *model.Attr) ([]byte, bool) {
	switch a.Type {
	case model.TypeStr:
		return append(dst, a.Str...), true
	case model.TypeInt:
		return strconv.AppendInt(dst, int64(a.Num), 10), true
	case model.TypeBool:
		return strconv.AppendBool(dst, a.Num&1 == 1), true
	}
	return dst, false
}

func appendAttrToken(dst []byte, a *model.Attr) ([]byte, bool) {
	dst = append(dst, a.Key...)
	dst = append(dst, '=')
	return AppendAttrValue(dst, a)
}

// tokenHasher hashes attribute tokens without allocating.
type tokenHasher struct{ buf []byte }

// value returns the token hash of key=value for a string, int or bool
// value, and false for other types.
func (h *tokenHasher) value(key string, typ model.ValueType, str string, num uint64) (uint64, bool) {
	b := append(append(h.buf[:0], key...), '=')
	switch typ {
	case model.TypeStr:
		b = append(b, str...)
	case model.TypeInt:
		b = strconv.AppendInt(b, int64(num), 10)
	case model.TypeBool:
		b = strconv.AppendBool(b, num&1 == 1)
	default:
		return 0, false
	}
	h.buf = b
	return bloom.Hash(b), true
}

// add appends the token hashes of attrs to dst.
func (h *tokenHasher) add(dst []uint64, attrs []model.Attr) []uint64 {
	for i := range attrs {
		a := &attrs[i]
		dst = append(dst, bloom.HashString(a.Key))
		var ok bool
		h.buf, ok = appendAttrToken(h.buf[:0], a)
		if ok {
			dst = append(dst, bloom.Hash(h.buf))
		}
	}
	return dst
}

// events appends the token hashes of the attributes in a model.AppendEvents
// encoding (which must be valid) to dst.
func (h *tokenHasher) events(dst []uint64, b []byte) []uint64 {
	n, p := binary.Uvarint(b)
	for ; n > 0; n-- {
		_, k := binary.Varint(b[p:])
		p = skipStringAt(b, p+k)
		dst, p = h.encodedAttrs(dst, b, p)
		_, k = binary.Uvarint(b[p:])
		p += k
	}
	return dst
}

// links appends the token hashes of the attributes in a model.AppendLinks
// encoding (which must be valid) to dst.
func (h *tokenHasher) links(dst []uint64, b []byte) []uint64 {
	n, p := binary.Uvarint(b)
	for ; n > 0; n-- {
		p = skipStringAt(b, p+24)
		_, k := binary.Uvarint(b[p:])
		dst, p = h.encodedAttrs(dst, b, p+k)
		_, k = binary.Uvarint(b[p:])
		p += k
	}
	return dst
}

// encodedAttrs appends the token hashes of the model.AppendAttrs encoding
// at b[p:] (valid) to dst and returns the position after it.
func (h *tokenHasher) encodedAttrs(dst []uint64, b []byte, p int) ([]uint64, int) {
	n, k := binary.Uvarint(b[p:])
	p += k
	for ; n > 0; n-- {
		kb, q := stringAt(b, p)
		key := unsafe.String(unsafe.SliceData(kb), len(kb))
		dst = append(dst, bloom.HashString(key))
		t := model.ValueType(b[q])
		p = q + 1
		var str string
		var num uint64
		switch t {
		case model.TypeStr:
			var sb []byte
			sb, p = stringAt(b, p)
			str = unsafe.String(unsafe.SliceData(sb), len(sb))
		case model.TypeInt:
			x, k := binary.Varint(b[p:])
			num = uint64(x)
			p += k
		case model.TypeBool:
			num = uint64(b[p] & 1)
			p++
		default:
			p = skipValueAt(b, p, byte(t))
			continue
		}
		if v, ok := h.value(key, t, str, num); ok {
			dst = append(dst, v)
		}
	}
	return dst, p
}
