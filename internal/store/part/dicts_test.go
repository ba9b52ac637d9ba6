package part

// Unit tests of the Writer's top values and value dictionary.

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// TestTopValuesSpaceSaving checks the counters against exact counts: exact
// while a key has at most capacity values; past that, the most frequent
// values are found, in order, with counts close to the exact ones, while
// thousands of rare values pass. Every add returns the value's token hash.
func TestTopValuesSpaceSaving(t *testing.T) {
	for _, distinct := range []int{1, 10, 15} { // with "": at most 16 values
		rng := rand.New(rand.NewPCG(1, 2))
		tv := newTopValues(4) // capacity 16
		k := tv.key("k")
		exact := map[string]int64{}
		for i := 0; i < 20000; i++ {
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
		require.LessOrEqual(t, len(exact), tv.capacity)
		require.Equal(t, exact, got, "distinct %d", distinct)
		res := tv.result()
		require.Len(t, res, 1)
		require.LessOrEqual(t, len(res[0].Values), 4)
		require.True(t, slices.IsSortedFunc(res[0].Values, func(a, b ValueCount) int { return int(b.Count - a.Count) }))
	}

	// Four frequent values (10%, 7%, 4.5%, 2.5% of the weight) among 5000
	// rare ones.
	run := func() ([]ValueCount, map[string]int64) {
		rng := rand.New(rand.NewPCG(3, 4))
		tv := newTopValues(4)
		k := tv.key("user.id")
		exact := map[string]int64{}
		for i := 0; i < 200_000; i++ {
			var v string
			switch r := rng.IntN(1000); {
			case r < 100:
				v = "hot0"
			case r < 170:
				v = "hot1"
			case r < 215:
				v = "hot2"
			case r < 240:
				v = "hot3"
			default:
				v = fmt.Sprintf("cold%d", rng.IntN(5000))
			}
			w := int64(1 + rng.IntN(3))
			e := tv.add(k, v, w)
			require.Equal(t, bloom.HashString("user.id="+v), e.token, "value %q", v)
			if e.value != "" || v == "" {
				require.Equal(t, v, e.value)
			}
			exact[v] += w
		}
		require.LessOrEqual(t, len(k.entries), tv.capacity)
		res := tv.result()
		require.Len(t, res, 1)
		return res[0].Values, exact
	}
	top, exact := run()
	require.Len(t, top, 4)
	for i, vc := range top {
		require.Equal(t, fmt.Sprintf("hot%d", i), vc.Value, "rank %d: %v", i, top)
		want := exact[vc.Value]
		require.InDelta(t, want, vc.Count, 0.1*float64(want), "count of %s", vc.Value)
	}
	again, _ := run()
	require.Equal(t, top, again, "the same input gives the same top values")
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
