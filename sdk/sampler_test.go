package sdk

import (
	"context"
	"crypto/rand"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func rootParams(name string) sdktrace.SamplingParameters {
	var id trace.TraceID
	_, _ = rand.Read(id[:])
	return sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: name}
}

func sampledCount(s sdktrace.Sampler, n int, name string) int {
	k := 0
	for range n {
		if s.ShouldSample(rootParams(name)).Decision == sdktrace.RecordAndSample {
			k++
		}
	}
	return k
}

// within asserts that k of n is within 5 standard deviations of n*p.
func within(t *testing.T, k, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	require.InDelta(t, mean, float64(k), 5*sd+1, "sampled %d of %d, expected about %.0f", k, n, mean)
}

func TestParentRatio(t *testing.T) {
	const n = 20000
	for _, p := range []float64{0, 0.1, 0.5, 1} {
		within(t, sampledCount(ParentRatio(p), n, "op"), n, p)
	}
	// A child follows its parent, whatever the ratio.
	s := ParentRatio(0)
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: [16]byte{1}, SpanID: [8]byte{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	require.Equal(t, sdktrace.RecordAndSample, s.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: parent.TraceID()}).Decision)
	unsampled := parent.WithTraceFlags(0)
	ctx = trace.ContextWithRemoteSpanContext(context.Background(), unsampled)
	require.Equal(t, sdktrace.Drop, ParentRatio(1).ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: parent.TraceID()}).Decision)
	require.Equal(t, 0, sampledCount(Never(), 100, "op"))
	require.Equal(t, 100, sampledCount(Always(), 100, "op"))
}

// TestRateLimiterCeiling drives the limiter with a simulated clock: 10
// seconds of 1000 attempts per second at 25/s may sample at most 25*10
// plus the initial bucket.
func TestRateLimiterCeiling(t *testing.T) {
	r := newRateLimiter(25)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	r.last = now
	k := 0
	for range 10 * 1000 {
		now = now.Add(time.Millisecond)
		if r.ShouldSample(rootParams("op")).Decision == sdktrace.RecordAndSample {
			k++
		}
	}
	require.LessOrEqual(t, k, 25*10+25)
	require.GreaterOrEqual(t, k, 25*10, "the limiter must also let the rate through")

	// Real clock: a burst of 1000 right away gets the bucket only.
	k = sampledCount(RateLimited(5), 1000, "op")
	require.GreaterOrEqual(t, k, 5)
	require.LessOrEqual(t, k, 8, "only the bucket, plus what refills during the loop")
	require.Equal(t, 0, sampledCount(RateLimited(0), 100, "op"))
}

// strategyServer serves a strategy document that the test can change.
func strategyServer(t *testing.T, body *atomic.Pointer[string]) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Query().Get("service") != "cart" {
			http.Error(w, "wrong service", 400)
			return
		}
		_, _ = w.Write([]byte(*body.Load()))
	})}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String() + "/sampling", &hits
}

func TestRemoteSamplerStrategies(t *testing.T) {
	var body atomic.Pointer[string]
	doc := `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}`
	body.Store(&doc)
	url, _ := strategyServer(t, &body)
	s := Remote(RemoteConfig{URL: url, ServiceName: "cart", PollInterval: time.Hour, Fallback: Never()})
	defer s.Shutdown(context.Background())
	require.Eventually(t, func() bool { return s.Fetches() > 0 }, 5*time.Second, 5*time.Millisecond)
	within(t, sampledCount(s, 20000, "op"), 20000, 0.25)

	// Legacy numeric enum, rate limiting.
	doc = `{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":3}}`
	require.NoError(t, s.Update(context.Background()))
	k := sampledCount(s, 1000, "op")
	require.True(t, k >= 3 && k <= 5, "rate limited to 3/s, got %d", k)

	// Per operation: "health" never, "checkout" always, others by default
	// probability; a lower bound lets some of "health" through anyway only
	// if set, so with 0 it must stay at 0.
	doc = `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5},
	  "operationSampling":{"defaultSamplingProbability":0.5,"defaultLowerBoundTracesPerSecond":0,
	  "perOperationStrategies":[{"operation":"health","probabilisticSampling":{"samplingRate":0}},
	                            {"operation":"checkout","probabilisticSampling":{"samplingRate":1}}]}}`
	require.NoError(t, s.Update(context.Background()))
	require.Equal(t, 0, sampledCount(s, 2000, "health"))
	require.Equal(t, 2000, sampledCount(s, 2000, "checkout"))
	within(t, sampledCount(s, 20000, "browse"), 20000, 0.5)

	// With a lower bound, an operation at probability 0 still gets about
	// the bound (bucket of 1 here).
	doc = `{"operationSampling":{"defaultSamplingProbability":0,"defaultLowerBoundTracesPerSecond":1,"perOperationStrategies":[]}}`
	require.NoError(t, s.Update(context.Background()))
	require.Equal(t, 1, sampledCount(s, 500, "rare"))

	// A broken document is an error and keeps the current strategy.
	doc = `{"strategyType":"SOMETIMES"}`
	require.ErrorContains(t, s.Update(context.Background()), "SOMETIMES")
	require.Equal(t, 1, sampledCount(s, 1, "rare2"))
}

func TestRemoteSamplerFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := Remote(RemoteConfig{URL: "http://" + addr + "/sampling", ServiceName: "cart", PollInterval: time.Hour, Fallback: ParentRatio(0.5)})
	require.Error(t, s.Update(context.Background()))
	within(t, sampledCount(s, 20000, "op"), 20000, 0.5)
	require.Contains(t, s.Description(), "0.5")
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()), "idempotent")
}

// TestRemoteSamplerTakesProviderServiceName gives a Remote sampler without
// a service name to NewProvider: it polls with the provider's service name,
// and the provider's Shutdown stops it.
func TestRemoteSamplerTakesProviderServiceName(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	var body atomic.Pointer[string]
	doc := `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1}}`
	body.Store(&doc)
	url, hits := strategyServer(t, &body)
	s := Remote(RemoteConfig{URL: url, PollInterval: time.Hour, Fallback: Never()})
	require.ErrorContains(t, s.Update(context.Background()), "no service name")
	require.Zero(t, hits.Load(), "no request without a service name")
	tp, _, err := NewProvider(context.Background(), Config{ServiceName: "cart", Sampler: s, Exporter: tracetestExporter()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Fetches() == 1 }, 5*time.Second, 5*time.Millisecond)
	_, span := tp.Tracer("t").Start(context.Background(), "op")
	require.True(t, span.SpanContext().IsSampled())
	span.End()
	require.NoError(t, tp.Shutdown(context.Background()))
	select {
	case <-s.done:
	default:
		t.Fatal("the provider's Shutdown did not stop the poller")
	}
	// A sampler that never polled shuts down too.
	require.NoError(t, Remote(RemoteConfig{URL: url}).Shutdown(context.Background()))
}

func tracetestExporter() sdktrace.SpanExporter { return tracetest.NewInMemoryExporter() }

// TestSamplerAttributes checks that sampled root spans record the sampler
// and its parameter (sampler.type, sampler.param), which the server's
// adaptive sampling uses to estimate rates before sampling; children do
// not.
func TestSamplerAttributes(t *testing.T) {
	var body atomic.Pointer[string]
	doc := `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1},
	  "operationSampling":{"defaultSamplingProbability":1,"defaultLowerBoundTracesPerSecond":1,
	  "perOperationStrategies":[{"operation":"rare","probabilisticSampling":{"samplingRate":0}}]}}`
	body.Store(&doc)
	url, _ := strategyServer(t, &body)
	s := Remote(RemoteConfig{URL: url, ServiceName: "cart", PollInterval: time.Hour, Fallback: Never()})
	defer s.Shutdown(context.Background())
	require.NoError(t, s.Update(context.Background()))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	ctx, root := tr.Start(context.Background(), "checkout")
	_, child := tr.Start(ctx, "child")
	child.End()
	root.End()
	_, rare := tr.Start(context.Background(), "rare") // only the lower bound samples it
	rare.End()
	_, rare2 := tr.Start(context.Background(), "rare") // bucket empty: dropped
	rare2.End()

	got := map[string]map[string]any{}
	for _, sp := range rec.Ended() {
		m := map[string]any{}
		for _, a := range sp.Attributes() {
			m[string(a.Key)] = a.Value.AsInterface()
		}
		got[sp.Name()] = m
	}
	require.Len(t, got, 3, "%v", got)
	require.Equal(t, map[string]any{"sampler.type": "probabilistic", "sampler.param": 1.0}, got["checkout"])
	require.Empty(t, got["child"])
	require.Equal(t, map[string]any{"sampler.type": "lowerbound", "sampler.param": 0.0}, got["rare"])

	// Local samplers record themselves too.
	res := ParentRatio(1).ShouldSample(rootParams("op"))
	require.Equal(t, "probabilistic", res.Attributes[0].Value.AsString())
	res = RateLimited(5).ShouldSample(rootParams("op"))
	require.Equal(t, "ratelimiting", res.Attributes[0].Value.AsString())
	require.Equal(t, 5.0, res.Attributes[1].Value.AsFloat64())
}
