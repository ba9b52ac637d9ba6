package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// traceqlFixture is a checkout trace (server span, failing database child)
// and a product listing trace.
func traceqlFixture() []model.Span {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano()
	shop := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "shop"}}}
	db := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "orders-db"}}}
	t1, t2 := model.TraceID{0x11, 15: 1}, model.TraceID{0x22, 15: 2}
	ms := int64(time.Millisecond)
	return []model.Span{
		{TraceID: t1, SpanID: model.SpanID{1, 7: 1}, Name: "POST /checkout", Kind: model.KindServer, Start: base, End: base + 420*ms, Resource: shop},
		{TraceID: t1, SpanID: model.SpanID{1, 7: 2}, ParentID: model.SpanID{1, 7: 1}, Name: "INSERT orders", Kind: model.KindClient,
			StatusCode: model.StatusError, Start: base + 5*ms, End: base + 400*ms, Resource: db,
			Attrs: []model.Attr{{Key: "db.system", Type: model.TypeStr, Str: "postgresql"}}},
		{TraceID: t2, SpanID: model.SpanID{2, 7: 1}, Name: "GET /products", Kind: model.KindServer, Start: base + 2000*ms, End: base + 2030*ms, Resource: shop},
	}
}

func TestTraceQLEndpoint(t *testing.T) {
	db, err := store.Open(store.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, db.Start(context.Background()))
	defer func() { require.NoError(t, db.Shutdown(context.Background())) }()
	require.NoError(t, db.Append(context.Background(), traceqlFixture()))
	mux := http.NewServeMux()
	NewNative(db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Second).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(v url.Values) (int, map[string]any) {
		resp, err := http.Get(srv.URL + "/api/v1/traceql?" + v.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}

	t.Run("structural query returns the trace and the matched spans", func(t *testing.T) {
		code, body := get(url.Values{"q": {`{ kind = server } > { status = error && span.db.system = "postgresql" }`}})
		require.Equal(t, 200, code, body)
		traces := body["traces"].([]any)
		require.Len(t, traces, 1)
		tr := traces[0].(map[string]any)
		require.Equal(t, "11000000000000000000000000000001", tr["traceID"])
		require.Equal(t, "POST /checkout", tr["rootSpanName"])
		require.EqualValues(t, 2, tr["spanCount"])
		// > returns the children that matched, not the parent.
		require.Equal(t, []any{"0100000000000002"}, tr["matchedSpans"])
		require.EqualValues(t, 20, body["limit"])
	})
	t.Run("newest first, limit and time range", func(t *testing.T) {
		code, body := get(url.Values{"q": {`{ kind = server }`}})
		require.Equal(t, 200, code, body)
		traces := body["traces"].([]any)
		require.Len(t, traces, 2)
		require.Equal(t, "22000000000000000000000000000002", traces[0].(map[string]any)["traceID"])
		require.Equal(t, []any{"0200000000000001"}, traces[0].(map[string]any)["matchedSpans"])
		_, body = get(url.Values{"q": {`{ kind = server }`}, "limit": {"1"}})
		require.Len(t, body["traces"].([]any), 1)
		_, body = get(url.Values{"q": {`{ kind = server }`}, "end": {"2026-03-04T05:06:08Z"}})
		traces = body["traces"].([]any)
		require.Len(t, traces, 1)
		require.Equal(t, "11000000000000000000000000000001", traces[0].(map[string]any)["traceID"])
	})
	t.Run("syntax error has its position", func(t *testing.T) {
		code, body := get(url.Values{"q": {"{ kind = server }\n&& { .a = }"}})
		require.Equal(t, 400, code)
		pos := body["position"].(map[string]any)
		require.EqualValues(t, 2, pos["line"])
		require.EqualValues(t, 11, pos["column"])
		require.EqualValues(t, 28, pos["offset"])
		require.Contains(t, body["error"], "line 2 col 11")
		require.NotEmpty(t, body["message"])
	})
	t.Run("unsupported feature is marked", func(t *testing.T) {
		code, body := get(url.Values{"q": {"{ parent.a = 1 }"}})
		require.Equal(t, 400, code)
		require.Equal(t, true, body["unsupported"])
		require.EqualValues(t, 3, body["position"].(map[string]any)["column"])
		code, body = get(url.Values{"q": {"{ .a = }"}})
		require.Equal(t, 400, code)
		require.NotContains(t, body, "unsupported")
	})
	t.Run("metrics query returns series", func(t *testing.T) {
		code, body := get(url.Values{"q": {`{ } | count_over_time() by (resource.service.name)`},
			"start": {"2026-03-04T05:06:00Z"}, "end": {"2026-03-04T05:06:10Z"}, "step": {"1s"}})
		require.Equal(t, 200, code, body)
		require.EqualValues(t, 1, body["stepSeconds"])
		got := map[string]map[float64]float64{}
		for _, s := range body["series"].([]any) {
			m := s.(map[string]any)
			svc := m["labels"].(map[string]any)["resource.service.name"].(string)
			got[svc] = map[float64]float64{}
			for _, p := range m["samples"].([]any) {
				pt := p.([]any)
				if v := pt[1].(float64); v != 0 {
					got[svc][pt[0].(float64)] = v
				}
			}
		}
		ms := float64(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixMilli())
		require.Equal(t, map[string]map[float64]float64{
			"shop":      {ms: 1, ms + 2000: 1},
			"orders-db": {ms: 1},
		}, got)
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, c := range []struct {
			v    url.Values
			want string
		}{
			{url.Values{}, "q: a TraceQL query is required"},
			{url.Values{"q": {"{ }"}, "limit": {"0"}}, "limit:"},
			{url.Values{"q": {"{ }"}, "start": {"yesterday"}}, "start:"},
			{url.Values{"q": {"{ }"}, "service": {"shop"}}, `unknown parameter "service"`},
			{url.Values{"q": {"{ }"}, "step": {"1m"}}, "step: only for metrics queries"},
			{url.Values{"q": {"{ } | rate()"}, "step": {"fast"}}, "step:"},
			{url.Values{"q": {"{ } | rate()"}, "limit": {"5"}}, "limit: only for searches"},
			{url.Values{"q": {"{ } | rate()"}, "start": {"2026-03-04T05:00:00Z"}, "end": {"2026-03-04T06:00:00Z"}, "step": {"1ms"}}, "step:"},
		} {
			code, body := get(c.v)
			require.Equal(t, 400, code, c.v)
			require.Contains(t, body["error"], c.want, c.v)
		}
	})
}
