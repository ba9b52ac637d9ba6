package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	zipkinexp "go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// postZipkin posts a body to the Zipkin port.
func (s *server) postZipkin(contentType string, body []byte, gz bool) (int, string) {
	s.t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		require.NoError(s.t, zw.Close())
		body = buf.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, s.zipkin+"/api/v2/spans", bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// zipkinGet GETs a Zipkin API path and decodes JSON into v.
func (s *server) zipkinGet(path string, v any) (int, []byte) {
	s.t.Helper()
	code, b := httpGet(s.t, s.zipkin+path)
	if v != nil && code == 200 {
		require.NoError(s.t, json.Unmarshal(b, v), "body: %s", b)
	}
	return code, b
}

// canonical decodes Zipkin JSON spans into generic maps sorted by id and
// service, for comparison.
func canonical(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var spans []map[string]any
	require.NoError(t, json.Unmarshal(b, &spans), "%s", b)
	key := func(m map[string]any) string {
		svc := ""
		if le, ok := m["localEndpoint"].(map[string]any); ok {
			svc, _ = le["serviceName"].(string)
		}
		return fmt.Sprint(m["traceId"], m["id"], svc)
	}
	slices.SortFunc(spans, func(a, b map[string]any) int { return strings.Compare(key(a), key(b)) })
	return spans
}

func zipkinBatch(t *testing.T) []byte {
	b, err := os.ReadFile("testdata/zipkin/batch.json")
	require.NoError(t, err)
	return b
}

// checkZipkinRoundTrip reads the batch back through the Zipkin API and the
// OTLP API and compares it with the input under the documented mapping.
func checkZipkinRoundTrip(t *testing.T, srv *server) {
	want := canonical(t, zipkinBatch(t))
	byTrace := map[string][]map[string]any{}
	for _, s := range want {
		id := s["traceId"].(string)
		byTrace[id] = append(byTrace[id], s)
	}
	for id, spans := range byTrace {
		code, b := srv.zipkinGet("/api/v2/trace/"+id, nil)
		require.Equal(t, 200, code, "%s", b)
		require.Equal(t, spans, canonical(t, b), "trace %s through the Zipkin API", id)
	}
	code, b := srv.zipkinGet("/api/v2/traceMany?traceIds=463ac35c9f6413ad,5af7183fb1d4cf5f5af7183fb1d4cf5f,00000000000000ff", nil)
	require.Equal(t, 200, code, "%s", b)
	var many [][]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &many))
	require.Len(t, many, 2)

	// The OTLP view of the same spans.
	td := srv.trace("5af7183fb1d4cf5f5af7183fb1d4cf5f")
	require.Equal(t, 3, td.SpanCount())
	type span struct {
		res   pcommon.Map
		scope pcommon.InstrumentationScope
		span  ptrace.Span
	}
	got := map[string]span{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				svc, _ := rs.Resource().Attributes().Get("service.name")
				got[svc.Str()+"/"+sp.Name()] = span{rs.Resource().Attributes(), ss.Scope(), sp}
			}
		}
	}
	root := got["frontend/get /api"]
	require.Equal(t, map[string]any{"service.name": "frontend", "host.name": "web-1"}, root.res.AsRaw())
	require.Equal(t, "zipkin-js", root.scope.Name())
	require.Equal(t, "0.22", root.scope.Version())
	require.Equal(t, ptrace.SpanKindServer, root.span.Kind())
	require.Equal(t, ptrace.StatusCodeOk, root.span.Status().Code())
	require.Equal(t, map[string]any{"http.method": "GET", "http.path": "/api", "net.host.ip": "10.0.0.1",
		"net.host.port": int64(8080), "net.peer.ip": "2001:db8::1", "net.peer.port": int64(51234)}, root.span.Attributes().AsRaw())
	require.Equal(t, time.UnixMicro(1793534400000000).UTC(), root.span.StartTimestamp().AsTime())
	require.Equal(t, time.UnixMicro(1793534400150000).UTC(), root.span.EndTimestamp().AsTime())
	require.Equal(t, 1, root.span.Events().Len())
	require.Equal(t, "wr", root.span.Events().At(0).Name())
	require.True(t, root.span.ParentSpanID().IsEmpty())

	client := got["frontend/get /backend"]
	require.Equal(t, ptrace.SpanKindClient, client.span.Kind())
	require.Equal(t, ptrace.StatusCodeError, client.span.Status().Code())
	require.Equal(t, "timeout", client.span.Status().Message())
	require.Equal(t, "352bff9a74ca9ad2", client.span.ParentSpanID().String())
	require.Equal(t, map[string]any{"http.method": "GET", "net.host.ip": "10.0.0.1", "peer.service": "backend",
		"net.peer.ip": "10.0.0.2", "net.peer.port": int64(9000)}, client.span.Attributes().AsRaw())
	ev := client.span.Events().At(0)
	require.Equal(t, "retry", ev.Name())
	require.Equal(t, map[string]any{"attempt": int64(2), "reason": "reset"}, ev.Attributes().AsRaw())

	shared := got["backend/get /backend"]
	require.Equal(t, "6b221d5bc9e6496c", shared.span.SpanID().String())
	require.Equal(t, map[string]any{"db.rows": "12", "net.host.ip": "10.0.0.2", "net.host.port": int64(9000), "zipkin.shared": true},
		shared.span.Attributes().AsRaw())

	// Through the Jaeger API the shared server span gets a span ID of its
	// own, below the client span, as Jaeger shows Zipkin's shared spans.
	var jt []jTrace
	_, code = srv.jaeger("/api/traces/5af7183fb1d4cf5f5af7183fb1d4cf5f", &jt)
	require.Equal(t, 200, code)
	require.Len(t, jt[0].Spans, 3)
	for _, sp := range jt[0].Spans {
		if jt[0].Processes[sp.ProcessID].ServiceName == "backend" {
			require.Equal(t, "6b221d5bc9e6496d", sp.SpanID)
			require.Equal(t, "6b221d5bc9e6496c", sp.References[0].SpanID)
		}
	}

	td = srv.trace("0000000000000000463ac35c9f6413ad")
	require.Equal(t, 1, td.SpanCount())
	c := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, ptrace.SpanKindConsumer, c.Kind())
	require.Equal(t, "rojo=00f067aa0ba902b7", c.TraceState().AsRaw())
	require.Equal(t, map[string]any{"peer.service": "kafka"}, c.Attributes().AsRaw())
}

