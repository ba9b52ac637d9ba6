package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ariadne-tracing/ariadne/internal/sampling"
	"github.com/ariadne-tracing/ariadne/sdk"
)

type adaptiveView struct {
	Enabled  bool `json:"enabled"`
	Services []struct {
		Service    string `json:"service"`
		Operations []struct {
			Operation   string  `json:"operation"`
			Probability float64 `json:"probability"`
			Observed    float64 `json:"observed_traces_per_second"`
			Estimated   float64 `json:"estimated_traces_per_second"`
		} `json:"operations"`
	} `json:"services"`
}

func opProbability(r sampling.Response, op string) float64 {
	for _, o := range r.OperationSampling.PerOperationStrategies {
		if o.Operation == op {
			return o.ProbabilisticSampling.SamplingRate
		}
	}
	return r.OperationSampling.DefaultSamplingProbability
}

// TestAdaptiveSamplingConverges runs the real binary with adaptive sampling
// (1s interval, target 20 traces/s per operation) and a service that uses
// the sdk's remote sampler: operation A at 1000 traces/s and B at 5/s. The
// traces stored per second converge to about 20/s for A, and B keeps every
// trace. A static strategy still wins for its service, the probabilities
// are on /metrics and the JSON endpoint, and they survive a restart.
func TestAdaptiveSamplingConverges(t *testing.T) {
	const (
		target  = 20.0
		rateA   = 1000
		rateB   = 5
		runTime = 8 * time.Second
	)
	dir := t.TempDir()
	strategies := filepath.Join(dir, "strategies.json")
	require.NoError(t, os.WriteFile(strategies, []byte(`{"service_strategies":[{"service":"fixed","type":"probabilistic","param":0.5}]}`), 0o644))
	cfg := filepath.Join(dir, "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`sampling:
  strategies_file: %s
  adaptive:
    enabled: true
    interval: 1s
    target_traces_per_second: %g
    error_target_traces_per_second: 0
`, strategies, target)), 0o644))
	port := freePort(t)
	srv := startServer(t, "", "--config", cfg, "--sampling-port", strconv.Itoa(port))
	base := fmt.Sprintf("http://127.0.0.1:%d/sampling", port)

	// Static entries win; other services get the adaptive shape.
	_, body := samplingGet(t, base+"?service=fixed")
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}`, body)

	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	remote := sdk.Remote(sdk.RemoteConfig{URL: base, ServiceName: "shop", PollInterval: 100 * time.Millisecond, Fallback: sdk.Always()})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(remote),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(100*time.Millisecond), sdktrace.WithMaxQueueSize(20000)),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("shop"))))
	tr := tp.Tracer("adaptive")

	// Send A and B with even spacing; record what was sent per second.
	start := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(start))
	secs := int(runTime / time.Second)
	sentB := make([]int, secs)
	var probsMu sync.Mutex
	var probs []string // A's served probability over time, for the log
	tick := time.NewTicker(10 * time.Millisecond)
	for i := 0; ; i++ {
		now := <-tick.C
		el := now.Sub(start)
		if el >= runTime {
			break
		}
		for range rateA / 100 {
			_, s := tr.Start(ctx, "A", trace.WithTimestamp(now))
			s.End()
		}
		if i%(100/rateB) == 0 {
			_, s := tr.Start(ctx, "B", trace.WithTimestamp(now))
			s.End()
			sentB[int(el/time.Second)]++
		}
		if i%25 == 0 {
			_, b := samplingGet(t, base+"?service=shop")
			var r sampling.Response
			require.NoError(t, json.Unmarshal([]byte(b), &r))
			probsMu.Lock()
			probs = append(probs, fmt.Sprintf("%.1fs:%.3g", el.Seconds(), opProbability(r, "A")))
			probsMu.Unlock()
		}
	}
	tick.Stop()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, remote.Shutdown(ctx))
	t.Logf("A's served probability: %s", strings.Join(probs, " "))

	// Stored traces per second and operation.
	stored := func(op string, sec int) int {
		from := start.Add(time.Duration(sec) * time.Second)
		q := url.Values{"service": {"shop"}, "name": {op}, "limit": {"10000"},
			"start": {strconv.FormatInt(from.UnixNano(), 10)}, "end": {strconv.FormatInt(from.Add(time.Second).UnixNano()-1, 10)}}
		res, code := srv.search(q)
		require.Equal(t, 200, code, res.Error)
		return len(res.Traces)
	}
	var storedA, storedB []int
	require.Eventually(t, func() bool { return stored("B", secs-1) == sentB[secs-1] }, 10*time.Second, 100*time.Millisecond, "last second's B traces stored")
	for sec := range secs {
		storedA = append(storedA, stored("A", sec))
		storedB = append(storedB, stored("B", sec))
	}
	t.Logf("stored A per second: %v; B: %v (sent B: %v)", storedA, storedB, sentB)
	// The server starts at probability 1; the first calculation (at most
	// 1s after the start, on partial traffic) cuts it.
	require.Greater(t, storedA[0], int(4*target), "A in the first second, before convergence")
	// Convergence: the first second from which A stays near the target.
	conv := -1
	for sec := range secs {
		ok := true
		for _, n := range storedA[sec:] {
			if float64(n) > 2*target || float64(n) < target/4 {
				ok = false
			}
		}
		if ok {
			conv = sec
			break
		}
	}
	require.True(t, conv >= 0 && conv <= 4, "A did not converge to ~%g/s within 4s: %v", target, storedA)
	t.Logf("converged after %ds (interval 1s, sdk poll 100ms)", conv)
	last3 := storedA[secs-3] + storedA[secs-2] + storedA[secs-1]
	require.InDelta(t, 3*target, float64(last3), 1.5*target, "A over the last 3s: %v", storedA)
	// B is below the target: every trace is kept.
	require.Equal(t, sentB, storedB)

	// The JSON endpoint and /metrics show the estimate.
	var v adaptiveView
	require.Equal(t, 200, srv.getJSON("/api/v1/sampling/adaptive", &v))
	require.True(t, v.Enabled)
	require.Len(t, v.Services, 1)
	require.Equal(t, "shop", v.Services[0].Service)
	ops := v.Services[0].Operations
	require.Len(t, ops, 2)
	require.Equal(t, "A", ops[0].Operation)
	require.InDelta(t, target/rateA, ops[0].Probability, 0.5*target/rateA)
	require.Equal(t, "B", ops[1].Operation)
	require.Equal(t, 1.0, ops[1].Probability)
	_, metrics := samplingGet(t, srv.queryURL+"/metrics")
	require.Contains(t, metrics, `ariadne_sampling_adaptive_probability{operation="B",service="shop"} 1`)
	require.Contains(t, metrics, `ariadne_sampling_adaptive_estimated_traces_per_second{operation="A",service="shop"}`)

	// Restart: the served probabilities come back from the state file.
	_, before := samplingGet(t, base+"?service=shop")
	var rb sampling.Response
	require.NoError(t, json.Unmarshal([]byte(before), &rb))
	srv.stop()
	srv = srv.restart()
	_, after := samplingGet(t, base+"?service=shop")
	var ra sampling.Response
	require.NoError(t, json.Unmarshal([]byte(after), &ra))
	pa := opProbability(ra, "A")
	// At most one calculation (without traffic: at most doubling) may
	// have run since the restart.
	require.True(t, pa < 0.1 && (pa == opProbability(rb, "A") || math.Abs(pa-2*opProbability(rb, "A")) < 1e-12),
		"A after restart %g, before %g", pa, opProbability(rb, "A"))
	require.Equal(t, 1.0, opProbability(ra, "B"))
}

