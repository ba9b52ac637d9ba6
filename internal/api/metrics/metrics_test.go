package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
)

var base = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// testAPI feeds a pipeline with server spans of service "api": in minute
// i (0..4) of base, 10*(i+1) calls of "GET /a" lasting 1..n ms, of which
// i fail, and 5 calls of "GET /b" lasting 3s.
func testAPI(t *testing.T) (*API, *httptest.Server) {
	p, err := pipeline.New(pipeline.Config{Retention: 100 * 365 * 24 * time.Hour})
	require.NoError(t, err)
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "api"}}}
	var spans []model.Span
	id := 0
	add := func(name string, start time.Time, dur time.Duration, fail bool) {
		id++
		s := model.Span{TraceID: model.TraceID{byte(id), byte(id >> 8), 1}, SpanID: model.SpanID{byte(id), byte(id >> 8)}, Name: name,
			Kind: model.KindServer, Start: start.UnixNano(), End: start.Add(dur).UnixNano(), Resource: res}
		if fail {
			s.StatusCode = model.StatusError
		}
		spans = append(spans, s)
	}
	for i := range 5 {
		m := base.Add(time.Duration(i) * time.Minute)
		for j := range 10 * (i + 1) {
			add("GET /a", m.Add(time.Second), time.Duration(j+1)*time.Millisecond, j < i)
		}
		add("GET /b", m.Add(2*time.Second), 3*time.Second, false)
	}
	p.Observe(spans)
	a := New(p, nil)
	a.now = func() time.Time { return base.Add(10 * time.Minute) }
	mux := http.NewServeMux()
	a.Register(mux)
	mux.Handle("GET /api/v2/dependencies", a.ZipkinDependencies())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv
}

func get(t *testing.T, srv *httptest.Server, path string, v any) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode == 200 {
		require.NoError(t, json.Unmarshal(b, v), "%s", b)
	}
	return resp.StatusCode, string(b)
}

func TestJaegerMonitorWindows(t *testing.T) {
	_, srv := testAPI(t)
	var fam metricFamily
	// Points every minute from base to base+5m, each over the 2 minutes
	// before it.
	q := fmt.Sprintf("service=api&groupByOperation=true&endTs=%d&lookback=%d&step=60000&ratePer=120000",
		base.Add(5*time.Minute).UnixMilli(), (5 * time.Minute).Milliseconds())
	code, body := get(t, srv, "/api/metrics/calls?"+q, &fam)
	require.Equal(t, 200, code, body)
	require.Equal(t, "service_operation_call_rate", fam.Name)
	require.Equal(t, "calls/sec, grouped by service & operation", fam.Help)
	require.Len(t, fam.Metrics, 2)
	require.Equal(t, []label{{"operation", "GET /a"}, {"service_name", "api"}}, fam.Metrics[0].Labels)
	var got []string
	for _, p := range fam.Metrics[0].MetricPoints {
		got = append(got, fmt.Sprintf("%s=%.4f", p.Timestamp[11:16], p.GaugeValue.DoubleValue))
	}
	// t=10:01 covers minute 0 (10 calls), 10:02 minutes 0-1 (30), ...
	require.Equal(t, []string{"10:01=0.0833", "10:02=0.2500", "10:03=0.4167", "10:04=0.5833", "10:05=0.7500"}, got)

	code, body = get(t, srv, "/api/metrics/errors?"+q, &fam)
	require.Equal(t, 200, code, body)
	require.Equal(t, "service_operation_error_rate", fam.Name)
	// 10:03 covers minutes 1 and 2: (1+2) errors / (20+30) calls.
	require.Equal(t, "2026-05-01T10:03:00Z", fam.Metrics[0].MetricPoints[2].Timestamp)
	require.InDelta(t, 3.0/50, fam.Metrics[0].MetricPoints[2].GaugeValue.DoubleValue, 1e-12)
	require.Equal(t, 0.0, fam.Metrics[1].MetricPoints[2].GaugeValue.DoubleValue)

	code, body = get(t, srv, "/api/metrics/latencies?quantile=0.5&"+strings.Replace(q, "groupByOperation=true", "groupByOperation=false", 1), &fam)
	require.Equal(t, 200, code, body)
	require.Equal(t, "service_latencies", fam.Name)
	require.Equal(t, "0.50th quantile latency, grouped by service", fam.Help)
	require.Len(t, fam.Metrics, 1)
	// 10:01: minute 0 holds 1..10 ms and one 3 s call: the median of 11
	// values is 6 ms.
	require.InEpsilon(t, 6.0, fam.Metrics[0].MetricPoints[0].GaugeValue.DoubleValue, 0.01)

	// Another span kind has no data: no series.
	code, _ = get(t, srv, "/api/metrics/calls?spanKind=client&"+q, &fam)
	require.Equal(t, 200, code)
	require.Empty(t, fam.Metrics)

	// The smallest step the series resolve, as Jaeger's UI asks for it.
	var minStep struct {
		Data   int64 `json:"data"`
		Errors any   `json:"errors"`
	}
	code, body = get(t, srv, "/api/metrics/minstep", &minStep)
	require.Equal(t, 200, code, body)
	require.EqualValues(t, 60000, minStep.Data)
	require.Nil(t, minStep.Errors)

	for path, want := range map[string]string{
		"/api/metrics/calls?service=api&step=0":              "step",
		"/api/metrics/calls?service=api&spanKind=sideways":   "spanKind",
		"/api/metrics/latencies?service=api&quantile=2":      "quantile",
		"/api/metrics/calls?service=api&groupByOperation=yo": "groupByOperation",
		"/api/metrics/calls?service=api&lookback=x":          "lookback",
		"/api/metrics/calls?service=api&ratePer=31536000000": "ratePer",
	} {
		code, body := get(t, srv, path, nil)
		require.Equal(t, 400, code, path)
		require.Contains(t, body, want, path)
		require.Contains(t, body, `"errors":[{"code":400`, path)
	}
}

