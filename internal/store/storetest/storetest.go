// Package storetest is the conformance suite every storage backend passes:
// appends, trace lookup across parts, search semantics and ordering,
// durability across reopen, duplicate handling.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Store is what the suite exercises.
type Store interface {
	query.Storage
	Append(ctx context.Context, spans []model.Span) error
	// Flush moves everything appended so far to durable immutable storage
	// (for backends without such a step, a no-op).
	Flush() error
	// Compact runs due merges (a no-op where there are none).
	Compact() error
}

// Harness opens stores for the suite.
type Harness struct {
	// Open opens a store in dir (creating or recovering it).
	Open func(t *testing.T, dir string) Store
	// Close closes a store cleanly.
	Close func(t *testing.T, s Store)
}

// RunAll runs every conformance test.
func RunAll(t *testing.T, h Harness) {
	t.Run("TraceByID", func(t *testing.T) { testTraceByID(t, h) })
	t.Run("TraceAcrossParts", func(t *testing.T) { testTraceAcrossParts(t, h) })
	t.Run("DuplicateBatch", func(t *testing.T) { testDuplicateBatch(t, h) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, h) })
	t.Run("SearchFilters", func(t *testing.T) { testSearchFilters(t, h) })
	t.Run("SearchOrderAndLimit", func(t *testing.T) { testSearchOrder(t, h) })
	t.Run("SearchRandomized", func(t *testing.T) { testSearchRandomized(t, h) })
}

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func tid(n int) model.TraceID {
	var t model.TraceID
	t[0] = 0xab
	t[15] = byte(n)
	t[14] = byte(n >> 8)
	return t
}

func sid(trace, n int) model.SpanID {
	var s model.SpanID
	s[0] = 0xcd
	s[5] = byte(trace >> 8)
	s[6] = byte(trace)
	s[7] = byte(n + 1)
	return s
}

var resources = map[string]*model.Resource{}

func res(service string) *model.Resource {
	if r, ok := resources[service]; ok {
		return r
	}
	r := &model.Resource{Attrs: []model.Attr{
		{Key: "service.name", Type: model.TypeStr, Str: service},
		{Key: "host.name", Type: model.TypeStr, Str: service + "-host-1"},
	}}
	resources[service] = r
	return r
}

var scope = &model.Scope{Name: "storetest", Version: "1"}

// span builds a span of trace t, index i, starting at offset from base.
func span(t, i int, parent int, service, name string, offset, dur time.Duration, attrs ...model.Attr) model.Span {
	s := model.Span{
		TraceID:  tid(t),
		SpanID:   sid(t, i),
		Name:     name,
		Kind:     model.KindServer,
		Start:    base.Add(offset).UnixNano(),
		End:      base.Add(offset + dur).UnixNano(),
		Attrs:    attrs,
		Resource: res(service),
		Scope:    scope,
	}
	if parent >= 0 {
		s.ParentID = sid(t, parent)
		s.Kind = model.KindClient
	}
	return s
}

func str(k, v string) model.Attr { return model.Attr{Key: k, Type: model.TypeStr, Str: v} }
func num(k string, v int64) model.Attr {
	return model.Attr{Key: k, Type: model.TypeInt, Num: uint64(v)}
}

func encode(s *model.Span) []byte {
	b := model.AppendResource(nil, s.Resource)
	b = model.AppendScope(b, s.Scope)
	return model.AppendSpanBody(b, s)
}

