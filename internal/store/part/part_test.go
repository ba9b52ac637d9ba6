package part

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

func writePart(t testing.TB, spans []model.Span, opts WriteOptions) (*Reader, *Meta) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.part")
	m, err := Write(path, spans, opts)
	require.NoError(t, err)
	r, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r, m
}

func requireSameSpans(t *testing.T, want, got []model.Span, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, len(want), len(got), msgAndArgs...)
	for i := range want {
		if !bytes.Equal(encodeSpan(&want[i]), encodeSpan(&got[i])) {
			require.Equal(t, want[i], got[i], msgAndArgs...) // shows the difference
			t.Fatalf("span %d: encodings differ %v", i, msgAndArgs)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		spans []model.Span
		opts  WriteOptions
	}{
		{"random", randomSpans(1, 300, 200), WriteOptions{GranuleSpans: 64}},
		{"random-one-granule", randomSpans(2, 50, 20), WriteOptions{}},
		{"random-tiny-granules", randomSpans(3, 40, 10), WriteOptions{GranuleSpans: 1}},
		{"random-byte-limit", randomSpans(4, 100, 30), WriteOptions{GranuleBytes: 2000}},
		{"realistic", realistic(5, 20000, 1_700_000_000e9, 600e9), WriteOptions{}},
		{"realistic-best", realistic(6, 3000, 1_700_000_000e9, 600e9), WriteOptions{GranuleSpans: 500, ZstdLevel: 4, TopValues: -1}},
		{"empty", nil, WriteOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, m := writePart(t, tc.spans, tc.opts)
			sorted := sortedCopy(tc.spans)
			traces := byTrace(sorted)
			require.Equal(t, int64(len(tc.spans)), m.SpanCount)
			require.Equal(t, int64(len(traces)), m.TraceCount)
			require.Equal(t, m, r.Meta())
			if len(sorted) > 0 {
				minS, maxS := sorted[0].Start, sorted[0].Start
				for _, s := range sorted {
					minS, maxS = min(minS, s.Start), max(maxS, s.Start)
				}
				require.Equal(t, minS, m.MinStart)
				require.Equal(t, maxS, m.MaxStart)
			}
			for id, want := range traces {
				require.True(t, r.MayContain(id))
				got, err := r.Trace(id)
				require.NoError(t, err)
				requireSameSpans(t, want, got, "trace %s", id)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			for i := 0; i < 2000; i++ {
				var id model.TraceID
				binary.LittleEndian.PutUint64(id[:], rng.Uint64())
				if _, ok := traces[id]; ok {
					continue
				}
				got, err := r.Trace(id)
				require.NoError(t, err)
				require.Nil(t, got)
			}
			// Iter returns everything in order.
			var all []model.Span
			it := r.Iter()
			for it.Next() {
				s := *it.Span()
				s.Attrs = slices.Clone(s.Attrs)
				all = append(all, s)
			}
			require.NoError(t, it.Err())
			requireSameSpans(t, sorted, all)
		})
	}
}

func TestGranulesDoNotSplitTraces(t *testing.T) {
	spans := realistic(7, 5000, 1e18, 60e9)
	r, _ := writePart(t, spans, WriteOptions{GranuleSpans: 100})
	seen := map[model.TraceID]int{}
	for gi := range r.ft.granules {
		gd := getGdec(r, gi)
		require.NoError(t, gd.readCols(colTrace, colTrace+1))
		require.NoError(t, gd.decodeRuns())
		require.LessOrEqual(t, gd.n, 100)
		for _, id := range gd.runIDs {
			seen[id]++
		}
		putGdec(gd)
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "trace %s in %d granules", id, n)
	}
}

func TestAddOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.part")
	w, err := Create(path, WriteOptions{})
	require.NoError(t, err)
	a := model.Span{TraceID: model.TraceID{2}, Start: 10}
	require.NoError(t, w.Add(&a))
	b := model.Span{TraceID: model.TraceID{2}, Start: 9}
	require.ErrorIs(t, w.Add(&b), ErrOutOfOrder)
	c := model.Span{TraceID: model.TraceID{1}, Start: 100}
	require.ErrorIs(t, w.Add(&c), ErrOutOfOrder)
	bad := model.Span{TraceID: model.TraceID{3}, Attrs: []model.Attr{{Key: "x", Type: 9}}}
	require.Error(t, w.Add(&bad))
	// Rejected after some attributes were encoded: nothing of it is kept.
	bad2 := model.Span{TraceID: model.TraceID{2}, Start: 10, Attrs: []model.Attr{str("k", "rejected"), str("new.key", "v"), {Key: "y", Type: 8}}}
	require.Error(t, w.Add(&bad2))
	d := model.Span{TraceID: model.TraceID{2}, Start: 10, SpanID: model.SpanID{1}}
	require.NoError(t, w.Add(&d))
	require.NoError(t, w.Add(&d)) // exact duplicate: dropped
	require.Equal(t, int64(1), w.Duplicates())
	big := model.Span{TraceID: model.TraceID{4}, Attrs: []model.Attr{str("big", strings.Repeat("x", maxSpanBytes))}}
	require.ErrorContains(t, w.Add(&big), "more than")
	// The trace before the rejected spans goes on.
	d.Attrs = []model.Attr{str("k", "kept")}
	require.NoError(t, w.Add(&d))
	m, err := w.Finish()
	require.NoError(t, err)
	require.Equal(t, int64(3), m.SpanCount)
	require.Equal(t, int64(1), m.TraceCount)
	require.Equal(t, []KeyValues{{Key: "k", Values: []ValueCount{{"kept", 1}}}}, m.TopValues)
	r, err := Open(path)
	require.NoError(t, err)
	got, err := r.Trace(model.TraceID{2})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Len(t, got, 3)
	require.Equal(t, []model.Attr{str("k", "kept")}, got[2].Attrs)
	_, err = os.Stat(path + ".tmp")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, w.Add(&d), ErrWriterClosed)

	w, err = Create(path+"2", WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Add(&a))
	w.Abort()
	w.Abort()
	_, err = os.Stat(path + "2.tmp")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(path + "2")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// bruteForce returns the spans of sorted that satisfy f's span conditions.
