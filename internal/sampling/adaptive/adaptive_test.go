package adaptive

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

func testConfig() Config {
	return Config{Interval: time.Minute, TargetTracesPerSecond: 1, ErrorTargetTracesPerSecond: 1,
		MinProbability: 1e-5, MaxProbability: 1, InitialProbability: 1, LowerBoundTracesPerSecond: 0,
		MaxIncrease: 2, Smoothing: 0.5, MaxOperations: 100}
}

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCalc(t *testing.T, cfg Config) (*Calculator, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg.Now = clk.now
	c, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	// The test drives Calculate itself; the ticker of a 10s interval
	// never fires within the test.
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c, clk
}

func rootSpan(res *model.Resource, op string, p float64, typ string, isErr bool) model.Span {
	s := model.Span{Name: op, Resource: res, SpanID: model.SpanID{1}}
	if typ != "" {
		s.Attrs = []model.Attr{{Key: "http.method", Type: model.TypeStr, Str: "GET"},
			{Key: AttrSamplerType, Type: model.TypeStr, Str: typ},
			{Key: AttrSamplerParam, Type: model.TypeDouble, Num: math.Float64bits(p)}}
	}
	if isErr {
		s.StatusCode = model.StatusError
	}
	return s
}

func svc(name string) *model.Resource {
	return &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: name}}}
}

// traffic is an operation's true rate and error fraction.
type traffic struct {
	op      string
	rate    float64
	errFrac float64
}

// simulate runs intervals of traffic through a head sampler that applies
// the calculator's served probabilities, as an SDK does, and returns each
// operation's probability after every interval.
func simulate(t *testing.T, c *Calculator, clk *clock, rng *rand.Rand, ops []traffic, intervals int) map[string][]float64 {
	t.Helper()
	res := svc("shop")
	hist := map[string][]float64{}
	dt := c.cfg.Interval.Seconds()
	for range intervals {
		strat := c.Strategy("shop")
		probs := map[string]float64{}
		for _, o := range strat.OperationSampling.PerOperationStrategies {
			probs[o.Operation] = o.ProbabilisticSampling.SamplingRate
		}
		var batch []model.Span
		for _, o := range ops {
			p, ok := probs[o.op]
			if !ok {
				p = strat.OperationSampling.DefaultSamplingProbability
			}
			n := int(o.rate * dt)
			for range n {
				if rng.Float64() < p {
					batch = append(batch, rootSpan(res, o.op, p, "probabilistic", rng.Float64() < o.errFrac))
				}
			}
		}
		// Child spans are ignored.
		batch = append(batch, model.Span{Name: "child", Resource: res, ParentID: model.SpanID{9}})
		c.Observe(batch)
		clk.t = clk.t.Add(c.cfg.Interval)
		c.Calculate()
		for _, o := range ops {
			hist[o.op] = append(hist[o.op], probOf(c, "shop", o.op))
		}
	}
	return hist
}

func probOf(c *Calculator, service, op string) float64 {
	r := c.Strategy(service)
	for _, o := range r.OperationSampling.PerOperationStrategies {
		if o.Operation == op {
			return o.ProbabilisticSampling.SamplingRate
		}
	}
	return r.OperationSampling.DefaultSamplingProbability
}