// TestZipkinJSONRoundTrip posts a Zipkin v2 JSON batch and reads it back.
func TestZipkinJSONRoundTrip(t *testing.T) {
	srv := startServer(t, "")
	code, body := srv.postZipkin("application/json", zipkinBatch(t), false)
	require.Equal(t, 202, code, body)
	checkZipkinRoundTrip(t, srv)
}

// TestZipkinProto3RoundTrip posts the same batch as gzip-compressed proto3,
// encoded by zipkin-go, and reads it back.
func TestZipkinProto3RoundTrip(t *testing.T) {
	srv := startServer(t, "")
	var spans []*zipkinmodel.SpanModel
	require.NoError(t, json.Unmarshal(zipkinBatch(t), &spans))
	blob, err := zipkin_proto3.SpanSerializer{}.Serialize(spans)
	require.NoError(t, err)
	code, body := srv.postZipkin("application/x-protobuf", blob, true)
	require.Equal(t, 202, code, body)
	checkZipkinRoundTrip(t, srv)
}

// TestZipkinSDKExporter sends spans with the OpenTelemetry Go SDK's Zipkin
// exporter and finds them through the Zipkin and Jaeger query APIs.
func TestZipkinSDKExporter(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	exp, err := zipkinexp.New(srv.zipkin + "/api/v2/spans")
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "billing"))))
	tr := tp.Tracer("billing")
	rootCtx, root := tr.Start(ctx, "POST /invoice", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(rootCtx, "charge", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("peer.service", "stripe"), attribute.Int("amount", 42)))
	child.AddEvent("declined")
	child.SetStatus(codes.Error, "card declined")
	child.End()
	root.End()
	require.NoError(t, tp.Shutdown(ctx))
	id := root.SpanContext().TraceID().String()

	var traces [][]map[string]any
	code, b := srv.zipkinGet("/api/v2/traces?serviceName=billing&annotationQuery=error", &traces)
	require.Equal(t, 200, code, "%s", b)
	require.Len(t, traces, 1)
	require.Len(t, traces[0], 2)
	for _, s := range traces[0] {
		require.Equal(t, id, s["traceId"])
		if s["name"] == "charge" {
			require.Equal(t, "CLIENT", s["kind"])
			require.Equal(t, "card declined", s["tags"].(map[string]any)["error"])
			require.Equal(t, "42", s["tags"].(map[string]any)["amount"])
			require.Equal(t, map[string]any{"serviceName": "stripe"}, s["remoteEndpoint"])
			require.Equal(t, "declined", s["annotations"].([]any)[0].(map[string]any)["value"])
		}
	}
	var jt []jTrace
	_, code = srv.jaeger("/api/traces/"+id, &jt)
	require.Equal(t, 200, code)
	require.Len(t, jt[0].Spans, 2)
	require.Equal(t, "billing", jt[0].Processes["p1"].ServiceName)
}

