package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// countingStore counts the scans a query starts.
type countingStore struct {
	seriesStore
	scans *int
}

func (c countingStore) Blocks(ctx context.Context) ([]query.Block, func(), error) {
	*c.scans++
	return c.seriesStore.Blocks(ctx)
}

// seriesSpans are n random spans starting in the 20 minutes after base,
// over three services, a few names, every kind and status.
func seriesSpans(rng *rand.Rand, base time.Time, n int, withService bool) []model.Span {
	var res []*model.Resource
	for _, s := range []string{"api", "db-proxy", "mailer"} {
		r := &model.Resource{}
		if withService {
			r.Attrs = []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: s}}
		}
		res = append(res, r)
	}
	names := []string{"GET /items", "GET /cart", "SELECT items", "send"}
	spans := make([]model.Span, n)
	for i := range spans {
		start := base.UnixNano() + rng.Int64N(int64(20*time.Minute))
		spans[i] = model.Span{TraceID: model.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 1}, SpanID: model.SpanID{byte(i), byte(i >> 8), byte(i >> 16), 2},
			Name: names[rng.IntN(len(names))], Kind: int8(1 + rng.IntN(5)), StatusCode: int8(rng.IntN(3)),
			Start: start, End: start + 1e6 + rng.Int64N(2e9), Resource: res[rng.IntN(len(res))]}
	}
	return spans
}

func runMetrics(t *testing.T, st query.Storage, q string, from, to time.Time, step time.Duration) map[string][]traceql.Sample {
	t.Helper()
	pq, err := traceql.Parse(q)
	require.NoError(t, err, q)
	res, err := pq.MetricsRange(context.Background(), st, from, to, step)
	require.NoError(t, err, q)
	out := map[string][]traceql.Sample{}
	for _, s := range res {
		out[traceql.LabelsString(s.Labels)] = s.Samples
	}
	return out
}

func requireSameSeries(t *testing.T, want, got map[string][]traceql.Sample, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for k, ws := range want {
		gs, ok := got[k]
		require.True(t, ok, "%s: series %s missing", msg, k)
		require.Equal(t, len(ws), len(gs), "%s: %s", msg, k)
		for i := range ws {
			require.Equal(t, ws[i].TimestampMs, gs[i].TimestampMs, "%s: %s", msg, k)
			require.InEpsilon(t, ws[i].Value, gs[i].Value, 1e-9, "%s: %s at %d", msg, k, ws[i].TimestampMs)
		}
	}
}