func bruteForce(sorted []model.Span, f *Filter) []model.Span {
	var out []model.Span
	for _, s := range sorted {
		d := s.End - s.Start
		if f.MinStart != 0 && s.Start < f.MinStart || f.MaxStart != 0 && s.Start > f.MaxStart ||
			f.MinDuration != 0 && d < f.MinDuration || f.MaxDuration != 0 && d > f.MaxDuration {
			continue
		}
		if len(f.Services) > 0 && !slices.Contains(f.Services, s.Service()) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// hasTokens reports whether the span (with its resource, scope, events and
// links) has every token.
func hasTokens(s *model.Span, tokens []string) bool {
	have := map[string]bool{}
	add := func(attrs []model.Attr) {
		for i := range attrs {
			have[KeyToken(attrs[i].Key)] = true
			if tok, ok := AttrToken(&attrs[i]); ok {
				have[tok] = true
			}
		}
	}
	add(s.Attrs)
	for _, e := range s.Events {
		add(e.Attrs)
	}
	for _, l := range s.Links {
		add(l.Attrs)
	}
	if s.Resource != nil {
		add(s.Resource.Attrs)
	}
	if s.Scope != nil {
		add(s.Scope.Attrs)
	}
	for _, t := range tokens {
		if !have[t] {
			return false
		}
	}
	return true
}

func scanAll(t *testing.T, r *Reader, f *Filter) []model.Span {
	t.Helper()
	var got []model.Span
	err := r.Scan(context.Background(), f, func(s *model.Span) bool {
		require.Nil(t, s.Attrs)
		require.Nil(t, s.Events)
		return true
	}, func(s *model.Span) bool {
		c := *s
		c.Attrs = slices.Clone(s.Attrs)
		got = append(got, c)
		return true
	})
	require.NoError(t, err)
	return got
}

func TestScan(t *testing.T) {
	spans := realistic(11, 15000, 1_700_000_000e9, 600e9)
	spans = append(spans, randomSpans(12, 50, 10)...)
	r, m := writePart(t, spans, WriteOptions{GranuleSpans: 512})
	sorted := sortedCopy(spans)
	mid := (m.MinStart + m.MaxStart) / 2
	filters := []Filter{
		{},
		{MinStart: mid},
		{MaxStart: mid},
		{MinStart: mid, MaxStart: mid + 10e9},
		{MinStart: m.MaxStart + 1},
		{MaxStart: m.MinStart - 1},
		{MinDuration: 5e6},
		{MaxDuration: 1e5},
		{MinDuration: 1e6, MaxDuration: 2e6},
		{Services: []string{"payment"}},
		{Services: []string{"db", "email"}},
		{Services: []string{"nope"}},
		{Services: []string{""}},
		{Services: []string{"svc-1"}, MinDuration: 1},
		{Services: []string{"checkout"}, MinStart: mid, MinDuration: 1e6},
		{Services: []string{"payment"}, MinDuration: 20e6},
		{Services: []string{"frontend", "db"}, MinDuration: 100e6},
		{Services: []string{"cart"}, MinDuration: 5e6, MaxDuration: 6e6},
		{Complete: true},
		{Services: []string{"payment"}, MinDuration: 20e6, Complete: true},
	}
	// Each filter on the parallel path (GOMAXPROCS > 1: granules decoded on
	// several goroutines) and on the sequential one, in the same order.
	for _, procs := range []int{4, 1} {
		prev := runtime.GOMAXPROCS(procs)
		for _, f := range filters {
			want := bruteForce(sorted, &f)
			got := scanAll(t, r, &f)
			requireSameSpans(t, want, got, "GOMAXPROCS %d, filter %+v", procs, f)
			require.True(t, slices.IsSortedFunc(got, func(a, b model.Span) int { return bytes.Compare(a.TraceID[:], b.TraceID[:]) }),
				"GOMAXPROCS %d: spans not in stored (trace ID) order", procs)
		}
		runtime.GOMAXPROCS(prev)
	}

	// Tokens prune granules but never drop a span that has them.
	tokenSets := [][]string{
		{"http.status_code=500"},
		{"db.system=postgresql", "db.operation=INSERT"},
		{"user.id=user-123"},
		{"app.payment.card_type"},
		{"exception.type=*errors.errorString"},
		{"k8s.namespace.name=shop", "service.name=email"},
		{"cache.hit=true"},
		{"link.reason=retry"},
		{"no.such.key"},
		{"http.method=PATCH"},
	}
	for _, toks := range tokenSets {
		f := &Filter{Tokens: toks}
		got := scanAll(t, r, f)
		gotSet := map[string]bool{}
		for i := range got {
			gotSet[string(encodeSpan(&got[i]))] = true
		}
		n := 0
		for i := range sorted {
			if hasTokens(&sorted[i], toks) {
				n++
				require.True(t, gotSet[string(encodeSpan(&sorted[i]))], "tokens %v: span dropped", toks)
			}
		}
		if n == 0 {
			require.Less(t, len(got), len(sorted)/10, "tokens %v: no pruning", toks)
		}
		t.Logf("tokens %v: %d matching spans, %d visited of %d", toks, n, len(got), len(sorted))
	}

	// pre selects; fn stops; ctx cancels.
	calls := 0
	err := r.Scan(context.Background(), nil, func(s *model.Span) bool { return s.Kind == model.KindServer }, func(s *model.Span) bool {
		require.Equal(t, model.KindServer, s.Kind)
		calls++
		return calls < 10
	})
	require.NoError(t, err)
	require.Equal(t, 10, calls)
	// Stopping early on the parallel path returns the same first spans as
	// the sequential one.
	firstN := func(procs, n int) []model.SpanID {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var ids []model.SpanID
		require.NoError(t, r.Scan(context.Background(), nil, nil, func(s *model.Span) bool {
			ids = append(ids, s.SpanID)
			return len(ids) < n
		}))
		return ids
	}
	for _, n := range []int{1, 700, 5000} {
		require.Equal(t, firstN(1, n), firstN(4, n), "first %d spans", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, r.Scan(ctx, nil, nil, func(*model.Span) bool { return true }), context.Canceled)
}

func TestConcurrentReads(t *testing.T) {
	spans := realistic(13, 10000, 1e18, 60e9)
	r, _ := writePart(t, spans, WriteOptions{GranuleSpans: 256})
	traces := byTrace(sortedCopy(spans))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id, want := range traces {
				got, err := r.Trace(id)
				if err != nil || len(got) != len(want) {
					t.Errorf("trace %s: %d spans, %v", id, len(got), err)
					return
				}
			}
			n := 0
			if err := r.Scan(context.Background(), &Filter{Services: []string{"cart"}}, nil, func(*model.Span) bool { n++; return true }); err != nil || n == 0 {
				t.Errorf("scan: %d, %v", n, err)
			}
		}()
	}
	wg.Wait()
}

func TestMerge(t *testing.T) {
	spans := append(realistic(21, 6000, 1e18, 60e9), randomSpans(22, 100, 300)...)
	rng := rand.New(rand.NewPCG(3, 3))
	dir := t.TempDir()
	// Spread spans over 4 parts at random (traces cross parts); resend 10%
	// of the spans into another part as exact duplicates.
	parts := make([][]model.Span, 4)
	dups := 0
	for _, s := range spans {
		i := rng.IntN(len(parts))
		parts[i] = append(parts[i], s)
		if rng.IntN(10) == 0 {
			parts[(i+1)%len(parts)] = append(parts[(i+1)%len(parts)], s)
			dups++
		}
	}
	var readers []*Reader
	for i, p := range parts {
		path := filepath.Join(dir, string(rune('a'+i))+".part")
		_, err := Write(path, p, WriteOptions{GranuleSpans: 300})
		require.NoError(t, err)
		r, err := Open(path)
		require.NoError(t, err)
		defer r.Close()
		readers = append(readers, r)
	}
	out := filepath.Join(dir, "merged.part")
	m, err := Merge(out, readers, WriteOptions{GranuleSpans: 500, WALSegment: 42, Replaces: []uint64{1, 2, 3, 4}})
	require.NoError(t, err)
	require.Equal(t, int64(len(spans)), m.SpanCount)
	r, err := Open(out)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, 42, r.Meta().WALSegment)
	require.Equal(t, []uint64{1, 2, 3, 4}, r.Meta().Replaces)
	traces := byTrace(sortedCopy(spans))
	require.Equal(t, int64(len(traces)), m.TraceCount)
	for id, want := range traces {
		got, err := r.Trace(id)
		require.NoError(t, err)
		// Spans with equal start may come back in another order than the
		// input: compare as sets per trace.
		require.ElementsMatch(t, encodeAll(want), encodeAll(got), "trace %s", id)
	}
	// Merging a part with itself drops every span of the copy.
	out2 := filepath.Join(dir, "self.part")
	m2, err := Merge(out2, []*Reader{r, r}, WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, m.SpanCount, m2.SpanCount)

	// A cancelled merge fails with the context's error and leaves nothing
	// behind in the directory.
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = MergeContext(ctx, filepath.Join(dir, "cancelled.part"), readers, WriteOptions{})
	require.ErrorIs(t, err, context.Canceled)
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Equal(t, len(before), len(after), "files left by a cancelled merge")
}

