package traceql

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// randomTraces builds n traces of 1-12 spans with attributes from small
// domains, so that random queries match some traces and not others.
func randomTraces(rng *rand.Rand, n int, base int64) [][]model.Span {
	services := []string{"api", "db", "cache", "auth"}
	names := []string{"GET", "POST", "query", "lookup"}
	var out [][]model.Span
	for t := range n {
		var id model.TraceID
		id[0], id[1], id[15] = byte(t>>8), byte(t), 1
		start := base + int64(t)*int64(time.Second) + rng.Int64N(int64(time.Second))
		k := 1 + rng.IntN(12)
		spans := make([]model.Span, k)
		for i := range spans {
			s := &spans[i]
			s.TraceID = id
			s.SpanID = model.SpanID{byte(t >> 8), byte(t), byte(i), 1}
			if i > 0 {
				s.ParentID = spans[rng.IntN(i)].SpanID
			}
			s.Name = names[rng.IntN(len(names))]
			s.Kind = int8(1 + rng.IntN(3))
			s.StatusCode = int8(rng.IntN(3))
			s.Start = start + int64(i)*int64(time.Millisecond)
			s.End = s.Start + rng.Int64N(int64(100*time.Millisecond))
			s.Resource = &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: services[rng.IntN(len(services))]}}}
			if rng.IntN(2) == 0 {
				s.Attrs = append(s.Attrs, model.Attr{Key: "code", Type: model.TypeInt, Num: uint64(200 + 100*rng.IntN(4))})
			}
			if rng.IntN(3) == 0 {
				s.Attrs = append(s.Attrs, model.Attr{Key: "tier", Type: model.TypeStr, Str: []string{"gold", "silver"}[rng.IntN(2)]})
			}
			if rng.IntN(4) == 0 {
				s.Events = []model.Event{{Name: "exception", Time: s.Start, Attrs: []model.Attr{{Key: "type", Type: model.TypeStr, Str: "E" + fmt.Sprint(rng.IntN(2))}}}}
			}
		}
		out = append(out, spans)
	}
	return out
}

// randomFilter returns a random spanset filter.
func randomFilter(rng *rand.Rand) string {
	conds := []func() string{
		func() string {
			return fmt.Sprintf(`resource.service.name = "%s"`, []string{"api", "db", "cache", "auth"}[rng.IntN(4)])
		},
		func() string {
			return fmt.Sprintf(`name = "%s"`, []string{"GET", "POST", "query", "lookup"}[rng.IntN(4)])
		},
		func() string {
			return fmt.Sprintf(`.code %s %d`, []string{"=", "!=", ">", ">=", "<", "<="}[rng.IntN(6)], 200+100*rng.IntN(4))
		},
		func() string { return fmt.Sprintf(`span.tier %s "gold"`, []string{"=", "!=", "=~", "!~"}[rng.IntN(4)]) },
		func() string {
			return []string{"status = error", "status != error", "status = ok", "kind = server", "kind = client"}[rng.IntN(5)]
		},
		func() string {
			return fmt.Sprintf("duration %s %dms", []string{">", "<", ">=", "<="}[rng.IntN(4)], rng.IntN(100))
		},
		func() string {
			return []string{".tier != nil", ".code = nil", `event.type = "E1"`, `event:name = "exception"`}[rng.IntN(4)]
		},
	}
	n := 1 + rng.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = conds[rng.IntN(len(conds))]()
	}
	op := " && "
	if rng.IntN(4) == 0 {
		op = " || "
	}
	return "{ " + strings.Join(parts, op) + " }"
}

func randomQuery(rng *rand.Rand) string {
	switch rng.IntN(5) {
	case 0, 1:
		return randomFilter(rng)
	case 2:
		ops := []string{"&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>", "&<<", "&~"}
		return randomFilter(rng) + " " + ops[rng.IntN(len(ops))] + " " + randomFilter(rng)
	case 3:
		return randomFilter(rng) + fmt.Sprintf(" | count() %s %d", []string{">", ">=", "="}[rng.IntN(3)], rng.IntN(4))
	}
	return randomFilter(rng) + " | by(resource.service.name) | count() > 1"
}