// TestSeriesAnswerMetricsQueries checks that TraceQL metrics queries
// answered from the pipeline's minute series equal the same queries
// answered by scanning the spans, and that they skip the scan when they
// can.
func TestSeriesAnswerMetricsQueries(t *testing.T) {
	pipe, err := pipeline.New(pipeline.Config{})
	require.NoError(t, err)
	db, err := store.Open(store.Options{Dir: t.TempDir(), Observer: pipe})
	require.NoError(t, err)
	defer db.Shutdown(context.Background())
	require.NoError(t, pipe.InitCoverage(db.Stats().Parts == 0))
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-time.Hour).Truncate(time.Hour)
	ctx := context.Background()
	require.NoError(t, db.Append(ctx, seriesSpans(rng, base, 8_000, true)))
	require.NoError(t, db.Flush()) // half in a part, half in the head
	require.NoError(t, db.Append(ctx, seriesSpans(rng, base, 8_000, true)))

	scans := 0
	withSeries := countingStore{seriesStore{db, pipe}, &scans}
	answered := []string{
		`{ } | rate()`,
		`{ status = error } | rate() by (resource.service.name)`,
		`{ resource.service.name = "api" && kind = server } | count_over_time() by (name)`,
		`{ name =~ "GET.*" || kind = consumer } | avg_over_time(duration) by (kind)`,
		`{ } | max_over_time(duration) by (status)`,
		`{ !(status = ok) } | min_over_time(duration)`,
		`{ } | sum_over_time(duration) by (resource.service.name, name)`,
		`{ } | count_over_time() by (name) | topk(2)`, // topk acts on the result
	}
	scanned := []string{
		`{ .http.method = "GET" } | rate()`,            // a field the series do not keep
		`{ } | quantile_over_time(duration, 0.9)`,      // log2 buckets
		`{ kind = server } >> { } | count_over_time()`, // structural
		`{ .service.name = "api" } | rate()`,           // unscoped: span attributes first
	}
	aligned := [2]time.Time{base, base.Add(20 * time.Minute)}
	unaligned := [2]time.Time{base.Add(90 * time.Second), base.Add(17*time.Minute + 20*time.Second)}
	for _, step := range []time.Duration{time.Minute, 5 * time.Minute, 20 * time.Minute} {
		for _, q := range answered {
			for _, w := range [][2]time.Time{aligned, unaligned} {
				scans = 0
				got := runMetrics(t, withSeries, q, w[0], w[1], step)
				msg := fmt.Sprintf("%s step %s window %s", q, step, w[0].Sub(base))
				if w == aligned && step < 20*time.Minute {
					require.Zero(t, scans, "%s: answered from the series without a scan", msg)
				}
				requireSameSeries(t, runMetrics(t, db, q, w[0], w[1], step), got, msg)
				require.NotEmpty(t, got, msg)
			}
		}
		for _, q := range scanned {
			scans = 0
			got := runMetrics(t, withSeries, q, aligned[0], aligned[1], step)
			require.NotZero(t, scans, q)
			requireSameSeries(t, runMetrics(t, db, q, aligned[0], aligned[1], step), got, q)
		}
	}

	// A step that is not whole minutes scans.
	scans = 0
	q := `{ } | rate()`
	requireSameSeries(t, runMetrics(t, db, q, aligned[0], aligned[1], 90*time.Second),
		runMetrics(t, withSeries, q, aligned[0], aligned[1], 90*time.Second), "90s step")
	require.NotZero(t, scans)

	// Spans without a service: the series name them unknown_service,
	// which a filter on resource.service.name cannot decide, so the
	// query scans and still agrees.
	require.NoError(t, db.Append(ctx, seriesSpans(rng, base, 2_000, false)))
	for _, q := range answered {
		scans = 0
		got := runMetrics(t, withSeries, q, aligned[0], aligned[1], time.Minute)
		require.NotZero(t, scans, q)
		requireSameSeries(t, runMetrics(t, db, q, aligned[0], aligned[1], time.Minute), got, q+" (no service)")
	}
}

// TestSeriesCoverage: spans stored before derivation began are not in
// the series, so queries over their minutes scan.
func TestSeriesCoverage(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Now().Add(-time.Hour).Truncate(time.Hour)
	// A store that ran with derivation off.
	db, err := store.Open(store.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, db.Append(ctx, seriesSpans(rng, base, 5_000, true)))
	require.NoError(t, db.Shutdown(ctx))

	now := base.Add(30 * time.Minute)
	open := func() (*store.DB, *pipeline.Pipeline) {
		pipe, err := pipeline.New(pipeline.Config{Dir: dir + "/metrics", Now: func() time.Time { return now }})
		require.NoError(t, err)
		db, err := store.Open(store.Options{Dir: dir, Observer: pipe})
		require.NoError(t, err)
		require.NoError(t, pipe.InitCoverage(db.Stats().Parts == 0))
		return db, pipe
	}
	db, pipe := open()
	require.Equal(t, now.Unix()/60, pipe.CompleteFrom(), "complete from the minute after derivation began")
	scans := 0
	st := countingStore{seriesStore{db, pipe}, &scans}
	q := `{ } | count_over_time() by (resource.service.name)`
	want := runMetrics(t, db, q, base, base.Add(20*time.Minute), time.Minute)
	require.NotEmpty(t, want)
	requireSameSeries(t, want, runMetrics(t, st, q, base, base.Add(20*time.Minute), time.Minute), "before coverage")
	require.NotZero(t, scans, "minutes before the coverage are scanned")

	// The coverage start is kept across restarts.
	require.NoError(t, db.Shutdown(ctx))
	now = now.Add(time.Hour)
	db, pipe = open()
	defer db.Shutdown(ctx)
	require.Equal(t, base.Add(30*time.Minute).Unix()/60, pipe.CompleteFrom())
	require.NoError(t, pipeline.ForgetCoverage(dir+"/metrics"))
	require.NoError(t, pipeline.ForgetCoverage(dir+"/metrics"), "forgetting twice is fine")
}
