package pipeline

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

const fixtures = "../../../shared/testdata/tempo-servicegraph"

// loadFixture reads one of Tempo's service-graph fixtures. Their IDs are
// base64 (Tempo's gogo JSON); pdata wants hex, so they are converted.
func loadFixture(t *testing.T, name string) []model.Span {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	for _, rs := range doc["resourceSpans"].([]any) {
		for _, ss := range rs.(map[string]any)["scopeSpans"].([]any) {
			for _, sp := range ss.(map[string]any)["spans"].([]any) {
				m := sp.(map[string]any)
				for _, k := range []string{"traceId", "spanId", "parentSpanId"} {
					if v, ok := m[k].(string); ok && v != "" {
						raw, err := base64.StdEncoding.DecodeString(v)
						require.NoError(t, err)
						m[k] = hex.EncodeToString(raw)
					}
				}
			}
		}
	}
	b, err = json.Marshal(doc)
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	require.NoError(t, err)
	spans := model.FromTraces(td)
	require.NotEmpty(t, spans)
	return spans
}

func newTestPipeline(t *testing.T, dir string) *Pipeline {
	t.Helper()
	// The fixtures are from 2022: keep them despite retention.
	p, err := New(Config{Dir: dir, Retention: 100 * 365 * 24 * time.Hour})
	require.NoError(t, err)
	return p
}

// edgeCounts returns calls and errors per edge over all time.
func edgeCounts(p *Pipeline) map[EdgeKey][2]uint64 {
	_, edges := p.Graph(time.Unix(0, 0), time.Now().Add(time.Hour))
	out := map[EdgeKey][2]uint64{}
	for _, e := range edges {
		out[e.EdgeKey] = [2]uint64{e.Calls, e.Errors}
	}
	return out
}

func TestTempoFixtures(t *testing.T) {
	cases := []struct {
		file    string
		edges   map[EdgeKey][2]uint64 // calls, errors
		expired uint64
	}{
		{"trace-with-queue-database.json", map[EdgeKey][2]uint64{
			{"mythical-requester", "mythical-server", ConnDirect}:      {1, 0},
			{"mythical-server", "postgres", ConnDatabase}:              {1, 0},
			{"mythical-requester", "mythical-recorder", ConnMessaging}: {1, 0},
			{"mythical-server", "loki", ConnVirtual}:                   {1, 0},
		}, 3}, // dns.lookup and the two log_to_loki client spans name no peer
		{"trace-with-db-system-name.json", map[EdgeKey][2]uint64{
			{"mythical-requester", "mythical-server", ConnDirect}:      {1, 0},
			{"mythical-server", "mythical-database", ConnDatabase}:     {1, 0},
			{"mythical-requester", "mythical-recorder", ConnMessaging}: {1, 0},
			{"mythical-server", "loki", ConnVirtual}:                   {1, 0},
		}, 3},
		{"trace-with-failed-requests.json", map[EdgeKey][2]uint64{
			{"mythical-requester", "mythical-server", ConnDirect}: {1, 1},
			{"mythical-server", "postgres", ConnDatabase}:         {1, 1},
			{"mythical-server", "loki", ConnVirtual}:              {1, 0},
		}, 3},
		{"trace-with-virtual-nodes.json", map[EdgeKey][2]uint64{
			{UserNode, "mythical-server", ConnVirtual}:                        {1, 0},
			{"mythical-requester", "external-payments-platform", ConnVirtual}: {1, 0},
			{"external-producer", "internal-consumer", ConnVirtual}:           {1, 0},
			// The client span's parent is the server span of another
			// service: a parent-child edge, whatever the kinds (Tempo
			// does not count this one; Jaeger's dependencies do).
			{"mythical-server", "mythical-requester", ConnDirect}: {1, 0},
		}, 0},
		{"trace-with-expired-edges.json", map[EdgeKey][2]uint64{
			{UserNode, "mythical-server", ConnVirtual}:            {1, 0},
			{"mythical-server", "mythical-requester", ConnDirect}: {1, 0},
			{"mythical-requester", "mysql", ConnDatabase}:         {1, 0},
			// db-access, a client span under client-matched, counts
			// only as its database call, not as a second call from
			// mythical-server (see countsAsCall).
		}, 1}, // the server span whose parent never arrives
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			spans := loadFixture(t, tc.file)
			// One batch, the whole fixture.
			p := newTestPipeline(t, "")
			p.Observe(spans)
			p.ExpireAll()
			require.Equal(t, tc.edges, edgeCounts(p))
			require.Equal(t, tc.expired, p.expired.Load())

			// Each resource in its own batch, in reverse order: the
			// pairs must match across batches.
			p2 := newTestPipeline(t, "")
			var batches [][]model.Span
			for i := 0; i < len(spans); {
				j := i
				for j < len(spans) && spans[j].Resource == spans[i].Resource {
					j++
				}
				batches = append(batches, spans[i:j])
				i = j
			}
			require.Greater(t, len(batches), 1)
			for i := len(batches) - 1; i >= 0; i-- {
				p2.Observe(batches[i])
			}
			p2.ExpireAll()
			require.Equal(t, tc.edges, edgeCounts(p2))
			require.Equal(t, tc.expired, p2.expired.Load())
		})
	}
}

