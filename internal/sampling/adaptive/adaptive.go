// Package adaptive computes head sampling probabilities per service and
// root operation from the traces the server receives, so that each
// operation keeps about a target number of traces per second (the idea of
// Jaeger's adaptive sampling; docs/adaptive-sampling.md).
//
// The store feeds it root spans (Observe); every Interval it estimates the
// true (pre-sampling) rate of each operation from the sampled traces and the
// probability each was sampled with (the sampler.type/sampler.param span
// attributes that SDKs record, or the W3C tracestate "ot=th:" threshold),
// (or, without either, the probability it serves), smooths it, and sets the operation's probability to target/rate within
// [MinProbability, MaxProbability], raised for operations with errors.
// Strategy serves the result in the Jaeger remote sampling shape.
package adaptive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/sampling"
)

// Config configures a Calculator.
type Config struct {
	// Interval between calculations.
	Interval time.Duration
	// TargetTracesPerSecond each operation should keep.
	TargetTracesPerSecond float64
	// ErrorTargetTracesPerSecond: an operation whose root spans have
	// errors gets at least the probability that keeps this many error
	// traces per second (0 = no raise).
	ErrorTargetTracesPerSecond float64
	// MinProbability and MaxProbability bound every probability.
	MinProbability, MaxProbability float64
	// InitialProbability is served for services and operations without an
	// estimate yet.
	InitialProbability float64
	// LowerBoundTracesPerSecond is served as the per-operation lower bound
	// (traces sampled per second even when the probability says no).
	LowerBoundTracesPerSecond float64
	// MaxIncrease bounds how much a probability may grow in one interval
	// (a factor > 1; decreases are applied at once).
	MaxIncrease float64
	// Smoothing is the weight in (0, 1] of the newest interval in the
	// exponentially weighted rate estimate.
	Smoothing float64
	// MaxOperations caps the operations tracked (over all services);
	// operations past it share their service's "other" bucket, whose
	// probability is the service's default, and services past it are not
	// tracked (they get InitialProbability).
	MaxOperations int
	// StateFile keeps the estimates across restarts ("" = none).
	StateFile string
	Logger    *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Other is the operation name under which a service's operations past
// MaxOperations are counted.
const Other = ""

// Attribute keys SDKs set on sampled root spans (Jaeger's convention; the
// Ariadne sdk's remote sampler sets them too).
const (
	AttrSamplerType  = model.AttrSamplerType
	AttrSamplerParam = model.AttrSamplerParam
)

type key struct{ service, op string }

// counts are what Observe gathered for one operation since the last
// calculation.
type counts struct {
	traces    float64 // root spans seen
	weighted  float64 // Σ 1/p over probabilistically sampled roots
	errors    float64
	errWeight float64
	// unknown roots carry no sampler information: they are weighted with
	// the probability served during the interval.
	unknown, errUnknown float64
}

// opState is one operation's estimate, kept across intervals.
type opState struct {
	Service     string  `json:"service"`
	Operation   string  `json:"operation"`
	Probability float64 `json:"probability"`
	// Rate is the smoothed estimate of the true rate (traces/s before
	// sampling); ErrorRate the same for roots with an error status.
	Rate      float64 `json:"rate"`
	ErrorRate float64 `json:"error_rate"`
	// Observed is the rate of sampled traces received in the last
	// interval.
	Observed float64 `json:"observed"`
	// Idle counts intervals without any trace.
	Idle int `json:"idle"`
}

// maxIdle intervals without traffic drop an operation's state.
const maxIdle = 60

// Calculator counts root spans and computes probabilities. Observe is safe
// for concurrent use; the store calls it (through Observer).
type Calculator struct {
	cfg Config

	mu      sync.Mutex
	cur     map[key]*counts
	tracked map[key]bool // operations with a slot under MaxOperations
	nOver   uint64       // roots not tracked: the cap was full
	active  atomic.Bool  // counting only between Start and Shutdown

	calcMu sync.Mutex // one calculation at a time
	state  map[key]*opState
	last   time.Time

	view atomic.Pointer[view]

	stop chan struct{}
	done chan struct{}
	once sync.Once
	run  atomic.Bool
}

// view is what the last calculation produced, read without locks.
type view struct {
	at        time.Time
	services  map[string]*sampling.Response
	ops       []opState // sorted by service, operation
	overflows uint64
}

// New builds a Calculator and loads its state file, if any. A state file
// that cannot be read is logged and ignored (the calculator starts fresh).
func New(cfg Config) (*Calculator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	c := &Calculator{cfg: cfg, cur: map[key]*counts{}, tracked: map[key]bool{}, state: map[key]*opState{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.StateFile != "" {
		if err := c.load(); err != nil && !errors.Is(err, os.ErrNotExist) {
			cfg.Logger.Warn("adaptive sampling: state not loaded; starting fresh", "file", cfg.StateFile, "err", err)
		}
	}
	c.publish(cfg.Now())
	return c, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.Interval <= 0:
		return errors.New("interval: must be greater than zero")
	case !(cfg.TargetTracesPerSecond > 0) || math.IsInf(cfg.TargetTracesPerSecond, 0):
		return fmt.Errorf("target_traces_per_second: must be greater than zero, got %g", cfg.TargetTracesPerSecond)
	case !(cfg.ErrorTargetTracesPerSecond >= 0) || math.IsInf(cfg.ErrorTargetTracesPerSecond, 0):
		return fmt.Errorf("error_target_traces_per_second: must not be negative, got %g", cfg.ErrorTargetTracesPerSecond)
	case !(cfg.MinProbability > 0 && cfg.MinProbability <= 1):
		return fmt.Errorf("min_probability: must be in (0, 1], got %g", cfg.MinProbability)
	case !(cfg.MaxProbability >= cfg.MinProbability && cfg.MaxProbability <= 1):
		return fmt.Errorf("max_probability: must be between min_probability (%g) and 1, got %g", cfg.MinProbability, cfg.MaxProbability)
	case !(cfg.InitialProbability >= 0 && cfg.InitialProbability <= 1):
		return fmt.Errorf("initial_probability: must be between 0 and 1, got %g", cfg.InitialProbability)
	case !(cfg.LowerBoundTracesPerSecond >= 0) || math.IsInf(cfg.LowerBoundTracesPerSecond, 0):
		return fmt.Errorf("lower_bound_traces_per_second: must not be negative, got %g", cfg.LowerBoundTracesPerSecond)
	case !(cfg.MaxIncrease > 1) || math.IsInf(cfg.MaxIncrease, 0):
		return fmt.Errorf("max_increase: must be a factor greater than 1, got %g", cfg.MaxIncrease)
	case !(cfg.Smoothing > 0 && cfg.Smoothing <= 1):
		return fmt.Errorf("smoothing: must be in (0, 1], got %g", cfg.Smoothing)
	case cfg.MaxOperations <= 0:
		return fmt.Errorf("max_operations: must be greater than zero, got %d", cfg.MaxOperations)
	}
	return nil
}

// Observe counts the root spans (empty parent span ID) of a batch. It does
// not keep or modify the spans. Spans are ignored before Start (the store
// replays its WAL at open: those traces were counted before the restart).
func (c *Calculator) Observe(spans []model.Span) {
	if !c.active.Load() {
		return
	}
	var (
		locked  bool
		lastRes *model.Resource
		svc     string
	)
	for i := range spans {
		s := &spans[i]
		if !s.ParentID.IsZero() {
			continue
		}
		if s.Resource != lastRes || lastRes == nil {
			lastRes, svc = s.Resource, s.Resource.Service()
		}
		w, how := weight(s)
		if !locked {
			c.mu.Lock()
			locked = true
		}
		k := key{svc, s.Name}
		n := c.cur[k]
		if n == nil {
			n = c.slot(k)
			if n == nil {
				c.nOver++
				continue
			}
		}
		n.traces++
		isErr := s.StatusCode == model.StatusError
		if isErr {
			n.errors++
		}
		switch how {
		case sampledByProbability:
			n.weighted += w
			if isErr {
				n.errWeight += w
			}
		case sampledByUnknown:
			n.unknown++
			if isErr {
				n.errUnknown++
			}
		}
	}
	if locked {
		c.mu.Unlock()
	}
}

// slot returns the counts of k, or of its service's Other bucket when the
// cap is full; nil when even that has no room. c.mu is held.
func (c *Calculator) slot(k key) *counts {
	if !c.tracked[k] {
		if len(c.tracked) >= c.cfg.MaxOperations-1 && k.op != Other { // keep one slot for an Other bucket
			k = key{k.service, Other}
			if n := c.cur[k]; n != nil {
				return n
			}
			if !c.tracked[k] && len(c.tracked) >= c.cfg.MaxOperations {
				return nil
			}
		}
		c.tracked[k] = true
	}
	n := &counts{}
	c.cur[k] = n
	return n
}

// How a root span was sampled, as far as its attributes tell.
const (
	sampledByOther       = iota // rate limiter, lower bound: no probability
	sampledByProbability        // probability known
	sampledByUnknown            // no sampler information
)

// weight returns how s was sampled and, when by a known probability p,
// 1/p. Roots sampled by a rate limiter or a lower bound carry no
// probability and count only as observed traces.
func weight(s *model.Span) (float64, int) {
	typ, p := model.SamplerTags(s)
	switch typ {
	case "probabilistic":
		if p > 0 && p <= 1 {
			return 1 / p, sampledByProbability
		}
		return 0, sampledByUnknown
	case "":
		if th, ok := otThreshold(s.TraceState); ok {
			return 1 / th, sampledByProbability
		}
		return 0, sampledByUnknown
	default: // lowerbound, ratelimiting, const, ...
		return 0, sampledByOther
	}
}

// otThreshold reads the sampling probability from an OpenTelemetry
// tracestate entry "ot=...;th:HEX" (the rejection threshold: p = 1 -
// th/2^56, th padded to 14 hex digits).
func otThreshold(ts string) (float64, bool) {
	i := strings.Index(ts, "ot=")
	if ts == "" || i < 0 || (i > 0 && ts[i-1] != ',' && ts[i-1] != ' ') {
		return 0, false
	}
	v := ts[i+3:]
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	for f := range strings.SplitSeq(v, ";") {
		h, ok := strings.CutPrefix(f, "th:")
		if !ok || len(h) == 0 || len(h) > 14 {
			continue
		}
		h += strings.Repeat("0", 14-len(h))
		t, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, false
		}
		p := 1 - float64(t)/float64(uint64(1)<<56)
		if p <= 0 {
			return 0, false
		}
		return p, true
	}
	return 0, false
}

// Calculate closes the current interval and recomputes every probability.
// The run loop calls it every Interval; tests call it directly.
func (c *Calculator) Calculate() {
	c.calcMu.Lock()
	defer c.calcMu.Unlock()
	now := c.cfg.Now()
	c.mu.Lock()
	cur := c.cur
	c.cur = map[key]*counts{}
	over := c.nOver
	c.mu.Unlock()

	dt := c.cfg.Interval.Seconds()
	if !c.last.IsZero() {
		if d := now.Sub(c.last).Seconds(); d > 0 {
			dt = d
		}
	}
	c.last = now
	for k := range cur {
		if c.state[k] == nil {
			c.state[k] = &opState{Service: k.service, Operation: k.op, Probability: c.cfg.InitialProbability, Rate: -1}
		}
	}
	var drop []key
	for k, st := range c.state {
		n := cur[k]
		if n == nil {
			n = &counts{}
		}
		c.step(st, n, dt)
		if st.Idle > maxIdle {
			drop = append(drop, k)
		}
	}
	if len(drop) > 0 {
		c.mu.Lock()
		for _, k := range drop {
			delete(c.state, k)
			delete(c.tracked, k)
		}
		c.mu.Unlock()
	}
	c.view.Store(c.build(now, over))
	if c.cfg.StateFile != "" {
		if err := c.save(); err != nil {
			c.cfg.Logger.Warn("adaptive sampling: state not saved", "file", c.cfg.StateFile, "err", err)
		}
	}
}

// step updates one operation's estimate and probability from an
// interval's counts over dt seconds.
func (c *Calculator) step(st *opState, n *counts, dt float64) {
	st.Observed = n.traces / dt
	if n.traces == 0 {
		st.Idle++
	} else {
		st.Idle = 0
	}
	// Every received trace is real, so the true rate is at least the
	// observed one; the weighted sum is the unbiased estimate.
	w, ew := n.weighted, n.errWeight
	if n.unknown > 0 && st.Probability > 0 {
		w += n.unknown / st.Probability
		ew += n.errUnknown / st.Probability
	}
	rate := math.Max(w, n.traces) / dt
	errRate := math.Max(ew, n.errors) / dt
	a := c.cfg.Smoothing
	if st.Rate < 0 {
		st.Rate, st.ErrorRate = rate, errRate
	} else {
		st.Rate = a*rate + (1-a)*st.Rate
		st.ErrorRate = a*errRate + (1-a)*st.ErrorRate
	}
	want := c.cfg.MaxProbability
	if st.Rate > 0 {
		want = c.cfg.TargetTracesPerSecond / st.Rate
	}
	if c.cfg.ErrorTargetTracesPerSecond > 0 && st.ErrorRate > 0 {
		want = math.Max(want, c.cfg.ErrorTargetTracesPerSecond/st.ErrorRate)
	}
	want = math.Min(c.cfg.MaxProbability, math.Max(c.cfg.MinProbability, want))
	if old := st.Probability; old > 0 && want > old*c.cfg.MaxIncrease {
		want = old * c.cfg.MaxIncrease
	}
	st.Probability = want
}

// build turns the state into responses and the sorted snapshot.
func (c *Calculator) build(now time.Time, over uint64) *view {
	v := &view{at: now, services: map[string]*sampling.Response{}, overflows: over}
	for _, st := range c.state {
		v.ops = append(v.ops, *st)
	}
	sort.Slice(v.ops, func(i, j int) bool {
		if v.ops[i].Service != v.ops[j].Service {
			return v.ops[i].Service < v.ops[j].Service
		}
		return v.ops[i].Operation < v.ops[j].Operation
	})
	for _, st := range v.ops {
		r := v.services[st.Service]
		if r == nil {
			r = c.fresh()
			v.services[st.Service] = r
		}
		if st.Operation == Other {
			r.ProbabilisticSampling.SamplingRate = st.Probability
			r.OperationSampling.DefaultSamplingProbability = st.Probability
			continue
		}
		r.OperationSampling.PerOperationStrategies = append(r.OperationSampling.PerOperationStrategies,
			sampling.OperationStrategy{Operation: st.Operation, ProbabilisticSampling: &sampling.ProbabilisticStrategy{SamplingRate: st.Probability}})
	}
	return v
}

// fresh is the response of a service without estimates.
func (c *Calculator) fresh() *sampling.Response {
	return &sampling.Response{
		StrategyType:          sampling.Probabilistic,
		ProbabilisticSampling: &sampling.ProbabilisticStrategy{SamplingRate: c.cfg.InitialProbability},
		OperationSampling: &sampling.PerOperation{
			DefaultSamplingProbability:       c.cfg.InitialProbability,
			DefaultLowerBoundTracesPerSecond: c.cfg.LowerBoundTracesPerSecond,
			PerOperationStrategies:           []sampling.OperationStrategy{},
		},
	}
}

func (c *Calculator) publish(now time.Time) {
	c.view.Store(c.build(now, 0))
}

// Strategy returns the adaptive strategy of service: per-operation
// probabilities, with InitialProbability for operations (and services)
// without an estimate. The result is shared and must not be modified.
func (c *Calculator) Strategy(service string) *sampling.Response {
	if r := c.view.Load().services[service]; r != nil {
		return r
	}
	return c.fresh()
}

// Operation is one operation in a Snapshot.
type Operation struct {
	Operation   string  `json:"operation"`
	Probability float64 `json:"probability"`
	// ObservedTracesPerSecond is the rate of (sampled) traces received in
	// the last interval; EstimatedTracesPerSecond the smoothed estimate of
	// the rate before sampling; ErrorTracesPerSecond the same for roots
	// with an error status.
	ObservedTracesPerSecond  float64 `json:"observed_traces_per_second"`
	EstimatedTracesPerSecond float64 `json:"estimated_traces_per_second"`
	ErrorTracesPerSecond     float64 `json:"error_traces_per_second"`
}

// Service is one service in a Snapshot.
type Service struct {
	Service            string      `json:"service"`
	DefaultProbability float64     `json:"default_probability"`
	Operations         []Operation `json:"operations"`
}

// Snapshot is the state of the last calculation.
type Snapshot struct {
	CalculatedAt          time.Time `json:"calculated_at"`
	IntervalSeconds       float64   `json:"interval_seconds"`
	TargetTracesPerSecond float64   `json:"target_traces_per_second"`
	// UntrackedTraces counts root spans not tracked because MaxOperations
	// was reached (in the last interval).
	UntrackedTraces uint64    `json:"untracked_traces"`
	Services        []Service `json:"services"`
}

// Snapshot returns the probabilities and rates of the last calculation,
// sorted by service and operation (the Other bucket is named "").
func (c *Calculator) Snapshot() Snapshot {
	v := c.view.Load()
	s := Snapshot{CalculatedAt: v.at.UTC(), IntervalSeconds: c.cfg.Interval.Seconds(),
		TargetTracesPerSecond: c.cfg.TargetTracesPerSecond, UntrackedTraces: v.overflows, Services: []Service{}}
	for _, st := range v.ops {
		if len(s.Services) == 0 || s.Services[len(s.Services)-1].Service != st.Service {
			s.Services = append(s.Services, Service{Service: st.Service,
				DefaultProbability: v.services[st.Service].OperationSampling.DefaultSamplingProbability, Operations: []Operation{}})
		}
		sv := &s.Services[len(s.Services)-1]
		sv.Operations = append(sv.Operations, Operation{Operation: st.Operation, Probability: st.Probability,
			ObservedTracesPerSecond: st.Observed, EstimatedTracesPerSecond: math.Max(st.Rate, 0), ErrorTracesPerSecond: st.ErrorRate})
	}
	return s
}

// Start begins counting and calculating every Interval.
func (c *Calculator) Start(context.Context) error {
	if !c.run.CompareAndSwap(false, true) {
		return nil
	}
	c.calcMu.Lock()
	c.last = c.cfg.Now()
	c.calcMu.Unlock()
	c.active.Store(true)
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.Calculate()
			}
		}
	}()
	return nil
}

