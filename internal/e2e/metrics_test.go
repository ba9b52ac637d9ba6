package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

type metricsGraph struct {
	Nodes []struct {
		Name    string `json:"name"`
		Virtual bool   `json:"virtual"`
	} `json:"nodes"`
	Edges []struct {
		Client         string `json:"client"`
		Server         string `json:"server"`
		ConnectionType string `json:"connectionType"`
		Calls          uint64 `json:"calls"`
		Errors         uint64 `json:"errors"`
		ServerLatency  struct {
			P50 float64 `json:"p50Ms"`
		} `json:"serverLatency"`
		Exemplars []struct {
			TraceID string `json:"traceID"`
			Error   bool   `json:"error"`
		} `json:"exemplars"`
	} `json:"edges"`
}

// edgeSummary maps "client->server/type" to [calls, errors].
func (g metricsGraph) edgeSummary() map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, e := range g.Edges {
		out[e.Client+"->"+e.Server+"/"+e.ConnectionType] = [2]uint64{e.Calls, e.Errors}
	}
	return out
}

type opStats struct {
	Service   string  `json:"service"`
	Operation string  `json:"operation"`
	Kind      string  `json:"kind"`
	Calls     uint64  `json:"calls"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	P50       float64 `json:"p50Ms"`
	P90       float64 `json:"p90Ms"`
	P95       float64 `json:"p95Ms"`
	P99       float64 `json:"p99Ms"`
	Exemplars []struct {
		TraceID    string  `json:"traceID"`
		DurationMs float64 `json:"durationMs"`
		Error      bool    `json:"error"`
	} `json:"exemplars"`
}

// sendShop sends n requests through four services, each with its own
// tracer provider and exporter as separate processes would: frontend
// (gRPC) → checkout (HTTP) → payments (gRPC) → a PostgreSQL database, and
// checkout → mailer by a parent-child pair without span kinds. Every
// tenth payment fails. Timestamps are explicit, all within the minute
// starting at base; it returns the payments server durations (ms).
func sendShop(t *testing.T, srv *server, n int, base time.Time) []float64 {
	ctx := context.Background()
	newTP := func(service string, grpc bool) *sdktrace.TracerProvider {
		var exp sdktrace.SpanExporter
		var err error
		if grpc {
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
		} else {
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(srv.httpAddr), otlptracehttp.WithInsecure())
		}
		require.NoError(t, err)
		return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(64)),
			sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))))
	}
	tps := map[string]*sdktrace.TracerProvider{
		"frontend": newTP("frontend", true), "checkout": newTP("checkout", false),
		"payments": newTP("payments", true), "mailer": newTP("mailer", false),
	}
	tr := func(s string) trace.Tracer { return tps[s].Tracer("shop") }
	at := func(ms float64) time.Time { return base.Add(time.Duration(ms * float64(time.Millisecond))) }
	var payDur []float64
	for i := range n {
		// Durations in ms: payments server 1..~300 over a skewed spread.
		pay := 1 + float64(i%97)*float64(i%7+1)*0.45
		payDur = append(payDur, pay)
		fail := i%10 == 0
		c0, root := tr("frontend").Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)))
		c1, fc := tr("frontend").Start(c0, "POST checkout", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(1)))
		c2, cs := tr("checkout").Start(c1, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(2)))
		c3, cc := tr("checkout").Start(c2, "charge", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(3)))
		c4, ps := tr("payments").Start(c3, "Charge", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(4)))
		_, db := tr("payments").Start(c4, "INSERT payments", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(4.5)),
			trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "paydb")))
		db.End(trace.WithTimestamp(at(4.5 + pay/2)))
		if fail {
			ps.SetStatus(codes.Error, "card declined")
			cc.SetStatus(codes.Error, "card declined")
		}
		ps.End(trace.WithTimestamp(at(4 + pay)))
		cc.End(trace.WithTimestamp(at(5 + pay)))
		c5, notify := tr("checkout").Start(c2, "notify", trace.WithTimestamp(at(6+pay)))
		_, send := tr("mailer").Start(c5, "send", trace.WithTimestamp(at(7+pay)))
		send.End(trace.WithTimestamp(at(8 + pay)))
		notify.End(trace.WithTimestamp(at(9 + pay)))
		cs.End(trace.WithTimestamp(at(10 + pay)))
		fc.End(trace.WithTimestamp(at(11 + pay)))
		root.End(trace.WithTimestamp(at(12 + pay)))
	}
	// Shut down callees first: their spans reach the server before their
	// callers', as they usually do.
	for _, s := range []string{"mailer", "payments", "checkout", "frontend"} {
		require.NoError(t, tps[s].Shutdown(ctx))
	}
	return payDur
}

func exactQ(sorted []float64, q float64) float64 { return sorted[int(q*float64(len(sorted)-1))] }

func (s *server) window(base time.Time) string {
	return url.Values{"start": {strconv.FormatInt(base.Add(-time.Minute).Unix(), 10)},
		"end": {strconv.FormatInt(base.Add(3*time.Minute).Unix(), 10)}}.Encode()
}

// checkShop checks every API against what sendShop sent (n requests).
func checkShop(t *testing.T, srv *server, n int, base time.Time, payDur []float64) {
	t.Helper()
	win := srv.window(base)
	fails := uint64((n + 9) / 10)
	var g metricsGraph
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph?"+win, &g))
	N := uint64(n)
	require.Equal(t, map[string][2]uint64{
		"user->frontend/virtual_node": {N, 0},
		"frontend->checkout/":         {N, 0},
		"checkout->payments/":         {N, fails},
		"checkout->mailer/":           {N, 0},
		"payments->paydb/database":    {N, 0},
	}, g.edgeSummary())
	var virtual []string
	for _, nd := range g.Nodes {
		if nd.Virtual {
			virtual = append(virtual, nd.Name)
		}
	}
	require.Equal(t, []string{"paydb", "user"}, virtual)

	// Upstream and downstream of one service.
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph?service=payments&"+win, &g))
	require.Equal(t, map[string][2]uint64{"checkout->payments/": {N, fails}, "payments->paydb/database": {N, 0}}, g.edgeSummary())

	// Services: entry spans, or all spans of a service without any.
	var svcs struct {
		Services []struct {
			Service string
			Kinds   string
			Calls   uint64
			Errors  uint64
		}
	}
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/services?"+win, &svcs))
	var sum []string
	for _, x := range svcs.Services {
		sum = append(sum, fmt.Sprintf("%s %s %d/%d", x.Service, x.Kinds, x.Calls, x.Errors))
	}
	require.Equal(t, []string{
		fmt.Sprintf("checkout server,consumer %d/0", n), fmt.Sprintf("frontend server,consumer %d/0", n),
		fmt.Sprintf("mailer all %d/0", n), fmt.Sprintf("payments server,consumer %d/%d", n, fails),
	}, sum)

	// Operations of payments: exact counts, quantiles within 1%.
	var ops struct{ Operations []opStats }
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/operations?service=payments&kind=server&"+win, &ops))
	require.Len(t, ops.Operations, 1)
	op := ops.Operations[0]
	require.Equal(t, "Charge", op.Operation)
	require.Equal(t, "server", op.Kind)
	require.Equal(t, N, op.Calls)
	require.Equal(t, fails, op.Errors)
	sorted := slices.Sorted(slices.Values(payDur))
	for q, got := range map[float64]float64{0.5: op.P50, 0.9: op.P90, 0.95: op.P95, 0.99: op.P99} {
		require.InEpsilon(t, exactQ(sorted, q), got, 0.01, "p%v", q*100)
	}
	// Exemplars: failing ones first; each opens its trace.
	require.NotEmpty(t, op.Exemplars)
	require.True(t, op.Exemplars[0].Error)
	require.InDelta(t, sorted[len(sorted)-1], slices.MaxFunc(op.Exemplars, func(a, b struct {
		TraceID    string  `json:"traceID"`
		DurationMs float64 `json:"durationMs"`
		Error      bool    `json:"error"`
	}) int {
		return int(math.Copysign(1, a.DurationMs-b.DurationMs))
	}).DurationMs, 0.001)
	for _, e := range op.Exemplars {
		require.Positive(t, srv.trace(e.TraceID).SpanCount(), e.TraceID)
	}

	// Series: per-minute points add up to the same counts.
	var series struct {
		Points []struct {
			Time   string `json:"time"`
			Calls  uint64 `json:"calls"`
			Errors uint64 `json:"errors"`
		} `json:"points"`
	}
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/series?service=payments&operation=Charge&step=1m&"+win, &series))
	require.Len(t, series.Points, 4)
	var calls, errs uint64
	for _, p := range series.Points {
		calls += p.Calls
		errs += p.Errors
		if p.Calls > 0 {
			require.Equal(t, base.UTC().Format(time.RFC3339), p.Time)
		}
	}
	require.Equal(t, [2]uint64{N, fails}, [2]uint64{calls, errs})

	// Jaeger dependencies, in Jaeger's envelope.
	var deps struct {
		Data []struct {
			Parent    string `json:"parent"`
			Child     string `json:"child"`
			CallCount uint64 `json:"callCount"`
		} `json:"data"`
		Errors any `json:"errors"`
	}
	end := base.Add(3 * time.Minute).UnixMilli()
	require.Equal(t, 200, srv.getJSON(fmt.Sprintf("/api/dependencies?endTs=%d&lookback=%d", end, (10*time.Minute).Milliseconds()), &deps))
	var got []string
	for _, d := range deps.Data {
		got = append(got, fmt.Sprintf("%s>%s:%d", d.Parent, d.Child, d.CallCount))
	}
	require.Equal(t, []string{
		fmt.Sprintf("checkout>mailer:%d", n), fmt.Sprintf("checkout>payments:%d", n),
		fmt.Sprintf("frontend>checkout:%d", n), fmt.Sprintf("payments>paydb:%d", n),
	}, got)
	require.Nil(t, deps.Errors)
	require.Equal(t, 200, srv.getJSON(fmt.Sprintf("/api/dependencies?endTs=%d&lookback=%d&service=paydb", end, (10*time.Minute).Milliseconds()), &deps))
	require.Len(t, deps.Data, 1)
	require.Equal(t, "payments", deps.Data[0].Parent)

	// Zipkin dependencies on the Zipkin port.
	var zdeps []struct {
		Parent     string `json:"parent"`
		Child      string `json:"child"`
		CallCount  uint64 `json:"callCount"`
		ErrorCount uint64 `json:"errorCount"`
	}
	code, body := srv.zipkinGet(fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=%d", end, (10*time.Minute).Milliseconds()), &zdeps)
	require.Equal(t, 200, code, string(body))
	require.Len(t, zdeps, 4)
	require.Equal(t, "checkout", zdeps[1].Parent)
	require.Equal(t, "payments", zdeps[1].Child)
	require.Equal(t, fails, zdeps[1].ErrorCount)

	// Jaeger's monitor endpoints: one point per step whose ratePer
	// window holds the minute of the data.
	type family struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Metrics []struct {
			Labels []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"labels"`
			MetricPoints []struct {
				GaugeValue struct {
					DoubleValue float64 `json:"doubleValue"`
				} `json:"gaugeValue"`
				Timestamp string `json:"timestamp"`
			} `json:"metricPoints"`
		} `json:"metrics"`
	}
	mq := fmt.Sprintf("service=payments&endTs=%d&lookback=%d&step=60000&ratePer=60000", base.Add(2*time.Minute).UnixMilli(), (5 * time.Minute).Milliseconds())
	var fam family
	require.Equal(t, 200, srv.getJSON("/api/metrics/calls?"+mq, &fam))
	require.Equal(t, "service_call_rate", fam.Name)
	require.Equal(t, "GAUGE", fam.Type)
	require.Len(t, fam.Metrics, 1)
	require.Equal(t, "service_name", fam.Metrics[0].Labels[0].Name)
	require.Equal(t, "payments", fam.Metrics[0].Labels[0].Value)
	require.Len(t, fam.Metrics[0].MetricPoints, 1)
	require.Equal(t, base.Add(time.Minute).UTC().Format(time.RFC3339), fam.Metrics[0].MetricPoints[0].Timestamp)
	require.InDelta(t, float64(n)/60, fam.Metrics[0].MetricPoints[0].GaugeValue.DoubleValue, 1e-9)
	require.Equal(t, 200, srv.getJSON("/api/metrics/errors?groupByOperation=true&"+mq, &fam))
	require.Equal(t, "service_operation_error_rate", fam.Name)
	require.Equal(t, "operation", fam.Metrics[0].Labels[0].Name)
	require.Equal(t, "Charge", fam.Metrics[0].Labels[0].Value)
	require.InDelta(t, float64(fails)/float64(n), fam.Metrics[0].MetricPoints[0].GaugeValue.DoubleValue, 1e-9)
	require.Equal(t, 200, srv.getJSON("/api/metrics/latencies?quantile=0.95&"+mq, &fam))
	require.Equal(t, "service_latencies", fam.Name)
	require.InEpsilon(t, exactQ(sorted, 0.95), fam.Metrics[0].MetricPoints[0].GaugeValue.DoubleValue, 0.01)

	// Prometheus exposition under the Collector connectors' names.
	resp, err := http.Get(srv.queryURL + "/metrics/spans")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	text := string(b)
	for _, line := range []string{
		fmt.Sprintf(`traces_span_metrics_calls_total{service_name="payments",span_kind="SPAN_KIND_SERVER",span_name="Charge",status_code="STATUS_CODE_ERROR"} %d`, fails),
		fmt.Sprintf(`traces_span_metrics_calls_total{service_name="payments",span_kind="SPAN_KIND_SERVER",span_name="Charge",status_code="STATUS_CODE_UNSET"} %d`, N-fails),
		fmt.Sprintf(`traces_span_metrics_duration_milliseconds_count{service_name="payments",span_kind="SPAN_KIND_SERVER",span_name="Charge",status_code="STATUS_CODE_UNSET"} %d`, N-fails),
		fmt.Sprintf(`traces_service_graph_request_total{client="checkout",connection_type="",server="payments"} %d`, n),
		fmt.Sprintf(`traces_service_graph_request_failed_total{client="checkout",connection_type="",server="payments"} %d`, fails),
		fmt.Sprintf(`traces_service_graph_request_server_seconds_count{client="payments",connection_type="database",server="paydb"} %d`, n),
		fmt.Sprintf(`traces_service_graph_request_client_seconds_bucket{client="checkout",connection_type="",server="payments",le="+Inf"} %d`, n),
	} {
		require.Contains(t, text, line+"\n")
	}
}

