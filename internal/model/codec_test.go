package model

import (
	"math"
	"os"
	"path/filepath"
	"testing"

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
		if err != nil {
			return
		}
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
