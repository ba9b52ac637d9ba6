package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// bytesCodec sends and receives raw protobuf bytes.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (bytesCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (bytesCodec) Name() string { return "proto" }

// pbFields splits a protobuf message into its length-delimited and fixed64
// fields (fixed64 values as 8 little-endian bytes).
func pbFields(t *testing.T, b []byte) map[protowire.Number][][]byte {
	out := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		require.GreaterOrEqual(t, n, 0)
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			require.GreaterOrEqual(t, n, 0)
			out[num] = append(out[num], v)
			b = b[n:]
		case protowire.Fixed64Type:
			out[num] = append(out[num], b[:8])
			b = b[8:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			require.GreaterOrEqual(t, n, 0)
			b = b[n:]
		}
	}
	return out
}

type tempoSearch struct {
	Traces []struct {
		TraceID           string `json:"traceID"`
		RootServiceName   string `json:"rootServiceName"`
		RootTraceName     string `json:"rootTraceName"`
		StartTimeUnixNano string `json:"startTimeUnixNano"`
		SpanSets          []struct {
			Matched int `json:"matched"`
			Spans   []struct {
				SpanID     string `json:"spanID"`
				Name       string `json:"name"`
				Attributes []struct {
					Key   string         `json:"key"`
					Value map[string]any `json:"value"`
				} `json:"attributes"`
			} `json:"spans"`
		} `json:"spanSets"`
		ServiceStats map[string]struct {
			SpanCount  int `json:"spanCount"`
			ErrorCount int `json:"errorCount"`
		} `json:"serviceStats"`
	} `json:"traces"`
}

func (s *server) tempoGet(path string, header ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.tempoURL+path, nil)
	require.NoError(s.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, b
}

func (s *server) tempoSearch(params url.Values) tempoSearch {
	s.t.Helper()
	code, b := s.tempoGet("/api/search?" + params.Encode())
	require.Equal(s.t, 200, code, "%s: %s", params.Encode(), b)
	var r tempoSearch
	require.NoError(s.t, json.Unmarshal(b, &r), "%s", b)
	return r
}

