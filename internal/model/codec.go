package model

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is returned (wrapped) by the decoders when input is malformed.
// The decoders never panic on arbitrary input.
var ErrCorrupt = errors.New("corrupt encoding")

// batchVersion is the first byte of an encoded batch.
const batchVersion = 1

// AppendBatch appends the binary encoding of spans to dst. Resources and
// scopes shared by pointer are written once. The format is specified in
// docs/format.md ("Span batch").
func AppendBatch(dst []byte, spans []Span) []byte {
	dst = append(dst, batchVersion)
	res := map[*Resource]int{}
	var resList []*Resource
	scp := map[*Scope]int{}
	var scpList []*Scope
	for i := range spans {
		if _, ok := res[spans[i].Resource]; !ok {
			res[spans[i].Resource] = len(resList)
			resList = append(resList, spans[i].Resource)
		}
		if _, ok := scp[spans[i].Scope]; !ok {
			scp[spans[i].Scope] = len(scpList)
			scpList = append(scpList, spans[i].Scope)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(resList)))
	for _, r := range resList {
		dst = AppendResource(dst, r)
	}
	dst = binary.AppendUvarint(dst, uint64(len(scpList)))
	for _, s := range scpList {
		dst = AppendScope(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	for i := range spans {
		s := &spans[i]
		dst = binary.AppendUvarint(dst, uint64(res[s.Resource]))
		dst = binary.AppendUvarint(dst, uint64(scp[s.Scope]))
		dst = AppendSpanBody(dst, s)
	}
	return dst
}

// DecodeBatch decodes a batch written by AppendBatch. Strings in the result
// do not alias b.
func DecodeBatch(b []byte) ([]Span, error) {
	d := Decoder{b: b}
	if v := d.Byte(); v != batchVersion {
		return nil, fmt.Errorf("%w: batch version %d", ErrCorrupt, v)
	}
	nres := d.Count(1)
	resList := make([]*Resource, 0, nres)
	for i := 0; i < nres && d.err == nil; i++ {
		resList = append(resList, d.Resource())
	}
	nscp := d.Count(1)
	scpList := make([]*Scope, 0, nscp)
	for i := 0; i < nscp && d.err == nil; i++ {
		scpList = append(scpList, d.Scope())
	}
	n := d.Count(40)
	spans := make([]Span, n)
	for i := 0; i < n && d.err == nil; i++ {
		ri, si := d.Uvarint(), d.Uvarint()
		if ri >= uint64(len(resList)) || si >= uint64(len(scpList)) {
			d.fail("resource or scope index out of range")
			break
		}
		spans[i].Resource = resList[ri]
		spans[i].Scope = scpList[si]
		d.SpanBody(&spans[i])
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return spans, nil
}

// AppendResource appends one resource (nil encodes as an empty resource).
func AppendResource(dst []byte, r *Resource) []byte {
	if r == nil {
		r = &Resource{}
	}
	dst = AppendAttrs(dst, r.Attrs)
	dst = binary.AppendUvarint(dst, uint64(r.DroppedAttrs))
	return AppendString(dst, r.SchemaURL)
}

// AppendScope appends one instrumentation scope (nil encodes as empty).
func AppendScope(dst []byte, s *Scope) []byte {
	if s == nil {
		s = &Scope{}
	}
	dst = AppendString(dst, s.Name)
	dst = AppendString(dst, s.Version)
	dst = AppendAttrs(dst, s.Attrs)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedAttrs))
	return AppendString(dst, s.SchemaURL)
}

// AppendSpanBody appends every span field except Resource and Scope.
func AppendSpanBody(dst []byte, s *Span) []byte {
	dst = append(dst, s.TraceID[:]...)
	dst = append(dst, s.SpanID[:]...)
	dst = append(dst, s.ParentID[:]...)
	dst = AppendString(dst, s.TraceState)
	dst = binary.AppendUvarint(dst, uint64(s.Flags))
	dst = AppendString(dst, s.Name)
	dst = append(dst, byte(s.Kind), byte(s.StatusCode))
	dst = AppendString(dst, s.StatusMessage)
	dst = binary.AppendVarint(dst, s.Start)
	dst = binary.AppendVarint(dst, s.End-s.Start)
	dst = AppendAttrs(dst, s.Attrs)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedAttrs))
	dst = AppendEvents(dst, s.Events, s.Start)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedEvents))
	dst = AppendLinks(dst, s.Links)
	return binary.AppendUvarint(dst, uint64(s.DroppedLinks))
}

// AppendString appends a uvarint length and the bytes of s.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendAttrs appends a count and each attribute: key, type byte, value
// (string types: length-prefixed bytes; bool/int/double: uvarint of Num,
// zig-zag for int).
func AppendAttrs(dst []byte, attrs []Attr) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(attrs)))
	for i := range attrs {
		dst = AppendAttr(dst, &attrs[i])
	}
	return dst
}

// AppendAttr appends one attribute.
func AppendAttr(dst []byte, a *Attr) []byte {
	dst = AppendString(dst, a.Key)
	dst = append(dst, byte(a.Type))
	switch a.Type {
	case TypeBool:
		dst = append(dst, byte(a.Num&1))
	case TypeInt:
		dst = binary.AppendVarint(dst, int64(a.Num))
	case TypeDouble:
		dst = binary.LittleEndian.AppendUint64(dst, a.Num)
	case TypeEmpty:
	default:
		dst = AppendString(dst, a.Str)
	}
	return dst
}

