package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Protobuf wire primitives for the OTLP decoder (proto.go). They accept
// and reject exactly what the OpenTelemetry Collector's pdata decoder
// (v1.70) accepts and rejects, so that switching decoders changes no
// answer: a varint may have 10 bytes and its bits past 64 are ignored,
// field numbers are the low 32 bits of the tag shifted (as int32) and must
// be positive, lengths must fit in what is left of the message.

// Wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireSGroup = 3
	wireEGroup = 4
	wireI32    = 5
)

// maxNesting bounds how deeply attribute values (arrays and maps inside
// arrays and maps) may nest in a protobuf request: an AnyValue inside
// maxNesting others is refused. A recursive decoder without such a limit
// can be made to overflow its stack by a request of a few MiB.
const maxNesting = 100

// ErrTooDeep is returned (wrapped) by DecodeProto for requests whose
// attribute values nest more than 100 levels deep.
var ErrTooDeep = fmt.Errorf("attribute values nest more than %d levels deep", maxNesting)

// ErrGroup is returned (wrapped) by DecodeProto for requests that use
// protobuf groups (a deprecated encoding no OTLP client uses) in a message
// that can hold attributes.
var ErrGroup = errors.New("protobuf groups (wire types 3 and 4) are not supported")

var (
	errEOF       = errors.New("unexpected end of message")
	errOverflow  = errors.New("varint longer than 10 bytes")
	errFieldZero = errors.New("field number 0 or out of range")
	errEndGroup  = errors.New("unexpected end of group")
)

// errWireType reports a known field sent with the wrong wire type.
type errWireType struct {
	field     string
	got, want int
}

func (e errWireType) Error() string {
	return fmt.Sprintf("%s has wire type %d, want %d", e.field, e.got, e.want)
}

// errIllegalWire is an unknown wire type (6 or 7).
type errIllegalWire int

func (e errIllegalWire) Error() string { return fmt.Sprintf("illegal wire type %d", int(e)) }

// errIDLength reports a trace or span ID of the wrong length.
type errIDLength struct {
	field     string
	got, want int
}

func (e errIDLength) Error() string {
	return fmt.Sprintf("%s is %d bytes long, want %d (or 0 for none)", e.field, e.got, e.want)
}

// pathError locates a decoding error in the request, innermost element
// first: "span_id is 5 bytes long ... at resource_spans[0].scope_spans[1].spans[3]".
type pathError struct {
	err  error
	path []pathElem // innermost first
}

type pathElem struct {
	field string
	index int // -1: not repeated
}