// Shutdown stops calculating (the state file holds the last calculation).
// Safe without Start, and idempotent.
func (c *Calculator) Shutdown(ctx context.Context) error {
	c.active.Store(false)
	if !c.run.Load() {
		return nil
	}
	c.once.Do(func() { close(c.stop) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stateFile is the JSON state file (format version 1).
type stateFile struct {
	Version    int       `json:"version"`
	SavedAt    time.Time `json:"saved_at"`
	Operations []opState `json:"operations"`
}

func (c *Calculator) save() error {
	v := c.view.Load()
	b, err := json.Marshal(stateFile{Version: 1, SavedAt: v.at.UTC(), Operations: v.ops})
	if err != nil {
		return err
	}
	return writeAtomic(c.cfg.StateFile, b)
}

// writeAtomic writes b to path through a synced temporary file renamed
// over it, so a crash leaves the old or the new file, never a torn one.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (c *Calculator) load() error {
	b, err := os.ReadFile(c.cfg.StateFile)
	if err != nil {
		return err
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if f.Version != 1 {
		return fmt.Errorf("unknown version %d", f.Version)
	}
	for _, st := range f.Operations {
		if len(c.state) >= c.cfg.MaxOperations {
			break
		}
		if math.IsNaN(st.Probability) || math.IsNaN(st.Rate) || math.IsNaN(st.ErrorRate) {
			continue
		}
		st.Probability = math.Min(c.cfg.MaxProbability, math.Max(c.cfg.MinProbability, st.Probability))
		k := key{st.Service, st.Operation}
		s := st
		c.state[k] = &s
		c.tracked[k] = true
	}
	c.last = time.Time{}
	return nil
}