func TestMetricsFromSDKTraffic(t *testing.T) {
	srv := startServer(t, "")
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Minute)
	const n = 200
	payDur := sendShop(t, srv, n, base)
	checkShop(t, srv, n, base, payDur)

	// Bad input is a 400 naming the parameter.
	for path, param := range map[string]string{
		"/api/v1/metrics/series?service=payments&step=fast": "step",
		"/api/v1/metrics/series":                            "service",
		"/api/v1/metrics/graph?start=yesterday":             "start",
		"/api/v1/metrics/operations?kind=sideways":          "kind",
		"/api/metrics/latencies?service=payments":           "quantile",
		"/api/metrics/calls":                                "service",
		"/api/dependencies?endTs=-5":                        "endTs",
	} {
		resp, err := http.Get(srv.queryURL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode, path)
		require.Contains(t, string(b), param, path)
	}
	code, body := srv.zipkinGet("/api/v2/dependencies", nil)
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "endTs")

	// kill -9 before the head is flushed: the WAL replay re-derives the
	// series, once.
	srv.kill()
	srv = srv.restart()
	checkShop(t, srv, n, base, payDur)

	// A clean stop flushes the head and commits its series; the next
	// start loads them from the metrics files (nothing left to replay).
	srv.stop()
	srv = srv.restart()
	require.Contains(t, srv.log.String(), "metrics recovered")
	checkShop(t, srv, n, base, payDur)

	// More traffic after the restart adds up with what was kept, and a
	// kill -9 right after keeps both.
	payDur = append(payDur, sendShop(t, srv, n, base)...)
	checkShop(t, srv, 2*n, base, payDur)
	srv.kill()
	srv = srv.restart()
	checkShop(t, srv, 2*n, base, payDur)
}