// TestTempoAPI sends traces with the OpenTelemetry Go SDK to the real binary
// and queries them through the Tempo-compatible API with TraceQL.
func TestTempoAPI(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	provider := func(service string) *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))))
	}
	shop, pay := provider("shop"), provider("payments")
	base := time.Now().Add(-time.Minute)
	type ids struct{ trace, root, child string }
	// checkout(i): shop server span with a child; trace 0 has a failing
	// postgres query, trace 1 a fast cache lookup, trace 2 a payment call.
	checkout := func(i int) ids {
		start := base.Add(time.Duration(i) * time.Second)
		tr := shop.Tracer("shop", trace.WithInstrumentationVersion("1.0"))
		rctx, root := tr.Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", []int{500, 200, 200}[i])))
		var child trace.Span
		switch i {
		case 0:
			_, child = tr.Start(rctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(time.Millisecond)),
				trace.WithAttributes(attribute.String("db.system", "postgresql")))
			child.RecordError(errors.New("deadlock detected"))
			child.SetStatus(codes.Error, "deadlock detected")
			child.End(trace.WithTimestamp(start.Add(900 * time.Millisecond)))
		case 1:
			_, child = tr.Start(rctx, "GET cart", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(time.Millisecond)),
				trace.WithAttributes(attribute.String("db.system", "redis")))
			child.End(trace.WithTimestamp(start.Add(3 * time.Millisecond)))
		case 2:
			_, child = pay.Tracer("pay").Start(rctx, "charge", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start.Add(time.Millisecond)),
				trace.WithAttributes(attribute.Float64("amount", 42.5)))
			child.End(trace.WithTimestamp(start.Add(50 * time.Millisecond)))
		}
		root.End(trace.WithTimestamp(start.Add(time.Second)))
		return ids{root.SpanContext().TraceID().String(), root.SpanContext().SpanID().String(), child.SpanContext().SpanID().String()}
	}
	tr := []ids{checkout(0), checkout(1), checkout(2)}
	require.NoError(t, shop.Shutdown(ctx))
	require.NoError(t, pay.Shutdown(ctx))

	code, body := srv.tempoGet("/api/echo")
	require.Equal(t, 200, code)
	require.Equal(t, "echo", string(body))
	code, body = srv.tempoGet("/ready")
	require.Equal(t, 200, code, "%s", body)
	code, body = srv.tempoGet("/api/status/buildinfo")
	require.Equal(t, 200, code)
	var bi map[string]string
	require.NoError(t, json.Unmarshal(body, &bi))
	require.NotEmpty(t, bi["version"])
	require.NotEmpty(t, bi["goVersion"])

	traceIDs := func(r tempoSearch) []string {
		var out []string
		for _, t := range r.Traces {
			out = append(out, t.TraceID)
		}
		return out
	}
	// TraceQL searches with the exact expected traces, newest first
	cases := []struct {
		q    string
		want []string
	}{
		{`{ span.db.system = "postgresql" && status = error }`, []string{tr[0].trace}},
		{`{ kind = server } >> { status = error }`, []string{tr[0].trace}},
		{`{ resource.service.name = "shop" } > { resource.service.name = "payments" }`, []string{tr[2].trace}},
		{`{ .db.system != nil }`, []string{tr[1].trace, tr[0].trace}},
		{`{ }`, []string{tr[2].trace, tr[1].trace, tr[0].trace}},
		{`{ span.http.response.status_code >= 500 } || { .amount > 40 }`, []string{tr[2].trace, tr[0].trace}},
		{`{ kind = client } | count() = 1`, []string{tr[1].trace, tr[0].trace}},
		{`{ } | by(resource.service.name) | count() = 1 | { kind = server && resource.service.name = "payments" }`, []string{tr[2].trace}},
		{`{ name = "charge" } !< { kind = server }`, []string{tr[2].trace, tr[1].trace, tr[0].trace}},
		{`{ event:name = "exception" }`, []string{tr[0].trace}},
		{`{ duration > 500ms && kind = client }`, []string{tr[0].trace}},
		{`{ trace:rootService = "shop" && resource.service.name = "payments" }`, []string{tr[2].trace}},
		{`{ status = error } && { .db.system = "redis" }`, nil},
	}
	for _, c := range cases {
		r := srv.tempoSearch(url.Values{"q": {c.q}})
		require.Equal(t, c.want, traceIDs(r), c.q)
	}

	// matched spans and their attributes
	r := srv.tempoSearch(url.Values{"q": {`{ span.db.system = "postgresql" && status = error }`}, "spss": {"5"}})
	require.Len(t, r.Traces, 1)
	got := r.Traces[0]
	require.Equal(t, "shop", got.RootServiceName)
	require.Equal(t, "POST /checkout", got.RootTraceName)
	require.Equal(t, 2, got.ServiceStats["shop"].SpanCount)
	require.Equal(t, 1, got.ServiceStats["shop"].ErrorCount)
	require.Len(t, got.SpanSets, 1)
	require.Equal(t, 1, got.SpanSets[0].Matched)
	require.Len(t, got.SpanSets[0].Spans, 1)
	sp := got.SpanSets[0].Spans[0]
	require.Equal(t, tr[0].child, sp.SpanID)
	attrs := map[string]map[string]any{}
	for _, a := range sp.Attributes {
		attrs[a.Key] = a.Value
	}
	require.Equal(t, map[string]any{"stringValue": "postgresql"}, attrs["db.system"])
	require.Equal(t, map[string]any{"stringValue": "error"}, attrs["status"])

	// limit, spss and time range
	r = srv.tempoSearch(url.Values{"q": {`{ }`}, "limit": {"1"}, "spss": {"1"}})
	require.Equal(t, []string{tr[2].trace}, traceIDs(r))
	require.Len(t, r.Traces[0].SpanSets[0].Spans, 1)
	require.Equal(t, 2, r.Traces[0].SpanSets[0].Matched)
	r = srv.tempoSearch(url.Values{"q": {`{ }`}, "start": {"1000"}, "end": {"2000"}})
	require.Empty(t, r.Traces)

	// tag search: tags and trace durations
	r = srv.tempoSearch(url.Values{"tags": {"db.system=redis"}})
	require.Equal(t, []string{tr[1].trace}, traceIDs(r))
	r = srv.tempoSearch(url.Values{"tags": {`service.name="payments"`}, "minDuration": {"500ms"}})
	require.Equal(t, []string{tr[2].trace}, traceIDs(r))

	// bad input: 400 naming the problem and its position
	code, body = srv.tempoGet("/api/search?" + url.Values{"q": {`{ .a = }`}}.Encode())
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "line 1 col 8")
	code, body = srv.tempoGet("/api/search?" + url.Values{"q": {`{ parent.a = 1 }`}}.Encode())
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "not supported")
	code, body = srv.tempoGet("/api/search?limit=-1")
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "limit")
	code, body = srv.tempoGet("/api/search?spss=0")
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "spss")

	// trace by ID: Tempo's JSON (base64 IDs), OTLP protobuf, v2 wrapper
	code, body = srv.tempoGet("/api/traces/" + tr[2].trace)
	require.Equal(t, 200, code, "%s", body)
	var tj struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					SpanID string `json:"spanId"`
					Kind   string `json:"kind"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	require.NoError(t, json.Unmarshal(body, &tj))
	require.Len(t, tj.ResourceSpans, 2)
	require.Equal(t, "SPAN_KIND_SERVER", tj.ResourceSpans[0].ScopeSpans[0].Spans[0].Kind)
	code, body = srv.tempoGet("/api/traces/"+tr[0].trace, "Accept", "application/protobuf")
	require.Equal(t, 200, code)
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	require.NoError(t, err)
	require.Equal(t, 2, td.SpanCount())
	require.Equal(t, tr[0].trace, td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID().String())
	code, body = srv.tempoGet("/api/v2/traces/" + tr[1].trace)
	require.Equal(t, 200, code)
	var v2 struct {
		Trace struct {
			ResourceSpans []json.RawMessage `json:"resourceSpans"`
		} `json:"trace"`
	}
	require.NoError(t, json.Unmarshal(body, &v2))
	require.Len(t, v2.Trace.ResourceSpans, 1)
	code, _ = srv.tempoGet("/api/traces/0123456789abcdef0123456789abcdef")
	require.Equal(t, 404, code)
	code, body = srv.tempoGet("/api/traces/xyz")
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "traceID")

	// tags and values
	var tagsV2 struct {
		Scopes []struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		} `json:"scopes"`
	}
	code, body = srv.tempoGet("/api/v2/search/tags")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &tagsV2))
	scopes := map[string][]string{}
	for _, s := range tagsV2.Scopes {
		scopes[s.Name] = s.Tags
	}
	require.Contains(t, scopes["span"], "db.system")
	require.Contains(t, scopes["span"], "amount")
	require.Contains(t, scopes["resource"], "service.name")
	require.Contains(t, scopes["event"], "exception.message")
	require.Contains(t, scopes["intrinsic"], "status")
	require.NotContains(t, scopes["span"], "service.name")

	var tagsV1 struct {
		TagNames []string `json:"tagNames"`
	}
	code, body = srv.tempoGet("/api/search/tags?scope=span")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &tagsV1))
	require.Contains(t, tagsV1.TagNames, "http.request.method")
	require.NotContains(t, tagsV1.TagNames, "service.name")

	var valsV2 struct {
		TagValues []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"tagValues"`
	}
	code, body = srv.tempoGet("/api/v2/search/tag/resource.service.name/values")
	require.Equal(t, 200, code, "%s", body)
	require.NoError(t, json.Unmarshal(body, &valsV2))
	require.ElementsMatch(t, []string{"shop", "payments"}, []string{valsV2.TagValues[0].Value, valsV2.TagValues[1].Value})
	require.Equal(t, "string", valsV2.TagValues[0].Type)
	code, body = srv.tempoGet("/api/v2/search/tag/span.db.system/values?" + url.Values{"q": {`{ status = error }`}}.Encode())
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &valsV2))
	require.Len(t, valsV2.TagValues, 1)
	require.Equal(t, "postgresql", valsV2.TagValues[0].Value)
	code, body = srv.tempoGet("/api/v2/search/tag/status/values")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &valsV2))
	require.Contains(t, valsV2.TagValues, struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}{"keyword", "error"})

	// TraceQL metrics
	from := base.Unix()
	code, body = srv.tempoGet("/api/metrics/query_range?" + url.Values{"q": {`{ } | count_over_time() by (resource.service.name)`},
		"start": {strconv.FormatInt(from, 10)}, "end": {strconv.FormatInt(from+3, 10)}, "step": {"1s"}}.Encode())
	require.Equal(t, 200, code, "%s", body)
	var mr struct {
		Series []struct {
			Labels []struct {
				Key   string            `json:"key"`
				Value map[string]string `json:"value"`
			} `json:"labels"`
			Samples []struct {
				TimestampMs string  `json:"timestampMs"`
				Value       float64 `json:"value"`
			} `json:"samples"`
		} `json:"series"`
	}
	require.NoError(t, json.Unmarshal(body, &mr))
	counts := map[string][]float64{}
	for _, s := range mr.Series {
		require.Len(t, s.Labels, 1)
		require.Equal(t, "resource.service.name", s.Labels[0].Key)
		for i, p := range s.Samples {
			require.Equal(t, strconv.FormatInt((from+int64(i))*1000, 10), p.TimestampMs)
			counts[s.Labels[0].Value["stringValue"]] = append(counts[s.Labels[0].Value["stringValue"]], p.Value)
		}
	}
	require.Equal(t, map[string][]float64{"shop": {2, 2, 1}, "payments": {0, 0, 1}}, counts)
	code, body = srv.tempoGet("/api/metrics/query?" + url.Values{"q": {`{ status = error } | count_over_time()`},
		"start": {strconv.FormatInt(from, 10)}, "end": {strconv.FormatInt(from+3, 10)}}.Encode())
	require.Equal(t, 200, code, "%s", body)
	require.JSONEq(t, `{"series":[{"labels":[{"key":"__name__","value":{"stringValue":"count_over_time"}}],"value":1}],"metrics":{}}`, string(body))
	code, body = srv.tempoGet("/api/metrics/query_range?" + url.Values{"q": {`{ }`}}.Encode())
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "not a metrics query")

	// Grafana's streaming gRPC client on the same port (HTTP/2 without TLS)
	conn, err := grpc.NewClient(strings.TrimPrefix(srv.tempoURL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	call := func(method string, req []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/tempopb.StreamingQuerier/"+method, grpc.ForceCodec(bytesCodec{}))
		if err != nil {
			return nil, err
		}
		if err := st.SendMsg(&req); err != nil {
			return nil, err
		}
		if err := st.CloseSend(); err != nil {
			return nil, err
		}
		var resp []byte
		if err := st.RecvMsg(&resp); err != nil {
			return nil, err
		}
		var extra []byte
		require.ErrorIs(t, st.RecvMsg(&extra), io.EOF, "one message per call")
		return resp, nil
	}
	req := protowire.AppendTag(nil, 8, protowire.BytesType) // SearchRequest.Query
	req = protowire.AppendString(req, `{ kind = server } >> { status = error }`)
	resp, err := call("Search", req)
	require.NoError(t, err)
	var streamed []string
	for _, tr := range pbFields(t, resp)[1] { // SearchResponse.traces
		streamed = append(streamed, string(pbFields(t, tr)[1][0])) // traceID
	}
	require.Equal(t, []string{tr[0].trace}, streamed)
	req = protowire.AppendTag(nil, 8, protowire.BytesType)
	req = protowire.AppendString(req, `{ .a = }`)
	_, err = call("Search", req)
	require.Equal(t, grpccodes.InvalidArgument, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), "line 1 col 8")
	req = protowire.AppendTag(nil, 1, protowire.BytesType) // QueryRangeRequest.query
	req = protowire.AppendString(req, `{ } | count_over_time()`)
	for _, f := range []struct {
		n protowire.Number
		v int64
	}{{2, from * 1e9}, {3, (from + 3) * 1e9}, {4, 1e9}} {
		req = protowire.AppendTag(req, f.n, protowire.VarintType)
		req = protowire.AppendVarint(req, uint64(f.v))
	}
	resp, err = call("MetricsQueryRange", req)
	require.NoError(t, err)
	series := pbFields(t, resp)[1]
	require.Len(t, series, 1)
	var values []float64
	for _, sample := range pbFields(t, series[0])[2] {
		values = append(values, math.Float64frombits(binary.LittleEndian.Uint64(pbFields(t, sample)[1][0])))
	}
	require.Equal(t, []float64{2, 2, 2}, values)

	var valsV1 struct {
		TagValues []string `json:"tagValues"`
	}
	code, body = srv.tempoGet("/api/search/tag/db.system/values")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &valsV1))
	require.ElementsMatch(t, []string{"postgresql", "redis"}, valsV1.TagValues)
}
