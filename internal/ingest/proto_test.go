package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Limits the differential tests run under: the defaults, and small ones
// that make every limit bite.
var (
	smallLimits = Limits{MaxAttrsPerSpan: 3, MaxAttrValueBytes: 12, MaxEventsPerSpan: 2, MaxLinksPerSpan: 1,
		MaxSpansPerTrace: 4, MaxFutureSkew: time.Minute}
	testLimits = []Limits{{}, smallLimits}
)

// diffDecode decodes b with DecodeProto and with the reference (the nesting
// pre-check, pdata and Convert) and requires the same outcome: both refuse
// b, or both return the same Result, with resources and scopes shared
// between the same spans. It returns whether b was accepted.
func diffDecode(t testing.TB, b []byte, lim Limits, now time.Time) bool {
	t.Helper()
	want, werr := refDecode(b, lim, now)
	in := bytes.Clone(b)
	got, gerr := newDecode(in, lim, now)
	// Nothing returned may alias the request.
	for i := range in {
		in[i] = 0xa5
	}
	if werr != nil || gerr != nil {
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("reference error: %v\nDecodeProto error: %v\nrequest: %x", werr, gerr, b)
		}
		return false
	}
	require.Equal(t, want, got, "request: %x", b)
	requireSameSharing(t, want.Spans, got.Spans)
	requireCappedLists(t, got.Spans)
	return true
}

// requireSameSharing checks that spans share resources and scopes by
// pointer exactly where the reference's do.
func requireSameSharing(t testing.TB, want, got []model.Span) {
	t.Helper()
	for i := range want {
		for j := i + 1; j < len(want); j++ {
			if (want[i].Resource == want[j].Resource) != (got[i].Resource == got[j].Resource) ||
				(want[i].Scope == want[j].Scope) != (got[i].Scope == got[j].Scope) {
				t.Fatalf("spans %d and %d: resource/scope sharing differs from the reference", i, j)
			}
		}
	}
}

// requireCappedLists checks that no list handed out can be appended to
// without reallocating (it would overwrite its neighbour in the arena).
func requireCappedLists(t testing.TB, spans []model.Span) {
	t.Helper()
	attrs := func(a []model.Attr) {
		if len(a) != cap(a) {
			t.Fatalf("attribute list with len %d, cap %d", len(a), cap(a))
		}
	}
	for i := range spans {
		s := &spans[i]
		attrs(s.Attrs)
		attrs(s.Resource.Attrs)
		attrs(s.Scope.Attrs)
		require.Equal(t, len(s.Events), cap(s.Events))
		require.Equal(t, len(s.Links), cap(s.Links))
		for _, e := range s.Events {
			attrs(e.Attrs)
		}
		for _, l := range s.Links {
			attrs(l.Attrs)
		}
	}
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestDecodeProtoLoadgen(t *testing.T) {
	for seed := range int64(6) {
		for _, n := range []int{1, 7, 100, 1000} {
			for _, skew := range []time.Duration{0, 90 * time.Second} { // the latter: some spans in the future
				g := loadgen.NewGenerator(seed, loadgen.GenOptions{Now: fixedClock(now.Add(skew))})
				b, _ := g.AppendProto(nil, n)
				for _, lim := range testLimits {
					require.True(t, diffDecode(t, b, lim, now), "seed %d, %d spans", seed, n)
				}
			}
		}
	}
}

// Protobuf building blocks for hand-made requests.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func fLen(field protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, field, protowire.BytesType)
	return protowire.AppendBytes(b, cat(parts...))
}

func fStr(field protowire.Number, s string) []byte { return fLen(field, []byte(s)) }

func fVar(field protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, field, protowire.VarintType), v)
}

func fI64(field protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, field, protowire.Fixed64Type), v)
}

func fI32(field protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, field, protowire.Fixed32Type), v)
}

// fRaw is a field with an arbitrary wire type followed by raw bytes.
func fRaw(field protowire.Number, wire protowire.Type, raw ...byte) []byte {
	return append(protowire.AppendTag(nil, field, wire), raw...)
}

// Messages.
func req(rs ...[]byte) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, fLen(1, r)...)
	}
	return b
}

func rawTID(b byte) []byte { return []byte{0xaa, 14: 0, 15: b} }
func rawSID(b byte) []byte { return []byte{0xbb, 6: 0, 7: b} }

