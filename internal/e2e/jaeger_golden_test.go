package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const jaegerSnapshots = "../../../shared/testdata/jaeger-apiv3-snapshots"

// TestJaegerGolden checks the response shape of every Jaeger endpoint
// against golden files, for a fixed trace posted over OTLP/HTTP.
func TestJaegerGolden(t *testing.T) {
	srv := startServer(t, "")
	body, err := os.ReadFile("testdata/jaeger/input.json")
	require.NoError(t, err)
	code, resp := srv.postOTLP("application/json", body)
	require.Equal(t, 200, code, "%s", resp)
	require.NotContains(t, string(resp), "rejected")

	const id = "0000000000000000a1b2c3d4e5f60718"
	for _, c := range []struct {
		golden, path string
		code         int
	}{
		{"services", "/api/services", 200},
		{"service-operations", "/api/services/frontend/operations", 200},
		{"operations", "/api/operations?service=cart", 200},
		{"operations-kind", "/api/operations?service=cart&spanKind=client", 200},
		{"trace", "/api/traces/" + id, 200},
		{"trace-short-id", "/api/traces/a1b2c3d4e5f60718", 200},
		{"search", "/api/traces?service=cart&start=1793534000000000&end=1793534800000000&tag=db.system:postgresql", 200},
		{"search-trace-ids", "/api/traces?traceID=a1b2c3d4e5f60718&traceID=42", 200},
		{"search-bad-duration", "/api/traces?service=cart&minDuration=fast", 400},
		{"trace-not-found", "/api/traces/42", 404},
		{"v3-services", "/api/v3/services", 200},
		{"v3-operations", "/api/v3/operations?service=cart", 200},
		{"v3-trace", "/api/v3/traces/" + id, 200},
		{"v3-search", "/api/v3/traces?query.serviceName=cart&query.startTimeMin=2026-11-01T00:00:00Z&query.startTimeMax=2026-11-30T00:00:00Z&query.durationMin=100ms", 200},
		{"v3-summaries", "/api/v3/trace-summaries?query.startTimeMin=2026-11-01T00:00:00Z&query.startTimeMax=2026-11-30T00:00:00Z", 200},
		{"v3-search-no-range", "/api/v3/traces?query.serviceName=cart", 400},
		{"v3-trace-not-found", "/api/v3/traces/42", 404},
	} {
		t.Run(c.golden, func(t *testing.T) {
			code, b := srv.getRaw(c.path)
			require.Equal(t, c.code, code, "%s", b)
			checkGolden(t, filepath.Join("jaeger", c.golden+".json"), b)
		})
	}
}

// TestJaegerV3Snapshots posts the traces behind Jaeger's own api_v3
// snapshots and compares the gateway's answers with them.
func TestJaegerV3Snapshots(t *testing.T) {
	srv := startServer(t, "")
	snap := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join(jaegerSnapshots, name))
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(b, &v))
		return v
	}
	// The services and operations snapshots: service foo, server span get_users.
	code, resp := srv.postOTLP("application/json", []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"foo"}}]},
		"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000003","spanId":"0000000000000004","name":"get_users","kind":2,
		"startTimeUnixNano":"1793534300000000000","endTimeUnixNano":"1793534300001000000"}]}]}]}`))
	require.Equal(t, 200, code, "%s", resp)

	get := func(path string) map[string]any {
		code, b := srv.getRaw(path)
		require.Equal(t, 200, code, "%s", b)
		var v map[string]any
		require.NoError(t, json.Unmarshal(b, &v))
		return v
	}
	dropTimes := func(v map[string]any) map[string]any {
		for _, rs := range v["result"].(map[string]any)["resourceSpans"].([]any) {
			for _, ss := range rs.(map[string]any)["scopeSpans"].([]any) {
				for _, sp := range ss.(map[string]any)["spans"].([]any) {
					delete(sp.(map[string]any), "startTimeUnixNano")
					delete(sp.(map[string]any), "endTimeUnixNano")
				}
			}
		}
		return v
	}
	require.Equal(t, snap("GetServices.json"), get("/api/v3/services"))
	require.Equal(t, snap("GetOperations.json"), get("/api/v3/operations?service=foo"))
	// Then a span without service.name, which the services list shows as
	// OTLPResourceNoServiceName.
	// The snapshot trace has no timestamps, which Ariadne's ingest
	// rejects; post it with times and drop them from the answer.
	trace := snap("GetTrace.json")["result"].(map[string]any)
	rs := trace["resourceSpans"].([]any)[0].(map[string]any)
	sp := rs["scopeSpans"].([]any)[0].(map[string]any)["spans"].([]any)[0].(map[string]any)
	sp["startTimeUnixNano"], sp["endTimeUnixNano"] = "1793534400000000000", "1793534400001000000"
	body, err := json.Marshal(trace)
	require.NoError(t, err)
	code, resp = srv.postOTLP("application/json", body)
	require.Equal(t, 200, code, "%s", resp)
	require.NotContains(t, string(resp), "rejected")
	require.Equal(t, map[string]any{"services": []any{"OTLPResourceNoServiceName", "foo"}}, get("/api/v3/services"))
	require.Equal(t, snap("GetTrace.json"), dropTimes(get("/api/v3/traces/00000000000000000000000000000001")))
	require.Equal(t, snap("FindTraces.json"), dropTimes(get("/api/v3/traces?query.operationName=foobar"+
		"&query.startTimeMin=2026-11-01T00:00:00Z&query.startTimeMax=2026-11-30T00:00:00Z")))

	// The summaries snapshot: trace 1 (again, so on a server of its own) of
	// service frontend, root "HTTP GET /" from 1000 s to 1001 s after the
	// epoch, two spans, one of them failed.
	srv = startServer(t, "")
	code, resp = srv.postOTLP("application/json", []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"frontend"}}]},
		"scopeSpans":[{"spans":[
		{"traceId":"00000000000000000000000000000001","spanId":"0000000000000011","name":"HTTP GET /","kind":2,
		 "startTimeUnixNano":"1000000000000","endTimeUnixNano":"1001000000000"},
		{"traceId":"00000000000000000000000000000001","spanId":"0000000000000012","parentSpanId":"0000000000000011","name":"db",
		 "startTimeUnixNano":"1000100000000","endTimeUnixNano":"1000200000000","status":{"code":2}}]}]}]}`))
	require.Equal(t, 200, code, "%s", resp)
	require.NotContains(t, string(resp), "rejected")
	require.Equal(t, snap("FindTraceSummaries.json"), get("/api/v3/trace-summaries?query.serviceName=frontend"+
		"&query.startTimeMin=1970-01-01T00:00:00Z&query.startTimeMax=1970-01-02T00:00:00Z"))
}
