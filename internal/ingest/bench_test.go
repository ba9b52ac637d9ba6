package ingest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
)

// realisticTraces builds a request like an SDK batch: one resource with
// the usual semantic-convention attributes, one scope, nspans spans of
// 15 attributes each spread over traces of 16 spans, an event on every
// fifth span.
func realisticTraces(nspans int, start time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	r := rs.Resource().Attributes()
	r.PutStr("service.name", "checkout")
	r.PutStr("service.version", "1.42.0")
	r.PutStr("service.namespace", "shop")
	r.PutStr("host.name", "checkout-7d9f8b6c5-x2x4k")
	r.PutStr("os.type", "linux")
	r.PutInt("process.pid", 4711)
	r.PutStr("telemetry.sdk.name", "opentelemetry")
	r.PutStr("telemetry.sdk.language", "go")
	r.PutStr("telemetry.sdk.version", "1.37.0")
	r.PutStr("k8s.pod.name", "checkout-7d9f8b6c5-x2x4k")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.62.0")
	spans := ss.Spans()
	spans.EnsureCapacity(nspans)
	t0 := pcommon.NewTimestampFromTime(start)
	for i := range nspans {
		ps := spans.AppendEmpty()
		var trace pcommon.TraceID
		trace[0], trace[1], trace[15] = 0x4b, byte(i/16), byte(i/16>>8)+1
		ps.SetTraceID(trace)
		ps.SetSpanID(pcommon.SpanID{0: 0x11, 6: byte(i >> 8), 7: byte(i) + 1})
		if i%16 != 0 {
			ps.SetParentSpanID(pcommon.SpanID{0: 0x11, 6: byte((i - 1) >> 8), 7: byte(i - 1)})
		}
		ps.SetName(fmt.Sprintf("GET /api/v1/cart/{id}/items/%d", i%7))
		ps.SetKind(ptrace.SpanKindServer)
		ps.SetStartTimestamp(t0 + pcommon.Timestamp(i*1000))
		ps.SetEndTimestamp(t0 + pcommon.Timestamp(i*1000+250_000))
		a := ps.Attributes()
		a.EnsureCapacity(15)
		a.PutStr("http.request.method", "GET")
		a.PutStr("url.full", "https://shop.example.com/api/v1/cart/8c1f/items?currency=EUR&limit=50")
		a.PutStr("url.path", "/api/v1/cart/8c1f/items")
		a.PutStr("url.scheme", "https")
		a.PutStr("http.route", "/api/v1/cart/{id}/items")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("server.address", "shop.example.com")
		a.PutInt("server.port", 443)
		a.PutStr("client.address", "10.12.0.47")
		a.PutStr("network.protocol.version", "1.1")
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
		a.PutInt("http.request.body.size", 0)
		a.PutInt("http.response.body.size", 1834)
		a.PutStr("user.id", "u-000123")
		a.PutBool("cache.hit", i%3 == 0)
		if i%5 == 0 {
			ev := ps.Events().AppendEmpty()
			ev.SetName("cache.lookup")
			ev.SetTimestamp(t0 + pcommon.Timestamp(i*1000+100))
			ev.Attributes().PutStr("cache.key", "cart:8c1f")
			ev.Attributes().PutInt("cache.size", 512)
		}
	}
	return td
}

func BenchmarkConvert(b *testing.B) {
	const n = 512
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	td := realisticTraces(n, start)
	size := (&ptrace.ProtoMarshaler{}).TracesSize(td)
	c := NewConverter(Limits{MaxSpansPerTrace: 1 << 30})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		r := c.Convert(td, start)
		if len(r.Spans) != n {
			b.Fatalf("converted %d spans, rejected %d: %s", len(r.Spans), r.Rejected, r.Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	reportCPU(b, cpu, n)
}

// benchRequests are the requests the decoding benchmarks decode: the
// realisticTraces batch of BenchmarkConvert and 512 spans of loadgen's
// simulated shop (varied attributes, events, errors, many resources).
func benchRequests(b *testing.B, start time.Time) map[string][]byte {
	g := loadgen.NewGenerator(1, loadgen.GenOptions{Now: func() time.Time { return start }})
	lg, n := g.AppendProto(nil, 512)
	require.Equal(b, 512, n)
	return map[string][]byte{
		"realistic": mustMarshal(b, realisticTraces(512, start.Add(-time.Minute))),
		"loadgen":   lg,
	}
}

// BenchmarkDecode measures DecodeProto and Admit: protobuf bytes to
// validated spans. Compare BenchmarkDecodePdata, the path it replaced.
func BenchmarkDecode(b *testing.B) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"realistic", "loadgen"} {
		body := benchRequests(b, start)[name]
		b.Run(name, func(b *testing.B) {
			c := NewConverter(Limits{MaxSpansPerTrace: 1 << 30})
			n := 0
			benchLoop(b, len(body), func() int {
				bt, err := c.DecodeProto(body, start)
				if err != nil {
					b.Fatal(err)
				}
				n = len(c.Admit(bt).Spans)
				return n
			})
		})
	}
}

// BenchmarkDecodePdata is the path DecodeProto replaced, on the same
// requests: pdata's protobuf decoder, then Convert (the nesting pre-check
// of otlp, about 0.5 µs per span, not included).
func BenchmarkDecodePdata(b *testing.B) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"realistic", "loadgen"} {
		body := benchRequests(b, start)[name]
		b.Run(name, func(b *testing.B) {
			c := NewConverter(Limits{MaxSpansPerTrace: 1 << 30})
			benchLoop(b, len(body), func() int {
				req := ptraceotlp.NewExportRequest()
				if err := req.UnmarshalProto(body); err != nil {
					b.Fatal(err)
				}
				return len(c.Convert(req.Traces(), start).Spans)
			})
		})
	}
}

// benchLoop runs fn (which returns the spans it produced) and reports
// per-span wall time, CPU time and allocations.
func benchLoop(b *testing.B, size int, fn func() int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	spans := fn()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		fn()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(b.N*spans), "allocs/span")
	reportCPU(b, cpu, spans)
}
