package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// largeTrace builds one trace of n spans over 8 services: a random tree
// (each span's parent is a random earlier span, or the one just before),
// children inside their parents' time (at least 1µs long), one error span in 1000, and one span named
// "needle-span". It returns the OTLP batches (at most per spans each), the
// trace ID and the needle's span ID.
func largeTrace(n, per int, seed uint64) (batches []ptrace.Traces, traceID, needle string) {
	r := rand.New(rand.NewPCG(seed, seed))
	var tid pcommon.TraceID
	for i := range tid {
		tid[i] = byte(r.IntN(256))
	}
	tid[0] = 0xab
	type sp struct {
		id         pcommon.SpanID
		parent     int
		start, end int64
	}
	base := time.Now().Add(-time.Minute).UnixNano()
	spans := make([]sp, n)
	for i := range spans {
		s := &spans[i]
		s.id = pcommon.SpanID{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 1, 2, 3, 4}
		if i == 0 {
			s.parent, s.start, s.end = -1, base, base+int64(20*time.Second)
			continue
		}
		s.parent = r.IntN(i) // a random recursive tree: depth about ln(n)
		if r.IntN(8) == 0 {
			s.parent = i - 1 // and some chains
		}
		p := spans[s.parent]
		d := p.end - p.start
		s.start = p.start + r.Int64N(d/2+1)
		s.end = s.start + max(int64(time.Microsecond), r.Int64N(p.end-s.start+1))
	}
	needleIdx := n - 1 - r.IntN(n/2)
	for from := 0; from < n; from += per {
		td := ptrace.NewTraces()
		svcSpans := map[int]ptrace.SpanSlice{}
		for i := from; i < min(from+per, n); i++ {
			svc := i % 8
			if i > 0 && r.IntN(4) > 0 {
				svc = spans[i].parent % 8 // mostly stay in the parent's service
			}
			ss, ok := svcSpans[svc]
			if !ok {
				rs := td.ResourceSpans().AppendEmpty()
				rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", svc))
				ss = rs.ScopeSpans().AppendEmpty().Spans()
				svcSpans[svc] = ss
			}
			s := spans[i]
			o := ss.AppendEmpty()
			o.SetTraceID(tid)
			o.SetSpanID(s.id)
			if s.parent >= 0 {
				o.SetParentSpanID(spans[s.parent].id)
			}
			o.SetName(fmt.Sprintf("op-%d", i%50))
			if i == needleIdx {
				o.SetName("needle-span")
				needle = s.id.String()
			}
			o.SetStartTimestamp(pcommon.Timestamp(s.start))
			o.SetEndTimestamp(pcommon.Timestamp(s.end))
			o.Attributes().PutInt("i", int64(i))
			if i%1000 == 999 {
				o.Status().SetCode(ptrace.StatusCodeError)
			}
		}
		batches = append(batches, td)
	}
	return batches, tid.String(), needle
}

func sendTraces(t *testing.T, srv *server, batches []ptrace.Traces) {
	t.Helper()
	m := &ptrace.ProtoMarshaler{}
	for _, td := range batches {
		body, err := m.MarshalTraces(td)
		require.NoError(t, err)
		code, resp := srv.postOTLP("application/x-protobuf", body)
		require.Equal(t, 200, code, "%s", resp)
	}
}

