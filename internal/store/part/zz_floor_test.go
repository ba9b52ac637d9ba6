package part

import (
	"testing"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// BenchmarkTouch touches every byte a Writer must read.
func BenchmarkTouch(b *testing.B) {
	spans := realistic(1, 200_000, 1_700_000_000e9, 15*60e9)
	sorted := sortedCopy(spans)
	arrival := arrivalOrder(spans)
	for _, c := range []struct {
		name  string
		spans []model.Span
	}{{"sorted", sorted}, {"arrival", arrival}} {
		b.Run(c.name, func(b *testing.B) {
			var sum uint64
			for i := 0; i < b.N; i++ {
				for j := range c.spans {
					s := &c.spans[j]
					for k := range s.Attrs {
						a := &s.Attrs[k]
						for _, ch := range []byte(a.Key) {
							sum += uint64(ch)
						}
						for _, ch := range []byte(a.Str) {
							sum += uint64(ch)
						}
						sum += a.Num
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.spans))/1000, "µs/span")
			_ = sum
		})
	}
}
