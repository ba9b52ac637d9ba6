package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

type spanInfo struct {
	span     ptrace.Span
	resource pcommon.Resource
}

// byTrace groups the spans of td by trace ID.
func byTrace(td ptrace.Traces) map[pcommon.TraceID][]spanInfo {
	out := map[pcommon.TraceID][]spanInfo{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				out[sp.TraceID()] = append(out[sp.TraceID()], spanInfo{sp, rs.Resource()})
			}
		}
	}
	return out
}

func TestGeneratorProducesValidTraces(t *testing.T) {
	g := NewGenerator(1, GenOptions{Now: fixedClock})
	td := g.Next(20000)
	require.LessOrEqual(t, td.SpanCount(), 20000)
	require.Greater(t, td.SpanCount(), 20000-5)

	traces := byTrace(td)
	require.Greater(t, len(traces), 20000/50)
	var attrs, resAttrs, spans, events int
	services := map[string]bool{}
	for tid, ss := range traces {
		require.False(t, tid.IsEmpty())
		require.GreaterOrEqual(t, len(ss), 5, "trace %s", tid)
		require.LessOrEqual(t, len(ss), 50, "trace %s", tid)
		byID := map[pcommon.SpanID]ptrace.Span{}
		for _, si := range ss {
			require.False(t, si.span.SpanID().IsEmpty())
			_, dup := byID[si.span.SpanID()]
			require.False(t, dup, "duplicate span ID")
			byID[si.span.SpanID()] = si.span
		}
		roots := 0
		for _, si := range ss {
			sp := si.span
			spans++
			attrs += sp.Attributes().Len()
			resAttrs += si.resource.Attributes().Len()
			events += sp.Events().Len()
			name, ok := si.resource.Attributes().Get("service.name")
			require.True(t, ok)
			services[name.Str()] = true
			require.NotEmpty(t, sp.Name())
			require.LessOrEqual(t, sp.StartTimestamp(), sp.EndTimestamp())
			require.LessOrEqual(t, sp.EndTimestamp().AsTime(), fixedNow)
			require.True(t, sp.StartTimestamp().AsTime().After(fixedNow.Add(-10*time.Minute)))
			if sp.ParentSpanID().IsEmpty() {
				roots++
				require.Equal(t, ptrace.SpanKindServer, sp.Kind())
				continue
			}
			parent, ok := byID[sp.ParentSpanID()]
			require.True(t, ok, "parent of span %s missing from trace %s", sp.SpanID(), tid)
			require.GreaterOrEqual(t, sp.StartTimestamp(), parent.StartTimestamp())
			require.LessOrEqual(t, sp.EndTimestamp(), parent.EndTimestamp())
			if sp.Kind() == ptrace.SpanKindServer {
				require.Equal(t, ptrace.SpanKindClient, parent.Kind(), "server span %q", sp.Name())
			}
		}
		require.Equal(t, 1, roots, "trace %s", tid)
	}
	require.Len(t, services, numServices)
	avgAttrs := float64(attrs) / float64(spans)
	avgRes := float64(resAttrs) / float64(spans)
	t.Logf("spans=%d traces=%d attrs/span=%.1f resource attrs=%.1f events/span=%.2f", spans, len(traces), avgAttrs, avgRes, float64(events)/float64(spans))
	require.InDelta(t, 15, avgAttrs, 2)
	require.InDelta(t, 12, avgRes, 2)
	require.Greater(t, events, 0)
}

