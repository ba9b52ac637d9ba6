package tail

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
)

// heldShape is how a workload's spans reach the sampler.
type heldShape struct {
	name               string
	minSpans, maxSpans int // spans per trace
	// spread is how many WAL records one trace's spans land in: 1 when
	// each trace arrives in one request (the load generator), more when an
	// SDK's batches cut traces (each service exports its spans on its own).
	spread int
}

var heldShapes = []heldShape{
	{"loadgen-5-50-spans", 5, 50, 1},
	{"10-spans-5-records", 10, 10, 5},
	{"1-span", 1, 1, 1},
}

// BenchmarkHeldMemory measures the heap the sampler keeps per held span:
// it offers spans to a sampler that decides nothing, in 500-span records,
// and divides the growth of the live heap (after GC) by the spans held.
// The spans themselves are not held (they are in the WAL), so the figure is
// the sampler's whole cost. B/held-span is measured; est-B/held-span is
// what the sampler counts against max_memory.
//
//	go test ./internal/sampling/tail -run '^$' -bench HeldMemory -benchtime 3x
func BenchmarkHeldMemory(b *testing.B) {
	const total = 1_000_000 // spans held per measurement
	services := []string{"frontend", "checkout", "cart", "payment", "shipping", "currency", "email", "ad"}
	for _, sh := range heldShapes {
		b.Run(sh.name, func(b *testing.B) {
			var perSpan, est float64
			for b.Loop() {
				c := &clock{t: time.Unix(1_700_000_000, 0)}
				s, err := New(Config{Idle: time.Hour, MaxWait: time.Hour, MaxBytes: 1 << 40,
					Policies: []Policy{{Name: "errors", Type: TypeError}, {Name: "rest", Type: TypeProbabilistic, Probability: 0.1}}}, c.now)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				// records[i] collects the spans bound for the i-th open record;
				// a trace's spans go to sh.spread consecutive records.
				records := make([][]model.Span, sh.spread)
				var seg, n int
				flush := func(r int) {
					s.Offer(records[r], wal.Pos{Segment: seg, Offset: int64(n)})
					n++
					if n%2000 == 0 {
						seg++
						c.advance(time.Second)
					}
					records[r] = nil
				}
				runtime.GC()
				var m0 runtime.MemStats
				runtime.ReadMemStats(&m0)
				held := 0
				for held < total {
					id := model.TraceID{}
					for i := range id {
						id[i] = byte(rng.Uint32())
					}
					k := sh.minSpans + rng.IntN(sh.maxSpans-sh.minSpans+1)
					for j := range k {
						sp := span(id, byte(j+1), byte(j), services[rng.IntN(len(services))], "GET /api/products/{id}", time.Duration(rng.IntN(int(time.Second))), model.StatusUnset)
						if j == 0 {
							sp.ParentID = model.SpanID{}
						}
						r := j % sh.spread
						records[r] = append(records[r], sp)
						if len(records[r]) >= 500 {
							flush(r)
						}
					}
					held += k
				}
				for r := range records {
					if len(records[r]) > 0 {
						flush(r)
					}
				}
				runtime.GC()
				var m1 runtime.MemStats
				runtime.ReadMemStats(&m1)
				st := s.Stats()
				if st.HeldSpans != int64(held) {
					b.Fatalf("held %d spans, sampler says %d", held, st.HeldSpans)
				}
				perSpan = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(held)
				est = float64(st.HeldBytes) / float64(held)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perSpan, "B/held-span")
			b.ReportMetric(est, "est-B/held-span")
			b.ReportMetric(0, "ns/op")
		})
	}
}
