package traceql

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// TestMetricsCorpus evaluates metrics queries over the semantics dataset
// (A starts at the base second, B one second later, C two seconds later)
// stored in a real store.
func TestMetricsCorpus(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	_, traces := loadSemantics(t)
	var all []model.Span
	for _, spans := range traces {
		all = append(all, spans...)
	}
	require.NoError(t, db.Append(ctx, all))
	base := time.Unix(0, testBase)
	nan := math.NaN()
	type series map[string][]float64 // labels -> value per second (NaN = no sample)
	cases := []struct {
		q    string
		step time.Duration
		want series
	}{
		{`{ } | count_over_time()`, time.Second, series{`{__name__="count_over_time"}`: {4, 3, 2}}},
		{`{ } | rate()`, 500 * time.Millisecond, series{`{__name__="rate"}`: {8, 0, 6, 0, 4, 0}}},
		{`{ } | count_over_time() by (resource.service.name)`, time.Second, series{
			`{resource.service.name="catalog"}`:  {0, 2, 0},
			`{resource.service.name="checkout"}`: {2, 0, 0},
			`{resource.service.name="frontend"}`: {1, 1, 0},
			`{resource.service.name="orders"}`:   {0, 0, 2},
			`{resource.service.name="payment"}`:  {1, 0, 0},
		}},
		{`{ kind = client } | max_over_time(duration)`, time.Second, series{`{__name__="max_over_time"}`: {0.2, 0.01, nan}}},
		{`{ kind = client } | min_over_time(duration) by (kind)`, time.Second, series{`{kind="client"}`: {0.02, 0.01, nan}}},
		{`{ } | sum_over_time(duration) by (resource.service.name) | topk(1)`, time.Second, series{`{resource.service.name="checkout"}`: {0.45, nan, nan}}},
		{`{ } | max_over_time(duration) by (resource.service.name) | bottomk(1)`, time.Second, series{`{resource.service.name="payment"}`: {0.02, nan, nan}}},
		{`{ .amount > 0 } | sum_over_time(.amount)`, time.Second, series{`{__name__="sum_over_time"}`: {12.5, nan, nan}}},
		{`{ name = "SELECT orders" } | quantile_over_time(duration, 0.9)`, time.Second, series{
			`{__name__="quantile_over_time", p="0.9"}`: {0.268435456, nan, nan}}},
		{`{ } | count_over_time() by (resource.service.name) | topk(2)`, time.Second, series{
			`{resource.service.name="catalog"}`:  {0, 2, 0},
			`{resource.service.name="checkout"}`: {2, 0, 0},
		}},
		{`{ } | count_over_time() > 2`, time.Second, series{`{__name__="count_over_time"}`: {4, 3, nan}}},
		{`({ status = error } | count_over_time()) / ({ } | count_over_time())`, time.Second, series{`{__name__="count_over_time"}`: {0.5, 0, 0}}},
		{`({ } | count_over_time()) * 10 + 1`, time.Second, series{`{__name__="count_over_time"}`: {41, 31, 21}}},
		{`{ kind = server } >> { kind = client } | count_over_time()`, time.Second, series{`{__name__="count_over_time"}`: {2, 1, 0}}},
		{`{ trace:rootService = "frontend" } | count_over_time() by (trace:rootService)`, time.Second, series{`{trace:rootService="frontend"}`: {4, 3, 0}}},
		{`{ } | count_over_time()`, 3 * time.Second, series{`{__name__="count_over_time"}`: {9}}},
		{`{ } | histogram_over_time(duration) by (kind) | { }`, 0, nil}, // parse error checked below
	}
	for _, c := range cases[:len(cases)-1] {
		q, err := Parse(c.q)
		require.NoError(t, err, c.q)
		require.True(t, q.IsMetrics())
		res, err := q.MetricsRange(ctx, db, base, base.Add(3*time.Second), c.step)
		require.NoError(t, err, c.q)
		got := series{}
		for _, s := range res {
			n := int(3 * time.Second / c.step)
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = nan
			}
			for _, p := range s.Samples {
				i := int((p.TimestampMs*1e6 - testBase) / int64(c.step))
				vals[i] = math.Round(p.Value*1e9) / 1e9
			}
			got[LabelsString(s.Labels)] = vals
		}
		require.Equal(t, len(c.want), len(got), "%s: %v", c.q, got)
		for k, want := range c.want {
			require.Contains(t, got, k, c.q)
			for i := range want {
				if math.IsNaN(want[i]) {
					require.True(t, math.IsNaN(got[k][i]), "%s %s[%d]: want no sample, got %v", c.q, k, i, got[k][i])
				} else {
					require.InDelta(t, want[i], got[k][i], 1e-9, "%s %s[%d]", c.q, k, i)
				}
			}
		}
	}
	_, err := Parse(cases[len(cases)-1].q)
	require.Error(t, err)

	// limits
	q, err := Parse(`{ } | rate()`)
	require.NoError(t, err)
	_, err = q.MetricsRange(ctx, db, base, base.Add(time.Hour), time.Millisecond)
	require.ErrorContains(t, err, "intervals")
	_, err = q.MetricsRange(ctx, db, base, base, time.Second)
	require.Error(t, err)
	_, err = Parse(`{ } | compare({ status = error })`)
	require.ErrorContains(t, err, "not supported")
}

func TestDefaultStep(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	for rng, want := range map[time.Duration]time.Duration{
		time.Minute: time.Second, 10 * time.Minute: 6 * time.Second, 40 * time.Minute: 24 * time.Second,
		time.Hour: time.Minute, 6 * time.Hour: 4 * time.Minute, 24 * time.Hour: 14 * time.Minute,
	} {
		require.Equal(t, want, DefaultStep(base, base.Add(rng)), rng.String())
	}
}

// TestMetricsUseAdjustedCounts: spans kept by tail sampling carry their
// adjusted count, and counts computed from stored spans use it.
func TestMetricsUseAdjustedCounts(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	_, traces := loadSemantics(t)
	var all []model.Span
	for _, spans := range traces {
		for _, s := range spans {
			// Every catalog span stands for 10, as a 10% probabilistic
			// tail sampling policy marks what it keeps.
			if s.Service() == "catalog" {
				s.Attrs = append(slices.Clip(s.Attrs), model.Attr{Key: model.AttrAdjustedCount, Type: model.TypeDouble, Num: math.Float64bits(10)})
			}
			all = append(all, s)
		}
	}
	require.NoError(t, db.Append(ctx, all))
	base := time.Unix(0, testBase)
	for q, want := range map[string][]float64{
		`{ } | count_over_time()`:                                    {4, 21, 2},
		`{ resource.service.name = "catalog" } | count_over_time()`:  {0, 20, 0},
		`{ resource.service.name = "catalog" } | rate()`:             {0, 20, 0},
		`{ resource.service.name != "catalog" } | count_over_time()`: {4, 1, 2},
	} {
		pq, err := Parse(q)
		require.NoError(t, err)
		res, err := pq.MetricsRange(ctx, db, base, base.Add(3*time.Second), time.Second)
		require.NoError(t, err, q)
		require.Len(t, res, 1, q)
		var got []float64
		for _, s := range res[0].Samples {
			got = append(got, s.Value)
		}
		require.Equal(t, want, got, q)
	}
}
