package model

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func sampleSpans() []Span {
	res := &Resource{Attrs: []Attr{{Key: "service.name", Type: TypeStr, Str: "checkout"}}, DroppedAttrs: 1, SchemaURL: "https://opentelemetry.io/schemas/1.26.0"}
	scope := &Scope{Name: "lib", Version: "1.0", Attrs: []Attr{{Key: "a", Type: TypeBool, Num: 1}}}
	nested := AttrFromValue("arr", func() pcommon.Value {
		v := pcommon.NewValueSlice()
		v.Slice().AppendEmpty().SetStr("x")
		m := v.Slice().AppendEmpty().SetEmptyMap()
		m.PutInt("n", -5)
		m.PutEmptyBytes("b").FromRaw([]byte{0, 1, 2})
		return v
	}())
	return []Span{
		{
			TraceID: TraceID{1, 2, 3}, SpanID: SpanID{4}, ParentID: SpanID{5}, TraceState: "k=v", Flags: 257,
			Name: "PlaceOrder", Kind: KindServer, StatusCode: StatusError, StatusMessage: "boom",
			Start: 1_700_000_000_000_000_000, End: 1_700_000_000_500_000_000,
			Attrs: []Attr{
				{Key: "s", Type: TypeStr, Str: "v"}, {Key: "i", Type: TypeInt, Num: uint64(math.MaxUint64)},
				{Key: "d", Type: TypeDouble, Num: math.Float64bits(72.5)}, {Key: "e", Type: TypeEmpty}, nested,
			},
			DroppedAttrs:  2,
			Events:        []Event{{Time: 1_700_000_000_100_000_000, Name: "exception", Attrs: []Attr{{Key: "exception.type", Type: TypeStr, Str: "IOError"}}, DroppedAttrs: 3}},
			DroppedEvents: 4,
			Links:         []Link{{TraceID: TraceID{9}, SpanID: SpanID{8}, TraceState: "a=b", Flags: 1, Attrs: []Attr{{Key: "l", Type: TypeInt, Num: 7}}, DroppedAttrs: 5}},
			DroppedLinks:  6,
			Resource:      res, Scope: scope,
		},
		{TraceID: TraceID{1, 2, 3}, SpanID: SpanID{5}, Name: "root", Start: 10, End: 5, Resource: res, Scope: scope},
		{TraceID: TraceID{7}, SpanID: SpanID{7}, Name: "other", Start: 1, End: 2, Resource: &Resource{}, Scope: &Scope{}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	in := sampleSpans()
	b := AppendBatch(nil, in)
	out, err := DecodeBatch(b)
	require.NoError(t, err)
	require.Equal(t, in, out)
	require.Same(t, out[0].Resource, out[1].Resource, "shared resources stay shared")
	require.Equal(t, b, AppendBatch(nil, out))
}

func TestDecodeBatchCorrupt(t *testing.T) {
	b := AppendBatch(nil, sampleSpans())
	for i := 0; i < len(b); i++ {
		_, err := DecodeBatch(b[:i])
		require.ErrorIs(t, err, ErrCorrupt, "truncated at %d", i)
	}
	_, err := DecodeBatch(append(b, 0))
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestDecodeBatchFilter picks traces out of a batch: the same spans as
// DecodeBatch, only those of the kept traces, and the same errors.
func TestDecodeBatchFilter(t *testing.T) {
	in := sampleSpans()
	b := AppendBatch(nil, in)
	for _, tc := range []struct {
		name string
		keep func(TraceID) bool
		want []Span
	}{
		{"all", func(TraceID) bool { return true }, in},
		{"none", func(TraceID) bool { return false }, nil},
		{"first trace", func(id TraceID) bool { return id == in[0].TraceID }, in[:2]},
		{"last trace", func(id TraceID) bool { return id == in[2].TraceID }, in[2:]},
	} {
		out, n, err := DecodeBatchFilter(b, tc.keep, 0)
		require.NoError(t, err, tc.name)
		require.Equal(t, len(in), n, tc.name)
		require.Equal(t, tc.want, out, tc.name)
	}
	out, _, err := DecodeBatchFilter(b, func(id TraceID) bool { return id == in[0].TraceID }, 2)
	require.NoError(t, err)
	require.Equal(t, in[:2], out)
	require.Same(t, out[0].Resource, out[1].Resource, "shared resources stay shared")
	// The reserved room takes appends without touching the next list.
	all, _, err := DecodeBatchFilter(b, func(TraceID) bool { return true }, 2)
	require.NoError(t, err)
	require.Equal(t, in, all)
	require.Equal(t, len(all[0].Attrs)+2, cap(all[0].Attrs))
	p := &all[0].Attrs[0]
	all[0].Attrs = append(all[0].Attrs, Attr{Key: "x"}, Attr{Key: "y"})
	require.Same(t, p, &all[0].Attrs[0], "appended in place")
	require.Equal(t, in[0].Attrs, all[0].Attrs[:len(in[0].Attrs)])
	two := []Span{
		{TraceID: TraceID{1}, SpanID: SpanID{1}, Attrs: []Attr{{Key: "a", Type: TypeStr, Str: "1"}}, Resource: &Resource{}, Scope: &Scope{}},
		{TraceID: TraceID{1}, SpanID: SpanID{2}, Attrs: []Attr{{Key: "a", Type: TypeStr, Str: "2"}}, Resource: &Resource{}, Scope: &Scope{}},
	}
	got, _, err := DecodeBatchFilter(AppendBatch(nil, two), func(TraceID) bool { return true }, 1)
	require.NoError(t, err)
	got[0].Attrs = append(got[0].Attrs, Attr{Key: "x"})
	require.Equal(t, two[1].Attrs, got[1].Attrs, "the next span's attributes are untouched")
	got[0].Attrs = append(got[0].Attrs, Attr{Key: "y"}) // past the reserve: a copy
	require.Equal(t, two[1].Attrs, got[1].Attrs)
	require.Same(t, unsafe.StringData(got[0].Attrs[0].Key), unsafe.StringData(got[1].Attrs[0].Key), "keys are shared")

	// A corrupt batch is an error whatever is kept, as in DecodeBatch.
	for i := 0; i < len(b); i++ {
		for _, keep := range []bool{true, false} {
			_, _, err := DecodeBatchFilter(b[:i], func(TraceID) bool { return keep }, 1)
			require.ErrorIs(t, err, ErrCorrupt, "truncated at %d, keep %v", i, keep)
		}
	}
	_, _, err = DecodeBatchFilter(append(b, 0), func(TraceID) bool { return false }, 0)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestPdataRoundTrip(t *testing.T) {
	in := sampleSpans()
	td := ToTraces(in)
	require.Equal(t, 3, td.SpanCount())
	require.Equal(t, 2, td.ResourceSpans().Len())
	// Through the OTLP protobuf encoding and back.
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	td2, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	require.NoError(t, err)
	out := FromTraces(td2)
	require.Equal(t, len(in), len(out))
	for i := range in {
		require.Equal(t, AppendSpanBody(nil, &in[i]), AppendSpanBody(nil, &out[i]), "span %d", i)
		require.Equal(t, AppendResource(nil, in[i].Resource), AppendResource(nil, out[i].Resource))
		require.Equal(t, AppendScope(nil, in[i].Scope), AppendScope(nil, out[i].Scope))
	}
}

func TestAttrString(t *testing.T) {
	for _, c := range []struct {
		a    Attr
		want string
	}{
		{Attr{Type: TypeStr, Str: "x"}, "x"},
		{Attr{Type: TypeInt, Num: uint64(1<<64 - 123)}, "-123"},
		{Attr{Type: TypeDouble, Num: math.Float64bits(72.5)}, "72.5"},
		{Attr{Type: TypeBool, Num: 1}, "true"},
		{Attr{Type: TypeBytes, Str: "\x00\x00\x30\x39"}, "AAAwOQ=="},
		{sampleSpans()[0].Attrs[4], `["x",{"b":"AAEC","n":-5}]`},
	} {
		require.Equal(t, c.want, c.a.String())
	}
}

func TestParseIDs(t *testing.T) {
	id, err := ParseTraceID("4bf92f3577b34da6a3ce929d0e0e4736")
	require.NoError(t, err)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", id.String())
	id, err = ParseTraceID("a3ce929d0e0e4736")
	require.NoError(t, err)
	require.Equal(t, "0000000000000000a3ce929d0e0e4736", id.String())
	for _, bad := range []string{"", "xyz", "4bf92f3577b34da6a3ce929d0e0e47361", "abc"} {
		_, err := ParseTraceID(bad)
		require.ErrorIs(t, err, ErrBadID, bad)
	}
	sid, err := ParseSpanID("00f067aa0ba902b7")
	require.NoError(t, err)
	require.Equal(t, "00f067aa0ba902b7", sid.String())
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, sampleSpans()))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeBatch(b)
		// DecodeBatchFilter accepts exactly what DecodeBatch does, whether
		// it decodes a span or walks over it.
		all, n, errAll := DecodeBatchFilter(b, func(TraceID) bool { return true }, 2)
		_, _, errNone := DecodeBatchFilter(b, func(TraceID) bool { return false }, 0)
		require.Equal(t, err == nil, errAll == nil, "filter(all) vs DecodeBatch: %v / %v", errAll, err)
		require.Equal(t, err == nil, errNone == nil, "filter(none) vs DecodeBatch: %v / %v", errNone, err)
		if err != nil {
			return
		}
		require.Equal(t, len(spans), n)
		require.Equal(t, len(spans), len(all))
		// Whatever decodes re-encodes to a batch that decodes the same.
		again, err := DecodeBatch(AppendBatch(nil, spans))
		require.NoError(t, err)
		require.Equal(t, len(spans), len(again))
	})
}

// TestBatchFormatGolden freezes the batch encoding (the WAL payload):
// changing it must come with a new version and a note in docs/format.md.
// REGENERATE_GOLDEN=1 rewrites the golden file.
func TestBatchFormatGolden(t *testing.T) {
	got := AppendBatch(nil, sampleSpans())
	path := filepath.Join("testdata", "batch-v1.golden")
	if os.Getenv("REGENERATE_GOLDEN") != "" {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, got, "the span batch encoding changed")
	spans, err := DecodeBatch(want)
	require.NoError(t, err)
	require.Equal(t, sampleSpans(), spans)
}