// TestDifferentialSearch checks random queries through the engine (with
// pushdown, parts, early stop) against evaluating the query on every
// trace: same traces, same order.
func TestDifferentialSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	db := openStore(t)
	ctx := context.Background()
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	traces := randomTraces(rng, 400, base)
	for i, tr := range traces {
		require.NoError(t, db.Append(ctx, tr))
		if i%100 == 99 {
			require.NoError(t, db.Flush())
		}
	}
	e := &query.Engine{Storage: db}
	matchedSome := 0
	for range 300 {
		src := randomQuery(rng)
		q, err := Parse(src)
		require.NoError(t, err, src)
		limit := 1 + rng.IntN(30)
		var from, to time.Time
		if rng.IntN(3) == 0 {
			from = time.Unix(0, base+rng.Int64N(300)*int64(time.Second))
			to = from.Add(time.Duration(50+rng.IntN(100)) * time.Second)
		}
		// brute force: traces with a span starting in the range (when
		// given) on which the query matches, newest first
		type hit struct {
			start int64
			id    model.TraceID
		}
		var want []hit
		for _, tr := range traces {
			if !q.Matches(tr) {
				continue
			}
			if !from.IsZero() {
				// the engine needs a span satisfying the pushdown within the
				// range; with a range, compare only traces entirely inside
				in := true
				for _, s := range tr {
					in = in && s.Start >= from.UnixNano() && s.Start <= to.UnixNano()
				}
				if !in {
					continue
				}
			}
			start, _ := query.Bounds(tr)
			want = append(want, hit{start, tr[0].TraceID})
		}
		slices.SortFunc(want, func(a, b hit) int { return cmp.Compare(b.start, a.start) })
		res, err := q.Search(ctx, e, from, to, limit)
		require.NoError(t, err, src)
		var got []model.TraceID
		for _, r := range res {
			got = append(got, r.Summary.TraceID)
		}
		if from.IsZero() {
			var wantIDs []model.TraceID
			for _, h := range want[:min(limit, len(want))] {
				wantIDs = append(wantIDs, h.id)
			}
			require.Equal(t, wantIDs, got, "%s limit %d", src, limit)
		} else {
			// traces entirely inside the range must all be found (up to
			// the limit); every result must match the query
			for _, r := range res {
				require.True(t, q.Matches(r.Spans), src)
			}
			if len(want) <= limit {
				for _, h := range want {
					require.Contains(t, got, h.id, "%s in [%s, %s]", src, from, to)
				}
			}
		}
		if len(got) > 0 {
			matchedSome++
		}
	}
	require.Greater(t, matchedSome, 100, "random queries should often match")

	// metrics: count_over_time by service against counting the spans the
	// pipeline returns on every trace
	from, to := time.Unix(0, base), time.Unix(0, base).Add(401*time.Second)
	step := time.Minute
	for range 60 {
		src := randomQuery(rng)
		if strings.Contains(src, "by(") {
			continue
		}
		q, err := Parse(src + " | count_over_time() by (resource.service.name)")
		require.NoError(t, err, src)
		want := map[string]map[int64]float64{}
		plain, err := Parse(src)
		require.NoError(t, err)
		for _, tr := range traces {
			sets, _ := plain.Eval(tr)
			for _, i := range flatten(sets) {
				svc := tr[i].Service()
				if want[svc] == nil {
					want[svc] = map[int64]float64{}
				}
				slot := (tr[i].Start - base) / int64(step)
				want[svc][(base+slot*int64(step))/1e6]++
			}
		}
		series, err := q.MetricsRange(ctx, db, from, to, step)
		require.NoError(t, err, src)
		got := map[string]map[int64]float64{}
		for _, s := range series {
			require.Len(t, s.Labels, 1, src)
			for _, p := range s.Samples {
				if p.Value == 0 {
					continue
				}
				if got[s.Labels[0].Value.S] == nil {
					got[s.Labels[0].Value.S] = map[int64]float64{}
				}
				got[s.Labels[0].Value.S][p.TimestampMs] = p.Value
			}
		}
		require.Equal(t, want, got, src)
	}
}