// mergeDecoded is Merge as Add would do it: decode every span with Iter
// and add it, k-way by (trace ID, start, input).
func mergeDecoded(path string, inputs []*Reader, opts WriteOptions) (*Meta, error) {
	w, err := Create(path, opts)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	its := make([]*Iter, len(inputs))
	ok := make([]bool, len(inputs))
	for i, r := range inputs {
		its[i] = r.Iter()
		ok[i] = its[i].Next()
		defer its[i].Close()
	}
	for {
		best := -1
		for i, it := range its {
			if ok[i] && (best < 0 || Compare(it.Span(), its[best].Span()) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		if err := w.Add(its[best].Span()); err != nil {
			return nil, err
		}
		ok[best] = its[best].Next()
	}
	for _, it := range its {
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	return w.Finish()
}

// TestMergeMatchesAdd checks that Merge, which copies spans without
// decoding them, writes exactly what adding the decoded spans writes.
func TestMergeMatchesAdd(t *testing.T) {
	spans := append(realistic(23, 8000, 1e18, 60e9), randomSpans(24, 150, 400)...)
	// Long values on keys seen only with them, keys too long for the key
	// dictionary (stored inline), values too long for top values.
	long := strings.Repeat("v", 200)
	for i := range spans[:300] {
		s := &spans[i*7]
		s.Attrs = append(slices.Clone(s.Attrs),
			str(fmt.Sprintf("long.%d", i%5), long), str(strings.Repeat("k", 300), fmt.Sprint(i%3)),
			num(strings.Repeat("n", 300), int64(i%2)), str("short", long[:i%150]))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	dir := t.TempDir()
	parts := make([][]model.Span, 3)
	for _, s := range spans {
		i := rng.IntN(len(parts))
		parts[i] = append(parts[i], s)
		if rng.IntN(20) == 0 {
			parts[(i+1)%len(parts)] = append(parts[(i+1)%len(parts)], s)
		}
	}
	var readers []*Reader
	for i, p := range parts {
		path := filepath.Join(dir, string(rune('a'+i))+".part")
		_, err := Write(path, p, WriteOptions{GranuleSpans: 200 + 100*i, GranuleBytes: 1 << (17 + i)})
		require.NoError(t, err)
		r, err := Open(path)
		require.NoError(t, err)
		defer r.Close()
		readers = append(readers, r)
	}
	readers = append(readers, readers[0]) // a part with itself: all duplicates
	for _, opts := range []WriteOptions{{}, {GranuleSpans: 100, TopValues: 2}, {GranuleBytes: 30000}} {
		a, b := filepath.Join(dir, "raw.part"), filepath.Join(dir, "decoded.part")
		ma, err := Merge(a, readers, opts)
		require.NoError(t, err)
		mb, err := mergeDecoded(b, readers, opts)
		require.NoError(t, err)
		require.Equal(t, mb, ma)
		ba, err := os.ReadFile(a)
		require.NoError(t, err)
		bb, err := os.ReadFile(b)
		require.NoError(t, err)
		require.True(t, bytes.Equal(ba, bb), "merged parts differ (%d and %d bytes)", len(ba), len(bb))
	}
	// A version 1 input merges too.
	v1, err := Open(goldenV1Path)
	require.NoError(t, err)
	defer v1.Close()
	out := filepath.Join(dir, "v1.part")
	m, err := Merge(out, []*Reader{v1, readers[1]}, WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, Version, m.Version)
	mb, err := mergeDecoded(filepath.Join(dir, "v1-decoded.part"), []*Reader{v1, readers[1]}, WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, mb, m)
}

func encodeAll(spans []model.Span) []string {
	out := make([]string, len(spans))
	for i := range spans {
		out[i] = string(encodeSpan(&spans[i]))
	}
	return out
}

func TestMetaCatalog(t *testing.T) {
	spans := realistic(31, 5000, 1e18, 60e9)
	_, m := writePart(t, spans, WriteOptions{})
	require.Equal(t, []string{"cart", "checkout", "currency", "db", "email", "frontend", "payment", "product-catalog", "recommendation", "shipping"}, m.Services)
	require.Contains(t, m.Operations, Operation{Service: "db", Name: "postgres.query", Kind: model.KindServer})
	require.Contains(t, m.Operations, Operation{Service: "frontend", Name: "GET /api/cart", Kind: model.KindServer})
	counts := map[string]map[string]int64{}
	for _, s := range spans {
		for _, attrs := range [][]model.Attr{s.Attrs, s.Resource.Attrs} {
			for _, a := range attrs {
				if a.Type == model.TypeStr && len(a.Str) <= maxTopValueLen {
					if counts[a.Key] == nil {
						counts[a.Key] = map[string]int64{}
					}
					counts[a.Key][a.Str]++
				}
			}
		}
	}
	var keys []string
	for _, kv := range m.TopValues {
		keys = append(keys, kv.Key)
		require.LessOrEqual(t, len(kv.Values), DefaultTopValues)
		if len(counts[kv.Key]) <= 4*DefaultTopValues { // few values: exact
			for _, v := range kv.Values {
				require.Equal(t, counts[kv.Key][v.Value], v.Count, "%s=%s", kv.Key, v.Value)
			}
		}
	}
	require.True(t, slices.IsSorted(keys))
	require.Contains(t, keys, "http.method")
	require.Contains(t, keys, "k8s.pod.name")
	for _, kv := range m.TopValues {
		if kv.Key == "service.name" {
			require.Len(t, kv.Values, 10)
		}
	}
}

// exercise runs every read path and returns the first error.
func exercise(r *Reader, ids []model.TraceID) error {
	for _, id := range ids {
		if _, err := r.Trace(id); err != nil {
			return err
		}
	}
	n := 0
	if err := r.Scan(context.Background(), &Filter{Tokens: []string{"k"}}, nil, func(*model.Span) bool { n++; return true }); err != nil {
		return err
	}
	if err := r.Scan(context.Background(), &Filter{Services: []string{"svc-1"}, MinDuration: 1}, nil, func(*model.Span) bool { n++; return true }); err != nil {
		return err
	}
	for i := range r.Sections() {
		r.SectionBounds(i)
		f := &Filter{Services: []string{"frontend"}, MinDuration: 5000, Complete: true}
		if err := r.ScanSection(context.Background(), i, f, nil, func(*model.Span) bool { n++; return true }); err != nil {
			return err
		}
	}
	it := r.Iter()
	for it.Next() {
		n++
	}
	return it.Err()
}

func TestCorrupt(t *testing.T) {
	spans := randomSpans(41, 20, 20)
	dir := t.TempDir()
	path := filepath.Join(dir, "good.part")
	_, err := Write(path, spans, WriteOptions{GranuleSpans: 16})
	require.NoError(t, err)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	var ids []model.TraceID
	for id := range byTrace(sortedCopy(spans)) {
		ids = append(ids, id)
	}
	r, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, exercise(r, ids))
	r.Close()

	bad := filepath.Join(dir, "bad.part")
	check := func(b []byte, what string) {
		require.NoError(t, os.WriteFile(bad, b, 0o644))
		r, err := Open(bad)
		if err == nil {
			err = exercise(r, ids)
			r.Close()
		}
		require.Error(t, err, what)
		var ce *CorruptError
		if errors.As(err, &ce) {
			require.ErrorIs(t, err, ErrCorrupt)
		}
	}
	// Truncations.
	for n := 0; n < len(good); n += 1 + n/50 {
		check(good[:n], "truncated")
	}
	// A flipped byte anywhere is detected: the header and trailer by their
	// magic, the footer by its CRC, every block by its CRC in the footer.
	// Every byte of the footer and trailer is tried, a sample of the rest.
	footerStart := len(good) - trailerSize - int(binary.LittleEndian.Uint32(good[len(good)-trailerSize:]))
	stride := max(1, footerStart/600)
	for i := 0; i < len(good); i++ {
		if i < footerStart && i%stride != 0 && i >= headerSize {
			continue
		}
		b := slices.Clone(good)
		b[i] ^= 0x40
		check(b, "flipped byte")
	}
	// Without CRC checks the decoders themselves must reject (or survive)
	// flipped bytes without panicking.
	for i := headerSize; i < len(good)-trailerSize; i += stride {
		b := slices.Clone(good)
		b[i] ^= 0xff
		require.NoError(t, os.WriteFile(bad, b, 0o644))
		r, err := open(bad, false)
		if err == nil {
			_ = exercise(r, ids)
			r.Close()
		}
	}
}

func TestClosed(t *testing.T) {
	r, _ := writePart(t, randomSpans(51, 5, 3), WriteOptions{})
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err := r.Trace(model.TraceID{})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, r.Scan(context.Background(), nil, nil, nil), ErrClosed)
	it := r.Iter()
	require.False(t, it.Next())
	require.ErrorIs(t, it.Err(), ErrClosed)
}

// TestSpanSizeBound checks that spanSize, which Add checks before it
// commits the previous trace, bounds what keepSpan measures afterwards, so
// that Add never rejects a span after that commit.
func TestSpanSizeBound(t *testing.T) {
	spans := append(randomSpans(61, 200, 50), realistic(62, 2000, 1e18, 60e9)...)
	// Spans made of one kind of field each, with the most bytes per field.
	last := model.TraceID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	stress := make([]model.Span, 4)
	for i := 0; i < 1000; i++ {
		stress[0].Events = append(stress[0].Events, model.Event{Time: -1 << 62, DroppedAttrs: 1 << 31})
		stress[1].Links = append(stress[1].Links, model.Link{Flags: 1 << 31, DroppedAttrs: 1 << 31})
		stress[2].Attrs = append(stress[2].Attrs, model.Attr{Key: fmt.Sprint(i), Type: model.TypeInt, Num: 1 << 63})
		stress[3].Attrs = append(stress[3].Attrs, model.Attr{Key: strings.Repeat("k", 257+i%2), Type: model.TypeStr, Str: fmt.Sprint(i)})
	}
	spans = sortedCopy(spans)
	for i := range stress {
		stress[i].TraceID, stress[i].Start = last, math.MaxInt64
		stress[i].Name = strings.Repeat("n", 300)
		stress[i].TraceState, stress[i].StatusMessage = "x", "y"
		stress[i].DroppedAttrs, stress[i].DroppedEvents, stress[i].DroppedLinks = 1<<32-1, 1<<32-1, 1<<32-1
		stress[i].SpanID = model.SpanID{byte(i)}
		spans = append(spans, stress[i])
	}
	w, err := Create(filepath.Join(t.TempDir(), "p.part"), WriteOptions{GranuleSpans: 100})
	require.NoError(t, err)
	defer w.Abort()
	for i := range spans {
		s := &spans[i]
		bound, err := spanSize(s)
		require.NoError(t, err)
		dups := w.Duplicates()
		require.NoError(t, w.Add(s))
		if w.Duplicates() != dups {
			continue
		}
		p := &w.pend
		ws := &p.spans[len(p.spans)-1]
		size := len(ws.name) + len(w.values.data) - w.spanValBytes
		for c := range p.heavy {
			size += len(p.heavy[c]) - int(ws.heavy[c])
		}
		require.LessOrEqual(t, size, bound, "span %d", i)
	}
}

// checkSections checks the sections of r against the spans written to it:
// each section is sorted by trace ID and bounded by its spans' starts,
// ScanSection over every section visits each span exactly once, Scan sees
// the same, and every trace lookup returns the whole trace in start order.
// It returns the spans of each section.
func checkSections(t *testing.T, r *Reader, spans []model.Span) [][]model.Span {
	t.Helper()
	ctx := context.Background()
	var bySec [][]model.Span
	var all []string
	for i := range r.Sections() {
		var got []model.Span
		err := r.ScanSection(ctx, i, nil, nil, func(s *model.Span) bool {
			c := *s
			c.Attrs, c.Events, c.Links = slices.Clone(s.Attrs), slices.Clone(s.Events), slices.Clone(s.Links)
			got = append(got, c)
			return true
		})
		require.NoError(t, err)
		require.NotEmpty(t, got, "section %d", i)
		lo, hi := r.SectionBounds(i)
		minS, maxS := got[0].Start, got[0].Start
		for j := range got {
			minS, maxS = min(minS, got[j].Start), max(maxS, got[j].Start)
			if j > 0 {
				require.LessOrEqual(t, Compare(&got[j-1], &got[j]), 0, "section %d not sorted at span %d", i, j)
			}
		}
		require.Equal(t, [2]int64{minS, maxS}, [2]int64{lo, hi}, "bounds of section %d", i)
		bySec = append(bySec, got)
		all = append(all, encodeAll(got)...)
	}
	require.ElementsMatch(t, encodeAll(spans), all)
	require.ElementsMatch(t, all, encodeAll(scanAll(t, r, nil)))
	for id, want := range byTrace(sortedCopy(spans)) {
		got, err := r.Trace(id)
		require.NoError(t, err)
		require.ElementsMatch(t, encodeAll(want), encodeAll(got), "trace %s", id)
		require.True(t, slices.IsSortedFunc(got, func(a, b model.Span) int { return cmp.Compare(a.Start, b.Start) }), "trace %s not in start order", id)
		cheap, err := r.TraceCheap(id)
		require.NoError(t, err)
		require.Len(t, cheap, len(want))
	}
	return bySec
}

// traceStarts returns the earliest start of each trace in spans.
func traceStarts(spans []model.Span) map[model.TraceID]int64 {
	out := map[model.TraceID]int64{}
	for _, s := range spans {
		if v, ok := out[s.TraceID]; !ok || s.Start < v {
			out[s.TraceID] = s.Start
		}
	}
	return out
}

// Write cuts spans into sections of about SectionSpans by the start of
// their traces, each trace whole in one section, earlier traces first; a
// merge combines neighbouring sections up to SectionSpans, in time order,
// and a trace written to parts minutes apart comes back whole.
func TestSections(t *testing.T) {
	const minute = int64(60e9)
	base := int64(1.7e18)
	var inputs []*Reader
	var all []model.Span
	inputSecs := 0
	// A long trace with spans in the first and the last part.
	long := realistic(40, 1, base, 1)
	for i := range 4 {
		spans := realistic(uint64(30+i), 3000, base+int64(i)*minute, minute)
		if i == 0 || i == 3 {
			for _, s := range long {
				s.Start += int64(i) * minute
				s.End += int64(i) * minute
				spans = append(spans, s)
			}
		}
		r, m := writePart(t, spans, WriteOptions{GranuleSpans: 128, SectionSpans: 1000})
		require.Equal(t, (len(spans)+999)/1000, m.Sections)
		bySec := checkSections(t, r, spans)
		// Traces are whole in one section, and sections are in order of
		// their traces' starts.
		prevMax := int64(math.MinInt64)
		seen := map[model.TraceID]int{}
		for si, sec := range bySec {
			starts := traceStarts(sec)
			lo := int64(math.MaxInt64)
			for id, st := range starts {
				require.NotContains(t, seen, id, "trace %s in sections %d and %d", id, seen[id], si)
				seen[id] = si
				lo = min(lo, st)
			}
			require.GreaterOrEqual(t, lo, prevMax, "section %d starts before a trace of the previous one", si)
			for _, st := range starts {
				prevMax = max(prevMax, st)
			}
		}
		inputs = append(inputs, r)
		all = append(all, spans...)
		inputSecs += m.Sections
	}

	path := filepath.Join(t.TempDir(), "merged.part")
	const target = 2500
	m, err := Merge(path, inputs, WriteOptions{GranuleSpans: 128, SectionSpans: target})
	require.NoError(t, err)
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, int64(len(all)), m.SpanCount)
	require.Less(t, m.Sections, inputSecs, "no input sections were combined")
	require.Greater(t, m.Sections, len(all)/target-1)
	bySec := checkSections(t, r, all)
	prevMax := int64(math.MinInt64)
	for si, sec := range bySec {
		require.LessOrEqual(t, len(sec), target, "section %d", si)
		_, hi := r.SectionBounds(si)
		require.GreaterOrEqual(t, hi, prevMax, "section %d is older than the one before", si)
		prevMax = hi
	}
	// The long trace is in two sections, and its lookup returns both halves.
	got, err := r.Trace(long[0].TraceID)
	require.NoError(t, err)
	require.Len(t, got, 2*len(long))
}

// durCode bounds a duration from above within 25%, for every int64.
func TestDurCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	ds := []int64{math.MinInt64, -1, 0, 1, 4, 5, 7, 8, 9, 15, 16, 17, 1000, 50e6, math.MaxInt64 - 1, math.MaxInt64}
	for range 100000 {
		ds = append(ds, rng.Int64N(1<<uint(rng.IntN(63))+1))
	}
	for _, d := range ds {
		b := durBound(durCode(d))
		require.GreaterOrEqual(t, b, d, "d=%d code=%d", d, durCode(d))
		if d > 4 && d < math.MaxInt64/2 {
			require.LessOrEqual(t, float64(b), 1.25*float64(d)+1, "d=%d code=%d", d, durCode(d))
		}
	}
}