var (
	startNS = uint64(now.Add(-time.Second).UnixNano())
	endNS   = uint64(now.UnixNano())
)

// span is a valid span with the given extra fields appended.
func span(n byte, extra ...[]byte) []byte {
	return cat(fLen(1, rawTID(1)), fLen(2, rawSID(n)), fStr(5, fmt.Sprint("span ", n)),
		fI64(7, startNS), fI64(8, endNS), cat(extra...))
}

// scopeSpans wraps spans (field 2) with a scope.
func scopeSpans(spans ...[]byte) []byte {
	b := fLen(1, fStr(1, "lib"), fStr(2, "1.0"))
	for _, s := range spans {
		b = append(b, fLen(2, s)...)
	}
	return b
}

// resourceSpans wraps scope spans with a resource.
func resourceSpans(ss ...[]byte) []byte {
	b := fLen(1, kvStr(1, "service.name", "shop"))
	for _, s := range ss {
		b = append(b, fLen(2, s)...)
	}
	return b
}

func oneSpan(s []byte) []byte { return req(resourceSpans(scopeSpans(s))) }

// kv is a KeyValue field; value is an AnyValue message.
func kv(field protowire.Number, key string, value []byte) []byte {
	return fLen(field, fStr(1, key), fLen(2, value))
}

func kvStr(field protowire.Number, key, v string) []byte { return kv(field, key, fStr(1, v)) }

// Attribute values.
func vStr(s string) []byte          { return fStr(1, s) }
func vBool(b bool) []byte           { return fVar(2, map[bool]uint64{false: 0, true: 1}[b]) }
func vInt(i int64) []byte           { return fVar(3, uint64(i)) }
func vDouble(f float64) []byte      { return fI64(4, math.Float64bits(f)) }
func vBytes(b []byte) []byte        { return fLen(7, b) }
func vArray(elems ...[]byte) []byte { return fLen(5, valueList(elems)) }
func vMap(kvs ...[]byte) []byte     { return fLen(6, cat(kvs...)) }

func valueList(elems [][]byte) []byte {
	var b []byte
	for _, e := range elems {
		b = append(b, fLen(1, e)...)
	}
	return b
}

// deepValue is an AnyValue nesting levels arrays and maps (levels >= 1
// AnyValues in all).
func deepValue(levels int) []byte {
	v := vStr("leaf")
	for i := 1; i < levels; i++ {
		if i%2 == 0 {
			v = vArray(v)
		} else {
			v = vMap(kv(1, "k", v))
		}
	}
	return v
}

// varint10 is a 10-byte varint of v with stray bits set in the last byte,
// which pdata ignores.
func varint10(v uint64) []byte {
	b := make([]byte, 10)
	for i := range 9 {
		b[i] = byte(v>>(7*i))&0x7f | 0x80
	}
	b[9] = byte(v>>63) | 0x7e
	return b
}

type protoCase struct {
	name string
	req  []byte
	// ok: whether the reference accepts it (a check on the case itself).
	ok bool
}

