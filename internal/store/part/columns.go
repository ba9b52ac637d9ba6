package part

import (
	"encoding/binary"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Encodings of the per-span values of the heavy columns and the helpers to
// decode or skip them. The byte layouts are in docs/format.md.

// keyDict assigns part-level indexes to attribute keys (first seen first).
type keyDict struct {
	index map[string]uint32
	keys  []string
}

func (k *keyDict) lookup(key string) (uint32, bool) {
	if i, ok := k.index[key]; ok {
		return i, true
	}
	if len(k.keys) >= maxKeys || len(key) > maxNameLen {
		return 0, false
	}
	i := uint32(len(k.keys))
	k.keys = append(k.keys, key)
	k.index[key] = i
	return i, true
}

// appendAttrsCol appends the attrs-column encoding of attrs: a count, then
// per attribute uvarint(ref<<3|type) where ref is the key's dictionary
// index plus one, or 0 followed by the key as a string; then the value as
// model.AppendAttr writes it. It sets refs[i] to the ref of attrs[i].
func appendAttrsCol(dst []byte, attrs []model.Attr, keys *keyDict, refs []uint32) ([]byte, []uint32) {
	dst = binary.AppendUvarint(dst, uint64(len(attrs)))
	refs = refs[:0]
	for i := range attrs {
		a := &attrs[i]
		ref := uint64(0)
		if k, ok := keys.lookup(a.Key); ok {
			ref = uint64(k) + 1
		}
		refs = append(refs, uint32(ref))
		dst = binary.AppendUvarint(dst, ref<<3|uint64(a.Type&7))
		if ref == 0 {
			dst = model.AppendString(dst, a.Key)
		}
		dst = appendValue(dst, a)
	}
	return dst, refs
}

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

// decodeAttrsCol decodes one span's attributes, appending to dst[:0].
func decodeAttrsCol(d *model.Decoder, keys []string, dst []model.Attr) []model.Attr {
	n := d.Count(1)
	dst = dst[:0]
	for i := 0; i < n && d.Err() == nil; i++ {
		var a model.Attr
		tag := d.Uvarint()
		a.Type = model.ValueType(tag & 7)
		ref := tag >> 3
		switch {
		case ref == 0:
			a.Key = d.String()
		case ref-1 < uint64(len(keys)):
			a.Key = keys[ref-1]
		default:
			fail(d)
			return dst
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
		default:
			a.Str = d.String()
		}
		dst = append(dst, a)
	}
	return dst
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

func skipAttrsCol(d *model.Decoder) {
	n := d.Count(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		tag := d.Uvarint()
		if tag>>3 == 0 {
			skipString(d)
		}
		skipValue(d, model.ValueType(tag&7))
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