// The footer's per-service maximum duration of each granule bounds the
// durations of that service's spans there, tightly (within durCode's 25%),
// so a search for a service and a minimum duration skips granules.
func TestServiceMaxDuration(t *testing.T) {
	spans := realistic(13, 20000, 1_700_000_000e9, 600e9)
	r, m := writePart(t, spans, WriteOptions{GranuleSpans: 256})
	skipped := 0
	for gi := range r.ft.granules {
		g := &r.ft.granules[gi]
		gd := getGdec(r, gi)
		require.NoError(t, gd.readCols(0, firstHeavy))
		require.NoError(t, gd.decodeRuns())
		require.NoError(t, gd.decodeCheap(gd.n))
		truth := map[uint32]int64{}
		for i := 0; i < gd.n; i++ {
			s := gd.dict.resSvc[gd.res[i]]
			if d, ok := truth[s]; !ok || gd.end[i]-gd.start[i] > d {
				truth[s] = gd.end[i] - gd.start[i]
			}
		}
		putGdec(gd)
		require.Len(t, g.svcMaxDur, len(g.services))
		require.Len(t, truth, len(g.services))
		for j, s := range g.services {
			require.GreaterOrEqual(t, g.svcMaxDur[j], truth[s], "granule %d, service %s", gi, r.ft.services[s])
			require.LessOrEqual(t, float64(g.svcMaxDur[j]), 1.25*float64(truth[s])+4, "granule %d, service %s", gi, r.ft.services[s])
			wanted := make([]bool, len(r.ft.services))
			wanted[s] = true
			if !anyService(g, wanted, 50e6) {
				skipped++
			}
		}
	}
	t.Logf("%d of %d (granule, service) pairs skipped at 50ms", skipped, len(m.Services)*m.Granules)
	require.Positive(t, skipped)
}

