package store

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Many spans sharing one start time (microsecond clients), some sent twice
// and one sent twice with different content: dedupe keeps one copy of each
// exact duplicate and keeps the differing one. (It used to scan back over
// every span with the same start, quadratic in their number.)
func TestDedupeSameStart(t *testing.T) {
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "svc"}}}
	const n = 50_000
	var spans []model.Span
	for i := range n {
		s := model.Span{TraceID: model.TraceID{1}, Name: "op", Start: 1e18, End: 1e18 + 1000, Resource: res}
		s.SpanID[0], s.SpanID[1], s.SpanID[2] = byte(i>>16), byte(i>>8), byte(i)
		spans = append(spans, s)
		if i%10 == 0 {
			spans = append(spans, s) // a retried copy
		}
	}
	changed := spans[7]
	changed.Name = "other" // same ID and start, different content: kept
	spans = append(spans, changed)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })

	out := dedupe(spans)
	require.Len(t, out, n+1)
	seen := map[model.SpanID]int{}
	for _, s := range out {
		seen[s.SpanID]++
	}
	require.Len(t, seen, n)
	require.Equal(t, 2, seen[changed.SpanID])
}