func (e *pathError) Error() string {
	var b strings.Builder
	b.WriteString(e.err.Error())
	b.WriteString(" at ")
	for i := len(e.path) - 1; i >= 0; i-- {
		p := e.path[i]
		b.WriteString(p.field)
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
		}
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func (e *pathError) Unwrap() error { return e.err }

// at adds a path element to err (only on the error path: it allocates).
func at(err error, field string, index int) error {
	pe, ok := err.(*pathError)
	if !ok {
		pe = &pathError{err: err}
	}
	pe.path = append(pe.path, pathElem{field, index})
	return pe
}

// The primitives below return the position after what they read, or a
// negative position on error (posEOF, posOverflow, posField0; see
// posErr): small enough to be inlined in the decoder's loops.
const (
	posEOF      = -1 // the message ends too early
	posOverflow = -2 // a varint longer than 10 bytes
	posField0   = -3 // a field number 0 or out of range
)

// posErr is the error for a negative position.
func posErr(pos int) error {
	switch pos {
	case posOverflow:
		return errOverflow
	case posField0:
		return errFieldZero
	}
	return errEOF
}

// varint decodes a varint at b[i:] as pdata does: at most 10 bytes, bits
// beyond the 64th dropped.
func varint(b []byte, i int) (uint64, int) {
	if uint(i) < uint(len(b)) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return varintSlow(b, i)
}

//go:noinline
func varintSlow(b []byte, i int) (uint64, int) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(b) {
			return 0, posEOF
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
	return 0, posOverflow
}

// tag decodes a field tag. The field number is the tag shifted right by
// three and truncated to int32, as in pdata; it must be positive.
func tag(b []byte, i int) (field int32, wire int, next int) {
	if uint(i) < uint(len(b)) && b[i]-8 < 0x80-8 { // one byte, field number > 0
		return int32(b[i] >> 3), int(b[i] & 7), i + 1
	}
	return tagSlow(b, i)
}

//go:noinline
func tagSlow(b []byte, i int) (field int32, wire int, next int) {
	t, i := varintSlow(b, i)
	if i < 0 {
		return 0, 0, i
	}
	field = int32(t >> 3)
	if field <= 0 {
		return 0, 0, posField0
	}
	return field, int(t & 7), i
}

// length decodes the length prefix of a length-delimited field at b[i:]
// and returns the bounds of its payload.
func length(b []byte, i int) (start, end int) {
	if uint(i) < uint(len(b)) && b[i] < 0x80 && int(b[i]) < len(b)-i {
		return i + 1, i + 1 + int(b[i])
	}
	return lengthSlow(b, i)
}

//go:noinline
func lengthSlow(b []byte, i int) (start, end int) {
	n, i := varintSlow(b, i)
	if i < 0 {
		return i, i
	}
	if n > uint64(len(b)-i) {
		return posEOF, posEOF
	}
	return i, i + int(n)
}

func fixed64(b []byte, i int) (uint64, int) {
	if len(b)-i < 8 {
		return 0, posEOF
	}
	return binary.LittleEndian.Uint64(b[i:]), i + 8
}

func fixed32(b []byte, i int) (uint32, int) {
	if len(b)-i < 4 {
		return 0, posEOF
	}
	return binary.LittleEndian.Uint32(b[i:]), i + 4
}

// skip skips the value of an unknown field with the given wire type at
// b[i:]. In messages that can lead to attribute values groups are refused
// (attrMsg); elsewhere (Status, EntityRef) they are skipped exactly as
// pdata skips them.
func skip(b []byte, i, wire int, attrMsg bool) (int, error) {
	var j int
	switch wire {
	case wireVarint:
		_, j = varint(b, i)
	case wireI64:
		_, j = fixed64(b, i)
	case wireLen:
		_, j = length(b, i)
	case wireI32:
		_, j = fixed32(b, i)
	case wireSGroup, wireEGroup:
		if attrMsg {
			return 0, ErrGroup
		}
		return skipGroup(b, i, wire)
	default:
		if i >= len(b) {
			return 0, errEOF
		}
		return 0, errIllegalWire(wire)
	}
	if j < 0 {
		return 0, posErr(j)
	}
	return j, nil
}

// skipGroup is pdata's proto.ConsumeUnknown for a group, quirks included:
// it stops after the first non-group field inside the group, leaving the
// rest of the group to be read as fields of the enclosing message.
func skipGroup(b []byte, i, wire int) (int, error) {
	depth := 0
	for i < len(b) {
		switch wire {
		case wireVarint, wireI64, wireI32, wireLen:
			return skip(b, i, wire, false)
		case wireSGroup:
			depth++
		case wireEGroup:
			if depth == 0 {
				return 0, errEndGroup
			}
			depth--
		default:
			return 0, errIllegalWire(wire)
		}
		if depth == 0 {
			return i, nil
		}
		if _, wire, i = tag(b, i); i < 0 {
			return 0, posErr(i)
		}
	}
	return 0, errEOF
}

// Message kinds for skim.
type kind uint8

const (
	kNone kind = iota
	kRequest
	kResourceSpans
	kResource
	kEntityRef
	kScopeSpans
	kScope
	kSpan
	kStatus
	kEvent
	kLink
	kKeyValue
	kAnyValue
	kArrayValue
	kKeyValueList
	numKinds
)

// fieldSpec describes a known field for skim.
type fieldSpec struct {
	wire  int8 // expected wire type; -1: unknown field
	child kind // message kind of a length-delimited field (kNone: string or bytes)
	id    int8 // length of an ID field (16 or 8), 0 for other fields
}

const maxSpecField = 16

// specs holds, per message kind, the fields of opentelemetry-proto
// (collector/trace/v1, trace/v1, resource/v1, common/v1) that pdata
// decodes, with their wire types.
var specs = func() (t [numKinds][maxSpecField + 1]fieldSpec) {
	for k := range t {
		for f := range t[k] {
			t[k][f].wire = -1
		}
	}
	set := func(k kind, field int, wire int8, child kind, id int8) {
		t[k][field] = fieldSpec{wire: wire, child: child, id: id}
	}
	set(kRequest, 1, wireLen, kResourceSpans, 0)
	set(kResourceSpans, 1, wireLen, kResource, 0)
	set(kResourceSpans, 2, wireLen, kScopeSpans, 0)
	set(kResourceSpans, 3, wireLen, kNone, 0)
	set(kResource, 1, wireLen, kKeyValue, 0)
	set(kResource, 2, wireVarint, kNone, 0)
	set(kResource, 3, wireLen, kEntityRef, 0)
	for f := 1; f <= 4; f++ {
		set(kEntityRef, f, wireLen, kNone, 0)
	}
	set(kScopeSpans, 1, wireLen, kScope, 0)
	set(kScopeSpans, 2, wireLen, kSpan, 0)
	set(kScopeSpans, 3, wireLen, kNone, 0)
	set(kScope, 1, wireLen, kNone, 0)
	set(kScope, 2, wireLen, kNone, 0)
	set(kScope, 3, wireLen, kKeyValue, 0)
	set(kScope, 4, wireVarint, kNone, 0)
	set(kSpan, 1, wireLen, kNone, 16)
	set(kSpan, 2, wireLen, kNone, 8)
	set(kSpan, 3, wireLen, kNone, 0)
	set(kSpan, 4, wireLen, kNone, 8)
	set(kSpan, 5, wireLen, kNone, 0)
	set(kSpan, 6, wireVarint, kNone, 0)
	set(kSpan, 7, wireI64, kNone, 0)
	set(kSpan, 8, wireI64, kNone, 0)
	set(kSpan, 9, wireLen, kKeyValue, 0)
	set(kSpan, 10, wireVarint, kNone, 0)
	set(kSpan, 11, wireLen, kEvent, 0)
	set(kSpan, 12, wireVarint, kNone, 0)
	set(kSpan, 13, wireLen, kLink, 0)
	set(kSpan, 14, wireVarint, kNone, 0)
	set(kSpan, 15, wireLen, kStatus, 0)
	set(kSpan, 16, wireI32, kNone, 0)
	set(kStatus, 2, wireLen, kNone, 0)
	set(kStatus, 3, wireVarint, kNone, 0)
	set(kEvent, 1, wireI64, kNone, 0)
	set(kEvent, 2, wireLen, kNone, 0)
	set(kEvent, 3, wireLen, kKeyValue, 0)
	set(kEvent, 4, wireVarint, kNone, 0)
	set(kLink, 1, wireLen, kNone, 16)
	set(kLink, 2, wireLen, kNone, 8)
	set(kLink, 3, wireLen, kNone, 0)
	set(kLink, 4, wireLen, kKeyValue, 0)
	set(kLink, 5, wireVarint, kNone, 0)
	set(kLink, 6, wireI32, kNone, 0)
	set(kKeyValue, 1, wireLen, kNone, 0)
	set(kKeyValue, 2, wireLen, kAnyValue, 0)
	set(kKeyValue, 3, wireVarint, kNone, 0)
	set(kAnyValue, 1, wireLen, kNone, 0)
	set(kAnyValue, 2, wireVarint, kNone, 0)
	set(kAnyValue, 3, wireVarint, kNone, 0)
	set(kAnyValue, 4, wireI64, kNone, 0)
	set(kAnyValue, 5, wireLen, kArrayValue, 0)
	set(kAnyValue, 6, wireLen, kKeyValueList, 0)
	set(kAnyValue, 7, wireLen, kNone, 0)
	set(kAnyValue, 8, wireVarint, kNone, 0)
	set(kArrayValue, 1, wireLen, kAnyValue, 0)
	set(kKeyValueList, 1, wireLen, kKeyValue, 0)
	return t
}()

// attrMsg reports whether messages of kind k can lead to attribute values;
// groups are refused in them.
func attrMsg(k kind) bool { return k != kStatus && k != kEntityRef }

// spec returns the spec of field f of kind k.
func spec(k kind, f int32) fieldSpec {
	if f > 0 && f <= maxSpecField {
		return specs[k][f]
	}
	if k == kResourceSpans && f == 1000 { // deprecated instrumentation_library_spans
		return fieldSpec{wire: wireLen, child: kScopeSpans}
	}
	return fieldSpec{wire: -1}
}

// skim checks that b is a valid message of kind k without decoding it:
// it fails where the full decoder would. depth is the number of AnyValues
// b is nested in.
func skim(k kind, b []byte, depth int) error {
	if k == kAnyValue {
		depth++
		if depth > maxNesting {
			return ErrTooDeep
		}
	}
	for i := 0; i < len(b); {
		f, wire, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		sp := spec(k, f)
		if sp.wire < 0 {
			var err error
			if i, err = skip(b, j, wire, attrMsg(k)); err != nil {
				return err
			}
			continue
		}
		if wire != int(sp.wire) {
			if !attrMsg(k) || (wire != wireSGroup && wire != wireEGroup) {
				return errWireType{fieldName(k, f), wire, int(sp.wire)}
			}
			return ErrGroup
		}
		switch wire {
		case wireVarint:
			_, i = varint(b, j)
		case wireI64:
			_, i = fixed64(b, j)
		case wireI32:
			_, i = fixed32(b, j)
		case wireLen:
			var s int
			if s, i = length(b, j); s < 0 {
				return posErr(s)
			}
			var err error
			switch {
			case sp.child != kNone:
				err = skim(sp.child, b[s:i], depth)
			case sp.id != 0 && i != s && i-s != int(sp.id):
				err = errIDLength{fieldName(k, f), i - s, int(sp.id)}
			}
			if err != nil {
				return err
			}
		}
		if i < 0 {
			return posErr(i)
		}
	}
	return nil
}

// fieldName names a field in error messages.
func fieldName(k kind, f int32) string {
	if int(k) < len(fieldNames) {
		if n, ok := fieldNames[k][f]; ok {
			return n
		}
	}
	return "field " + strconv.Itoa(int(f))
}

var fieldNames = [numKinds]map[int32]string{
	kRequest:       {1: "resource_spans"},
	kResourceSpans: {1: "resource", 2: "scope_spans", 3: "schema_url", 1000: "instrumentation_library_spans"},
	kResource:      {1: "attributes", 2: "dropped_attributes_count", 3: "entity_refs"},
	kEntityRef:     {1: "schema_url", 2: "type", 3: "id_keys", 4: "description_keys"},
	kScopeSpans:    {1: "scope", 2: "spans", 3: "schema_url"},
	kScope:         {1: "name", 2: "version", 3: "attributes", 4: "dropped_attributes_count"},
	kSpan: {1: "trace_id", 2: "span_id", 3: "trace_state", 4: "parent_span_id", 5: "name", 6: "kind",
		7: "start_time_unix_nano", 8: "end_time_unix_nano", 9: "attributes", 10: "dropped_attributes_count",
		11: "events", 12: "dropped_events_count", 13: "links", 14: "dropped_links_count", 15: "status", 16: "flags"},
	kStatus: {2: "message", 3: "code"},
	kEvent:  {1: "time_unix_nano", 2: "name", 3: "attributes", 4: "dropped_attributes_count"},
	kLink: {1: "trace_id", 2: "span_id", 3: "trace_state", 4: "attributes", 5: "dropped_attributes_count",
		6: "flags"},
	kKeyValue: {1: "key", 2: "value", 3: "key_strindex"},
	kAnyValue: {1: "string_value", 2: "bool_value", 3: "int_value", 4: "double_value", 5: "array_value",
		6: "kvlist_value", 7: "bytes_value", 8: "string_value_strindex"},
	kArrayValue:   {1: "values"},
	kKeyValueList: {1: "values"},
}