// A part of a newer format version is reported as such, not as corrupt; a
// header version that the trailer does not repeat is corruption.
func TestNewerVersion(t *testing.T) {
	b, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "p.part")
	for _, c := range []struct {
		header, trailer byte
		newer           bool
	}{{Version + 1, Version + 1, true}, {Version + 1, Version, false}, {0, 0, false}} {
		b[7], b[len(b)-1] = c.header, c.trailer
		require.NoError(t, os.WriteFile(path, b, 0o644))
		_, err := Open(path)
		require.Error(t, err)
		require.Equal(t, c.newer, errors.Is(err, ErrNewerVersion), "%v: %v", c, err)
		require.Equal(t, !c.newer, errors.Is(err, ErrCorrupt), "%v: %v", c, err)
	}
}

// Uncompressed stores every column block raw; the part reads the same.
func TestUncompressed(t *testing.T) {
	spans := realistic(17, 5000, 1_700_000_000e9, 60e9)
	raw, mr := writePart(t, spans, WriteOptions{GranuleSpans: 512, Uncompressed: true})
	zr, mz := writePart(t, spans, WriteOptions{GranuleSpans: 512})
	for _, g := range raw.ft.granules {
		for c := range g.cols {
			require.Equal(t, byte(codecRaw), g.cols[c].codec)
		}
	}
	require.Greater(t, mr.Size, 2*mz.Size)
	requireSameSpans(t, scanAll(t, zr, nil), scanAll(t, raw, nil))
	for id, want := range byTrace(sortedCopy(spans)) {
		got, err := raw.Trace(id)
		require.NoError(t, err)
		require.ElementsMatch(t, encodeAll(want), encodeAll(got))
	}
}

