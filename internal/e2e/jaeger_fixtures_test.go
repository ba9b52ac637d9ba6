package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const jaegerFixtures = "../../../shared/testdata/jaeger-storage-integration"

type jaegerQuery struct {
	Caption string
	Query   struct {
		ServiceName   string
		OperationName string
		Tags          map[string]any
		StartTimeMin  time.Time
		StartTimeMax  time.Time
		DurationMin   time.Duration
		DurationMax   time.Duration
		NumTraces     int
	}
	ExpectedFixtures []string
}

// TestJaegerStorageFixtures loads Jaeger's storage integration fixtures
// into the real binary over OTLP/HTTP JSON, reads every trace back, and runs
// every query of queries.json through the native search.
func TestJaegerStorageFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(jaegerFixtures, "traces", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "fixtures missing: %s", jaegerFixtures)
	srv := startServer(t, "")

	traceIDs := map[string][]string{} // fixture name → trace IDs
	spans := map[string]int{}         // trace ID → span count
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		require.NoError(t, err, f)
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					id := sp.TraceID().String()
					if !slices.Contains(traceIDs[name], id) {
						traceIDs[name] = append(traceIDs[name], id)
					}
					spans[id]++
				}
			}
		}
		code, resp := srv.postOTLP("application/json", body)
		require.Equal(t, 200, code, "%s: %s", f, resp)
		require.NotContains(t, string(resp), "rejected", "%s: %s", f, resp)
	}

	for id, n := range spans {
		require.Equal(t, n, spanCount(srv.trace(id)), "trace %s", id)
	}

	var queries []jaegerQuery
	b, err := os.ReadFile(filepath.Join(jaegerFixtures, "queries.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &queries))
	require.Len(t, queries, 25)
	check := func(t *testing.T) {
		for _, q := range queries {
			t.Run(q.Caption, func(t *testing.T) {
				p := url.Values{}
				if q.Query.ServiceName != "" {
					p.Set("service", q.Query.ServiceName)
				}
				if q.Query.OperationName != "" {
					p.Set("name", q.Query.OperationName)
				}
				for k, v := range q.Query.Tags {
					p.Add("attr", fmt.Sprintf("%s=%v", k, v))
				}
				if !q.Query.StartTimeMin.IsZero() {
					p.Set("start", q.Query.StartTimeMin.Format(time.RFC3339Nano))
				}
				if !q.Query.StartTimeMax.IsZero() {
					p.Set("end", q.Query.StartTimeMax.Format(time.RFC3339Nano))
				}
				if q.Query.DurationMin > 0 {
					p.Set("minDuration", q.Query.DurationMin.String())
				}
				if q.Query.DurationMax > 0 {
					p.Set("maxDuration", q.Query.DurationMax.String())
				}
				if q.Query.NumTraces > 0 {
					p.Set("limit", fmt.Sprint(q.Query.NumTraces))
				}
				res, code := srv.search(p)
				require.Equal(t, 200, code, res.Error)
				var want, got []string
				for _, f := range q.ExpectedFixtures {
					want = append(want, traceIDs[f]...)
				}
				for _, tr := range res.Traces {
					got = append(got, tr.TraceID)
				}
				slices.Sort(want)
				slices.Sort(got)
				require.Equal(t, want, got, "query %s", p.Encode())
				require.Equal(t, want, jaegerSearch(t, srv, q), "Jaeger /api/traces")
				require.Equal(t, want, jaegerV3Search(t, srv, q), "Jaeger /api/v3/traces")
			})
		}
	}
	t.Run("head", check)
	// The same queries after a restart, when the data is in parts.
	srv.stop()
	srv = srv.restart()
	t.Run("parts", check)
}

// jaegerSearch runs a fixture query through Jaeger's /api/traces with
// Jaeger's parameters and returns the sorted trace IDs (32 hex digits).
func jaegerSearch(t *testing.T, srv *server, q jaegerQuery) []string {
	t.Helper()
	p := url.Values{}
	if q.Query.ServiceName != "" {
		p.Set("service", q.Query.ServiceName)
	}
	if q.Query.OperationName != "" {
		p.Set("operation", q.Query.OperationName)
	}
	if len(q.Query.Tags) > 0 {
		p.Set("tags", fixtureTags(t, q))
	}
	p.Set("start", fmt.Sprint(q.Query.StartTimeMin.UnixMicro()))
	p.Set("end", fmt.Sprint(q.Query.StartTimeMax.UnixMicro()))
	if q.Query.DurationMin > 0 {
		p.Set("minDuration", q.Query.DurationMin.String())
	}
	if q.Query.DurationMax > 0 {
		p.Set("maxDuration", q.Query.DurationMax.String())
	}
	if q.Query.NumTraces > 0 {
		p.Set("limit", fmt.Sprint(q.Query.NumTraces))
	}
	var traces []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			TraceID string `json:"traceID"`
		} `json:"spans"`
	}
	e, code := srv.jaeger("/api/traces?"+p.Encode(), &traces)
	require.Equal(t, 200, code, "%s: %v", p.Encode(), e.Errors)
	var got []string
	for _, tr := range traces {
		require.NotEmpty(t, tr.Spans)
		got = append(got, fmt.Sprintf("%032s", tr.TraceID))
	}
	slices.Sort(got)
	return got
}

// jaegerV3Search runs a fixture query through the api_v3 gateway.
func jaegerV3Search(t *testing.T, srv *server, q jaegerQuery) []string {
	t.Helper()
	p := url.Values{}
	p.Set("query.serviceName", q.Query.ServiceName)
	if q.Query.OperationName != "" {
		p.Set("query.operationName", q.Query.OperationName)
	}
	if len(q.Query.Tags) > 0 {
		p.Set("query.attributes", fixtureTags(t, q))
	}
	p.Set("query.startTimeMin", q.Query.StartTimeMin.Format(time.RFC3339Nano))
	p.Set("query.startTimeMax", q.Query.StartTimeMax.Format(time.RFC3339Nano))
	if q.Query.DurationMin > 0 {
		p.Set("query.durationMin", q.Query.DurationMin.String())
	}
	if q.Query.DurationMax > 0 {
		p.Set("query.durationMax", q.Query.DurationMax.String())
	}
	if q.Query.NumTraces > 0 {
		p.Set("query.searchDepth", fmt.Sprint(q.Query.NumTraces))
	}
	var body struct {
		Result json.RawMessage `json:"result"`
	}
	code := srv.getJSON("/api/v3/traces?"+p.Encode(), &body)
	require.Equal(t, 200, code, "%s", p.Encode())
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body.Result)
	require.NoError(t, err)
	var got []string
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if id := sp.TraceID().String(); !slices.Contains(got, id) {
					got = append(got, id)
				}
			}
		}
	}
	slices.Sort(got)
	return got
}

// fixtureTags returns a query's tags as a JSON object of strings.
func fixtureTags(t *testing.T, q jaegerQuery) string {
	tags := map[string]string{}
	for k, v := range q.Query.Tags {
		tags[k] = fmt.Sprint(v)
	}
	b, err := json.Marshal(tags)
	require.NoError(t, err)
	return string(b)
}