func protoCases() []protoCase {
	nested := kv(9, "nested", vMap(
		kv(1, "s", vStr("x")), kv(1, "b", vBool(true)), kv(1, "i", vInt(-3)), kv(1, "d", vDouble(2.5)),
		kv(1, "bytes", vBytes([]byte{0, 1, 2})), kv(1, "empty", nil), fLen(1, fStr(1, "novalue")),
		kv(1, "arr", vArray(vStr("a"), vArray(vInt(1), vMap()), vMap(kv(1, "m", vBytes(nil))), nil)),
	))
	allTypes := span(1,
		kvStr(9, "str", "value"), kvStr(9, "", ""), kv(9, "bool", vBool(true)), kv(9, "false", vBool(false)),
		kv(9, "int", vInt(math.MinInt64)), kv(9, "double", vDouble(-0.125)), kv(9, "nan", fI64(4, 0x7ff8000000000bad)),
		kv(9, "bytes", vBytes([]byte("raw\xff"))), kv(9, "nobytes", vBytes(nil)), kv(9, "empty", nil),
		fLen(9, fStr(1, "absent")), kv(9, "strindex", fVar(8, 7)), kv(9, "arr", vArray(vStr("a"), vInt(2))),
		kv(9, "emptyarr", vArray()), kv(9, "emptymap", vMap()), nested,
	)
	full := span(2,
		fStr(3, "vendor=x"), fLen(4, rawSID(99)), fVar(6, 3), fVar(10, 4), fVar(12, 5), fVar(14, 6),
		fI32(16, 0x301), fLen(15, fStr(2, "boom"), fVar(3, 2)),
		fLen(11, fI64(1, startNS+5), fStr(2, "exception"), kvStr(3, "exception.message", "x"), fVar(4, 2)),
		fLen(11, fStr(2, "no time")),
		fLen(13, fLen(1, rawTID(7)), fLen(2, rawSID(8)), fStr(3, "a=b"), kv(4, "n", vInt(1)), fVar(5, 9), fI32(6, 1)),
		fLen(13),
	)
	badUTF8 := "a\xffb\xc3"
	utf8Span := span(3, fStr(3, badUTF8), fStr(5, badUTF8), fLen(15, fStr(2, badUTF8)),
		kvStr(9, badUTF8, badUTF8), kv(9, "list", vArray(vStr(badUTF8))), kv(9, "map", vMap(kvStr(1, badUTF8, "v"))),
		fLen(11, fStr(2, badUTF8), kvStr(3, badUTF8, badUTF8)), fLen(13, fStr(3, badUTF8)))
	unknown := func(f protowire.Number) []byte {
		return cat(fVar(f, 1), fI64(f+1, 2), fStr(f+2, "x"), fI32(f+3, 4))
	}
	var cases []protoCase
	add := func(name string, b []byte, ok bool) { cases = append(cases, protoCase{name, b, ok}) }

	add("empty request", nil, true)
	add("empty resource spans", req(nil, nil), true)
	add("empty scope spans", req(cat(fLen(2), fLen(2))), true)
	add("empty span", oneSpan(nil), true)
	add("all value types", oneSpan(allTypes), true)
	add("all span fields", oneSpan(full), true)
	add("invalid UTF-8", req(cat(fLen(1, kvStr(1, badUTF8, badUTF8)), fLen(2, fLen(1, fStr(1, badUTF8), fStr(2, badUTF8)),
		fLen(2, utf8Span), fStr(3, badUTF8)), fStr(3, badUTF8))), true)
	add("schema URLs and resource details", req(cat(
		fLen(1, kvStr(1, "service.name", "a"), fVar(2, 3), fLen(3, fStr(1, "s"), fStr(2, "t"), fStr(3, "k1"), fStr(3, "k2"), fStr(4, "d"))),
		fStr(3, "https://opentelemetry.io/schemas/1.26.0"),
		fLen(2, fLen(1, fStr(1, "lib"), fStr(2, "2"), kv(3, "x", vBool(true)), fVar(4, 7)), fLen(2, span(1)), fStr(3, "scope-schema")),
	)), true)
	unknownSpan1 := span(1, unknown(20),
		kv(9, "k", cat(vStr("v"), unknown(20))), fLen(9, fStr(1, "k2"), unknown(20), fLen(2, vInt(3))),
		fLen(15, unknown(20), fVar(3, 1)), fLen(11, unknown(20), fStr(2, "e")), fLen(13, unknown(20)))
	unknownSpan2 := span(2, kv(9, "a", fLen(5, unknown(20), fLen(1, vStr("x")))),
		kv(9, "m", fLen(6, unknown(20), kvStr(1, "k", "v"))))
	add("unknown fields everywhere", cat(req(cat(
		unknown(20), fLen(1, kvStr(1, "service.name", "a"), unknown(20)), unknown(40),
		fLen(2, unknown(20), fLen(1, fStr(1, "lib"), unknown(20)), fLen(2, unknownSpan1), fLen(2, unknownSpan2)),
	)), unknown(1000)), true)
	add("fields out of order", req(cat(
		fLen(2, fLen(2, cat(fI64(8, endNS), kvStr(9, "k", "v"), fStr(5, "late"), fI64(7, startNS), fLen(2, rawSID(1)), fLen(1, rawTID(1)))),
			fStr(3, "schema"), fLen(1, fStr(2, "v"), fStr(1, "lib"))),
		fStr(3, "res-schema"),
		fLen(1, kvStr(1, "service.name", "late")),
	)), true)
	add("repeated singular fields merge or replace", req(cat(
		fLen(1, kvStr(1, "a", "1"), fVar(2, 5)),
		fLen(2, fLen(1, fStr(1, "first"), kvStr(3, "s1", "x")), fLen(2, span(1,
			fStr(5, "renamed"), fLen(1, rawTID(9)), fLen(2), fLen(2, rawSID(3)), fI64(7, startNS-10), fVar(6, 1), fVar(6, 2),
			fLen(15, fStr(2, "m1"), fVar(3, 2)), fLen(15, fVar(3, 1)), fLen(15),
			kv(9, "twice", vStr("one")), fLen(9, fStr(1, "merged"), fLen(2, vStr("x")), fLen(2, vInt(5)), fLen(2)),
			kv(9, "last wins", cat(vStr("s"), vInt(1), vArray(vStr("a")), vBool(true))),
			kv(9, "array replaced", cat(vArray(vStr("a"), vStr("b")), vArray(vStr("c")))),
			kv(9, "strindex last", cat(vStr("s"), fVar(8, 1))),
			fLen(9, fStr(1, "k1"), fStr(1, "k2"), fLen(2, vStr("v"))),
			fVar(10, 1), fVar(10, 2),
		)), fLen(1, fStr(1, "second"), kvStr(3, "s2", "y"), fVar(4, 1))),
		fLen(1, kvStr(1, "b", "2")),
		fStr(3, "schema1"), fStr(3, "schema2"),
	)), true)
	add("dropped counts truncated to 32 bits", oneSpan(span(1, fVar(10, 1<<32+3), fVar(12, math.MaxUint64), fVar(14, 1<<40))), true)
	add("kind and status code truncated", oneSpan(span(1, fVar(6, 0x1_0000_0102), fLen(15, fVar(3, 0xffff_ff7f)))), true)
	add("end before start", oneSpan(span(1, fI64(8, startNS-1))), true)
	add("end zero", oneSpan(span(1, fI64(8, 0))), true)
	add("end past int64", oneSpan(span(1, fI64(8, math.MaxUint64))), true)
	add("no end, attrs", oneSpan(span(1, fI64(8, 0), kvStr(9, "k", "v"))), true)
	add("zero trace id", oneSpan(span(1, fLen(1, make([]byte, 16)))), true)
	add("empty trace id", oneSpan(span(1, fLen(1))), true)
	add("zero span id", oneSpan(span(1, fLen(2, make([]byte, 8)))), true)
	add("no start", oneSpan(span(1, fI64(7, 0))), true)
	add("future start", oneSpan(span(1, fI64(7, uint64(now.Add(2*time.Hour).UnixNano())))), true)
	add("max start", oneSpan(span(1, fI64(7, math.MaxUint64))), true)
	add("rejected span with attributes, events and links", oneSpan(span(1, fLen(1), kvStr(9, "k", "v"),
		fLen(11, fStr(2, "e"), kvStr(3, "a", "b")), fLen(13, kvStr(4, "a", "b")))), true)
	add("rejected and accepted spans", req(resourceSpans(scopeSpans(span(1), span(2, fLen(1)), span(3, fI64(7, 0)), span(4)),
		scopeSpans(span(5, fLen(2)), span(6), span(7, fI64(7, math.MaxUint64)), span(8, fLen(1))))), true)

	// Malformed: the whole request is refused.
	for _, n := range []int{0, 1, 15, 17, 32} {
		add(fmt.Sprintf("trace id of %d bytes", n), oneSpan(span(1, fLen(1, make([]byte, n)))), n == 0 || n == 16)
	}
	for _, n := range []int{1, 7, 9, 16} {
		add(fmt.Sprintf("span id of %d bytes", n), oneSpan(span(1, fLen(2, make([]byte, n)))), false)
		add(fmt.Sprintf("parent span id of %d bytes", n), oneSpan(span(1, fLen(4, make([]byte, n)))), false)
		add(fmt.Sprintf("link trace id of %d bytes", n), oneSpan(span(1, fLen(13, fLen(1, make([]byte, n))))), n == 16)
		add(fmt.Sprintf("link span id of %d bytes", n), oneSpan(span(1, fLen(13, fLen(2, make([]byte, n))))), false)
		add(fmt.Sprintf("wrong id in a rejected span (%d)", n), oneSpan(span(1, fI64(7, 0), fLen(4, make([]byte, n)))), false)
		add(fmt.Sprintf("wrong id in a dropped link (%d)", n), oneSpan(span(1, fLen(13), fLen(13), fLen(13, fLen(2, make([]byte, n))))), false)
	}
	add("dropped count packed", oneSpan(span(1, fLen(10, []byte{1}))), false)
	add("kind as bytes", oneSpan(span(1, fLen(6, []byte{1}))), false)
	add("start as varint", oneSpan(span(1, fVar(7, 1))), false)
	add("flags as fixed64", oneSpan(span(1, fI64(16, 1))), false)
	add("name as varint", oneSpan(span(1, fVar(5, 1))), false)
	add("int value as fixed64", oneSpan(span(1, kv(9, "k", fI64(3, 1)))), false)
	add("double as varint", oneSpan(span(1, kv(9, "k", fVar(4, 1)))), false)
	add("key as varint", oneSpan(span(1, fLen(9, fVar(1, 1)))), false)
	add("array element as varint", oneSpan(span(1, kv(9, "k", fLen(5, fVar(1, 1))))), false)
	add("status code as bytes", oneSpan(span(1, fLen(15, fLen(3)))), false)
	add("entity ref field as varint", req(fLen(1, fLen(3, fVar(2, 1)))), false)
	add("event time as varint", oneSpan(span(1, fLen(11, fVar(1, 1)))), false)
	add("link flags as varint", oneSpan(span(1, fLen(13, fVar(6, 1)))), false)
	add("truncated", oneSpan(span(1))[:40], false)
	add("length past end", []byte{0x0a, 0x05, 0x01}, false)
	add("bad tag", []byte{0xff}, false)
	add("field zero", []byte{0x02, 0x00}, false)
	add("wire type 6", []byte{0x0e}, false)
	add("wire type 7 with data", []byte{0x0f, 1, 2}, false)
	add("11-byte varint", oneSpan(span(1, append([]byte{10 << 3}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))), false)
	add("10-byte varint with stray bits", oneSpan(span(1, append([]byte{10 << 3}, varint10(5)...))), true)
	add("10-byte tag with stray bits", oneSpan(span(1, append(varint10(10<<3), 1))), true)
	add("field number past int32", oneSpan(span(1, append(protowire.AppendVarint(nil, (1<<32+10)<<3), 1))), true)
	add("negative field number", oneSpan(span(1, append(protowire.AppendVarint(nil, (1<<31+10)<<3), 1))), false)
	add("error in a dropped attribute", oneSpan(span(1, bytes.Repeat(kvStr(9, "k", "v"), 130), fLen(9, fVar(2, 1)))), false)
	add("error in a dropped event", oneSpan(span(1, bytes.Repeat(fLen(11), 130), fLen(11, fVar(2, 1)))), false)
	add("error in an ignored entity ref", req(fLen(1, fLen(3, fI32(1, 1)))), false)
	add("error in a later resource", req(resourceSpans(scopeSpans(span(1))), fLen(1, fVar(1, 0))), false)

	// Deprecated instrumentation_library_spans (1000).
	ils := fLen(1000, scopeSpans(span(1), span(2)))
	add("instrumentation_library_spans only", req(cat(fLen(1, kvStr(1, "service.name", "old")), ils, ils)), true)
	add("instrumentation_library_spans ignored next to scope_spans", req(cat(ils, fLen(2, scopeSpans(span(3))), ils)), true)
	add("instrumentation_library_spans with empty scope_spans", req(cat(ils, fLen(2))), true)
	add("error in ignored instrumentation_library_spans", req(cat(fLen(2), fLen(1000, fLen(2, fVar(1, 1))))), false)
	add("deep value in ignored instrumentation_library_spans", req(cat(fLen(2),
		fLen(1000, scopeSpans(span(1, kv(9, "deep", deepValue(maxNesting+1))))))), false)

	// Nesting.
	for _, levels := range []int{1, 2, 32, 33, 40, maxNesting, maxNesting + 1} {
		ok := levels <= maxNesting
		add(fmt.Sprintf("span value nesting %d", levels), oneSpan(span(1, kv(9, "deep", deepValue(levels)))), ok)
		add(fmt.Sprintf("resource value nesting %d", levels), req(fLen(1, kv(1, "deep", deepValue(levels)))), ok)
		add(fmt.Sprintf("scope value nesting %d", levels), req(fLen(2, fLen(1, kv(3, "deep", deepValue(levels))))), ok)
		add(fmt.Sprintf("event value nesting %d", levels), oneSpan(span(1, fLen(11, kv(3, "deep", deepValue(levels))))), ok)
		add(fmt.Sprintf("link value nesting %d", levels), oneSpan(span(1, fLen(13, kv(4, "deep", deepValue(levels))))), ok)
		add(fmt.Sprintf("dropped attribute nesting %d", levels),
			oneSpan(span(1, bytes.Repeat(kvStr(9, "k", "v"), 130), kv(9, "deep", deepValue(levels)))), ok)
		add(fmt.Sprintf("rejected span nesting %d", levels), oneSpan(span(1, fLen(1), kv(9, "deep", deepValue(levels)))), ok)
		add(fmt.Sprintf("overridden value nesting %d", levels), oneSpan(span(1, kv(9, "deep", cat(deepValue(levels), vStr("x"))))), ok)
	}
	deepEmpty := func(levels int) []byte { // an empty AnyValue at depth levels
		var v []byte
		for i := 1; i < levels; i++ {
			v = vArray(v)
		}
		return v
	}
	add("empty value at depth 100", oneSpan(span(1, kv(9, "deep", deepEmpty(maxNesting)))), true)
	add("empty value at depth 101", oneSpan(span(1, kv(9, "deep", deepEmpty(maxNesting+1)))), false)

	// Groups: refused wherever attributes can be, skipped as pdata does
	// in Status and EntityRef.
	sg := func(f protowire.Number) []byte { return protowire.AppendTag(nil, f, protowire.StartGroupType) }
	eg := func(f protowire.Number) []byte { return protowire.AppendTag(nil, f, protowire.EndGroupType) }
	add("group in request", cat(sg(5), eg(5)), false)
	add("group in span", oneSpan(span(1, sg(30), eg(30))), false)
	add("group in attribute value", oneSpan(span(1, kv(9, "k", cat(sg(30), eg(30))))), false)
	add("group as known field", oneSpan(span(1, sg(9), eg(9))), false)
	add("end group alone", oneSpan(span(1, eg(30))), false)
	add("empty group in status", oneSpan(span(1, fLen(15, sg(30), eg(30), fStr(2, "after")))), true)
	add("nested groups in status", oneSpan(span(1, fLen(15, sg(30), sg(31), eg(31), eg(30), fVar(3, 1)))), true)
	add("group closing at end of status", oneSpan(span(1, fLen(15, sg(30), sg(31), eg(31), eg(30)))), false)
	add("group with a field in status", oneSpan(span(1, fLen(15, sg(30), fVar(2, 1), eg(30)))), false)
	add("unterminated group in status", oneSpan(span(1, fLen(15, sg(30), fVar(2, 1)))), true)
	add("group swallowing a field in status", oneSpan(span(1, fLen(15, sg(30), fStr(2, "hidden")))), true)
	add("open group at end of status", oneSpan(span(1, fLen(15, sg(30)))), false)
	add("end group in status", oneSpan(span(1, fLen(15, eg(30)))), false)
	add("status message as group", oneSpan(span(1, fLen(15, sg(2), eg(2)))), false)
	add("group in entity ref", req(fLen(1, fLen(3, sg(9), eg(9), fStr(1, "s")))), true)
	add("group in rejected span's status", oneSpan(span(1, fI64(7, 0), fLen(15, sg(30), fVar(3, 1)))), true)
	return cases
}