// Spans ingested over Zipkin's API feed the same graph.
func TestMetricsFromZipkinIngest(t *testing.T) {
	srv := startServer(t, "")
	now := time.Now().Add(-time.Minute)
	us := now.UnixMicro()
	body := fmt.Sprintf(`[
{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get /api","kind":"CLIENT","timestamp":%d,"duration":20000,"localEndpoint":{"serviceName":"zfront"}},
{"traceId":"5af7183fb1d4cf5f","parentId":"352bff9a74ca9ad2","id":"4a2b1f0e3c5d6e7f","name":"get /api","kind":"SERVER","timestamp":%d,"duration":15000,"localEndpoint":{"serviceName":"zback"},"tags":{"error":"boom"}}
]`, us, us+1000)
	code, resp := srv.postZipkin("application/json", []byte(body), false)
	require.Equal(t, 202, code, resp)
	var g metricsGraph
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph?"+srv.window(now.Truncate(time.Minute)), &g))
	require.Equal(t, map[string][2]uint64{"zfront->zback/": {1, 1}}, g.edgeSummary())
	var zdeps []map[string]any
	code, b := srv.zipkinGet(fmt.Sprintf("/api/v2/dependencies?endTs=%d", time.Now().UnixMilli()), &zdeps)
	require.Equal(t, 200, code, string(b))
	require.Equal(t, []map[string]any{{"parent": "zfront", "child": "zback", "callCount": 1.0, "errorCount": 1.0}}, zdeps)
	require.True(t, strings.HasPrefix(string(b), "["))
}