func TestFixtureLatencies(t *testing.T) {
	spans := loadFixture(t, "trace-with-queue-database.json")
	p := newTestPipeline(t, "")
	p.Observe(spans)
	_, edges := p.Graph(time.Unix(0, 0), time.Now())
	var found bool
	for _, e := range edges {
		if e.EdgeKey == (EdgeKey{"mythical-requester", "mythical-server", ConnDirect}) {
			found = true
			// Client span 45.3ms, server span 29.1ms (as Tempo's test
			// expects 0.045 and 0.029 seconds).
			require.InDelta(t, 0.045, e.ClientLatency.Sum/1e9, 0.001)
			require.InDelta(t, 0.029, e.ServerLatency.Sum/1e9, 0.001)
			require.Len(t, e.Exemplars, 1)
		}
	}
	require.True(t, found)
}

// A parent in one service with a child in another, neither with a kind:
// still an edge (what Jaeger's dependency view shows).
func TestParentChildWithoutKinds(t *testing.T) {
	ra := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "a"}}}
	rb := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "b"}}}
	tid := model.TraceID{1}
	now := time.Now().UnixNano()
	parent := model.Span{TraceID: tid, SpanID: model.SpanID{1}, Name: "work", Start: now, End: now + 5e6, Resource: ra}
	child := model.Span{TraceID: tid, SpanID: model.SpanID{2}, ParentID: model.SpanID{1}, Name: "sub", Start: now + 1e6, End: now + 3e6,
		StatusCode: model.StatusError, Resource: rb}
	p := newTestPipeline(t, "")
	p.Observe([]model.Span{child}) // child first, in its own batch
	p.Observe([]model.Span{parent})
	p.ExpireAll()
	require.Equal(t, map[EdgeKey][2]uint64{{"a", "b", ConnDirect}: {1, 1}}, edgeCounts(p))

	p = newTestPipeline(t, "")
	p.Observe([]model.Span{parent}) // parent first
	p.Observe([]model.Span{child})
	p.ExpireAll()
	require.Equal(t, map[EdgeKey][2]uint64{{"a", "b", ConnDirect}: {1, 1}}, edgeCounts(p))
}

func exactQuantile(sorted []int64, q float64) float64 {
	return float64(sorted[int(q*float64(len(sorted)-1))])
}

func TestSketchAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-1ms-1s":   func() int64 { return 1e6 + r.Int64N(1e9) },
		"lognormal":        func() int64 { return int64(math.Exp(r.NormFloat64()*1.5+16)) + 1 },
		"exponential-50ms": func() int64 { return int64(r.ExpFloat64()*50e6) + 1 },
		"bimodal": func() int64 {
			if r.IntN(10) == 0 {
				return 2e9 + r.Int64N(1e8)
			}
			return 1e5 + r.Int64N(1e5)
		},
		"with-zeros": func() int64 { return r.Int64N(1000) - 100 },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			// Split into several sketches and merge, as minutes are.
			var parts [7]Sketch
			var vals []int64
			for i := range 20_000 {
				v := gen()
				vals = append(vals, v)
				parts[i%len(parts)].Add(v)
			}
			var s Sketch
			for i := range parts {
				s.Merge(&parts[i])
			}
			slices.Sort(vals)
			require.Equal(t, uint64(len(vals)), s.Count)
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1} {
				want := exactQuantile(vals, q)
				got := s.Quantile(q)
				if want <= 0 {
					require.Equal(t, 0.0, math.Max(got, 0), "q=%v", q)
					continue
				}
				require.InEpsilon(t, want, got, 0.01, "q=%v", q)
			}
			// Round trip through the file encoding.
			b := appendSketch(nil, &s)
			var back Sketch
			d := &decoder{b: b}
			d.sketch(&back)
			require.NoError(t, d.err)
			require.Equal(t, s.Quantile(0.99), back.Quantile(0.99))
			require.Equal(t, s.Count, back.Count)
		})
	}
}

