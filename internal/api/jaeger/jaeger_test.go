package jaeger

import (
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

func TestParseSearch(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p, err := parseSearch(url.Values{}, now)
	require.NoError(t, err)
	require.Equal(t, now, p.q.End)
	require.Equal(t, now.Add(-DefaultLookback), p.q.Start)
	require.Equal(t, defaultLimit, p.q.Limit)
	require.Empty(t, p.q.Service, "service is optional")

	p, err = parseSearch(url.Values{
		"service": {"cart"}, "operation": {"GET /cart"},
		"tag":   {"http.url:http://x:8080/a", "span.kind:client", "error:true"},
		"tags":  {`{"db.system":"redis","otel.status_code":"ERROR"}`},
		"start": {"1000000"}, "end": {"2000000"}, "minDuration": {"1.5ms"}, "maxDuration": {"2s"},
		"durationScope": {"trace"}, "limit": {"7"},
	}, now)
	require.NoError(t, err)
	q := p.q
	require.Equal(t, "cart", q.Service)
	require.Equal(t, "GET /cart", q.SpanName)
	require.Equal(t, model.KindClient, q.Kind)
	require.Equal(t, model.StatusError, q.Status)
	require.Len(t, q.Conds, 2)
	require.Equal(t, "http.url", q.Conds[0].Key)
	require.Equal(t, "http://x:8080/a", q.Conds[0].Value, "the value keeps its colons")
	require.Equal(t, "db.system", q.Conds[1].Key)
	require.Equal(t, time.UnixMicro(1000000), q.Start)
	require.Equal(t, time.UnixMicro(2000000), q.End)
	require.Equal(t, 1500*time.Microsecond, q.MinDuration)
	require.Equal(t, 2*time.Second, q.MaxDuration)
	require.Equal(t, query.LevelTrace, q.DurationLevel)
	require.Equal(t, 7, q.Limit)

	p, err = parseSearch(url.Values{"service": {noServiceName}, "traceID": {"abc", "0123456789abcdef0123456789abcdef"}}, now)
	require.NoError(t, err)
	require.Empty(t, p.q.Service)
	require.Len(t, p.traceIDs, 2)
	require.Equal(t, "00000000000000000000000000000abc", p.traceIDs[0].String())

	for param, v := range map[string]url.Values{
		"traceID":       {"traceID": {"0"}},
		"tag":           {"tag": {":v"}},
		"tags":          {"tags": {`{"a":1}`}},
		"start":         {"start": {"1.5"}},
		"end":           {"end": {"now"}},
		"minDuration":   {"minDuration": {"-1s"}},
		"maxDuration":   {"minDuration": {"2s"}, "maxDuration": {"1s"}},
		"limit":         {"limit": {"-1"}},
		"durationScope": {"durationScope": {"forever"}},
		"query":         {"start": {"2000000"}, "end": {"1000000"}},
	} {
		_, err := parseSearch(v, now)
		require.ErrorContains(t, err, "'"+param+"'", param)
	}
	_, err = parseSearch(url.Values{"tag": {"span.kind:sideways"}}, now)
	require.ErrorContains(t, err, "span.kind")
	_, err = parseSearch(url.Values{"traceID": make([]string, maxTraceIDs+1)}, now)
	require.ErrorContains(t, err, "at most")
	_, err = parseSearch(url.Values{"limit": {"10001"}}, now)
	require.ErrorContains(t, err, "limit")
}

func TestParseV3Search(t *testing.T) {
	q, err := parseV3Search(url.Values{"query.service_name": {"a"}, "query.start_time_min": {"2026-01-01T00:00:00Z"},
		"query.start_time_max": {"2026-01-02T00:00:00Z"}, "query.num_traces": {"5"}, "query.duration_min": {"1s"},
		"query.attributes": {`{"k":"v","error":"true"}`}})
	require.NoError(t, err)
	require.Equal(t, "a", q.Service)
	require.Equal(t, 5, q.Limit)
	require.Equal(t, time.Second, q.MinDuration)
	require.Equal(t, model.StatusError, q.Status)
	require.Len(t, q.Conds, 1)
	for want, v := range map[string]url.Values{
		"are required":       {"query.startTimeMin": {"2026-01-01T00:00:00Z"}},
		"query.startTimeMin": {"query.startTimeMin": {"yesterday"}, "query.startTimeMax": {"2026-01-01T00:00:00Z"}},
		"query.durationMax":  {"query.startTimeMin": {"2026-01-01T00:00:00Z"}, "query.startTimeMax": {"2026-01-02T00:00:00Z"}, "query.durationMax": {"x"}},
		"query.searchDepth":  {"query.startTimeMin": {"2026-01-01T00:00:00Z"}, "query.startTimeMax": {"2026-01-02T00:00:00Z"}, "query.searchDepth": {"x"}},
		"query.attributes":   {"query.startTimeMin": {"2026-01-01T00:00:00Z"}, "query.startTimeMax": {"2026-01-02T00:00:00Z"}, "query.attributes": {"[]"}},
	} {
		_, err := parseV3Search(v)
		require.ErrorContains(t, err, want)
	}
}

func TestToTraceEdgeCases(t *testing.T) {
	// Two equal resources behind different pointers share one process; a
	// resource without service.name gets Jaeger's placeholder.
	r1 := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "a"}, {Key: "z", Type: model.TypeStr, Str: "1"}}}
	r2 := &model.Resource{Attrs: []model.Attr{{Key: "z", Type: model.TypeStr, Str: "1"}, {Key: "service.name", Type: model.TypeStr, Str: "a"}}}
	r3 := &model.Resource{}
	tid := model.TraceID{0: 1, 15: 2}
	spans := []model.Span{
		{TraceID: tid, SpanID: model.SpanID{7: 1}, Resource: r1, Start: 1999, End: 5001,
			Attrs:  []model.Attr{{Key: "nan", Type: model.TypeDouble, Num: math.Float64bits(math.NaN())}},
			Events: []model.Event{{Time: 3000, Name: "ignored", Attrs: []model.Attr{{Key: "b", Type: model.TypeStr, Str: "x"}, {Key: "event", Type: model.TypeStr, Str: "mine"}}}}},
		{TraceID: tid, SpanID: model.SpanID{7: 2}, Resource: r2},
		{TraceID: tid, SpanID: model.SpanID{7: 3}, Resource: r3, Kind: model.KindInternal},
	}
	tr := ToTrace(spans)
	require.Equal(t, "01000000000000000000000000000002", tr.TraceID)
	require.Len(t, tr.Processes, 2)
	require.Equal(t, "p1", tr.Spans[0].ProcessID)
	require.Equal(t, "p1", tr.Spans[1].ProcessID)
	require.Equal(t, "p2", tr.Spans[2].ProcessID)
	require.Equal(t, noServiceName, tr.Processes["p2"].ServiceName)
	require.Equal(t, int64(1), tr.Spans[0].StartTime)
	require.Equal(t, int64(3), tr.Spans[0].Duration, "duration is (end-start) in µs, truncated")
	require.Equal(t, []KeyValue{{"nan", "string", "NaN"}}, tr.Spans[0].Tags)
	require.Equal(t, []KeyValue{{"event", "string", "mine"}, {"b", "string", "x"}}, tr.Spans[0].Logs[0].Fields)
	require.Equal(t, []KeyValue{{"span.kind", "string", "internal"}}, tr.Spans[2].Tags)
	require.Equal(t, "0000000000000002", TraceIDString(model.TraceID{15: 2}))
}

