package part

// Unit tests of the Writer's top values and value dictionary.

import (
	"cmp"
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

// TestValueDictTruncate checks that removing the entries a dropped span
// added leaves the dictionary as it was.
func TestValueDictTruncate(t *testing.T) {
	d := newValueDict()
	for _, v := range []string{"a", "b", "c"} {
		d.ref(1, v)
	}
	d.ref(2, "x")
	n, gen := len(d.ents), d.gen
	for _, v := range []string{"d", "e"} { // two new values of key 1
		d.ref(1, v)
	}
	d.ref(3, "y") // a new key
	d.truncate(n)
	require.NotEqual(t, gen, d.gen)
	require.Len(t, d.ents, n)
	require.Equal(t, []int32{0, 1, 2}, d.byKey[1])
	require.Equal(t, []uint32{1, 2}, d.keysUsed)
	require.Equal(t, 3, d.find(1, 3)+1)
	require.Equal(t, -1, d.find(1, 4))
	require.Equal(t, 4, d.ref(1, "d")) // added again, with the next local
	require.Equal(t, uint32(4), d.ents[4].local)
	require.Equal(t, 0, d.ref(1, "a"))
}

// TestSortKeys checks Write's sort against a plain stable sort, for random
// and for skewed trace IDs (all in one bucket).
func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, skew := range []bool{false, true} {
		for _, n := range []int{0, 1, 100, 5000, 70000} {
			keys := make([]sortKey, n)
			for i := range keys {
				keys[i] = sortKey{hi: rng.Uint64(), lo: rng.Uint64() % 3, start: int64(rng.IntN(3)), idx: int32(i)}
				if skew {
					keys[i].hi %= 1000
				}
				if i > 0 && rng.IntN(4) == 0 {
					keys[i].hi, keys[i].lo = keys[i-1].hi, keys[i-1].lo // same trace
				}
			}
			want := slices.Clone(keys)
			slices.SortStableFunc(want, func(a, b sortKey) int {
				if a.hi != b.hi {
					return cmp.Compare(a.hi, b.hi)
				}
				if a.lo != b.lo {
					return cmp.Compare(a.lo, b.lo)
				}
				return cmp.Compare(a.start, b.start)
			})
			require.Equal(t, want, sortKeys(keys), "n %d skew %v", n, skew)
		}
	}
}