// TestUILargeTraces opens traces of 10,000 and 100,000 spans in the
// browser and checks that the waterfall is virtualised and stays usable:
// scroll to the end, collapse and expand all, find a span. Times are
// logged (see docs/benchmarks.md); the bounds are generous, they catch a
// UI that hangs, not a slow machine.
func TestUILargeTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 110,000 spans; skipped with -short")
	}
	browser := newBrowser(t)
	srv := startServer(t, "")
	for _, tc := range []struct {
		n     int
		bound time.Duration
	}{{10_000, 60 * time.Second}, {100_000, 120 * time.Second}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			b := browser.with(t)
			batches, id, needle := largeTrace(tc.n, 20_000, uint64(tc.n))
			sendTraces(t, srv, batches)
			rows := `document.querySelectorAll('[data-testid=span-row]')`

			// The API alone, for comparison with the page times.
			start := time.Now()
			resp, err := http.Get(srv.queryURL + "/api/v1/traces/" + id)
			require.NoError(t, err)
			size, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			t.Logf("%d spans: API trace read %v, %d MB of OTLP/JSON", tc.n, time.Since(start).Round(time.Millisecond), size>>20)

			start = time.Now()
			b.open(srv.queryURL + "/trace/" + id)
			b.waitFor(fmt.Sprintf(`window.__ariadneRendered?.spans === %d && %s.length > 0`, tc.n, rows), "trace rendered", tc.bound)
			wall := time.Since(start)
			inPage := eval[map[string]float64](b, `window.__ariadneRendered`)
			t.Logf("%d spans: page open to waterfall %v; data arrival to waterfall %.0fms (decode %.0fms, tree %.0fms)",
				tc.n, wall.Round(time.Millisecond), inPage["ms"], inPage["parseMs"], inPage["treeMs"])
			require.Equal(t, fmt.Sprint(tc.n), eval[string](b, `document.querySelector('[data-testid=span-count]').textContent`))
			require.Equal(t, fmt.Sprint(tc.n/1000), eval[string](b, `document.querySelector('[data-testid=error-count]').textContent`))
			inDOM := eval[int](b, rows+`.length`)
			require.Less(t, inDOM, 200, "rows are virtualised")

			// Scroll to the end: the last row is rendered at the bottom.
			op := time.Now()
			eval[int](b, `(() => { const w = document.querySelector('[data-testid=waterfall]'); w.scrollTop = w.scrollHeight; return 0 })()`)
			b.waitFor(fmt.Sprintf(`Math.max(...[...%s].map(r => +r.dataset.row)) === %d`, rows, tc.n-1), "last row rendered", 30*time.Second)
			t.Logf("%d spans: scroll to end %v", tc.n, time.Since(op).Round(time.Millisecond))

			op = time.Now()
			b.click(`[data-testid=collapse-all]`)
			b.waitFor(rows+`.length === 1`, "collapsed to the root", 30*time.Second)
			b.click(`[data-testid=expand-all]`)
			b.waitFor(fmt.Sprintf(`document.querySelector('[data-testid=waterfall] .wf-inner').dataset.rows === '%d'`, tc.n), "expanded", 30*time.Second)
			t.Logf("%d spans: collapse all + expand all %v", tc.n, time.Since(op).Round(time.Millisecond))

			op = time.Now()
			b.click(`[data-testid=view-stats]`)
			b.waitFor(fmt.Sprintf(`[...document.querySelectorAll('[data-testid=stats-table] tbody tr')].reduce((sum, r) => sum + +r.cells[2].textContent, 0) === %d`, tc.n), "statistics counting every span", 30*time.Second)
			b.click(`[data-testid=view-flame]`)
			b.waitFor(`document.querySelector('[data-testid=flame] canvas')?.height > 0`, "flame graph", 30*time.Second)
			b.click(`[data-testid=view-waterfall]`)
			b.waitFor(rows+`.length > 0`, "waterfall again", 30*time.Second)
			t.Logf("%d spans: statistics, flame graph and back %v", tc.n, time.Since(op).Round(time.Millisecond))

			op = time.Now()
			b.open(srv.queryURL + "/trace/" + id + "?uiFind=needle-span")
			b.waitFor(`document.querySelector('[data-testid=find-count]')?.textContent === '1 match'`, "one match", tc.bound)
			b.click(`[data-testid=find-next]`)
			b.waitFor(fmt.Sprintf(`!!document.querySelector('[data-testid=span-row].match.selected[data-span-id="%s"]')`, needle), "needle row scrolled into view and selected", 30*time.Second)
			b.waitFor(`document.querySelector('[data-testid=span-detail-name]')?.textContent === 'needle-span'`, "needle details", 30*time.Second)
			t.Logf("%d spans: open with uiFind and jump to the match %v", tc.n, time.Since(op).Round(time.Millisecond))
		})
	}
}