func TestDecodeProtoEdgeCases(t *testing.T) {
	for _, c := range protoCases() {
		t.Run(c.name, func(t *testing.T) {
			_, err := refDecode(c.req, Limits{}, now)
			require.Equal(t, c.ok, err == nil, "reference: %v", err)
			for _, lim := range testLimits {
				diffDecode(t, c.req, lim, now)
			}
		})
	}
}

// TestDecodeProtoConverterCases runs the Converter tests' requests, built
// with pdata, through both decoders.
func TestDecodeProtoConverterCases(t *testing.T) {
	td, ss := oneScope()
	newSpan(ss, "ok", 1, 1)
	newSpan(ss, "GET /x", 0, 2).SetTraceID(pcommon.TraceID{})
	newSpan(ss, "no span id", 1, 0).SetSpanID(pcommon.SpanID{})
	newSpan(ss, "no start", 1, 4).SetStartTimestamp(0)
	newSpan(ss, "future", 1, 5).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour)))
	newSpan(ss, "backwards", 1, 6).SetEndTimestamp(1)
	ps := newSpan(ss, "big", 1, 7)
	m := ps.Attributes()
	m.PutStr("ascii", strings.Repeat("x", 5000))
	m.PutStr("utf8", strings.Repeat("é", 3000))
	m.PutEmptyBytes("bytes").FromRaw(make([]byte, 5000))
	sl := m.PutEmptySlice("list")
	for i := range 300 {
		sl.AppendEmpty().SetStr(fmt.Sprint("element ", i))
	}
	mm := m.PutEmptyMap("map")
	for i := range 300 {
		mm.PutStr(fmt.Sprint("key ", i), "value")
	}
	deep := m.PutEmptySlice("deep")
	for range maxValueDepth + 5 {
		deep = deep.AppendEmpty().SetEmptySlice()
	}
	for i := range 200 {
		m.PutInt(fmt.Sprint("a", i), int64(i))
		ps.Events().AppendEmpty().SetName(fmt.Sprint("e", i))
		l := ps.Links().AppendEmpty()
		l.SetTraceID(tid(byte(i)))
		l.Attributes().PutStr("x", strings.Repeat("y", i))
	}
	for i := range 10 {
		newSpan(ss, "same trace", 9, byte(20+i))
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	for _, lim := range append(testLimits, Limits{MaxAttrValueBytes: 100, MaxSpansPerTrace: 5}) {
		require.True(t, diffDecode(t, b, lim, now))
	}
	require.True(t, diffDecode(t, mustMarshal(t, realisticTraces(100, now.Add(-time.Minute))), Limits{}, now))
}