// WriteBatches writes the same file as Write of the batches' concatenation:
// same order (input order breaks ties, across batches too), same sections.
func TestWriteBatchesMatchesWrite(t *testing.T) {
	spans := realistic(23, 4000, 1_700_000_000e9, 60e9)
	// Spans equal in trace ID and start, in different batches: only their
	// input order tells them apart.
	for i := range 50 {
		twin := spans[i*7]
		twin.SpanID[0] ^= 0xff
		twin.Name = "twin"
		spans = append(spans, twin)
	}
	opts := WriteOptions{GranuleSpans: 256, SectionSpans: 1500}
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.part")
	m, err := Write(whole, spans, opts)
	require.NoError(t, err)
	require.Greater(t, m.Sections, 2)
	var batches [][]model.Span
	for rest := spans; len(rest) > 0; {
		n := min(len(rest), 1+len(batches)*97%613)
		batches = append(batches, rest[:n])
		rest = rest[n:]
	}
	batches = append(batches, nil) // empty batches are allowed
	require.Greater(t, len(batches), 10)
	split := filepath.Join(dir, "split.part")
	_, err = WriteBatches(split, batches, opts)
	require.NoError(t, err)
	a, err := os.ReadFile(whole)
	require.NoError(t, err)
	b, err := os.ReadFile(split)
	require.NoError(t, err)
	require.True(t, bytes.Equal(a, b), "WriteBatches wrote a different file than Write")
}