// TestDemoServiceMap runs `ariadne demo` and waits until the service map
// shows the shop's calls, the database as a virtual node, and the errors
// injected into pricing on the products → pricing edge.
func TestDemoServiceMap(t *testing.T) {
	gp, hp, qp, sp := freePort(t), freePort(t), freePort(t), freePort(t)
	s := &server{t: t, dataDir: t.TempDir(), log: &logBuffer{}, exited: make(chan struct{}),
		queryURL: fmt.Sprintf("http://127.0.0.1:%d", qp)}
	s.cmd = exec.Command(ariadneBin, "demo", "--data-dir", s.dataDir, "--rate", "20", "--error-rate", "pricing=0.5",
		"--otlp-grpc-port", strconv.Itoa(gp), "--otlp-http-port", strconv.Itoa(hp),
		"--query-port", strconv.Itoa(qp), "--sampling-port", strconv.Itoa(sp))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	require.NoError(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("demo log:\n%s", s.log.String())
		}
	})
	want := []string{"frontend->products/", "products->pricing/", "user->frontend/virtual_node"}
	deadline := time.Now().Add(30 * time.Second)
	var edges map[string][2]uint64
	ok := false
	for !ok && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		resp, err := http.Get(s.queryURL + "/api/v1/metrics/graph")
		if err != nil {
			continue
		}
		var g metricsGraph
		err = json.NewDecoder(resp.Body).Decode(&g)
		resp.Body.Close()
		if err != nil {
			continue
		}
		edges = g.edgeSummary()
		ok = edges["products->pricing/"][1] > 0
		for _, k := range want {
			ok = ok && edges[k][0] > 0
		}
		var db bool
		for k := range edges {
			db = db || strings.HasSuffix(k, "/database")
		}
		ok = ok && db
	}
	require.True(t, ok, "edges: %v", edges)
}

// With metrics.enabled: false the spans are stored as usual, nothing is
// derived, and every metrics endpoint says why it has nothing.
func TestMetricsDisabled(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("metrics:\n  enabled: false\n"), 0o644))
	srv := startServer(t, "", "--config", cfg)
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Minute)
	sendShop(t, srv, 20, base)
	var svcs struct{ Services []string }
	require.Equal(t, 200, srv.getJSON("/api/v1/services", &svcs))
	require.Contains(t, svcs.Services, "payments")
	for _, path := range []string{"/api/v1/metrics/services", "/api/v1/metrics/graph", "/api/dependencies", "/metrics/spans"} {
		code, b := srv.getRaw(path)
		require.Equal(t, 404, code, path)
		require.Contains(t, string(b), "metrics.enabled: false", path)
	}
	code, b := srv.zipkinGet(fmt.Sprintf("/api/v2/dependencies?endTs=%d", time.Now().UnixMilli()), nil)
	require.Equal(t, 404, code)
	require.Contains(t, string(b), "metrics.enabled: false")
	_, err := os.Stat(filepath.Join(srv.dataDir, "metrics"))
	require.True(t, os.IsNotExist(err), "no metrics directory when derivation is off")
}
