package otlp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxNesting bounds how deeply attribute values (arrays and maps inside
// arrays and maps) may nest in a protobuf request. pdata's decoder
// recurses once per level without a limit, so a request of a few MiB
// nesting millions of levels would overflow the goroutine stack and crash
// the process. checkNesting runs before the decoder.
const maxNesting = 100

// message kinds on the path from ExportTraceServiceRequest to AnyValue.
type kind uint8

const (
	kNone kind = iota
	kRequest
	kResourceSpans
	kResource
	kScopeSpans
	kScope
	kSpan
	kEvent
	kLink
	kKeyValue
	kAnyValue
	kArrayValue
	kKeyValueList
)

// children maps (message kind, field number) to the kind of a
// length-delimited field, kNone for fields that cannot lead to an
// AnyValue (skipped). Field numbers are those of opentelemetry-proto
// (collector/trace/v1, trace/v1, resource/v1, common/v1).
var children = func() (t [kKeyValueList + 1][16]kind) {
	t[kRequest][1] = kResourceSpans
	t[kResourceSpans][1] = kResource
	t[kResourceSpans][2] = kScopeSpans
	t[kResource][1] = kKeyValue
	t[kScopeSpans][1] = kScope
	t[kScopeSpans][2] = kSpan
	t[kScope][3] = kKeyValue
	t[kSpan][9] = kKeyValue
	t[kSpan][11] = kEvent
	t[kSpan][13] = kLink
	t[kEvent][3] = kKeyValue
	t[kLink][4] = kKeyValue
	t[kKeyValue][2] = kAnyValue
	t[kAnyValue][5] = kArrayValue
	t[kAnyValue][6] = kKeyValueList
	t[kArrayValue][1] = kAnyValue
	t[kKeyValueList][1] = kKeyValue
	return t
}()

func child(k kind, field uint64) kind {
	if field < 16 {
		return children[k][field]
	}
	if k == kResourceSpans && field == 1000 { // deprecated instrumentation_library_spans
		return kScopeSpans
	}
	return kNone
}

// uvarint is binary.Uvarint with an inlined one-byte fast path.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// errTooDeep is returned by checkNesting.
type errTooDeep struct{}

func (errTooDeep) Error() string {
	return fmt.Sprintf("attribute values nest more than %d levels deep", maxNesting)
}

// errGroup is returned by checkNesting for protobuf groups.
var errGroup = errors.New("protobuf groups (wire types 3 and 4) are not supported")

// checkNesting walks an ExportTraceServiceRequest in protobuf form and
// returns errTooDeep if attribute values nest more than maxNesting levels,
// errGroup if it holds a group. Where the input is otherwise malformed it
// stops and returns nil: the decoder parses every field this walk parses,
// in the same way, so it reports the problem at or before that point,
// and before it could recurse any deeper than this walk did.
func checkNesting(b []byte) error {
	deep, _, group := walk(b, kRequest, 0)
	switch {
	case deep:
		return errTooDeep{}
	case group:
		return errGroup
	}
	return nil
}

// walk scans message b of kind k at AnyValue depth depth. It returns
// deep if the limit is exceeded, group if b holds a group, malformed if
// it could not parse b.
func walk(b []byte, k kind, depth int) (deep, malformed, group bool) {
	if k == kAnyValue {
		depth++
		if depth > maxNesting {
			return true, false, false
		}
	}
	for len(b) > 0 {
		tag, n := uvarint(b)
		if n <= 0 {
			return false, true, false
		}
		b = b[n:]
		field, wire := tag>>3, tag&7
		switch wire {
		case 0: // varint
			_, n = uvarint(b)
			if n <= 0 {
				return false, true, false
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return false, true, false
			}
			b = b[8:]
		case 5: // fixed32
			if len(b) < 4 {
				return false, true, false
			}
			b = b[4:]
		case 2: // length-delimited
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false, true, false
			}
			sub := b[n : n+int(l)]
			b = b[n+int(l):]
			if c := child(k, field); c != kNone {
				if c == kAnyValue && scalarValue(sub) {
					if depth+1 > maxNesting {
						return true, false, false
					}
					continue
				}
				if deep, malformed, group := walk(sub, c, depth); deep || malformed || group {
					return deep, malformed, group
				}
			}
		case 3, 4:
			// Groups (deprecated, never used by OTLP): pdata's decoder
			// skips them inconsistently, and may then decode their
			// contents as fields, so they are refused outright.
			return false, false, true
		default:
			return false, true, false
		}
	}
	return false, false, false
}

// scalarValue reports whether AnyValue v is exactly one string, bool,
// int, double or bytes field: the common case, which cannot nest.
func scalarValue(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	switch v[0] {
	case 1<<3 | 2, 7<<3 | 2: // string_value, bytes_value
		l, n := uvarint(v[1:])
		return n > 0 && l == uint64(len(v)-1-n)
	case 2<<3 | 0, 3<<3 | 0: // bool_value, int_value
		_, n := uvarint(v[1:])
		return n > 0 && 1+n == len(v)
	case 4<<3 | 1: // double_value
		return len(v) == 9
	}
	return false
}