// requireSameSpans compares span sets regardless of order.
func requireSameSpans(t *testing.T, want, got []model.Span) {
	t.Helper()
	enc := func(spans []model.Span) []string {
		out := make([]string, len(spans))
		for i := range spans {
			out[i] = string(encode(&spans[i]))
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, len(want), len(got), "span count")
	require.Equal(t, enc(want), enc(got))
}

func clone(spans []model.Span) []model.Span { return slices.Clone(spans) }

func open(t *testing.T, h Harness) (Store, string) {
	dir := t.TempDir()
	s := h.Open(t, dir)
	t.Cleanup(func() { h.Close(t, s) })
	return s, dir
}

func testTraceByID(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	a := []model.Span{
		span(1, 0, -1, "frontend", "GET /", 0, 100*time.Millisecond, str("http.route", "/")),
		span(1, 1, 0, "cart", "getCart", 10*time.Millisecond, 50*time.Millisecond),
	}
	b := []model.Span{span(2, 0, -1, "frontend", "GET /x", time.Second, time.Millisecond)}
	require.NoError(t, s.Append(ctx, clone(a)))
	require.NoError(t, s.Append(ctx, clone(b)))
	got, err := s.Trace(ctx, tid(1))
	require.NoError(t, err)
	requireSameSpans(t, a, got)
	requireCheapTrace(t, s, tid(1), a)
	require.NoError(t, s.Flush())
	got, err = s.Trace(ctx, tid(1))
	require.NoError(t, err)
	requireSameSpans(t, a, got)
	got, err = s.Trace(ctx, tid(2))
	require.NoError(t, err)
	requireSameSpans(t, b, got)
	requireCheapTrace(t, s, tid(1), a)
	got, err = s.Trace(ctx, tid(999))
	require.NoError(t, err)
	require.Empty(t, got)
	requireCheapTrace(t, s, tid(999), nil)
}

func testTraceAcrossParts(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	var want []model.Span
	// Spans of trace 7 arrive in four batches, minutes apart, each flushed
	// into its own part, with other traces in between.
	for i := 0; i < 4; i++ {
		sp := span(7, i, i-1, "svc", fmt.Sprintf("op%d", i), time.Duration(i)*time.Minute, time.Second)
		if i == 0 {
			sp.ParentID = model.SpanID{}
		}
		want = append(want, sp)
		other := span(100+i, 0, -1, "other", "noise", time.Duration(i)*time.Minute, time.Second)
		require.NoError(t, s.Append(ctx, []model.Span{sp, other}))
		require.NoError(t, s.Flush())
	}
	got, err := s.Trace(ctx, tid(7))
	require.NoError(t, err)
	requireSameSpans(t, want, got)
	requireCheapTrace(t, s, tid(7), want)
	require.NoError(t, s.Compact())
	got, err = s.Trace(ctx, tid(7))
	require.NoError(t, err)
	requireSameSpans(t, want, got)
	requireCheapTrace(t, s, tid(7), want)
}

func testDuplicateBatch(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	batch := []model.Span{
		span(3, 0, -1, "frontend", "GET /", 0, time.Second),
		span(3, 1, 0, "db", "SELECT", time.Millisecond, time.Millisecond),
	}
	require.NoError(t, s.Append(ctx, clone(batch)))
	require.NoError(t, s.Flush())
	require.NoError(t, s.Append(ctx, clone(batch))) // a client retry
	got, err := s.Trace(ctx, tid(3))
	require.NoError(t, err)
	requireSameSpans(t, batch, got)
	require.NoError(t, s.Flush())
	require.NoError(t, s.Compact())
	got, err = s.Trace(ctx, tid(3))
	require.NoError(t, err)
	requireSameSpans(t, batch, got)
}

func testReopen(t *testing.T, h Harness) {
	ctx := context.Background()
	dir := t.TempDir()
	s := h.Open(t, dir)
	flushed := []model.Span{span(10, 0, -1, "a", "x", 0, time.Second)}
	inWAL := []model.Span{span(11, 0, -1, "b", "y", time.Second, time.Second)}
	require.NoError(t, s.Append(ctx, clone(flushed)))
	require.NoError(t, s.Flush())
	require.NoError(t, s.Append(ctx, clone(inWAL)))
	h.Close(t, s)
	s = h.Open(t, dir)
	defer h.Close(t, s)
	for _, want := range [][]model.Span{flushed, inWAL} {
		got, err := s.Trace(ctx, want[0].TraceID)
		require.NoError(t, err)
		requireSameSpans(t, want, got)
	}
}

func search(t *testing.T, s Store, q *query.Query) []model.TraceID {
	t.Helper()
	require.NoError(t, q.Validate())
	res, err := (&query.Engine{Storage: s}).Search(context.Background(), q)
	require.NoError(t, err)
	ids := make([]model.TraceID, len(res))
	for i, r := range res {
		ids[i] = r.Summary.TraceID
		// Summaries may come from a cheaper read (query.CheapTracer); they
		// must equal the summary of the whole trace, and the spans must be
		// the whole trace.
		full, err := s.Trace(context.Background(), r.Summary.TraceID)
		require.NoError(t, err)
		require.Equal(t, query.Summarize(full), r.Summary, "summary of trace %x", r.Summary.TraceID)
		requireSameSpans(t, full, r.Spans)
	}
	// The same search asking for summaries only gets the same summaries
	// and no spans.
	qs := *q
	qs.SummariesOnly = true
	sums, err := (&query.Engine{Storage: s}).Search(context.Background(), &qs)
	require.NoError(t, err)
	require.Len(t, sums, len(res))
	for i := range sums {
		require.Equal(t, res[i].Summary, sums[i].Summary)
		require.Nil(t, sums[i].Spans)
	}
	return ids
}

// requireCheapTrace checks that a store that reads the cheap fields of a
// trace (query.CheapTracer) returns exactly those fields of want.
func requireCheapTrace(t *testing.T, s Store, id model.TraceID, want []model.Span) {
	t.Helper()
	ct, ok := s.(query.CheapTracer)
	if !ok {
		return
	}
	got, err := ct.TraceCheap(context.Background(), id)
	require.NoError(t, err)
	cheap := make([]model.Span, len(want))
	for i := range want {
		cheap[i] = want[i].Cheap()
	}
	requireSameSpans(t, cheap, got)
}

// fixture: five traces with distinct properties, spread over head and parts.
func loadFixture(t *testing.T, s Store) {
	ctx := context.Background()
	ms := time.Millisecond
	traces := [][]model.Span{
		{ // 1: frontend → checkout, slow checkout span, status error on checkout
			span(1, 0, -1, "frontend", "GET /checkout", 0, 900*ms, str("http.route", "/checkout"), num("http.status_code", 500)),
			func() model.Span {
				sp := span(1, 1, 0, "checkout", "PlaceOrder", 10*ms, 800*ms, str("user.id", "u-42"))
				sp.StatusCode = model.StatusError
				sp.Events = []model.Event{{Time: sp.Start + 1, Name: "exception", Attrs: []model.Attr{str("exception.type", "TimeoutError")}}}
				return sp
			}(),
		},
		{ // 2: frontend fast OK
			span(2, 0, -1, "frontend", "GET /", 1*time.Second, 20*ms, str("http.route", "/"), num("http.status_code", 200)),
		},
		{ // 3: cart only, many short spans, long trace overall
			span(3, 0, -1, "cart", "GetCart", 2*time.Second, 5*ms, str("user.id", "u-7")),
			span(3, 1, 0, "cart", "redis GET", 2*time.Second+1500*ms, 5*ms, str("db.system", "redis")),
		},
		{ // 4: frontend with error at trace level only in a child from another service
			span(4, 0, -1, "frontend", "GET /cart", 3*time.Second, 50*ms, num("http.status_code", 200)),
			func() model.Span {
				sp := span(4, 1, 0, "cart", "GetCart", 3*time.Second+ms, 40*ms)
				sp.StatusCode = model.StatusError
				return sp
			}(),
		},
		{ // 5: payment, internal kind, numeric attr
			func() model.Span {
				sp := span(5, 0, -1, "payment", "Charge", 4*time.Second, 300*ms, num("amount", 1999))
				sp.Kind = model.KindInternal
				return sp
			}(),
		},
	}
	for i, tr := range traces {
		require.NoError(t, s.Append(ctx, clone(tr)))
		if i%2 == 0 {
			require.NoError(t, s.Flush())
		}
	}
}

func testSearchFilters(t *testing.T, h Harness) {
	s, _ := open(t, h)
	loadFixture(t, s)
	ms := time.Millisecond
	cases := []struct {
		name string
		mod  func(q *query.Query)
		want []int
	}{
		{"all", func(q *query.Query) {}, []int{5, 4, 3, 2, 1}},
		{"service", func(q *query.Query) { q.Service = "frontend" }, []int{4, 2, 1}},
		{"service no match", func(q *query.Query) { q.Service = "nope" }, nil},
		{"span name", func(q *query.Query) { q.SpanName = "GetCart" }, []int{4, 3}},
		{"service and name on the same span", func(q *query.Query) { q.Service = "frontend"; q.SpanName = "GetCart" }, nil},
		{"kind", func(q *query.Query) { q.Kind = model.KindInternal }, []int{5}},
		{"span status", func(q *query.Query) { q.Status = model.StatusError; q.Service = "checkout" }, []int{1}},
		{"span status on other service", func(q *query.Query) { q.Status = model.StatusError; q.Service = "frontend" }, nil},
		{"trace status error", func(q *query.Query) {
			q.Status, q.StatusLevel, q.Service = model.StatusError, query.LevelTrace, "frontend"
		}, []int{4, 1}},
		{"trace status ok", func(q *query.Query) { q.Status, q.StatusLevel = model.StatusUnset, query.LevelTrace }, []int{5, 3, 2}},
		{"attr eq string", func(q *query.Query) { q.Conds = []query.Cond{{Key: "user.id", Op: query.OpEq, Value: "u-42"}} }, []int{1}},
		{"attr eq number", func(q *query.Query) { q.Conds = []query.Cond{{Key: "http.status_code", Op: query.OpEq, Value: "500"}} }, []int{1}},
		{"attr ne", func(q *query.Query) { q.Conds = []query.Cond{{Key: "http.status_code", Op: query.OpNe, Value: "500"}} }, []int{4, 2}},
		{"attr ge", func(q *query.Query) { q.Conds = []query.Cond{{Key: "amount", Op: query.OpGe, Value: "1999"}} }, []int{5}},
		{"attr lt", func(q *query.Query) { q.Conds = []query.Cond{{Key: "amount", Op: query.OpLt, Value: "1999"}} }, nil},
		{"attr regex", func(q *query.Query) { q.Conds = []query.Cond{{Key: "http.route", Op: query.OpRe, Value: "/c.*"}} }, []int{1}},
		{"attr not regex", func(q *query.Query) { q.Conds = []query.Cond{{Key: "http.route", Op: query.OpNotRe, Value: "/c.*"}} }, []int{2}},
		{"resource attr", func(q *query.Query) {
			q.Conds = []query.Cond{{Scope: query.ScopeResource, Key: "host.name", Op: query.OpEq, Value: "payment-host-1"}}
		}, []int{5}},
		{"resource scope does not see span attrs", func(q *query.Query) {
			q.Conds = []query.Cond{{Scope: query.ScopeResource, Key: "user.id", Op: query.OpEq, Value: "u-7"}}
		}, nil},
		{"event attr", func(q *query.Query) {
			q.Conds = []query.Cond{{Key: "exception.type", Op: query.OpEq, Value: "TimeoutError"}}
		}, []int{1}},
		{"span duration", func(q *query.Query) { q.MinDuration = 250 * ms }, []int{5, 1}},
		{"span duration range", func(q *query.Query) { q.MinDuration, q.MaxDuration = 30*ms, 60*ms; q.Service = "frontend" }, []int{4}},
		{"trace duration", func(q *query.Query) { q.MinDuration, q.DurationLevel = time.Second, query.LevelTrace }, []int{3}},
		{"trace duration max", func(q *query.Query) { q.MaxDuration, q.DurationLevel = 60*ms, query.LevelTrace }, []int{4, 2}},
		{"time range", func(q *query.Query) { q.Start, q.End = base.Add(900*ms), base.Add(3*time.Second) }, []int{4, 3, 2}},
		{"time range start only (inclusive)", func(q *query.Query) { q.Start = base.Add(3500 * ms) }, []int{5, 3}},
		{"time range start after", func(q *query.Query) { q.Start = base.Add(3501 * ms) }, []int{5}},
		{"limit", func(q *query.Query) { q.Limit = 2 }, []int{5, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := query.New()
			c.mod(q)
			var want []model.TraceID
			for _, n := range c.want {
				want = append(want, tid(n))
			}
			got := search(t, s, q)
			if len(want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, want, got)
		})
	}
}

func testSearchOrder(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	// 30 traces; 10 pairs share a start time (ties broken by trace ID);
	// appended in scrambled order across several parts.
	order := rand.New(rand.NewPCG(1, 2)).Perm(30)
	for i, n := range order {
		off := time.Duration(n/2) * time.Second
		require.NoError(t, s.Append(ctx, []model.Span{span(200+n, 0, -1, "svc", "op", off, time.Millisecond)}))
		if i%7 == 6 {
			require.NoError(t, s.Flush())
		}
	}
	var all []model.TraceID
	for n := 29; n >= 0; n-- {
		all = append(all, tid(200+n))
	}
	// Expected: start desc, then trace ID asc.
	slices.SortStableFunc(all, func(a, b model.TraceID) int {
		na := int(a[14])<<8 | int(a[15]) - 200
		nb := int(b[14])<<8 | int(b[15]) - 200
		if c := cmp.Compare(nb/2, na/2); c != 0 {
			return c
		}
		return bytes.Compare(a[:], b[:])
	})
	for _, limit := range []int{1, 5, 11, 30, 100} {
		q := query.New()
		q.Limit = limit
		got := search(t, s, q)
		require.Equal(t, all[:min(limit, 30)], got, "limit %d", limit)
		require.Equal(t, got, search(t, s, q), "repeatable")
	}
}

// testSearchRandomized compares searches over random data with a
// brute-force evaluation over the input.
func testSearchRandomized(t *testing.T, h Harness) {
	ctx := context.Background()
	s, _ := open(t, h)
	rng := rand.New(rand.NewPCG(7, 9))
	services := []string{"frontend", "cart", "checkout", "payment", "db"}
	names := []string{"GET", "POST", "query", "charge"}
	byTrace := map[model.TraceID][]model.Span{}
	for tr := 0; tr < 300; tr++ {
		n := 1 + rng.IntN(8)
		start := time.Duration(rng.IntN(3600)) * time.Second
		var batch []model.Span
		for i := 0; i < n; i++ {
			sp := span(1000+tr, i, rng.IntN(max(i, 1))-1+min(i, 1), services[rng.IntN(len(services))], names[rng.IntN(len(names))],
				start+time.Duration(rng.IntN(1000))*time.Millisecond, time.Duration(1+rng.IntN(2000))*time.Millisecond,
				num("http.status_code", int64([]int{200, 200, 200, 404, 500}[rng.IntN(5)])), str("user.id", fmt.Sprintf("u%d", rng.IntN(20))))
			if i == 0 {
				sp.ParentID = model.SpanID{}
			}
			if rng.IntN(10) == 0 {
				sp.StatusCode = model.StatusError
			}
			batch = append(batch, sp)
		}
		byTrace[tid(1000+tr)] = batch
		// Split some traces across two appends (and parts).
		if k := rng.IntN(len(batch)); k > 0 && rng.IntN(3) == 0 {
			require.NoError(t, s.Append(ctx, clone(batch[:k])))
			require.NoError(t, s.Flush())
			require.NoError(t, s.Append(ctx, clone(batch[k:])))
		} else {
			require.NoError(t, s.Append(ctx, clone(batch)))
		}
		if tr%40 == 39 {
			require.NoError(t, s.Flush())
		}
	}
	for i := 0; i < 60; i++ {
		q := query.New()
		if rng.IntN(2) == 0 {
			q.Service = services[rng.IntN(len(services))]
		}
		if rng.IntN(3) == 0 {
			q.SpanName = names[rng.IntN(len(names))]
		}
		if rng.IntN(3) == 0 {
			q.Conds = append(q.Conds, query.Cond{Key: "http.status_code", Op: query.Op(rng.IntN(6)), Value: "404"})
		}
		if rng.IntN(4) == 0 {
			q.Conds = append(q.Conds, query.Cond{Key: "user.id", Op: query.OpRe, Value: "u1.*"})
		}
		if rng.IntN(3) == 0 {
			q.MinDuration = time.Duration(rng.IntN(1500)) * time.Millisecond
			q.DurationLevel = query.Level(rng.IntN(2))
		}
		if rng.IntN(3) == 0 {
			q.Status, q.StatusLevel = model.StatusError, query.Level(rng.IntN(2))
		}
		if rng.IntN(3) == 0 {
			q.Start = base.Add(time.Duration(rng.IntN(1800)) * time.Second)
			q.End = q.Start.Add(time.Duration(rng.IntN(1800)) * time.Second)
		}
		q.Limit = 1 + rng.IntN(40)
		require.NoError(t, q.Validate())
		// Brute force.
		type hit struct {
			id    model.TraceID
			start int64
		}
		var hits []hit
		for id, spans := range byTrace {
			ok := false
			for j := range spans {
				if q.MatchSpan(&spans[j]) {
					ok = true
					break
				}
			}
			if ok && q.MatchTrace(spans) {
				st, _ := query.Bounds(spans)
				hits = append(hits, hit{id, st})
			}
		}
		slices.SortFunc(hits, func(a, b hit) int {
			if c := cmp.Compare(b.start, a.start); c != 0 {
				return c
			}
			return bytes.Compare(a.id[:], b.id[:])
		})
		var want []model.TraceID
		for j := 0; j < len(hits) && j < q.Limit; j++ {
			want = append(want, hits[j].id)
		}
		got := search(t, s, q)
		if len(want) == 0 {
			require.Empty(t, got, "query %d: %+v", i, q)
		} else {
			require.Equal(t, want, got, "query %d: %+v", i, q)
		}
	}
}
