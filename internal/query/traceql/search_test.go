package traceql

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPushdownIsNecessary checks, for every query of the semantics corpus,
// that each matching trace has a span satisfying the pushed-down query:
// pushdown may only prune traces that cannot match.
func TestPushdownIsNecessary(t *testing.T) {
	c, traces := loadSemantics(t)
	pushed := 0
	for _, qc := range c.Queries {
		q, err := Parse(qc.Q)
		require.NoError(t, err)
		pq := q.Pushdown()
		require.NoError(t, pq.Validate(), qc.Q)
		if len(pq.Conds) > 0 || pq.Service != "" || pq.SpanName != "" || pq.Kind >= 0 || pq.Status >= 0 || pq.MinDuration > 0 || pq.MaxDuration > 0 {
			pushed++
		}
		for label, spans := range traces {
			if !q.Matches(spans) {
				continue
			}
			ok := false
			for i := range spans {
				ok = ok || pq.MatchSpan(&spans[i])
			}
			require.True(t, ok, "%s: trace %s matches but no span satisfies the pushdown %+v", qc.Q, label, pq)
		}
	}
	require.Greater(t, pushed, len(c.Queries)/2, "most corpus queries should push something down")
}

func TestPushdownShapes(t *testing.T) {
	cases := []struct {
		q    string
		want func(*query.Query) bool
	}{
		{`{ .http.status_code = 500 && resource.service.name = "api" }`, func(q *query.Query) bool {
			return q.Service == "api" && len(q.Conds) == 1 && q.Conds[0].Key == "http.status_code" && q.Conds[0].Scope == query.ScopeAny
		}},
		{`{ name = "GET" && kind = server && status = error && duration > 1s }`, func(q *query.Query) bool {
			return q.SpanName == "GET" && q.Kind == model.KindServer && q.Status == model.StatusError && q.MinDuration == time.Second+1
		}},
		{`{ span.db.system =~ "postgres.*" }`, func(q *query.Query) bool {
			return len(q.Conds) == 1 && q.Conds[0].Op == query.OpRe && q.Conds[0].Scope == query.ScopeSpan
		}},
		{`{ } >> { event.exception.type != nil }`, func(q *query.Query) bool {
			return len(q.Conds) == 1 && q.Conds[0].Scope == query.ScopeEvent
		}},
		{`{ .a = 1 } || { .b = 2 }`, func(q *query.Query) bool { return len(q.Conds) == 0 }},
		{`{ .a = 1 || .b = 2 }`, func(q *query.Query) bool { return len(q.Conds) == 0 }},
		{`{ .a = 1 } !> { .b = 2 }`, func(q *query.Query) bool { return len(q.Conds) == 1 && q.Conds[0].Key == "b" }},
		{`{ trace:rootService = "api" }`, func(q *query.Query) bool { return q.Service == "api" }},
		{`{ trace:rootService = "api" && .x = 1 && .y = 2 }`, func(q *query.Query) bool { return q.Service == "" && len(q.Conds) == 2 }},
		{`{ 500 <= .code }`, func(q *query.Query) bool { return len(q.Conds) == 1 && q.Conds[0].Op == query.OpGe }},
	}
	for _, c := range cases {
		q, err := Parse(c.q)
		require.NoError(t, err)
		pq := q.Pushdown()
		require.True(t, c.want(pq), "%s: %+v", c.q, pq)
	}
}

func openStore(t *testing.T) *store.DB {
	db, err := store.Open(store.Options{Dir: t.TempDir(), GranuleSpans: 16, HeadMaxSpans: 50})
	require.NoError(t, err)
	require.NoError(t, db.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, db.Shutdown(context.Background())) })
	return db
}

