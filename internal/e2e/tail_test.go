package e2e

import (
	"encoding/binary"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type tailStats struct {
	Enabled       bool  `json:"enabled"`
	HeldTraces    int64 `json:"heldTraces"`
	TracesKept    int64 `json:"tracesKept"`
	TracesDropped int64 `json:"tracesDropped"`
	Policies      []struct {
		Name      string `json:"name"`
		Kept      int64  `json:"kept"`
		Evaluated int64  `json:"evaluated"`
	} `json:"policies"`
}

// heldTrace builds spans of a trace whose root never arrives (its parent
// is elsewhere), one of them failed: tail sampling holds it until max_wait.
func heldTrace(n int) (ptrace.Traces, string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "held")
	ss := rs.ScopeSpans().AppendEmpty()
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], 0xfeed0000+uint64(n))
	binary.BigEndian.PutUint64(id[8:], uint64(n)*0x9e3779b97f4a7c15)
	now := time.Now()
	for i := range 4 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(id)
		sp.SetSpanID(pcommon.SpanID{byte(n), byte(i + 1), 1, 1, 1, 1, 1, 1})
		sp.SetParentSpanID(pcommon.SpanID{0xee, 1, 1, 1, 1, 1, 1, 1})
		sp.SetName("work")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		if i == 2 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td, id.String()
}

// spanAttr returns a span attribute of the first span in td that has it.
func spanAttr(td ptrace.Traces, key string) (pcommon.Value, string, bool) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if v, ok := sp.Attributes().Get(key); ok {
					return v, sp.TraceState().AsRaw(), true
				}
			}
		}
	}
	return pcommon.Value{}, "", false
}