func mustMarshal(t testing.TB, td ptrace.Traces) []byte {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return b
}

// TestDecodeProtoMaxSpansPerTrace covers the message for spans over the
// limit when the same IDs occur more than once (it names the first span
// with those IDs, as it always did), and that a Converter keeps counting
// across requests.
func TestDecodeProtoMaxSpansPerTrace(t *testing.T) {
	dup := span(1)
	b := req(resourceSpans(
		scopeSpans(span(1, fI64(7, 0)), dup, span(2)),
		scopeSpans(dup, dup, span(3), span(4, fI64(7, math.MaxUint64)), span(4), span(4)),
	))
	for _, max := range []int{1, 2, 3, 5} {
		diffDecode(t, b, Limits{MaxSpansPerTrace: max}, now)
	}
	ref, c := NewConverter(Limits{MaxSpansPerTrace: 5}), NewConverter(Limits{MaxSpansPerTrace: 5})
	for range 3 {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		require.NoError(t, err)
		want := ref.Convert(td, now)
		bt, err := c.DecodeProto(b, now)
		require.NoError(t, err)
		require.Equal(t, want, c.Admit(bt))
	}
}

func TestDecodeProtoErrors(t *testing.T) {
	c := NewConverter(Limits{})
	for _, tc := range []struct {
		req []byte
		is  error
		msg string
	}{
		{oneSpan(span(1, kv(9, "deep", deepValue(maxNesting+1)))), ErrTooDeep,
			"attribute values nest more than 100 levels deep at resource_spans[0].scope_spans[0].spans[0].attributes[0]"},
		{oneSpan(span(1, fRaw(30, protowire.StartGroupType))), ErrGroup,
			"protobuf groups (wire types 3 and 4) are not supported at resource_spans[0].scope_spans[0].spans[0]"},
		{req(resourceSpans(), resourceSpans(scopeSpans(span(1), span(2, fLen(2, []byte{1, 2}))))), nil,
			"span_id is 2 bytes long, want 8 (or 0 for none) at resource_spans[1].scope_spans[0].spans[1]"},
		{oneSpan(span(1, fLen(13), fLen(13, fVar(6, 1)))), nil,
			"flags has wire type 0, want 5 at resource_spans[0].scope_spans[0].spans[0].links[1]"},
		{oneSpan(span(1))[:30], nil, "unexpected end of message at resource_spans[0]"},
	} {
		_, err := c.DecodeProto(tc.req, now)
		require.EqualError(t, err, tc.msg)
		if tc.is != nil {
			require.ErrorIs(t, err, tc.is)
		}
	}
}