// postAutocompleteSpans posts 16 spans of service frontend, a day after the
// batch, with the tags http.method=GET and http.path=/api: autocomplete
// samples a fraction of recent spans, and these make sure the values are
// seen whichever spans are sampled.
func postAutocompleteSpans(t *testing.T, srv *server) {
	var spans []string
	for i := range 16 {
		spans = append(spans, fmt.Sprintf(`{"traceId":"00000000000000000000000000000%03x","id":"%016x","name":"get /api",`+
			`"timestamp":%d,"duration":10,"localEndpoint":{"serviceName":"frontend"},"tags":{"http.method":"GET","http.path":"/api"}}`,
			0x100+i, 0x100+i, int64(1793620800000000)+int64(i)))
	}
	code, body := srv.postZipkin("application/json", []byte("["+strings.Join(spans, ",")+"]"), false)
	require.Equal(t, 202, code, body)
}

// TestZipkinQueryAPI checks the Zipkin v2 query endpoints and their errors.
func TestZipkinQueryAPI(t *testing.T) {
	srv := startServer(t, "")
	code, body := srv.postZipkin("application/json", zipkinBatch(t), true)
	require.Equal(t, 202, code, body)
	postAutocompleteSpans(t, srv)
	var list []string
	srv.zipkinGet("/api/v2/services", &list)
	require.Equal(t, []string{"backend", "frontend"}, list)
	srv.zipkinGet("/api/v2/spans?serviceName=frontend", &list)
	require.Equal(t, []string{"get /api", "get /backend"}, list)
	srv.zipkinGet("/api/v2/remoteServices?serviceName=frontend", &list)
	require.Equal(t, []string{"backend"}, list)
	srv.zipkinGet("/api/v2/remoteServices?serviceName=backend", &list)
	require.Equal(t, []string{"kafka"}, list)
	srv.zipkinGet("/api/v2/autocompleteValues?key=http.method", &list)
	require.Equal(t, []string{"GET"}, list)
	srv.zipkinGet("/api/v2/autocompleteKeys", &list)
	require.Subset(t, list, []string{"http.method", "http.path"})

	ids := func(v url.Values) []string {
		t.Helper()
		if v.Get("endTs") == "" {
			v.Set("endTs", "1793535000000") // ms, after the batch
			v.Set("lookback", "86400000")
		}
		var traces [][]map[string]any
		code, b := srv.zipkinGet("/api/v2/traces?"+v.Encode(), &traces)
		require.Equal(t, 200, code, "%s", b)
		var out []string
		for _, tr := range traces {
			out = append(out, tr[0]["traceId"].(string))
		}
		return out
	}
	const a, b = "5af7183fb1d4cf5f5af7183fb1d4cf5f", "463ac35c9f6413ad"
	require.Equal(t, []string{b, a}, ids(url.Values{}), "newest first")
	require.Equal(t, []string{a}, ids(url.Values{"serviceName": {"frontend"}}))
	require.Equal(t, []string{a}, ids(url.Values{"serviceName": {"frontend"}, "spanName": {"get /backend"}}))
	require.Equal(t, []string{a}, ids(url.Values{"serviceName": {"frontend"}, "spanName": {"all"}}))
	require.Equal(t, []string{b}, ids(url.Values{"remoteServiceName": {"kafka"}}))
	require.Equal(t, []string{a}, ids(url.Values{"annotationQuery": {"http.method=GET and http.path"}}))
	require.Equal(t, []string{a}, ids(url.Values{"annotationQuery": {"error"}}))
	require.Empty(t, ids(url.Values{"annotationQuery": {"http.method=POST"}}))
	require.Equal(t, []string{a}, ids(url.Values{"minDuration": {"100000"}}))
	require.Equal(t, []string{b}, ids(url.Values{"maxDuration": {"3000"}}))
	require.Equal(t, []string{b}, ids(url.Values{"limit": {"1"}}))
	require.Empty(t, ids(url.Values{"endTs": {"1793534300000"}, "lookback": {"1000"}}))

	for path, want := range map[string]string{
		"/api/v2/spans":                               "serviceName is required",
		"/api/v2/remoteServices":                      "serviceName is required",
		"/api/v2/traceMany":                           "traceIds is required",
		"/api/v2/traceMany?traceIds=xyz":              "traceIds",
		"/api/v2/trace/nothex":                        "traceId",
		"/api/v2/traces?minDuration=fast":             "minDuration",
		"/api/v2/traces?endTs=yesterday":              "endTs",
		"/api/v2/traces?lookback=-1":                  "lookback",
		"/api/v2/traces?limit=0":                      "limit",
		"/api/v2/autocompleteValues":                  "key is required",
		"/api/v2/traces?annotationQuery=a+and++and+b": "annotationQuery",
	} {
		code, b := srv.zipkinGet(path, nil)
		require.Equal(t, 400, code, path)
		require.Contains(t, string(b), want, path)
	}
	code, _ = srv.zipkinGet("/api/v2/trace/00000000000000ff", nil)
	require.Equal(t, 404, code)

	// Bad ingest requests.
	for name, c := range map[string]struct {
		ct, body, want string
		code           int
	}{
		"not json":    {"application/json", "{", "JSON array", 400},
		"bad trace":   {"application/json", `[{"traceId":"xyz","id":"0000000000000001"}]`, "traceId", 400},
		"bad kind":    {"application/json", `[{"traceId":"0000000000000001","id":"0000000000000001","kind":"SIDEWAYS"}]`, "kind", 400},
		"bad proto":   {"application/x-protobuf", "\x0a\xff", "proto3", 400},
		"bad type":    {"application/xml", "<spans/>", "Content-Type", 415},
		"no start":    {"application/json", `[{"traceId":"0000000000000001","id":"0000000000000001","name":"x"}]`, "start", 400},
		"empty batch": {"application/json", `[]`, "", 202},
	} {
		code, body := srv.postZipkin(c.ct, []byte(c.body), false)
		require.Equal(t, c.code, code, "%s: %s", name, body)
		require.Contains(t, body, c.want, name)
	}
}