// TestTailSampling runs the binary with tail sampling (keep errors, 10% of
// the rest), sends the shop's traffic with the OpenTelemetry SDK, and
// checks: the metrics are exact (derived from every span); every failed
// trace is kept and says why; the others are kept at about 10% with
// adjusted count 10; traces held across a kill -9 are decided after the
// restart with all their spans.
func TestTailSampling(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, writeFile(cfg, `storage:
  head_max_age: 300ms
sampling:
  tail:
    enabled: true
    idle: 300ms
    max_wait: 8s
    policies:
      - name: errors
        type: error
      - name: baseline
        type: probabilistic
        probability: 0.1
`))
	srv := startServer(t, "", "--config", cfg)
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Minute)
	const n = 400
	sendShop(t, srv, n, base)

	var st tailStats
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.Equal(t, 200, srv.getJSON("/api/v1/sampling/tail", &st))
		if st.TracesKept+st.TracesDropped == n && st.HeldTraces == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "traces not all decided: %+v", st)
		time.Sleep(100 * time.Millisecond)
	}
	require.True(t, st.Enabled)
	require.Equal(t, "errors", st.Policies[0].Name)
	require.EqualValues(t, n/10, st.Policies[0].Kept, "every tenth payment fails")
	// 10% of the 360 others: 36 expected; 15..65 is over 4 standard deviations.
	require.InDelta(t, 36, st.Policies[1].Kept, 25)

	// Exact RED metrics although most traces were dropped.
	win := srv.window(base)
	var svcs struct {
		Services []struct {
			Service string
			Calls   uint64
			Errors  uint64
		}
	}
	require.Equal(t, 200, srv.getJSON("/api/v1/metrics/services?"+win, &svcs))
	got := map[string]string{}
	for _, s := range svcs.Services {
		got[s.Service] = fmt.Sprintf("%d/%d", s.Calls, s.Errors)
	}
	require.Equal(t, map[string]string{"frontend": fmt.Sprintf("%d/0", n), "checkout": fmt.Sprintf("%d/0", n),
		"payments": fmt.Sprintf("%d/%d", n, n/10), "mailer": fmt.Sprintf("%d/0", n)}, got)

	// Stored traces: the kept ones, whole, each saying why.
	res, code := srv.search(url.Values{"service": {"frontend"}, "start": {strconv.FormatInt(base.Add(-time.Minute).UnixMicro(), 10)},
		"end": {strconv.FormatInt(base.Add(2*time.Minute).UnixMicro(), 10)}, "limit": {"1000"}})
	require.Equal(t, 200, code)
	require.EqualValues(t, st.TracesKept, len(res.Traces))
	errs, estimate := 0, 0.0
	for _, tr := range res.Traces {
		td := srv.trace(tr.TraceID)
		require.Equal(t, 8, tr.SpanCount, "kept traces are whole")
		policy, _, ok := spanAttr(td, "ariadne.sampling.policy")
		require.True(t, ok, "trace %s has no sampling policy attribute", tr.TraceID)
		w, ts, ok := spanAttr(td, "ariadne.sampling.adjusted_count")
		require.True(t, ok)
		if tr.ErrorCount > 0 {
			errs++
			require.Equal(t, "errors", policy.Str())
			require.Equal(t, 1.0, w.Double())
		} else {
			require.Equal(t, "baseline", policy.Str())
			require.Equal(t, 10.0, w.Double())
			require.True(t, strings.HasPrefix(ts, "ot=th:e666"), "tracestate %q", ts)
		}
		estimate += w.Double()
	}
	require.Equal(t, n/10, errs)
	// The estimate from kept traces: 40 + 10 x Binomial(360, 0.1).
	require.InDelta(t, n, estimate, 250)

	// Exemplars come from kept traces only: every one opens its trace,
	// and the failing ones are there (the errors policy kept them all).
	kept := map[string]bool{}
	for _, tr := range res.Traces {
		kept[tr.TraceID] = true
	}
	exemplars, failing := 0, 0
	for _, svc := range []string{"frontend", "checkout", "payments", "mailer"} {
		var ops struct{ Operations []opStats }
		require.Equal(t, 200, srv.getJSON("/api/v1/metrics/operations?service="+svc+"&"+win, &ops))
		for _, op := range ops.Operations {
			for _, e := range op.Exemplars {
				require.True(t, kept[e.TraceID], "exemplar of %s %s points to trace %s, which was not kept", svc, op.Operation, e.TraceID)
				exemplars++
				if e.Error {
					failing++
				}
			}
		}
	}
	require.Greater(t, exemplars, 0)
	require.Greater(t, failing, 0)

	// Traces held (no root yet) across a kill -9, while kept traffic makes
	// the head flush and the WAL move on: decided after the restart.
	var held []string
	for i := range 5 {
		td, id := heldTrace(i)
		code, body := srv.postOTLP("application/x-protobuf", protoBody(t, td))
		require.Equal(t, 200, code, string(body))
		held = append(held, id)
	}
	sendShop(t, srv, 100, base.Add(time.Minute))
	time.Sleep(2 * time.Second) // > 1s flush tick + head_max_age
	for _, id := range held {
		require.Zero(t, srv.trace(id).SpanCount(), "held until max_wait")
	}
	parts, err := filepath.Glob(filepath.Join(srv.dataDir, "parts", "*", "*.part"))
	require.NoError(t, err)
	require.NotEmpty(t, parts, "heads were written while traces were held")
	srv.kill()
	srv = srv.restart()
	for _, id := range held {
		deadline := time.Now().Add(30 * time.Second)
		for srv.trace(id).SpanCount() != 4 {
			require.True(t, time.Now().Before(deadline), "held trace %s not kept whole after the restart", id)
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Kept traces are there once: the WAL kept for held spans is not
	// stored again.
	res2, code := srv.search(url.Values{"service": {"frontend"}, "start": {strconv.FormatInt(base.Add(-time.Minute).UnixMicro(), 10)},
		"end": {strconv.FormatInt(base.Add(2*time.Minute).UnixMicro(), 10)}, "limit": {"1000"}})
	require.Equal(t, 200, code)
	for _, tr := range res2.Traces {
		require.Equal(t, 8, tr.SpanCount, "trace %s", tr.TraceID)
	}
}