func TestReferences(t *testing.T) {
	tid, other := model.TraceID{15: 1}, model.TraceID{15: 9}
	parent := model.SpanID{7: 1}
	childOf := []model.Attr{{Key: "opentracing.ref_type", Type: model.TypeStr, Str: "child_of"}}
	s := model.Span{TraceID: tid, SpanID: model.SpanID{7: 2}, ParentID: parent, Links: []model.Link{
		{TraceID: tid, SpanID: parent, Attrs: []model.Attr{{Key: "opentracing.ref_type", Type: model.TypeStr, Str: "follows_from"}}},
		{TraceID: other, SpanID: model.SpanID{7: 3}, Attrs: childOf},
		{TraceID: other, SpanID: model.SpanID{7: 4}},
	}}
	require.Equal(t, []Reference{
		{"FOLLOWS_FROM", "0000000000000001", "0000000000000001"},
		{"CHILD_OF", "0000000000000009", "0000000000000003"},
		{"FOLLOWS_FROM", "0000000000000009", "0000000000000004"},
	}, references(&s, "0000000000000001"))
}

func TestSharedSpanIDs(t *testing.T) {
	tid := model.TraceID{15: 1}
	shared, root := model.SpanID{7: 5}, model.SpanID{7: 1}
	spans := []model.Span{
		{TraceID: tid, SpanID: root, Kind: model.KindServer},
		{TraceID: tid, SpanID: shared, ParentID: root, Kind: model.KindClient},
		{TraceID: tid, SpanID: shared, ParentID: root, Kind: model.KindServer},
		{TraceID: tid, SpanID: model.SpanID{7: 6}, ParentID: shared, Kind: model.KindClient}, // made by the server side; 06 is taken
	}
	tr := ToTrace(spans)
	require.Equal(t, "0000000000000005", tr.Spans[1].SpanID)
	require.Equal(t, "0000000000000007", tr.Spans[2].SpanID, "next unused ID")
	require.Equal(t, "0000000000000005", tr.Spans[2].References[0].SpanID)
	require.Equal(t, "0000000000000007", tr.Spans[3].References[0].SpanID)
	require.Equal(t, "0000000000000001", tr.Spans[1].References[0].SpanID)
}
