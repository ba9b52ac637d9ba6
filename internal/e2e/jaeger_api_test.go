package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Jaeger's classic JSON model, as a client decodes it.
type jEnvelope struct {
	Data   json.RawMessage `json:"data"`
	Total  int             `json:"total"`
	Limit  int             `json:"limit"`
	Offset int             `json:"offset"`
	Errors []struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		TraceID string `json:"traceID"`
	} `json:"errors"`
}

type jKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64 `json:"startTime"`
	Duration  int64 `json:"duration"`
	Tags      []jKV `json:"tags"`
	Logs      []struct {
		Timestamp int64 `json:"timestamp"`
		Fields    []jKV `json:"fields"`
	} `json:"logs"`
	ProcessID string   `json:"processID"`
	Warnings  []string `json:"warnings"`
}

type jTrace struct {
	TraceID   string  `json:"traceID"`
	Spans     []jSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []jKV  `json:"tags"`
	} `json:"processes"`
	Warnings []string `json:"warnings"`
}

func (s *server) jaeger(path string, data any) (jEnvelope, int) {
	s.t.Helper()
	var e jEnvelope
	code := s.getJSON(path, &e)
	if data != nil && code == 200 {
		require.NoError(s.t, json.Unmarshal(e.Data, data), "data: %s", e.Data)
	}
	return e, code
}