func TestPersistCommitAndRecover(t *testing.T) {
	dir := t.TempDir()
	spans := loadFixture(t, "trace-with-failed-requests.json")
	p := newTestPipeline(t, dir)
	p.Observe(spans)
	p.Seal()
	require.NoError(t, p.Prepare(0)) // the store's first part is seq 0
	require.NoError(t, p.Commit(0))
	p.Observe(spans)
	p.Seal()
	require.NoError(t, p.Prepare(7))
	require.NoError(t, p.Commit(7))
	want := edgeCounts(p)
	require.NotEmpty(t, want)

	// A sealed but uncommitted set (crash before its part was written) is
	// dropped at recovery: the WAL replays those spans.
	p.Observe(spans)
	p.Seal()
	require.NoError(t, p.Prepare(8))

	p2 := newTestPipeline(t, dir)
	require.NoError(t, p2.Recover(func(seq uint64) bool { return seq == 7 || seq == 0 }))
	require.Equal(t, want, edgeCounts(p2))
	_, err := os.Stat(filepath.Join(dir, pendingName(8)))
	require.ErrorIs(t, err, os.ErrNotExist)

	// A pending set whose part exists (crash between part and rename) is
	// committed at recovery.
	p2.Observe(spans)
	p2.Seal()
	require.NoError(t, p2.Prepare(9))
	p3 := newTestPipeline(t, dir)
	require.NoError(t, p3.Recover(func(seq uint64) bool { return seq == 9 }))
	got := edgeCounts(p3)
	for k, v := range want {
		// want holds two observations of the fixture, got three.
		require.Equal(t, [2]uint64{v[0] / 2 * 3, v[1] / 2 * 3}, got[k], "%v", k)
	}

	// Compaction keeps the same series in one base file.
	require.NoError(t, p3.Compact())
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{baseName(9), waitName(9)}, names)
	p4 := newTestPipeline(t, dir)
	require.NoError(t, p4.Recover(nil))
	require.Equal(t, got, edgeCounts(p4))
	ops := p4.Operations(time.Unix(0, 0), time.Now(), Filter{Service: "mythical-server", Kinds: []int8{model.KindServer}})
	require.Len(t, ops, 1)
	require.Equal(t, "POST /:endpoint", ops[0].Name)
	require.Equal(t, uint64(3), ops[0].Calls)
	require.Equal(t, uint64(3), ops[0].Errors)
}

func TestDecodeRejectsDamage(t *testing.T) {
	p := newTestPipeline(t, "")
	p.Observe(loadFixture(t, "trace-with-virtual-nodes.json"))
	b := EncodeData(p.View(time.Unix(0, 0), time.Now()), minMinute, maxMinute)
	_, err := DecodeData(b)
	require.NoError(t, err)
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 0x40
		_, err := DecodeData(c)
		require.Error(t, err, "byte %d", i)
	}
	_, err = DecodeData(b[:len(b)-1])
	require.Error(t, err)
}

func TestSeriesBoundAndRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	clock := now
	p, err := New(Config{Dir: dir, MaxSeriesPerMinute: 5, Retention: 48 * time.Hour, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "api"}}}
	var spans []model.Span
	for i := range 20 {
		// Ten names today, ten three days ago.
		start := now.Add(-time.Duration(i/10) * 72 * time.Hour).UnixNano()
		spans = append(spans, model.Span{TraceID: model.TraceID{byte(i + 1)}, SpanID: model.SpanID{byte(i + 1)},
			Name: fmt.Sprintf("GET /users/%d", i%10), Kind: model.KindServer, Start: start, End: start + 1e6, Resource: res})
	}
	p.Observe(spans)
	ops := p.Operations(now.Add(-time.Hour), now.Add(time.Hour), Filter{})
	require.Len(t, ops, 6) // 5 names, then the overflow series
	var over uint64
	for _, o := range ops {
		if o.Name == OverflowName {
			over = o.Calls
		}
	}
	require.Equal(t, uint64(5), over)
	require.Equal(t, uint64(10), p.overflow.Load())

	// Committing drops minutes past retention; recovery too.
	p.Seal()
	require.NoError(t, p.Prepare(1))
	require.NoError(t, p.Commit(1))
	require.Empty(t, p.Operations(now.Add(-100*time.Hour), now.Add(-time.Hour), Filter{}))
	require.Len(t, p.Operations(now.Add(-time.Hour), now.Add(time.Hour), Filter{}), 6)
	clock = now.Add(49 * time.Hour) // today's minutes expire too
	p2, err := New(Config{Dir: dir, Retention: 48 * time.Hour, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	require.NoError(t, p2.Recover(nil))
	require.Empty(t, p2.Operations(now.Add(-100*time.Hour), clock, Filter{}))
	// The next base rewrite leaves nothing of them on disk.
	require.NoError(t, p2.Compact())
	b, err := os.ReadFile(filepath.Join(dir, baseName(1)))
	require.NoError(t, err)
	d, err := DecodeData(b)
	require.NoError(t, err)
	require.Empty(t, d)
}

func TestPendingBound(t *testing.T) {
	p, err := New(Config{MaxPending: 12})
	require.NoError(t, err)
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "a"}}}
	now := time.Now().UnixNano()
	var spans []model.Span
	for i := range 20 { // kindless leaves: at most a quarter of the room
		spans = append(spans, model.Span{TraceID: model.TraceID{byte(i + 1)}, SpanID: model.SpanID{1}, Name: "leaf", Start: now, End: now + 1, Resource: res})
	}
	p.Observe(spans)
	require.Equal(t, 3, p.match.size)
	require.Zero(t, p.dropped.Load())
	spans = spans[:0]
	for i := range 20 { // client spans: the rest of the room, then dropped
		spans = append(spans, model.Span{TraceID: model.TraceID{byte(i + 1), 1}, SpanID: model.SpanID{2}, Name: "call", Kind: model.KindClient, Start: now, End: now + 1, Resource: res})
	}
	p.Observe(spans)
	require.Equal(t, 12, p.match.size)
	require.Equal(t, uint64(11), p.dropped.Load())
	p.ExpireAll()
	require.Zero(t, p.match.size)
	require.Equal(t, uint64(9), p.expired.Load()) // the kept clients, naming no peer
}

// Observe, queries and the seal/prepare/commit cycle run concurrently (run
// with -race); in the end every span is counted once.
func TestConcurrentUse(t *testing.T) {
	p, err := New(Config{Dir: t.TempDir(), CompactEvery: 3})
	require.NoError(t, err)
	batches := benchBatches(3000)
	total := 0
	for _, b := range batches {
		total += len(b)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for _, b := range batches {
			p.Observe(b)
		}
		close(done)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			p.Graph(time.Unix(0, 0), time.Now().Add(time.Hour))
			p.Totals()
			p.Expire()
		}
	}()
	for seq := uint64(0); ; seq++ {
		p.Seal()
		require.NoError(t, p.Prepare(seq))
		require.NoError(t, p.Commit(seq))
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	wg.Wait()
	p.Seal()
	require.NoError(t, p.Prepare(1000))
	require.NoError(t, p.Commit(1000))
	var calls uint64
	for _, o := range p.Operations(time.Unix(0, 0), time.Now().Add(time.Hour), Filter{}) {
		calls += o.Calls
	}
	require.Equal(t, uint64(total), calls)
	spans, _ := p.Totals()
	calls = 0
	for _, s := range spans {
		calls += s.Calls
	}
	require.Equal(t, uint64(total), calls)
	// And the files hold the same.
	p2, err := New(Config{Dir: p.cfg.Dir})
	require.NoError(t, err)
	require.NoError(t, p2.Recover(nil))
	calls = 0
	for _, o := range p2.Operations(time.Unix(0, 0), time.Now().Add(time.Hour), Filter{}) {
		calls += o.Calls
	}
	require.Equal(t, uint64(total), calls)
}