// TestZipkinGolden checks the response shape of the Zipkin endpoints
// against golden files.
func TestZipkinGolden(t *testing.T) {
	srv := startServer(t, "")
	code, body := srv.postZipkin("application/json", zipkinBatch(t), false)
	require.Equal(t, 202, code, body)
	postAutocompleteSpans(t, srv)
	for _, c := range []struct {
		golden, path string
		code         int
	}{
		{"services", "/api/v2/services", 200},
		{"spans", "/api/v2/spans?serviceName=frontend", 200},
		{"remote-services", "/api/v2/remoteServices?serviceName=frontend", 200},
		{"trace", "/api/v2/trace/5af7183fb1d4cf5f5af7183fb1d4cf5f", 200},
		{"trace-64bit", "/api/v2/trace/463ac35c9f6413ad", 200},
		{"traces", "/api/v2/traces?serviceName=backend&endTs=1793535000000&lookback=86400000", 200},
		{"trace-many", "/api/v2/traceMany?traceIds=463ac35c9f6413ad,00000000000000ff", 200},
		{"autocomplete-values", "/api/v2/autocompleteValues?key=http.path", 200},
		{"health", "/health", 200},
	} {
		t.Run(c.golden, func(t *testing.T) {
			code, b := srv.zipkinGet(c.path, nil)
			require.Equal(t, c.code, code, "%s", b)
			checkGolden(t, "zipkin/"+c.golden+".json", b)
		})
	}
}