func TestGeneratorErrorRate(t *testing.T) {
	for _, rate := range []float64{0, 0.2, -1} {
		g := NewGenerator(7, GenOptions{ErrorRate: rate, Now: fixedClock})
		traces := byTrace(g.Next(60_000))
		failed := 0
		for _, ss := range traces {
			hasErr, hasException := false, false
			for _, si := range ss {
				if si.span.Status().Code() != ptrace.StatusCodeError {
					continue
				}
				hasErr = true
				require.NotEmpty(t, si.span.Status().Message())
				for _, ev := range si.span.Events().All() {
					if ev.Name() == "exception" {
						hasException = true
						for _, k := range []string{"exception.type", "exception.message", "exception.stacktrace"} {
							v, ok := ev.Attributes().Get(k)
							require.True(t, ok, k)
							require.NotEmpty(t, v.Str(), k)
						}
					}
				}
				if si.span.ParentSpanID().IsEmpty() {
					require.True(t, hasErr)
				}
			}
			if hasErr {
				require.True(t, hasException, "failed trace without an exception event")
				failed++
			}
		}
		want := rate
		switch {
		case rate == 0:
			want = 0.05
		case rate < 0:
			want = 0
		}
		got := float64(failed) / float64(len(traces))
		t.Logf("rate %v: %d of %d traces failed (%.3f)", rate, failed, len(traces), got)
		require.InDelta(t, want, got, 0.01+want*0.15)
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	gen := func(seed int64) []byte {
		g := NewGenerator(seed, GenOptions{Now: fixedClock})
		var out []byte
		for range 5 {
			out, _ = g.AppendProto(out, 700)
		}
		return out
	}
	a, b := gen(42), gen(42)
	require.Equal(t, a, b)
	require.NotEqual(t, a, gen(43))
}

func TestGeneratorSpanCounts(t *testing.T) {
	g := NewGenerator(3, GenOptions{MinSpans: 10, MaxSpans: 10, Now: fixedClock})
	for _, n := range []int{1, 9, 10, 25, 500} {
		b, spans := g.AppendProto(nil, n)
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		require.NoError(t, err)
		require.Equal(t, spans, td.SpanCount())
		switch {
		case n < 10:
			require.Equal(t, n, spans)
		default:
			require.Equal(t, n-n%10, spans)
		}
		require.Len(t, g.traces, len(byTrace(td)))
	}
}

func TestGeneratorCardinality(t *testing.T) {
	g := NewGenerator(5, GenOptions{Now: fixedClock})
	users, paths, stmts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	pods := map[string]bool{}
	for range 5 {
		for _, rs := range g.Next(10_000).ResourceSpans().All() {
			pod, _ := rs.Resource().Attributes().Get("k8s.pod.name")
			pods[pod.Str()] = true
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if v, ok := sp.Attributes().Get("user.id"); ok {
						users[v.Str()] = true
					}
					if v, ok := sp.Attributes().Get("url.path"); ok {
						paths[v.Str()] = true
					}
					if v, ok := sp.Attributes().Get("db.statement"); ok {
						stmts[v.Str()] = true
					}
				}
			}
		}
	}
	t.Logf("users=%d paths=%d statements=%d pods=%d", len(users), len(paths), len(stmts), len(pods))
	require.Greater(t, len(users), 1700) // ~1800 traces, each from one of 100k users
	require.Greater(t, len(paths), 1000)
	require.Greater(t, len(stmts), 1000)
	require.Len(t, pods, numServices*3)
}

// TestBytesPerSpan keeps the encoded size near the ~800 bytes/span that
// benchmarks assume.
func TestBytesPerSpan(t *testing.T) {
	g := NewGenerator(11, GenOptions{Now: fixedClock})
	var total, spans int
	for range 50 {
		b, n := g.AppendProto(nil, 500)
		total += len(b)
		spans += n
	}
	perSpan := float64(total) / float64(spans)
	t.Logf("%.0f bytes/span", perSpan)
	require.InDelta(t, 800, perSpan, 120)
}

func BenchmarkGenerate(b *testing.B) {
	g := NewGenerator(1, GenOptions{})
	var buf []byte
	spans, bytes := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		var n int
		buf, n = g.AppendProto(buf[:0], 500)
		spans += n
		bytes += len(buf)
	}
	b.SetBytes(int64(bytes / b.N))
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(bytes)/float64(spans), "bytes/span")
}

func BenchmarkNext(b *testing.B) {
	g := NewGenerator(1, GenOptions{})
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		spans += g.Next(500).SpanCount()
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
}