// A call whose server side was flushed in a part and whose client side is
// only in the WAL at a crash is still counted, once: the waiting server
// span is saved with the part and restored at recovery, and the client
// span is replayed.
func TestWaitingSpansSurviveCrash(t *testing.T) {
	dir := t.TempDir()
	ra := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "a"}}}
	rb := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "b"}}}
	now := time.Now().UnixNano()
	tid := model.TraceID{7}
	client := model.Span{TraceID: tid, SpanID: model.SpanID{1}, Name: "call b", Kind: model.KindClient, Start: now, End: now + 5e6, Resource: ra}
	server := model.Span{TraceID: tid, SpanID: model.SpanID{2}, ParentID: model.SpanID{1}, Name: "serve", Kind: model.KindServer,
		Start: now + 1e6, End: now + 4e6, StatusCode: model.StatusError, Resource: rb}

	p := newTestPipeline(t, dir)
	p.Observe([]model.Span{server}) // waits for its parent
	p.Seal()
	require.NoError(t, p.Prepare(0))
	require.NoError(t, p.Commit(0)) // the server span is now in part 0
	p.Observe([]model.Span{client}) // in the WAL only; then a crash
	require.Equal(t, map[EdgeKey][2]uint64{{"a", "b", ConnDirect}: {1, 1}}, edgeCounts(p))

	p2 := newTestPipeline(t, dir)
	require.NoError(t, p2.Recover(func(seq uint64) bool { return seq == 0 }))
	require.Equal(t, 2, p2.match.size) // as a child waiting for its parent, and as a leaf that may get remote children
	p2.Observe([]model.Span{client})   // the WAL replay
	p2.ExpireAll()
	require.Equal(t, map[EdgeKey][2]uint64{{"a", "b", ConnDirect}: {1, 1}}, edgeCounts(p2))
	require.Zero(t, p2.expired.Load())

	// A damaged wait file is skipped (logged), not fatal.
	require.NoError(t, os.WriteFile(filepath.Join(dir, waitName(0)), []byte("ARMW\x01garbage"), 0o644))
	p3 := newTestPipeline(t, dir)
	require.NoError(t, p3.Recover(func(seq uint64) bool { return seq == 0 }))
	require.Zero(t, p3.match.size)
}

func TestWaitEncodingRoundTrip(t *testing.T) {
	m := newMatcher(100)
	m.parents[refKey{model.TraceID{1}, model.SpanID{2}}] = &spanRef{trace: model.TraceID{1}, span: model.SpanID{2}, service: "a", peer: "db", start: 5, dur: 7, kind: model.KindClient, matched: true}
	m.children[refKey{model.TraceID{1}, model.SpanID{9}}] = []*spanRef{{trace: model.TraceID{1}, span: model.SpanID{3}, service: "b", start: -1, dur: 2, kind: model.KindServer, err: true}}
	m.size = 2
	es := m.snapshot()
	back, err := decodeWait(encodeWait(es))
	require.NoError(t, err)
	require.ElementsMatch(t, es, back)
	b := encodeWait(es)
	b[10] ^= 1
	_, err = decodeWait(b)
	require.Error(t, err)
}

// TestKeptExemplars: with tail sampling, counts come from every span and
// exemplars only from the spans of kept traces, so none points to a dropped
// trace; edges get no exemplars.
func TestKeptExemplars(t *testing.T) {
	spans := loadFixture(t, "trace-with-queue-database.json")
	p, err := New(Config{Retention: 100 * 365 * 24 * time.Hour, KeptExemplars: true})
	require.NoError(t, err)
	p.Observe(spans)
	all := time.Unix(0, 0)
	ops := p.Operations(all, time.Now(), Filter{})
	require.NotEmpty(t, ops)
	calls := map[string]uint64{}
	for _, op := range ops {
		require.Empty(t, op.Exemplars, "%s %s: exemplar before any trace was kept", op.Service, op.Name)
		calls[op.Service+" "+op.Name] = op.Calls
	}
	_, edges := p.Graph(all, time.Now())
	require.NotEmpty(t, edges)

	// The trace is kept: its spans become exemplars, counts do not change.
	p.ObserveKept(spans)
	ops = p.Operations(all, time.Now(), Filter{})
	withEx := 0
	for _, op := range ops {
		require.Equal(t, calls[op.Service+" "+op.Name], op.Calls, "%s %s", op.Service, op.Name)
		for _, e := range op.Exemplars {
			require.Equal(t, spans[0].TraceID, e.TraceID)
			withEx++
		}
	}
	require.Equal(t, len(spans), withEx, "one exemplar per kept span")
	_, edges = p.Graph(all, time.Now())
	for _, e := range edges {
		require.Empty(t, e.Exemplars)
	}

	// Without KeptExemplars, ObserveKept adds nothing.
	p2 := newTestPipeline(t, "")
	p2.ObserveKept(spans)
	require.Empty(t, p2.Operations(all, time.Now(), Filter{}))
}
