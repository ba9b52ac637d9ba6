package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// FuzzConvert feeds arbitrary bytes through the OTLP protobuf decoder and
// Convert: it must never panic, and every span it returns must be valid
// and encodable.
func FuzzConvert(f *testing.F) {
	td := realisticTraces(3, now)
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte{})
	lim := Limits{MaxAttrsPerSpan: 4, MaxAttrValueBytes: 16, MaxEventsPerSpan: 2, MaxLinksPerSpan: 2, MaxSpansPerTrace: 3}
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		spans, rejected, msg := Convert(td, lim, now)
		require.Equal(t, td.SpanCount(), len(spans)+rejected)
		require.Equal(t, rejected > 0, msg != "")
		maxStart := now.Add(DefaultMaxFutureSkew).UnixNano()
		for i := range spans {
			s := &spans[i]
			require.False(t, s.TraceID.IsZero())
			require.False(t, s.SpanID.IsZero())
			require.Positive(t, s.Start)
			require.LessOrEqual(t, s.Start, maxStart)
			require.GreaterOrEqual(t, s.End, s.Start)
			require.True(t, utf8.ValidString(s.Name))
			require.LessOrEqual(t, len(s.Events), lim.MaxEventsPerSpan)
			require.LessOrEqual(t, len(s.Links), lim.MaxLinksPerSpan)
			require.LessOrEqual(t, len(s.Attrs), lim.MaxAttrsPerSpan+2) // + markers
			for _, a := range s.Attrs {
				require.True(t, utf8.ValidString(a.Key))
				if a.Key != TruncatedAttr {
					require.LessOrEqual(t, len(a.Str), lim.MaxAttrValueBytes)
				}
				if a.Type == model.TypeStr {
					require.True(t, utf8.ValidString(a.Str))
				}
			}
		}
		// The result must survive the storage encoding.
		dec, err := model.DecodeBatch(model.AppendBatch(nil, spans))
		require.NoError(t, err)
		require.Len(t, dec, len(spans))
		_ = model.ToTraces(dec)
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzConvert when
// REGENERATE_FUZZ_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("REGENERATE_FUZZ_SEEDS") == "" {
		t.Skip("set REGENERATE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	bad, ss := oneScope()
	newSpan(ss, "zero trace", 0, 1).SetTraceID(pcommon.TraceID{})
	newSpan(ss, "zero span", 1, 0).SetSpanID(pcommon.SpanID{})
	newSpan(ss, "no start", 1, 3).SetStartTimestamp(0)
	newSpan(ss, "future", 1, 4).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(48 * time.Hour)))
	newSpan(ss, "backwards", 1, 5).SetEndTimestamp(1)
	ps := newSpan(ss, "big \xff", 1, 6)
	for i := range 8 {
		ps.Attributes().PutStr(fmt.Sprint("k", i), strings.Repeat("v\xe2\x82", 10))
	}
	l := ps.Attributes().PutEmptySlice("list")
	for range 5 {
		l.AppendEmpty().SetEmptyMap().PutStr("x", "0123456789")
	}
	for range 3 {
		ps.Events().AppendEmpty().SetName("e")
		ps.Links().AppendEmpty().SetTraceID(tid(2))
	}
	for i := range 5 {
		newSpan(ss, "same trace", 7, byte(10+i))
	}
	seeds := map[string]ptrace.Traces{"realistic": realisticTraces(3, now), "bad": bad}
	dir := filepath.Join("testdata", "fuzz", "FuzzConvert")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, td := range seeds {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

func TestFuzzSeedsStayValid(t *testing.T) {
	// Guard against a realisticTraces change that makes the seed invalid.
	spans, rejected, _ := Convert(realisticTraces(3, now), Limits{}, now.Add(time.Second))
	require.Len(t, spans, 3)
	require.Zero(t, rejected)
}