func TestConvergesOnSkewedRates(t *testing.T) {
	c, clk := newCalc(t, testConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	hist := simulate(t, c, clk, rng, []traffic{{"A", 100, 0}, {"B", 1, 0}}, 40)
	// A: 100 traces/s, target 1/s → ~0.01, within a band, without
	// oscillating between intervals.
	for i, p := range hist["A"][5:] {
		require.InDelta(t, 0.01, p, 0.005, "A at interval %d: %v", i+5, hist["A"])
	}
	for i := 6; i < len(hist["A"]); i++ {
		ratio := hist["A"][i] / hist["A"][i-1]
		require.True(t, ratio > 0.7 && ratio < 1.4, "A jumps from %g to %g at interval %d", hist["A"][i-1], hist["A"][i], i)
	}
	// B: 1 trace/s, target 1/s → keep everything.
	for _, p := range hist["B"][1:] {
		require.InDelta(t, 1, p, 0.35, "B: %v", hist["B"])
	}
	require.InDelta(t, 1, mean(hist["B"][10:]), 0.15, "B: %v", hist["B"])
	snap := c.Snapshot()
	require.Len(t, snap.Services, 1)
	require.Equal(t, "shop", snap.Services[0].Service)
	require.Len(t, snap.Services[0].Operations, 2)
	a := snap.Services[0].Operations[0]
	require.Equal(t, "A", a.Operation)
	require.InDelta(t, 100, a.EstimatedTracesPerSecond, 35)
	require.InDelta(t, 1, a.ObservedTracesPerSecond, 0.6)
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestErrorsRaiseProbability(t *testing.T) {
	c, clk := newCalc(t, testConfig())
	rng := rand.New(rand.NewPCG(3, 4))
	// Both at 100/s; C has 10% errors (10 error traces/s): to keep 1
	// error trace/s it needs ~0.1 instead of ~0.01.
	hist := simulate(t, c, clk, rng, []traffic{{"A", 100, 0}, {"C", 100, 0.1}}, 30)
	require.InDelta(t, 0.01, mean(hist["A"][10:]), 0.004, "A: %v", hist["A"])
	require.InDelta(t, 0.1, mean(hist["C"][10:]), 0.04, "C: %v", hist["C"])
}

func TestBoundsAndIncreaseCap(t *testing.T) {
	cfg := testConfig()
	cfg.MinProbability, cfg.MaxProbability = 0.05, 0.5
	c, clk := newCalc(t, cfg)
	rng := rand.New(rand.NewPCG(5, 6))
	hist := simulate(t, c, clk, rng, []traffic{{"A", 100, 0}, {"B", 0.5, 0}}, 20)
	for _, p := range hist["A"] {
		require.GreaterOrEqual(t, p, 0.05)
		require.LessOrEqual(t, p, 0.5)
	}
	require.Equal(t, 0.05, hist["A"][len(hist["A"])-1])
	require.Equal(t, 0.5, hist["B"][len(hist["B"])-1])
	// A's traffic drops to 1/s: its probability grows at most 2x per
	// interval until the maximum.
	hist = simulate(t, c, clk, rng, []traffic{{"A", 1, 0}}, 8)
	prev := 0.05
	for _, p := range hist["A"] {
		require.LessOrEqual(t, p, prev*2+1e-12, "A: %v", hist["A"])
		prev = p
	}
	require.Equal(t, 0.5, prev, "A: %v", hist["A"])
}

func TestStateSurvivesRestart(t *testing.T) {
	cfg := testConfig()
	cfg.StateFile = filepath.Join(t.TempDir(), "sampling", "adaptive.json")
	c, clk := newCalc(t, cfg)
	simulate(t, c, clk, rand.New(rand.NewPCG(7, 8)), []traffic{{"A", 100, 0}, {"B", 1, 0}}, 10)
	pa, pb := probOf(c, "shop", "A"), probOf(c, "shop", "B")
	require.Less(t, pa, 0.05)
	require.NoError(t, c.Shutdown(context.Background()))

	c2, _ := newCalc(t, cfg)
	require.Equal(t, pa, probOf(c2, "shop", "A"))
	require.Equal(t, pb, probOf(c2, "shop", "B"))
	// Unknown services and operations get the initial probability.
	require.Equal(t, 1.0, probOf(c2, "shop", "new"))
	require.Equal(t, 1.0, probOf(c2, "other", "x"))
}

func TestMaxOperationsOtherBucket(t *testing.T) {
	cfg := testConfig()
	cfg.MaxOperations = 3
	c, clk := newCalc(t, cfg)
	res := svc("api")
	var batch []model.Span
	for i := range 50 {
		for _, op := range []string{"a", "b", "c", "d"} {
			_ = i
			batch = append(batch, rootSpan(res, op, 1, "probabilistic", false))
		}
	}
	c.Observe(batch)
	c.Observe([]model.Span{rootSpan(svc("late"), "x", 1, "probabilistic", false)})
	clk.t = clk.t.Add(cfg.Interval)
	c.Calculate()
	snap := c.Snapshot()
	require.Len(t, snap.Services, 1, "%+v", snap)
	ops := snap.Services[0].Operations
	require.Len(t, ops, 3)
	require.Equal(t, Other, ops[0].Operation)
	require.InDelta(t, 100.0/60, ops[0].ObservedTracesPerSecond, 1e-9) // c and d: 100 traces in 60s
	require.Equal(t, uint64(1), snap.UntrackedTraces)
	// "c" is served the service default, which is the Other bucket's.
	require.InDelta(t, 0.6, probOf(c, "api", "c"), 1e-9)
	require.InDelta(t, 1.0, probOf(c, "api", "a"), 1e-9)
}

func TestWeight(t *testing.T) {
	res := svc("s")
	for _, tc := range []struct {
		name string
		span model.Span
		w    float64
		how  int
	}{
		{"probabilistic", rootSpan(res, "op", 0.25, "probabilistic", false), 4, sampledByProbability},
		{"lower bound", rootSpan(res, "op", 0.25, "lowerbound", false), 0, sampledByOther},
		{"rate limiting", rootSpan(res, "op", 5, "ratelimiting", false), 0, sampledByOther},
		{"unknown", rootSpan(res, "op", 0, "", false), 0, sampledByUnknown},
		{"probabilistic without param", model.Span{Attrs: []model.Attr{{Key: AttrSamplerType, Type: model.TypeStr, Str: "probabilistic"}}}, 0, sampledByUnknown},
		{"string param", model.Span{Attrs: []model.Attr{{Key: AttrSamplerType, Type: model.TypeStr, Str: "probabilistic"}, {Key: AttrSamplerParam, Type: model.TypeStr, Str: "0.5"}}}, 2, sampledByProbability},
		{"tracestate th", model.Span{TraceState: "vendor=x,ot=rv:0123;th:c"}, 4, sampledByProbability},
		{"tracestate th 0", model.Span{TraceState: "ot=th:0"}, 1, sampledByProbability},
		{"tracestate other key", model.Span{TraceState: "xot=th:8"}, 0, sampledByUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, how := weight(&tc.span)
			require.Equal(t, tc.how, how)
			require.InDelta(t, tc.w, w, 1e-9)
		})
	}
}

// TestClientsWithoutSamplerAttributes: roots without sampler information
// are weighted with the probability served, so clients that apply the
// served strategy without recording it still converge (to target/rate,
// not to its square root).
func TestClientsWithoutSamplerAttributes(t *testing.T) {
	c, clk := newCalc(t, testConfig())
	rng := rand.New(rand.NewPCG(9, 10))
	res := svc("shop")
	var hist []float64
	for range 30 {
		p := probOf(c, "shop", "A")
		var batch []model.Span
		for range 100 * 60 {
			if rng.Float64() < p {
				batch = append(batch, rootSpan(res, "A", 0, "", false))
			}
		}
		c.Observe(batch)
		clk.t = clk.t.Add(c.cfg.Interval)
		c.Calculate()
		hist = append(hist, probOf(c, "shop", "A"))
	}
	require.InDelta(t, 0.01, mean(hist[10:]), 0.003, "A: %v", hist)
}

func TestConfigChecked(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"interval":                 func(c *Config) { c.Interval = 0 },
		"target_traces_per_second": func(c *Config) { c.TargetTracesPerSecond = 0 },
		"min_probability":          func(c *Config) { c.MinProbability = 0 },
		"max_probability":          func(c *Config) { c.MaxProbability = 2 },
		"max_increase":             func(c *Config) { c.MaxIncrease = 1 },
		"smoothing":                func(c *Config) { c.Smoothing = 0 },
		"max_operations":           func(c *Config) { c.MaxOperations = 0 },
	} {
		cfg := testConfig()
		mut(&cfg)
		_, err := New(cfg)
		require.ErrorContains(t, err, name)
	}
}

