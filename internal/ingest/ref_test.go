package ingest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The reference for DecodeProto: the protobuf path it replaced, that is
// the nesting pre-check the receivers ran (otlp/depth.go), then pdata's
// decoder, then Converter.Convert.

// refDecode decodes b the old way with a fresh Converter for lim.
func refDecode(b []byte, lim Limits, now time.Time) (Result, error) {
	if err := refCheckNesting(b); err != nil {
		return Result{}, err
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		return Result{}, err
	}
	return NewConverter(lim).Convert(req.Traces(), now), nil
}

// newDecode decodes b with DecodeProto and a fresh Converter for lim.
func newDecode(b []byte, lim Limits, now time.Time) (Result, error) {
	c := NewConverter(lim)
	bt, err := c.DecodeProto(b, now)
	if err != nil {
		return Result{}, err
	}
	return c.Admit(bt), nil
}

// refCheckNesting is the pre-check of otlp/depth.go, with one fix: it
// reads varints and field numbers as pdata does (a 10-byte varint may
// carry bits past the 64th; field numbers are int32), where it used
// binary.Uvarint and stopped checking, letting through what pdata then
// accepted.
func refCheckNesting(b []byte) error {
	deep, _, group := refWalk(b, kRequest, 0)
	switch {
	case deep:
		return ErrTooDeep
	case group:
		return ErrGroup
	}
	return nil
}

// refVarint is pdata's proto.ConsumeVarint.
func refVarint(b []byte) (uint64, int) {
	var v uint64
	for i, shift := 0, uint(0); shift < 64; i, shift = i+1, shift+7 {
		if i >= len(b) {
			return 0, 0
		}
		v |= uint64(b[i]&0x7f) << shift
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// refChildren is depth.go's table: which length-delimited fields lead to
// an AnyValue.
var refChildren = func() (t [numKinds][16]kind) {
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

func refChild(k kind, field int32) kind {
	if field >= 0 && field < 16 {
		return refChildren[k][field]
	}
	if k == kResourceSpans && field == 1000 {
		return kScopeSpans
	}
	return kNone
}

func refWalk(b []byte, k kind, depth int) (deep, malformed, group bool) {
	if k == kAnyValue {
		depth++
		if depth > maxNesting {
			return true, false, false
		}
	}
	for len(b) > 0 {
		tag, n := refVarint(b)
		if n <= 0 {
			return false, true, false
		}
		b = b[n:]
		field, wire := int32(tag>>3), tag&7
		switch wire {
		case 0:
			_, n = refVarint(b)
			if n <= 0 {
				return false, true, false
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return false, true, false
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return false, true, false
			}
			b = b[4:]
		case 2:
			l, n := refVarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false, true, false
			}
			sub := b[n : n+int(l)]
			b = b[n+int(l):]
			if c := refChild(k, field); c != kNone {
				if deep, malformed, group := refWalk(sub, c, depth); deep || malformed || group {
					return deep, malformed, group
				}
			}
		case 3, 4:
			return false, false, true
		default:
			return false, true, false
		}
	}
	return false, false, false
}