func TestPrometheusBuckets(t *testing.T) {
	_, srv := testAPI(t)
	code, body := get(t, srv, "/metrics/spans", nil)
	require.Equal(t, 200, code)
	lbl := `service_name="api",span_kind="SPAN_KIND_SERVER",span_name="GET /a",status_code="STATUS_CODE_UNSET"`
	// Unset GET /a calls: per minute i, durations i+1..10(i+1) ms; 140
	// in all. Count how many are <= each bound exactly.
	var durs []int
	for i := range 5 {
		for j := i; j < 10*(i+1); j++ {
			durs = append(durs, j+1)
		}
	}
	for _, le := range []int{2, 4, 6, 8, 10, 50} {
		n := 0
		for _, d := range durs {
			if d <= le {
				n++
			}
		}
		// Bounds fall exactly on whole milliseconds, where sketch
		// buckets may put a value on either side: allow the one value
		// at the bound.
		line := fmt.Sprintf(`traces_span_metrics_duration_milliseconds_bucket{%s,le="%d"} `, lbl, le)
		i := strings.Index(body, line)
		require.GreaterOrEqual(t, i, 0, line)
		var got int
		_, err := fmt.Sscanf(body[i+len(line):], "%d", &got)
		require.NoError(t, err)
		atBound := 0
		for _, d := range durs {
			if d == le {
				atBound++
			}
		}
		require.True(t, got == n || got == n-atBound, "le=%d got %d want %d (or %d)", le, got, n, n-atBound)
	}
	require.Contains(t, body, fmt.Sprintf("traces_span_metrics_duration_milliseconds_count{%s} %d\n", lbl, len(durs)))
	require.Contains(t, body, fmt.Sprintf("traces_span_metrics_calls_total{%s} %d\n", lbl, len(durs)))
	require.Contains(t, body, `traces_span_metrics_duration_milliseconds_sum{service_name="api",span_kind="SPAN_KIND_SERVER",span_name="GET /b",status_code="STATUS_CODE_UNSET"} 15000`+"\n")
}

func TestNativeSeriesAndOperations(t *testing.T) {
	_, srv := testAPI(t)
	var series struct {
		Step   string
		Points []struct {
			Time   string
			Calls  uint64
			Errors uint64
			Rate   float64
			Max    float64 `json:"maxMs"`
		}
	}
	start, end := base.Unix(), base.Add(5*time.Minute).Unix()
	code, body := get(t, srv, fmt.Sprintf("/api/v1/metrics/series?service=api&operation=GET+/a&start=%d&end=%d&step=2m", start, end), &series)
	require.Equal(t, 200, code, body)
	require.Equal(t, "2m0s", series.Step)
	require.Len(t, series.Points, 3)
	require.Equal(t, []uint64{30, 70, 50}, []uint64{series.Points[0].Calls, series.Points[1].Calls, series.Points[2].Calls})
	require.Equal(t, []uint64{1, 5, 4}, []uint64{series.Points[0].Errors, series.Points[1].Errors, series.Points[2].Errors})
	require.InDelta(t, 30.0/120, series.Points[0].Rate, 1e-12)
	require.Equal(t, 50.0, series.Points[2].Max)

	var ops struct {
		Operations []struct {
			Operation string
			Calls     uint64
			P99       float64 `json:"p99Ms"`
		}
	}
	code, body = get(t, srv, fmt.Sprintf("/api/v1/metrics/operations?start=%d&end=%d&sort=p99", start, end), &ops)
	require.Equal(t, 200, code, body)
	require.Equal(t, "GET /b", ops.Operations[0].Operation)
	require.InEpsilon(t, 3000, ops.Operations[0].P99, 0.01)
	require.Equal(t, uint64(150), ops.Operations[1].Calls)

	code, body = get(t, srv, "/api/v1/metrics/operations?sort=slowest", nil)
	require.Equal(t, 400, code)
	require.Contains(t, body, "sort")
	code, body = get(t, srv, fmt.Sprintf("/api/v1/metrics/graph?start=%d&end=%d", end, start), nil)
	require.Equal(t, 400, code)
	require.Contains(t, body, "start: must be before end")
}