// TestJaegerQueryAPI sends a trace with the OpenTelemetry Go SDK and reads
// it back through Jaeger's classic JSON API, field by field.
func TestJaegerQueryAPI(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(srv.httpAddr), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "checkout"), attribute.String("host.name", "box-1"), attribute.Int("process.pid", 42))))
	tr := tp.Tracer("shop/checkout", trace.WithInstrumentationVersion("0.9.1"))

	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	_, other := tr.Start(ctx, "enqueue", trace.WithTimestamp(t0), trace.WithSpanKind(trace.SpanKindProducer))
	other.End(trace.WithTimestamp(t0.Add(time.Millisecond)))
	rootCtx, root := tr.Start(ctx, "POST /checkout", trace.WithTimestamp(t0), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 502),
			attribute.Float64("load", 0.75), attribute.Bool("retry", true), attribute.StringSlice("tags", []string{"a", "b"})))
	_, child := tr.Start(rootCtx, "charge card", trace.WithTimestamp(t0.Add(2*time.Millisecond)), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: other.SpanContext()}), trace.WithAttributes(attribute.String("peer.service", "payments")))
	child.AddEvent("retrying", trace.WithTimestamp(t0.Add(3*time.Millisecond)), trace.WithAttributes(attribute.Int("attempt", 2), attribute.String("cause", "timeout")))
	child.SetStatus(codes.Error, "card declined")
	child.End(trace.WithTimestamp(t0.Add(12 * time.Millisecond)))
	root.SetStatus(codes.Ok, "")
	root.End(trace.WithTimestamp(t0.Add(20 * time.Millisecond)))
	require.NoError(t, tp.Shutdown(ctx))
	id := root.SpanContext().TraceID().String()
	rootID, childID := root.SpanContext().SpanID().String(), child.SpanContext().SpanID().String()

	// Services and operations.
	var services []string
	e, code := srv.jaeger("/api/services", &services)
	require.Equal(t, 200, code)
	require.Equal(t, []string{"checkout"}, services)
	require.Equal(t, 1, e.Total)
	require.Nil(t, e.Errors)
	var opNames []string
	e, code = srv.jaeger("/api/services/checkout/operations", &opNames)
	require.Equal(t, 200, code)
	require.Equal(t, []string{"POST /checkout", "charge card", "enqueue"}, opNames)
	require.Equal(t, 3, e.Total)
	var ops []struct{ Name, SpanKind string }
	_, code = srv.jaeger("/api/operations?service=checkout&spanKind=client", &ops)
	require.Equal(t, 200, code)
	require.Equal(t, []struct{ Name, SpanKind string }{{"charge card", "client"}}, ops)
	_, code = srv.jaeger("/api/operations?service=checkout", &ops)
	require.Equal(t, 200, code)
	require.Len(t, ops, 3)
	_, code = srv.jaeger("/api/services/nobody/operations", &opNames)
	require.Equal(t, 200, code)
	require.Empty(t, opNames)

	// The trace, field by field.
	var traces []jTrace
	e, code = srv.jaeger("/api/traces/"+id, &traces)
	require.Equal(t, 200, code)
	require.Nil(t, e.Errors)
	require.Len(t, traces, 1)
	tr0 := traces[0]
	require.Equal(t, id, tr0.TraceID)
	require.Len(t, tr0.Spans, 2)
	require.Len(t, tr0.Processes, 1)
	p := tr0.Processes["p1"]
	require.Equal(t, "checkout", p.ServiceName)
	require.Equal(t, []jKV{{"host.name", "string", "box-1"}, {"process.pid", "int64", float64(42)}}, p.Tags)
	byName := map[string]jSpan{}
	for _, s := range tr0.Spans {
		byName[s.OperationName] = s
		require.Equal(t, id, s.TraceID)
		require.Equal(t, "p1", s.ProcessID)
	}
	r := byName["POST /checkout"]
	require.Equal(t, rootID, r.SpanID)
	require.Empty(t, r.References)
	require.Equal(t, t0.UnixMicro(), r.StartTime)
	require.Equal(t, int64(20000), r.Duration)
	require.Equal(t, []jKV{
		{"otel.scope.name", "string", "shop/checkout"},
		{"otel.scope.version", "string", "0.9.1"},
		{"http.request.method", "string", "POST"},
		{"http.response.status_code", "int64", float64(502)},
		{"load", "float64", 0.75},
		{"retry", "bool", true},
		{"tags", "string", `["a","b"]`},
		{"span.kind", "string", "server"},
		{"otel.status_code", "string", "OK"},
	}, r.Tags)
	require.Empty(t, r.Logs)
	c := byName["charge card"]
	require.Equal(t, childID, c.SpanID)
	require.Equal(t, t0.Add(2*time.Millisecond).UnixMicro(), c.StartTime)
	require.Equal(t, int64(10000), c.Duration)
	require.Len(t, c.References, 2)
	require.Equal(t, "CHILD_OF", c.References[0].RefType)
	require.Equal(t, rootID, c.References[0].SpanID)
	require.Equal(t, id, c.References[0].TraceID)
	require.Equal(t, "FOLLOWS_FROM", c.References[1].RefType)
	require.Equal(t, other.SpanContext().SpanID().String(), c.References[1].SpanID)
	require.Equal(t, other.SpanContext().TraceID().String(), c.References[1].TraceID)
	require.Equal(t, []jKV{
		{"otel.scope.name", "string", "shop/checkout"},
		{"otel.scope.version", "string", "0.9.1"},
		{"peer.service", "string", "payments"},
		{"span.kind", "string", "client"},
		{"otel.status_code", "string", "ERROR"},
		{"error", "bool", true},
		{"otel.status_description", "string", "card declined"},
	}, c.Tags)
	require.Len(t, c.Logs, 1)
	require.Equal(t, t0.Add(3*time.Millisecond).UnixMicro(), c.Logs[0].Timestamp)
	require.Equal(t, []jKV{{"event", "string", "retrying"}, {"attempt", "int64", float64(2)}, {"cause", "string", "timeout"}}, c.Logs[0].Fields)

	// Search.
	search := func(v url.Values) []string {
		t.Helper()
		var traces []jTrace
		e, code := srv.jaeger("/api/traces?"+v.Encode(), &traces)
		require.Equal(t, 200, code, "%v", e.Errors)
		var ids []string
		for _, tr := range traces {
			ids = append(ids, tr.TraceID)
			require.NotEmpty(t, tr.Spans)
		}
		return ids
	}
	otherID := other.SpanContext().TraceID().String()
	require.Equal(t, []string{id}, search(url.Values{"service": {"checkout"}, "operation": {"charge card"}}))
	require.ElementsMatch(t, []string{id, otherID}, search(url.Values{"service": {"checkout"}}))
	require.Equal(t, []string{id}, search(url.Values{"tag": {"http.response.status_code:502"}}), "search without service")
	require.Equal(t, []string{id}, search(url.Values{"tags": {`{"cause":"timeout","attempt":"2"}`}}), "event attributes")
	require.Equal(t, []string{id}, search(url.Values{"tag": {"host.name:box-1", "error:true"}}), "process tag and error")
	require.Equal(t, []string{id}, search(url.Values{"tag": {"span.kind:client"}}))
	require.Equal(t, []string{id}, search(url.Values{"tag": {"otel.status_code:OK"}}))
	require.Empty(t, search(url.Values{"tag": {"http.response.status_code:500"}}))
	require.Equal(t, []string{id}, search(url.Values{"service": {"checkout"}, "minDuration": {"9ms"}, "maxDuration": {"11ms"}}), "span durations")
	require.Empty(t, search(url.Values{"minDuration": {"15ms"}, "operation": {"charge card"}}))
	require.Equal(t, []string{id}, search(url.Values{"minDuration": {"15ms"}, "operation": {"charge card"}, "durationScope": {"trace"}}), "trace duration")
	start := strconvI(t0.Add(-time.Second).UnixMicro())
	require.Empty(t, search(url.Values{"start": {start}, "end": {strconvI(t0.Add(-time.Millisecond).UnixMicro())}}))
	require.ElementsMatch(t, []string{id, otherID}, search(url.Values{"start": {start}, "end": {strconvI(t0.Add(time.Second).UnixMicro())}}))
	require.Len(t, search(url.Values{"limit": {"1"}}), 1)

	// By trace ID, with one that does not exist.
	var byID []jTrace
	e, code = srv.jaeger("/api/traces?traceID="+id+"&traceID=00000000000000000000000000000abc", &byID)
	require.Equal(t, 200, code)
	require.Len(t, byID, 1)
	require.Equal(t, id, byID[0].TraceID)
	require.Len(t, e.Errors, 1)
	require.Equal(t, 404, e.Errors[0].Code)
	require.Equal(t, "abc", e.Errors[0].TraceID[len(e.Errors[0].TraceID)-3:])

	// Errors.
	e, code = srv.jaeger("/api/traces/00000000000000000000000000000abc", nil)
	require.Equal(t, 404, code)
	require.Equal(t, "trace not found", e.Errors[0].Msg)
	require.Equal(t, "null", string(e.Data))
	for param, v := range map[string]url.Values{
		"traceID":     {"traceID": {"xyz"}},
		"tag":         {"tag": {"novalue"}},
		"tags":        {"tags": {"[1,2]"}},
		"start":       {"start": {"yesterday"}},
		"end":         {"end": {"-5"}},
		"minDuration": {"minDuration": {"5 parsecs"}},
		"maxDuration": {"minDuration": {"2s"}, "maxDuration": {"1s"}},
		"limit":       {"limit": {"many"}},
	} {
		e, code := srv.jaeger("/api/traces?"+v.Encode(), nil)
		require.Equal(t, 400, code, param)
		require.Len(t, e.Errors, 1, param)
		require.Equal(t, 400, e.Errors[0].Code)
		require.Contains(t, e.Errors[0].Msg, "'"+param+"'", param)
	}
	e, code = srv.jaeger("/api/traces/nothex", nil)
	require.Equal(t, 400, code)
	require.Contains(t, e.Errors[0].Msg, "traceID")
	e, code = srv.jaeger("/api/operations?spanKind=sideways", nil)
	require.Equal(t, 400, code)
	require.Contains(t, e.Errors[0].Msg, "spanKind")
}

func strconvI(n int64) string { return fmt.Sprint(n) }
