package zipkin

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func oneSpan(t *testing.T, js string) (ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
	t.Helper()
	spans, err := DecodeJSON([]byte(js))
	require.NoError(t, err)
	td := ToTraces(spans)
	require.Equal(t, 1, td.SpanCount())
	rs := td.ResourceSpans().At(0)
	ss := rs.ScopeSpans().At(0)
	return rs, ss, ss.Spans().At(0)
}

func TestMapping(t *testing.T) {
	const head = `[{"traceId":"00000000000000010000000000000002","id":"00000000000000AB","timestamp":1000,"duration":5,`
	for _, c := range []struct {
		name, json string
		check      func(t *testing.T, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span)
	}{
		{"ids and times", head + `"name":"x"}]`, func(t *testing.T, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, "00000000000000010000000000000002", sp.TraceID().String())
			require.Equal(t, "00000000000000ab", sp.SpanID().String())
			require.Equal(t, uint64(1_000_000), uint64(sp.StartTimestamp()))
			require.Equal(t, uint64(1_005_000), uint64(sp.EndTimestamp()))
			require.Equal(t, ptrace.SpanKindUnspecified, sp.Kind())
			require.Equal(t, 0, rs.Resource().Attributes().Len(), "no local service, no service.name")
		}},
		{"internal kind from tag", head + `"tags":{"span.kind":"internal"}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, ptrace.SpanKindInternal, sp.Kind())
			require.Equal(t, 0, sp.Attributes().Len())
		}},
		{"error tag true", head + `"tags":{"error":"true"}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
			require.Empty(t, sp.Status().Message())
		}},
		{"error tag empty", head + `"tags":{"error":""}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
		}},
		{"error tag false", head + `"tags":{"error":"false"}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, ptrace.StatusCodeUnset, sp.Status().Code())
			v, _ := sp.Attributes().Get("error")
			require.Equal(t, "false", v.Str())
		}},
		{"status code tags", head + `"tags":{"otel.status_code":"STATUS_CODE_ERROR","otel.status_description":"boom"}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
			require.Equal(t, "boom", sp.Status().Message())
			require.Equal(t, 0, sp.Attributes().Len())
		}},
		{"legacy library tags", head + `"tags":{"otel.library.name":"lib","otel.library.version":"1"}}]`, func(t *testing.T, _ ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, "lib", ss.Scope().Name())
			require.Equal(t, "1", ss.Scope().Version())
			require.Equal(t, 0, sp.Attributes().Len())
		}},
		{"resource tags", head + `"localEndpoint":{"serviceName":"svc"},"tags":{"service.version":"2","k8s.pod.name":"p","http.url":"/"}}]`, func(t *testing.T, rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, map[string]any{"service.name": "svc", "service.version": "2", "k8s.pod.name": "p"}, rs.Resource().Attributes().AsRaw())
			require.Equal(t, map[string]any{"http.url": "/"}, sp.Attributes().AsRaw())
		}},
		{"non-string tags", head + `"tags":{"n":42,"b":true}}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, map[string]any{"n": "42", "b": "true"}, sp.Attributes().AsRaw())
		}},
		{"parent equal to self is dropped", head + `"parentId":"00000000000000ab"}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.True(t, sp.ParentSpanID().IsEmpty())
		}},
		{"annotation that only looks encoded", head + `"annotations":[{"timestamp":1001,"value":"a|b|c"}]}]`, func(t *testing.T, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
			require.Equal(t, "a|b|c", sp.Events().At(0).Name())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, ss, sp := oneSpan(t, c.json)
			c.check(t, rs, ss, sp)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{}`, "JSON array"},
		{`[{"traceId":"1","id":"0000000000000001"}]`, "traceId"},
		{`[{"traceId":"0000000000000000","id":"0000000000000001"}]`, "traceId"},
		{`[{"traceId":"0000000000000001","id":"01"}]`, "id"},
		{`[{"traceId":"0000000000000001","id":"0000000000000001","parentId":"zz"}]`, "parentId"},
		{`[{"traceId":"0000000000000001","id":"0000000000000001","timestamp":-5}]`, "timestamp"},
		{`[{"traceId":"0000000000000001","id":"0000000000000001","localEndpoint":{"ipv4":"::1"}}]`, "ipv4"},
		{`[{"traceId":"0000000000000001","id":"0000000000000001","remoteEndpoint":{"port":70000}}]`, "port"},
	} {
		_, err := DecodeJSON([]byte(c.json))
		require.ErrorIs(t, err, ErrBadSpans, c.json)
		require.ErrorContains(t, err, c.want, c.json)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`[{"traceId":"0000000000000001","id":"0000000000000001","name":"x","timestamp":1,"annotations":[{"timestamp":1,"value":"a|{}|0"}],"tags":{"error":""}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeJSON(b)
		if err == nil {
			_ = ToTraces(spans)
		}
	})
}

func FuzzDecodeProto(f *testing.F) {
	f.Add([]byte("\x0a\x14\x0a\x08\x00\x00\x00\x00\x00\x00\x00\x01\x1a\x08\x00\x00\x00\x00\x00\x00\x00\x02"))
	f.Add([]byte("\x0a\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeProto(b)
		if err == nil {
			_ = ToTraces(spans)
		}
	})
}