// BenchmarkObserve measures the cost per span of counting roots in
// batches of 100 spans, of which 10 (typical) or all are roots with
// sampler attributes.
func BenchmarkObserve(b *testing.B) {
	for _, every := range []int{10, 1} {
		b.Run(fmt.Sprintf("roots=1in%d", every), func(b *testing.B) {
			c, err := New(testConfig())
			require.NoError(b, err)
			require.NoError(b, c.Start(context.Background()))
			defer c.Shutdown(context.Background())
			res := svc("shop")
			batch := make([]model.Span, 100)
			for i := range batch {
				if i%every == 0 {
					batch[i] = rootSpan(res, []string{"GET /a", "GET /b", "POST /c"}[i%3], 0.1, "probabilistic", false)
				} else {
					batch[i] = model.Span{Name: "child", Resource: res, ParentID: model.SpanID{1}}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.Observe(batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/span")
		})
	}
}

// TestConcurrentObserve counts from several goroutines while calculations
// run (go test -race checks the locking); no root is lost.
func TestConcurrentObserve(t *testing.T) {
	c, clk := newCalc(t, testConfig())
	res := svc("shop")
	batch := []model.Span{rootSpan(res, "A", 0.5, "probabilistic", false), {Name: "child", Resource: res, ParentID: model.SpanID{1}}}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				c.Observe(batch)
			}
		}()
	}
	var seen float64
	for finished := 0; finished < 4; {
		select {
		case <-done:
			finished++
		default:
			clk.t = clk.t.Add(time.Second)
			c.Calculate()
			if s := c.Snapshot(); len(s.Services) > 0 {
				seen += s.Services[0].Operations[0].ObservedTracesPerSecond
			}
		}
	}
	clk.t = clk.t.Add(time.Second)
	c.Calculate()
	if s := c.Snapshot(); len(s.Services) > 0 {
		seen += s.Services[0].Operations[0].ObservedTracesPerSecond
	}
	require.Equal(t, 4000.0, seen) // each calculation covered 1s
}