// TestDecodeProtoNestingBomb: a 15 MiB request nesting 1.65 million
// levels is refused without recursing.
func TestDecodeProtoNestingBomb(t *testing.T) {
	const depth = 1_650_000
	lens := make([]int, depth+1)
	for i := depth - 1; i >= 0; i-- {
		arr := 1 + protowire.SizeVarint(uint64(lens[i+1])) + lens[i+1]
		lens[i] = 1 + protowire.SizeVarint(uint64(arr)) + arr
	}
	v := make([]byte, 0, lens[0])
	for i := range depth {
		v = append(v, 5<<3|2)
		v = protowire.AppendVarint(v, uint64(1+protowire.SizeVarint(uint64(lens[i+1]))+lens[i+1]))
		v = append(v, 1<<3|2)
		v = protowire.AppendVarint(v, uint64(lens[i+1]))
	}
	b := req(fLen(1, kv(1, "k", v)))
	_, err := NewConverter(Limits{}).DecodeProto(b, now)
	require.ErrorIs(t, err, ErrTooDeep)
}

// TestDecodeProtoAllocs checks the allocation budget: a handful per
// request (batch, spans, positions, attribute and event arenas, resource,
// scope) plus the strings the interner has not seen yet, none here.
func TestDecodeProtoAllocs(t *testing.T) {
	b := mustMarshal(t, realisticTraces(512, now.Add(-time.Minute)))
	c := NewConverter(Limits{MaxSpansPerTrace: 1 << 30})
	allocs := testing.AllocsPerRun(20, func() {
		bt, err := c.DecodeProto(b, now)
		require.NoError(t, err)
		require.Len(t, c.Admit(bt).Spans, 512)
	})
	t.Logf("%.0f allocations per request of 512 spans", allocs)
	require.Less(t, allocs, 32.0)
}

