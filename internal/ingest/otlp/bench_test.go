package otlp

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
)

// benchTraces is a 512-span SDK-like batch: 10 resource attributes, 15
// attributes per span, an event on every fifth span, traces of 16 spans.
func benchTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	r := rs.Resource().Attributes()
	for k, v := range map[string]string{"service.name": "checkout", "service.version": "1.42.0", "service.namespace": "shop",
		"host.name": "checkout-7d9f8b6c5-x2x4k", "os.type": "linux", "telemetry.sdk.name": "opentelemetry",
		"telemetry.sdk.language": "go", "telemetry.sdk.version": "1.37.0", "k8s.pod.name": "checkout-7d9f8b6c5-x2x4k"} {
		r.PutStr(k, v)
	}
	r.PutInt("process.pid", 4711)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.62.0")
	t0 := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute))
	for i := range n {
		ps := ss.Spans().AppendEmpty()
		ps.SetTraceID(pcommon.TraceID{0: 0x4b, 1: byte(i / 16), 15: 1})
		ps.SetSpanID(pcommon.SpanID{0: 0x11, 6: byte(i >> 8), 7: byte(i) + 1})
		ps.SetName(fmt.Sprintf("GET /api/v1/cart/{id}/items/%d", i%7))
		ps.SetKind(ptrace.SpanKindServer)
		ps.SetStartTimestamp(t0 + pcommon.Timestamp(i*1000))
		ps.SetEndTimestamp(t0 + pcommon.Timestamp(i*1000+250_000))
		a := ps.Attributes()
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
			ev.SetTimestamp(ps.StartTimestamp() + 100)
			ev.Attributes().PutStr("cache.key", "cart:8c1f")
		}
	}
	return td
}

// BenchmarkHTTPProtobuf measures the HTTP handler end to end (read body,
// decompress, decode, validate, convert, respond) with a no-op consumer.
func BenchmarkHTTPProtobuf(b *testing.B) {
	const n = 512
	body := protoBody(b, benchTraces(n))
	for _, enc := range []string{"none", "gzip", "zstd"} {
		b.Run(enc, func(b *testing.B) {
			payload := body
			switch enc {
			case "gzip":
				payload = gzipBytes(b, body)
			case "zstd":
				payload = zstdBytes(b, body, true)
			}
			r, err := New(Config{Limits: ingest.Limits{MaxSpansPerTrace: 1 << 30}}, nopConsumer{}, nil, nil)
			require.NoError(b, err)
			defer r.Shutdown(context.Background())
			h := r.httpHandler()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, TracesPath, bytes.NewReader(payload))
				req.Header.Set("Content-Type", hdrProto)
				if enc != "none" {
					req.Header.Set("Content-Encoding", enc)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
			reportCPU(b, cpu, n)
			reportCPU(b, cpu, n)
		})
	}
}

// BenchmarkPdataDecode is the reference cost of pdata's protobuf decoder
// alone on the same request, for comparing with BenchmarkHTTPProtobuf.
func BenchmarkPdataDecode(b *testing.B) {
	const n = 512
	body := protoBody(b, benchTraces(n))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	reportCPU(b, cpu, n)
}
