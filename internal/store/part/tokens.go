package part

import (
	"strconv"

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