func TestVarint10(t *testing.T) {
	v, n := binary.Uvarint(varint10(5))
	require.Negative(t, n, "binary.Uvarint refuses it (%d)", v)
	got, i := varint(varint10(5), 0)
	require.Equal(t, 10, i)
	require.Equal(t, uint64(5), got)
}

// sparseTraces is telemetrygen-like traffic: 10-span traces whose spans
// carry one attribute, under a resource with one.
func sparseTraces(ntraces int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("telemetrygen")
	for t := range ntraces {
		for i := range 10 {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{1, byte(t), byte(t >> 8), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
			sp.SetSpanID(pcommon.SpanID{1, byte(i), 3, 4, 5, 6, 7, 8})
			sp.SetName("okey-dokey-0")
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second + 123*time.Microsecond)))
			sp.Attributes().PutStr("peer.service", "telemetrygen-server")
		}
	}
	return td
}

// The attribute arena of a request is sized from the density of earlier
// requests: after a few requests of spans with few attributes, its unused
// tail (kept alive as long as the spans are) is a fraction of what it
// uses, where sizing from the request's bytes alone left most of it
// unused. Requests with many attributes still decode in few chunks.
func TestAttrArenaLearnsDensity(t *testing.T) {
	c := NewConverter(Limits{})
	b := mustMarshal(t, sparseTraces(50)) // 500 spans
	waste := func() (used, unused int) {
		bt, err := c.DecodeProto(b, now)
		require.NoError(t, err)
		require.Len(t, bt.st.spans, 500)
		return bt.st.attrs.used, cap(bt.st.attrs.buf) - len(bt.st.attrs.buf)
	}
	used, first := waste()
	require.Greater(t, first, 2*used, "sizing from bytes alone should overestimate here")
	for range 30 {
		waste()
	}
	used, unused := waste()
	require.LessOrEqual(t, unused, used/4+64, "used %d, unused %d", used, unused)

	// Dense requests after sparse ones: the estimate adapts.
	dense := mustMarshal(t, realisticTraces(500, now.Add(-time.Minute)))
	for range 30 {
		_, err := c.DecodeProto(dense, now)
		require.NoError(t, err)
	}
	bt, err := c.DecodeProto(dense, now)
	require.NoError(t, err)
	unused = cap(bt.st.attrs.buf) - len(bt.st.attrs.buf)
	require.LessOrEqual(t, unused, bt.st.attrs.used/4+64)
}
