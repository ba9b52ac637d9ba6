package part

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTopValuesSpaceSaving checks the counters against exact counts: exact
// while a key has at most capacity values, upper bounds after, with every
// value counted more than the smallest counter kept.
func TestTopValuesSpaceSaving(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, distinct := range []int{1, 10, 16, 17, 100, 5000} {
		tv := newTopValues(4) // capacity 16
		k := tv.key("k")
		exact := map[string]int64{}
		for i := 0; i < 20000; i++ {
			// Skewed: low values are frequent.
			v := fmt.Sprintf("v%d", int(float64(distinct)*rng.Float64()*rng.Float64()))
			if i%97 == 0 {
				v = "" // empty values are values too
			}
			w := int64(1 + rng.IntN(3))
			e := tv.add(k, v, w)
			require.Equal(t, v, e.value)
			exact[v] += w
		}
		got := map[string]int64{}
		for _, e := range k.entries {
			got[e.value] = e.count
		}
		require.LessOrEqual(t, len(got), tv.capacity)
		for v, n := range got {
			if len(exact) <= tv.capacity {
				require.Equal(t, exact[v], n, "distinct %d value %q", distinct, v)
			} else {
				require.GreaterOrEqual(t, n, exact[v], "distinct %d value %q", distinct, v)
			}
		}
		minCount := int64(1 << 62)
		for _, n := range got {
			minCount = min(minCount, n)
		}
		for v, n := range exact {
			if _, ok := got[v]; !ok {
				require.LessOrEqual(t, n, minCount, "value %q dropped while counting more than a kept one", v)
			}
		}
		res := tv.result()
		require.Len(t, res, 1)
		require.LessOrEqual(t, len(res[0].Values), 4)
		require.True(t, slices.IsSortedFunc(res[0].Values, func(a, b ValueCount) int { return int(b.Count - a.Count) }))
	}
}
