package otlp

import (
	"encoding/binary"
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

// checkNesting walks an ExportTraceServiceRequest in protobuf form and
// returns errTooDeep if attribute values nest more than maxNesting levels.
// It reports nothing else: where the input is malformed it stops and
// returns nil, and the decoder, which parses every field this walk parses,
// reports the problem.
func checkNesting(b []byte) error {
	if deep, _ := walk(b, kRequest, 0); deep {
		return errTooDeep{}
	}
	return nil
}

// walk scans message b of kind k at AnyValue depth depth. It returns
// deep if the limit is exceeded, malformed if it could not parse b.
func walk(b []byte, k kind, depth int) (deep, malformed bool) {
	if k == kAnyValue {
		depth++
		if depth > maxNesting {
			return true, false
		}
	}
	for len(b) > 0 {
		tag, n := uvarint(b)
		if n <= 0 {
			return false, true
		}
		b = b[n:]
		field, wire := tag>>3, tag&7
		switch wire {
		case 0: // varint
			_, n = uvarint(b)
			if n <= 0 {
				return false, true
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return false, true
			}
			b = b[8:]
		case 5: // fixed32
			if len(b) < 4 {
				return false, true
			}
			b = b[4:]
		case 2: // length-delimited
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false, true
			}
			sub := b[n : n+int(l)]
			b = b[n+int(l):]
			if c := child(k, field); c != kNone {
				if c == kAnyValue && scalarValue(sub) {
					if depth+1 > maxNesting {
						return true, false
					}
					continue
				}
				if deep, malformed := walk(sub, c, depth); deep || malformed {
					return deep, malformed
				}
			}
		case 3, 4:
			// Groups: the decoder skips them as unknown fields without
			// recursion; they cannot hold an AnyValue it decodes. Stop
			// here if the group is unterminated.
			var ok bool
			if b, ok = skipGroup(b, wire); !ok {
				return false, true
			}
		default:
			return false, true
		}
	}
	return false, false
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

// skipGroup skips the rest of a group whose start (wire 3) or stray end
// (wire 4) tag was just read, as the decoder does.
func skipGroup(b []byte, wire uint64) ([]byte, bool) {
	if wire == 4 {
		return b, false
	}
	depth := 1
	for depth > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return b, false
		}
		b = b[n:]
		switch tag & 7 {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return b, false
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return b, false
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return b, false
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return b, false
			}
			b = b[n+int(l):]
		case 3:
			depth++
		case 4:
			depth--
		default:
			return b, false
		}
	}
	return b, true
}
