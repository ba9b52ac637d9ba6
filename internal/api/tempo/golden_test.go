package tempo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is two traces: a checkout whose database call failed and a
// product listing.
func fixture() []model.Span {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano()
	shop := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "shop"}}}
	db := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "orders-db"},
		{Key: "deployment.environment", Type: model.TypeStr, Str: "prod"}}}
	scope := &model.Scope{Name: "shop/http", Version: "1.2.0"}
	t1 := model.TraceID{0x11, 15: 0x01}
	t2 := model.TraceID{0x22, 15: 0x02}
	ms := int64(time.Millisecond)
	return []model.Span{
		{TraceID: t1, SpanID: model.SpanID{1, 7: 1}, Name: "POST /checkout", Kind: model.KindServer, StatusCode: model.StatusError,
			Start: base, End: base + 420*ms, Resource: shop, Scope: scope,
			Attrs: []model.Attr{{Key: "http.response.status_code", Type: model.TypeInt, Num: 500}}},
		{TraceID: t1, SpanID: model.SpanID{1, 7: 2}, ParentID: model.SpanID{1, 7: 1}, Name: "INSERT orders", Kind: model.KindClient,
			StatusCode: model.StatusError, StatusMessage: "deadlock", Start: base + 5*ms, End: base + 400*ms, Resource: db, Scope: scope,
			Attrs:  []model.Attr{{Key: "db.system", Type: model.TypeStr, Str: "postgresql"}, {Key: "db.rows", Type: model.TypeDouble, Num: math.Float64bits(1.5)}},
			Events: []model.Event{{Name: "exception", Time: base + 390*ms, Attrs: []model.Attr{{Key: "exception.type", Type: model.TypeStr, Str: "Deadlock"}}}}},
		{TraceID: t2, SpanID: model.SpanID{2, 7: 1}, Name: "GET /products", Kind: model.KindServer, Start: base + 2000*ms, End: base + 2030*ms,
			Resource: shop, Scope: scope, Attrs: []model.Attr{{Key: "http.response.status_code", Type: model.TypeInt, Num: 200}}},
	}
}

// TestGoldenResponses checks the Tempo API's response shapes against golden
// files in testdata; REGENERATE_GOLDEN=1 rewrites them.
func TestGoldenResponses(t *testing.T) {
	db, err := store.Open(store.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, db.Start(context.Background()))
	defer func() { require.NoError(t, db.Shutdown(context.Background())) }()
	require.NoError(t, db.Append(context.Background(), fixture()))

	mux := http.NewServeMux()
	New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Second, nil).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cases := []struct{ name, path string }{
		{"search_traceql", "/api/search?" + url.Values{"q": {`{ status = error && span.db.system != nil }`}}.Encode()},
		{"search_structural", "/api/search?" + url.Values{"q": {`{ kind = server } > { kind = client } | select(event.exception.type)`}}.Encode()},
		{"search_pipeline", "/api/search?" + url.Values{"q": {`{ } | by(resource.service.name) | count() > 0`}, "spss": {"1"}}.Encode()},
		{"search_tags", "/api/search?" + url.Values{"tags": {"http.response.status_code=200"}}.Encode()},
		{"search_empty", "/api/search?" + url.Values{"q": {`{ name = "nope" }`}}.Encode()},
		{"search_bad_query", "/api/search?" + url.Values{"q": {`{ .a = }`}}.Encode()},
		{"trace_v1", "/api/traces/11000000000000000000000000000001"},
		{"trace_v2", "/api/v2/traces/22000000000000000000000000000002"},
		{"trace_not_found", "/api/traces/33000000000000000000000000000003"},
		{"tags_v1", "/api/search/tags"},
		{"tags_v1_resource", "/api/search/tags?scope=resource"},
		{"tags_v2", "/api/v2/search/tags"},
		{"tag_values_v1", "/api/search/tag/service.name/values"},
		{"tag_values_v2", "/api/v2/search/tag/span.http.response.status_code/values"},
		{"tag_values_v2_kind", "/api/v2/search/tag/kind/values"},
		{"tag_values_v2_filtered", "/api/v2/search/tag/resource.service.name/values?" + url.Values{"q": {`{ kind = client }`}}.Encode()},
		{"echo", "/api/echo"},
		{"metrics_query_range", "/api/metrics/query_range?" + url.Values{"q": {`{ } | quantile_over_time(duration, 0.5, 0.99) by (resource.service.name)`},
			"start": {"1772600767"}, "end": {"1772600770"}, "step": {"1s"}}.Encode()},
		{"metrics_query_range_rate", "/api/metrics/query_range?" + url.Values{"q": {`{ kind = server } | rate()`},
			"start": {"1772600767"}, "end": {"1772600770"}, "step": {"1s"}}.Encode()},
		{"metrics_query", "/api/metrics/query?" + url.Values{"q": {`{ } | count_over_time() by (kind)`},
			"start": {"1772600767"}, "end": {"1772600770"}}.Encode()},
		{"metrics_bad_step", "/api/metrics/query_range?" + url.Values{"q": {`{ } | rate()`}, "step": {"soon"}}.Encode()},
	}
	for _, c := range cases {
		resp, err := http.Get(srv.URL + c.path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		var got bytes.Buffer
		got.WriteString(resp.Status + "\n")
		if json.Valid(body) && len(body) > 0 {
			require.NoError(t, json.Indent(&got, body, "", "  "))
			got.WriteString("\n")
		} else {
			got.Write(body)
		}
		path := filepath.Join("testdata", c.name+".golden")
		if os.Getenv("REGENERATE_GOLDEN") != "" {
			require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "golden file missing; run with REGENERATE_GOLDEN=1")
		require.Equal(t, string(want), got.String(), c.name)
	}
}