// TestSearchOnStore runs TraceQL through the engine over a real store with
// parts and a head: exact traces, newest first, limit, time range and
// cancellation.
func TestSearchOnStore(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	_, traces := loadSemantics(t)
	// 40 copies of the corpus, each shifted by a minute and with its own
	// trace IDs; copy i starts i minutes after the base.
	for i := range 40 {
		var batch []model.Span
		for _, spans := range traces {
			for _, s := range spans {
				s.TraceID[0] = byte(i + 1)
				s.Start += int64(i) * int64(time.Minute)
				s.End += int64(i) * int64(time.Minute)
				s.Links = slices.Clone(s.Links) // the store owns what it was given
				for j := range s.Links {
					s.Links[j].TraceID[0] = byte(i + 1)
				}
				batch = append(batch, s)
			}
		}
		require.NoError(t, db.Append(ctx, batch))
		if i%10 == 9 {
			require.NoError(t, db.Flush())
		}
	}
	e := &query.Engine{Storage: db}
	idOf := func(copy int, label string) string {
		id := corpusTraceID(label)
		id[0] = byte(copy + 1)
		return id.String()
	}
	ids := func(res []Result) []string {
		var out []string
		for _, r := range res {
			out = append(out, r.Summary.TraceID.String())
		}
		return out
	}

	q, err := Parse(`{ kind = server } >> { .db.system != nil }`)
	require.NoError(t, err)
	res, err := q.Search(ctx, e, time.Time{}, time.Time{}, 5)
	require.NoError(t, err)
	// newest first: copy 39 B (starts 1s after A), copy 39 A, copy 38 B, ...
	require.Equal(t, []string{idOf(39, "B"), idOf(39, "A"), idOf(38, "B"), idOf(38, "A"), idOf(37, "B")}, ids(res))
	require.Len(t, res[0].Spansets, 1)
	require.Equal(t, "SELECT products", res[0].Spans[res[0].Spansets[0].Spans[0]].Name)

	// a time range selects older copies
	from := time.Unix(0, testBase).Add(10 * time.Minute)
	to := from.Add(90 * time.Second)
	q, err = Parse(`{ status = error } && { .amount > 0 }`)
	require.NoError(t, err)
	res, err = q.Search(ctx, e, from, to, 20)
	require.NoError(t, err)
	require.Equal(t, []string{idOf(11, "A"), idOf(10, "A")}, ids(res))

	// structural negation, pipelines and the whole result set
	q, err = Parse(`{ } | count() = 2`)
	require.NoError(t, err)
	res, err = q.Search(ctx, e, time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	require.Len(t, res, 40)
	for i, r := range res {
		require.Equal(t, idOf(39-i, "C"), r.Summary.TraceID.String())
	}

	// cancellation
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = q.Search(cctx, e, time.Time{}, time.Time{}, 100)
	require.ErrorIs(t, err, context.Canceled)
}

// TestStructuralLinear runs structural operators over a 50,000-span chain
// and a 50,000-child star: with quadratic algorithms these would not
// finish.
func TestStructuralLinear(t *testing.T) {
	const n = 50_000
	mk := func(parent func(i int) int) []model.Span {
		spans := make([]model.Span, n)
		for i := range spans {
			spans[i].SpanID = model.SpanID{1, byte(i >> 16), byte(i >> 8), byte(i)}
			if p := parent(i); p >= 0 {
				spans[i].ParentID = spans[p].SpanID
			}
			spans[i].Start, spans[i].End = int64(i), int64(i+1)
		}
		return spans
	}
	chain := mk(func(i int) int { return i - 1 })
	star := mk(func(i int) int {
		if i == 0 {
			return -1
		}
		return 0
	})
	count := func(q string, spans []model.Span) int {
		parsed, err := Parse(q)
		require.NoError(t, err)
		sets, _ := parsed.Eval(spans)
		return len(flatten(sets))
	}
	require.Equal(t, n-1, count(`{ } >> { }`, chain))
	require.Equal(t, 1, count(`{ } !>> { }`, chain))
	require.Equal(t, n-1, count(`{ } << { }`, chain))
	require.Equal(t, n, count(`{ } &>> { }`, chain))
	require.Equal(t, n-1, count(`{ } ~ { }`, star))
	require.Equal(t, 1, count(`{ } !~ { }`, star))
	require.Equal(t, n-1, count(`{ } &~ { }`, star))
	require.Equal(t, 1, count(`{ } < { }`, star))
	require.Equal(t, n, count(`{ } &< { }`, star))
}