// AppendEvents appends events with times relative to base.
func AppendEvents(dst []byte, evs []Event, base int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(evs)))
	for i := range evs {
		e := &evs[i]
		dst = binary.AppendVarint(dst, e.Time-base)
		dst = AppendString(dst, e.Name)
		dst = AppendAttrs(dst, e.Attrs)
		dst = binary.AppendUvarint(dst, uint64(e.DroppedAttrs))
	}
	return dst
}

// AppendLinks appends links.
func AppendLinks(dst []byte, links []Link) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(links)))
	for i := range links {
		l := &links[i]
		dst = append(dst, l.TraceID[:]...)
		dst = append(dst, l.SpanID[:]...)
		dst = AppendString(dst, l.TraceState)
		dst = binary.AppendUvarint(dst, uint64(l.Flags))
		dst = AppendAttrs(dst, l.Attrs)
		dst = binary.AppendUvarint(dst, uint64(l.DroppedAttrs))
	}
	return dst
}

// Decoder reads the encodings above from a byte slice. The first error
// sticks: later calls return zero values, and Err reports it. It never
// panics on malformed input.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Reset makes d decode b from the start, with no error.
func (d *Decoder) Reset(b []byte) { *d = Decoder{b: b} }

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Rest returns the undecoded bytes.
func (d *Decoder) Rest() []byte { return d.b }

func (d *Decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
	d.b = nil
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.b) < 1 {
		d.fail("unexpected end")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Bytes reads n raw bytes (aliasing the input).
func (d *Decoder) Bytes(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.fail("unexpected end")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Uint32 reads a uvarint that must fit in 32 bits.
func (d *Decoder) Uint32() uint32 {
	v := d.Uvarint()
	if v > 1<<32-1 {
		d.fail("value overflows uint32")
		return 0
	}
	return uint32(v)
}

// Count reads an element count and checks that at least minSize bytes per
// element remain, so a corrupt count cannot cause a huge allocation.
func (d *Decoder) Count(minSize int) int {
	v := d.Uvarint()
	if minSize < 1 {
		minSize = 1
	}
	if v > uint64(len(d.b)/minSize) {
		d.fail("count exceeds input")
		return 0
	}
	return int(v)
}

// String reads a length-prefixed string (copied).
func (d *Decoder) String() string {
	n := d.Count(1)
	return string(d.Bytes(n))
}

// Attrs reads an attribute list.
func (d *Decoder) Attrs() []Attr {
	n := d.Count(2)
	if n == 0 {
		return nil
	}
	out := make([]Attr, n)
	for i := 0; i < n && d.err == nil; i++ {
		d.Attr(&out[i])
	}
	return out
}

// Attr reads one attribute into a.
func (d *Decoder) Attr(a *Attr) {
	a.Key = d.String()
	a.Type = ValueType(d.Byte())
	switch a.Type {
	case TypeBool:
		a.Num = uint64(d.Byte() & 1)
	case TypeInt:
		a.Num = uint64(d.Varint())
	case TypeDouble:
		if b := d.Bytes(8); b != nil {
			a.Num = binary.LittleEndian.Uint64(b)
		}
	case TypeEmpty:
	case TypeStr, TypeBytes, TypeArray, TypeMap:
		a.Str = d.String()
	default:
		d.fail("unknown attribute type")
	}
}

// Resource reads a resource.
func (d *Decoder) Resource() *Resource {
	r := &Resource{}
	r.Attrs = d.Attrs()
	r.DroppedAttrs = d.Uint32()
	r.SchemaURL = d.String()
	return r
}

// Scope reads a scope.
func (d *Decoder) Scope() *Scope {
	s := &Scope{}
	s.Name = d.String()
	s.Version = d.String()
	s.Attrs = d.Attrs()
	s.DroppedAttrs = d.Uint32()
	s.SchemaURL = d.String()
	return s
}

// SpanBody reads what AppendSpanBody wrote.
func (d *Decoder) SpanBody(s *Span) {
	copy(s.TraceID[:], d.Bytes(16))
	copy(s.SpanID[:], d.Bytes(8))
	copy(s.ParentID[:], d.Bytes(8))
	s.TraceState = d.String()
	s.Flags = d.Uint32()
	s.Name = d.String()
	s.Kind = int8(d.Byte())
	s.StatusCode = int8(d.Byte())
	s.StatusMessage = d.String()
	s.Start = d.Varint()
	s.End = s.Start + d.Varint()
	s.Attrs = d.Attrs()
	s.DroppedAttrs = d.Uint32()
	s.Events = d.Events(s.Start)
	s.DroppedEvents = d.Uint32()
	s.Links = d.Links()
	s.DroppedLinks = d.Uint32()
}

// Events reads an event list with times relative to base.
func (d *Decoder) Events(base int64) []Event {
	n := d.Count(4)
	if n == 0 {
		return nil
	}
	out := make([]Event, n)
	for i := 0; i < n && d.err == nil; i++ {
		e := &out[i]
		e.Time = base + d.Varint()
		e.Name = d.String()
		e.Attrs = d.Attrs()
		e.DroppedAttrs = d.Uint32()
	}
	return out
}

// Links reads a link list.
func (d *Decoder) Links() []Link {
	n := d.Count(28)
	if n == 0 {
		return nil
	}
	out := make([]Link, n)
	for i := 0; i < n && d.err == nil; i++ {
		l := &out[i]
		copy(l.TraceID[:], d.Bytes(16))
		copy(l.SpanID[:], d.Bytes(8))
		l.TraceState = d.String()
		l.Flags = d.Uint32()
		l.Attrs = d.Attrs()
		l.DroppedAttrs = d.Uint32()
	}
	return out
}