// TestUISamplingPage shows adaptive sampling's operations in the UI's
// Sampling page, with user-supplied names rendered as text, and says so
// when adaptive sampling is off.
func TestUISamplingPage(t *testing.T) {
	b := newBrowser(t)
	off := startServer(t, "")
	b.open(off.queryURL + "/sampling")
	b.waitFor(`document.querySelector('[data-testid="adaptive-off"]') !== null`, "the off message", 10*time.Second)

	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("sampling:\n  adaptive:\n    enabled: true\n    interval: 200ms\n"), 0o644))
	srv := startServer(t, "", "--config", cfg)
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("ui-"+xssHTML))))
	for _, name := range []string{"GET /home", xssName} {
		_, s := tp.Tracer("ui").Start(ctx, name)
		s.End()
	}
	require.NoError(t, tp.Shutdown(ctx))
	require.Eventually(t, func() bool {
		var v adaptiveView
		srv.getJSON("/api/v1/sampling/adaptive", &v)
		return len(v.Services) == 1 && len(v.Services[0].Operations) == 2
	}, 10*time.Second, 50*time.Millisecond)

	b.open(srv.queryURL + "/search")
	// The router listens from an effect that runs after the first paint:
	// wait for the search page's service list (loaded by an effect).
	b.waitFor(`document.querySelectorAll('select option').length > 1`, "the search page's services", 10*time.Second)
	b.click(`nav a[href="/sampling"]`)
	b.waitFor(`document.querySelectorAll('[data-testid="adaptive-row"]').length === 2`, "two operation rows", 10*time.Second)
	rows := eval[[]string](b, `[...document.querySelectorAll('[data-testid="adaptive-row"]')].map(r => [...r.cells].map(c => c.textContent).join("|"))`)
	require.Len(t, rows, 2)
	require.True(t, strings.HasPrefix(rows[0], "ui-"+xssHTML+"|GET /home|"), rows[0])
	require.True(t, strings.HasPrefix(rows[1], "ui-"+xssHTML+"|"+xssName+"|"), rows[1])
	require.Contains(t, eval[string](b, `document.querySelector('[data-testid="adaptive-summary"]').textContent`), "Target 1 traces/s")
	require.Equal(t, 0, b.count(`[data-testid="sampling-page"] img`))
	require.False(t, eval[bool](b, `window.__xss !== undefined`))
	b.screenshot("sampling.png")
}
