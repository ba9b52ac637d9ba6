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
	spans, _, err := DecodeBatchFilter(b, nil, 0)
	return spans, err
}

// DecodeBatchFilter decodes the spans of a batch whose trace keep accepts,
// and returns them with the number of spans in the batch. Other spans, and
// resources and scopes no kept span uses, are only walked over (checked as
// DecodeBatch checks them, but nothing is allocated for them), so picking a
// few traces out of a batch costs a fraction of decoding it; a nil keep
// keeps every span. Each decoded
// span's attribute list has room for reserve more attributes, appended
// without copying; the lists share backing arrays (appending past reserve
// reallocates).
func DecodeBatchFilter(b []byte, keep func(TraceID) bool, reserve int) ([]Span, int, error) {
	d := Decoder{b: b, pool: &attrPool{reserve: reserve, keys: map[string]string{}}}
	if v := d.Byte(); v != batchVersion {
		return nil, 0, fmt.Errorf("%w: batch version %d", ErrCorrupt, v)
	}
	// Resources and scopes are decoded on first use: raw holds each one's
	// encoding until then.
	type lazy[T any] struct {
		raw []byte
		v   *T
	}
	nres := d.Count(1)
	resList := make([]lazy[Resource], nres)
	for i := 0; i < nres && d.err == nil; i++ {
		start := d.b
		d.skipAttrs()
		d.Uint32()
		d.skipString()
		resList[i].raw = start[:len(start)-len(d.b)]
	}
	nscp := d.Count(1)
	scpList := make([]lazy[Scope], nscp)
	for i := 0; i < nscp && d.err == nil; i++ {
		start := d.b
		d.skipString()
		d.skipString()
		d.skipAttrs()
		d.Uint32()
		d.skipString()
		scpList[i].raw = start[:len(start)-len(d.b)]
	}
	n := d.Count(40)
	var spans []Span
	if keep == nil {
		spans = make([]Span, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		ri, si := d.Uvarint(), d.Uvarint()
		if ri >= uint64(len(resList)) || si >= uint64(len(scpList)) {
			d.fail("resource or scope index out of range")
			break
		}
		if len(d.b) < 16 {
			d.fail("unexpected end")
			break
		}
		if keep != nil && !keep(TraceID(d.b[:16])) {
			d.skipSpanBody()
			continue
		}
		r, sc := &resList[ri], &scpList[si]
		if r.v == nil {
			rd := Decoder{b: r.raw}
			r.v = rd.Resource()
		}
		if sc.v == nil {
			sd := Decoder{b: sc.raw}
			sc.v = sd.Scope()
		}
		spans = append(spans, Span{Resource: r.v, Scope: sc.v})
		d.SpanBody(&spans[len(spans)-1])
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	if len(d.b) != 0 {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return spans, n, nil
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
	// pool, when set, supplies span attribute lists and shares keys
	// (DecodeBatchFilter).
	pool *attrPool
}

// attrPool carves span attribute lists out of large chunks, with reserve
// spare capacity each, and shares repeated keys: spans decoded to be kept
// cost one allocation per chunk instead of one per list and per key.
type attrPool struct {
	buf     []Attr
	reserve int
	keys    map[string]string
}

const attrChunk = 2048

func (p *attrPool) list(n int) []Attr {
	need := n + p.reserve
	if len(p.buf)+need > cap(p.buf) {
		p.buf = make([]Attr, 0, max(attrChunk, need))
	}
	l := len(p.buf)
	p.buf = p.buf[:l+need]
	return p.buf[l : l+n : l+need]
}

func (p *attrPool) key(b []byte) string {
	if k, ok := p.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(p.keys) < 4096 {
		p.keys[k] = k
	}
	return k
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

// Uvarint reads an unsigned varint. One-byte values (most counts, tags,
// indexes and small deltas) take an inlined fast path.
func (d *Decoder) Uvarint() uint64 {
	if len(d.b) != 0 {
		if c := d.b[0]; c < 0x80 {
			d.b = d.b[1:]
			return uint64(c)
		}
	}
	return d.uvarintSlow()
}

func (d *Decoder) uvarintSlow() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (d *Decoder) Varint() int64 {
	ux := d.Uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
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

// pooledAttrs is Attrs with the list from d.pool (nil when empty, as
// Attrs).
func (d *Decoder) pooledAttrs() []Attr {
	n := d.Count(2)
	if n == 0 {
		return nil
	}
	out := d.pool.list(n)
	for i := 0; i < n && d.err == nil; i++ {
		d.Attr(&out[i])
	}
	return out
}

// Attr reads one attribute into a.
func (d *Decoder) Attr(a *Attr) {
	if d.pool != nil {
		a.Key = d.pool.key(d.Bytes(d.Count(1)))
	} else {
		a.Key = d.String()
	}
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
	if d.pool != nil {
		s.Attrs = d.pooledAttrs()
	} else {
		s.Attrs = d.Attrs()
	}
	s.DroppedAttrs = d.Uint32()
	s.Events = d.Events(s.Start)
	s.DroppedEvents = d.Uint32()
	s.Links = d.Links()
	s.DroppedLinks = d.Uint32()
}

// skipString, skipAttrs and skipSpanBody walk over what String, Attrs and
// SpanBody read, with the same checks, without allocating.
func (d *Decoder) skipString() { d.Bytes(d.Count(1)) }

func (d *Decoder) skipAttrs() {
	n := d.Count(2)
	for i := 0; i < n && d.err == nil; i++ {
		d.skipString()
		switch ValueType(d.Byte()) {
		case TypeBool:
			d.Byte()
		case TypeInt:
			d.Varint()
		case TypeDouble:
			d.Bytes(8)
		case TypeEmpty:
		case TypeStr, TypeBytes, TypeArray, TypeMap:
			d.skipString()
		default:
			d.fail("unknown attribute type")
		}
	}
}

func (d *Decoder) skipSpanBody() {
	d.Bytes(32)
	d.skipString() // trace state
	d.Uint32()
	d.skipString() // name
	d.Bytes(2)
	d.skipString() // status message
	d.Varint()
	d.Varint()
	d.skipAttrs()
	d.Uint32()
	n := d.Count(4)
	for i := 0; i < n && d.err == nil; i++ {
		d.Varint()
		d.skipString()
		d.skipAttrs()
		d.Uint32()
	}
	d.Uint32()
	n = d.Count(28)
	for i := 0; i < n && d.err == nil; i++ {
		d.Bytes(24)
		d.skipString()
		d.Uint32()
		d.skipAttrs()
		d.Uint32()
	}
	d.Uint32()
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
