package zipkin

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	zin "github.com/ariadne-tracing/ariadne/internal/ingest/zipkin"
	"github.com/ariadne-tracing/ariadne/internal/model"
)

// randomSpan returns a Zipkin span in the canonical form the mapping
// round-trips exactly.
func randomSpan(r *rand.Rand, i int) map[string]any {
	hex := func(n int) string {
		b := make([]byte, n/2)
		for k := range b {
			b[k] = byte(r.IntN(256))
		}
		b[0] |= 1
		return fmt.Sprintf("%x", b)
	}
	s := map[string]any{
		"traceId":   hex([]int{16, 32}[r.IntN(2)]),
		"id":        hex(16),
		"name":      fmt.Sprintf("op-%d", i),
		"timestamp": 1_700_000_000_000_000 + r.Int64N(1e12),
		"duration":  1 + r.Int64N(1e7),
	}
	if r.IntN(2) == 0 {
		s["parentId"] = hex(16)
	}
	if k := r.IntN(5); k > 0 {
		s["kind"] = []string{"", "CLIENT", "SERVER", "PRODUCER", "CONSUMER"}[k]
	}
	local := map[string]any{"serviceName": fmt.Sprintf("svc-%d", r.IntN(3))}
	if r.IntN(2) == 0 {
		local["ipv4"] = fmt.Sprintf("10.0.%d.%d", r.IntN(256), r.IntN(256))
		local["port"] = 1 + r.IntN(65535)
	}
	s["localEndpoint"] = local
	if r.IntN(2) == 0 {
		remote := map[string]any{"serviceName": "peer"}
		if r.IntN(2) == 0 {
			remote["ipv6"] = "2001:db8::5"
		}
		s["remoteEndpoint"] = remote
	}
	tags := map[string]any{}
	for k := range r.IntN(4) {
		tags[fmt.Sprintf("tag.%d", k)] = fmt.Sprintf("v%d", r.IntN(100))
	}
	switch r.IntN(4) {
	case 0:
		tags["error"] = "boom"
	case 1:
		tags["otel.status_code"] = "OK"
	}
	if r.IntN(3) == 0 {
		tags["host.name"] = "h1"
	}
	for k := range r.IntN(3) {
		tags[fmt.Sprintf("otlp.link.%d", k)] = hex(32) + "|" + hex(16) + "|" + []string{"", "k=v"}[r.IntN(2)] + `|{"a":1,"s":"x|y"}|` + fmt.Sprint(r.IntN(3))
	}
	if len(tags) > 0 {
		s["tags"] = tags
	}
	if r.IntN(2) == 0 {
		s["annotations"] = []any{map[string]any{"timestamp": s["timestamp"].(int64) + 1, "value": "plain"},
			map[string]any{"timestamp": s["timestamp"].(int64) + 2, "value": `ev|{"a":1,"b":"x","c":true}|0`}}
	}
	if s["kind"] == "SERVER" && r.IntN(2) == 0 {
		s["shared"] = true
	}
	return s
}

// TestRoundTrip: random canonical Zipkin spans, through the ingest mapping
// and the OTLP validation, come back out of FromSpan equal.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		in := randomSpan(r, i)
		b, err := json.Marshal([]any{in})
		require.NoError(t, err)
		spans, err := zin.DecodeJSON(b)
		require.NoError(t, err, "%s", b)
		got, rejected, msg := ingest.Convert(zin.ToTraces(spans), ingest.Limits{MaxFutureSkew: 100 * 365 * 24 * time.Hour}, time.Now())
		require.Zero(t, rejected, msg)
		require.Len(t, got, 1)
		out, err := json.Marshal(FromSpan(&got[0]))
		require.NoError(t, err)
		require.JSONEq(t, string(b[1:len(b)-1]), string(out))
	}
}

func TestFromSpanOTLP(t *testing.T) {
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "api"}, {Key: "k8s.pod.name", Type: model.TypeStr, Str: "p"}}}
	s := model.Span{
		TraceID: model.TraceID{15: 1}, SpanID: model.SpanID{7: 2}, Name: "GET", Kind: model.KindInternal,
		Start: 2_000_000, End: 2_000_500, StatusCode: model.StatusError, Resource: res,
		Scope: &model.Scope{Name: "lib", Version: "1"},
		Attrs: []model.Attr{{Key: "n", Type: model.TypeInt, Num: 7}, {Key: "net.peer.ip", Type: model.TypeStr, Str: "not-an-ip"}},
		Links: []model.Link{{TraceID: model.TraceID{1}, SpanID: model.SpanID{1}, Attrs: []model.Attr{{Key: "k", Type: model.TypeStr, Str: "v"}}}},
	}
	z := FromSpan(&s)
	require.Equal(t, "0000000000000001", z.TraceID)
	require.Empty(t, z.Kind, "internal has no Zipkin kind")
	require.Equal(t, int64(2000), z.Timestamp)
	require.Zero(t, z.Duration, "under 1µs rounds to 0 and is omitted")
	require.Equal(t, &zin.Endpoint{ServiceName: "api"}, z.LocalEndpoint)
	require.Nil(t, z.RemoteEndpoint, "an address that is not an IP stays a tag")
	require.Equal(t, map[string]string{"n": "7", "net.peer.ip": "not-an-ip", "k8s.pod.name": "p",
		"otel.scope.name": "lib", "otel.scope.version": "1", "error": "true",
		"otlp.link.0": "01000000000000000000000000000000|0100000000000000||{\"k\":\"v\"}|0"}, z.Tags)
}

func TestParseTraces(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	q, err := parseTraces(url.Values{}, now)
	require.NoError(t, err)
	require.Equal(t, now, q.End)
	require.Equal(t, now.Add(-defaultLookback), q.Start)
	require.Equal(t, defaultLimit, q.Limit)
	q, err = parseTraces(url.Values{"serviceName": {"a"}, "spanName": {"all"}, "remoteServiceName": {"db"},
		"annotationQuery": {"error and http.method=GET and retried"}, "minDuration": {"1500"}, "maxDuration": {"9000"},
		"endTs": {"1000000"}, "lookback": {"60000"}, "limit": {"3"}}, now)
	require.NoError(t, err)
	require.Equal(t, "a", q.Service)
	require.Empty(t, q.SpanName)
	require.Equal(t, model.StatusError, q.Status)
	require.Len(t, q.Conds, 3)
	require.Equal(t, 1500*time.Microsecond, q.MinDuration)
	require.Equal(t, 9*time.Millisecond, q.MaxDuration)
	require.Equal(t, time.UnixMilli(1000000), q.End)
	require.Equal(t, time.UnixMilli(1000000-60000), q.Start)
	require.Equal(t, 3, q.Limit)
	_, err = parseTraces(url.Values{"minDuration": {"2000"}, "maxDuration": {"1000"}}, now)
	require.Error(t, err)
	_, err = parseTraces(url.Values{"annotationQuery": {"=x"}}, now)
	require.ErrorContains(t, err, "annotationQuery")
}
