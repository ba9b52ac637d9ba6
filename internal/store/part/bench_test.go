package part

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

type benchData struct {
	path string
	ids  []model.TraceID
}

var (
	benchMu    sync.Mutex
	benchParts = map[string]*benchData{}
)

// benchPart writes (once per process) parts of realistic spans, n spans in
// each, and returns them with a sample of their trace IDs.
func benchPart(b *testing.B, n, parts int) []*benchData {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if benchDir == "" {
		d, err := os.MkdirTemp("", "ariadne-part-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	var out []*benchData
	for p := 0; p < parts; p++ {
		key := fmt.Sprintf("%d-%d", n, p)
		if bd, ok := benchParts[key]; ok {
			out = append(out, bd)
			continue
		}
		spans := realistic(uint64(1000+p), n, 1_700_000_000e9+int64(p)*3600e9, 3600e9)
		bd := &benchData{path: filepath.Join(benchDir, key+".part")}
		if _, err := Write(bd.path, spans, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		seen := map[model.TraceID]bool{}
		for i := range spans {
			if !seen[spans[i].TraceID] {
				seen[spans[i].TraceID] = true
				bd.ids = append(bd.ids, spans[i].TraceID)
			}
		}
		benchParts[key] = bd
		out = append(out, bd)
	}
	return out
}

// cpuTime returns the CPU time (user and system) used by the process so
// far: it counts work on other goroutines (GC, compression) that wall time
// on two cores would hide.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// arrivalOrder returns spans the way a head holds them: in arrival order
// (end time), decoded from batches of 200 (model.AppendBatch and
// DecodeBatch), so that no string is shared between spans and each batch
// has its own Resource and Scope values.
func arrivalOrder(spans []model.Span) []model.Span {
	in := slices.Clone(spans)
	slices.SortStableFunc(in, func(a, b model.Span) int { return cmp.Compare(a.End, b.End) })
	out := make([]model.Span, 0, len(in))
	for i := 0; i < len(in); i += 200 {
		batch, err := model.DecodeBatch(model.AppendBatch(nil, in[i:min(i+200, len(in))]))
		if err != nil {
			panic(err)
		}
		out = append(out, batch...)
	}
	return out
}

// BenchmarkWrite writes 200,000 realistic spans. "add-sorted" streams
// spans already in part order, sharing strings, through a Writer ("-zstd-
// default" with zstd.SpeedDefault instead of the default SpeedFastest);
// "write-arrival" calls Write (sorting included) on the same spans as a
// head would hold them (see arrivalOrder), which is what the store does.
// cpu-µs/span is process CPU time per span, GC and any helper goroutines
// included.
func BenchmarkWrite(b *testing.B) {
	spans := realistic(1, 200_000, 1_700_000_000e9, 15*60e9)
	sorted := sortedCopy(spans)
	arrival := arrivalOrder(spans)
	for _, c := range []struct {
		name string
		opts WriteOptions
	}{{"add-sorted", WriteOptions{}}, {"add-sorted-zstd-default", WriteOptions{ZstdLevel: zstd.SpeedDefault}}} {
		b.Run(c.name, func(b *testing.B) {
			benchWrite(b, len(sorted), func(path string) (*Meta, error) {
				w, err := Create(path, c.opts)
				if err != nil {
					return nil, err
				}
				for j := range sorted {
					if err := w.Add(&sorted[j]); err != nil {
						return nil, err
					}
				}
				return w.Finish()
			})
		})
	}
	b.Run("write-arrival", func(b *testing.B) {
		benchWrite(b, len(arrival), func(path string) (*Meta, error) {
			return Write(path, arrival, WriteOptions{})
		})
	})
}

func benchWrite(b *testing.B, n int, write func(path string) (*Meta, error)) {
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var size int64
	for i := 0; i < b.N; i++ {
		m, err := write(filepath.Join(dir, "p.part"))
		if err != nil {
			b.Fatal(err)
		}
		size = m.Size
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(cpu.Seconds()*1e6/float64(n*b.N), "cpu-µs/span")
	b.ReportMetric(float64(size)/float64(n), "bytes/span")
}

// BenchmarkMerge merges 8 parts of 125,000 realistic spans each (traces
// interleave by ID, as parts of consecutive time windows do), reading the
// inputs included. cpu-µs/span is process CPU time per output span.
func BenchmarkMerge(b *testing.B) {
	bds := benchPart(b, 125_000, 8)
	var readers []*Reader
	for _, bd := range bds {
		r, err := Open(bd.path)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var m *Meta
	for i := 0; i < b.N; i++ {
		var err error
		if m, err = Merge(filepath.Join(dir, "m.part"), readers, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	n := float64(m.SpanCount) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(cpu.Seconds()*1e6/n, "cpu-µs/span")
	b.ReportMetric(float64(m.Size)/float64(m.SpanCount), "bytes/span")
}

// BenchmarkTraceByID looks up random traces the way the store does: a
// MayContain check on every part, Trace on those that may hold it.
func BenchmarkTraceByID(b *testing.B) {
	for _, c := range []struct{ spans, parts int }{{1_000_000, 1}, {1_000_000, 10}} {
		if c.parts > 1 && os.Getenv("ARIADNE_BENCH_10M") == "" {
			continue
		}
		b.Run(fmt.Sprintf("%dx%d", c.parts, c.spans), func(b *testing.B) {
			bds := benchPart(b, c.spans, c.parts)
			var readers []*Reader
			var ids []model.TraceID
			for _, bd := range bds {
				r, err := Open(bd.path)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				readers = append(readers, r)
				ids = append(ids, bd.ids...)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := ids[rng.IntN(len(ids))]
				t0 := time.Now()
				n := 0
				for _, r := range readers {
					if !r.MayContain(id) {
						continue
					}
					spans, err := r.Trace(id)
					if err != nil {
						b.Fatal(err)
					}
					n += len(spans)
				}
				lat = append(lat, time.Since(t0))
				if n == 0 {
					b.Fatal("trace not found")
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func BenchmarkScan(b *testing.B) {
	bd := benchPart(b, 1_000_000, 1)[0]
	r, err := Open(bd.path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m := r.Meta()
	for _, c := range []struct {
		name string
		f    Filter
		pre  func(*model.Span) bool
	}{
		{"all-pre-only", Filter{}, func(*model.Span) bool { return false }},
		{"service-errors", Filter{Services: []string{"payment"}}, func(s *model.Span) bool { return s.StatusCode == model.StatusError }},
		{"token-user", Filter{Tokens: []string{"user.id=user-4242"}}, nil},
		{"last-minute-slow", Filter{MinStart: m.MaxStart - 60e9, MinDuration: 10e6}, nil},
		{"all-full", Filter{}, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var visited int
			for i := 0; i < b.N; i++ {
				visited = 0
				err := r.Scan(context.Background(), &c.f, c.pre, func(*model.Span) bool { visited++; return true })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.SpanCount)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(visited), "matched")
		})
	}
}
