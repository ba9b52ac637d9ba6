package metrics

import (
	"cmp"
	"slices"
)

func sortStrings(s []string) { slices.Sort(s) }

// sortBy sorts descending by key, stably (ties keep the calls order).
func sortBy[T any](s []T, key func(T) float64) {
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(key(b), key(a)) })
}
