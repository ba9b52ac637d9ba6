package sampling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// File is a strategies file in Jaeger's format:
//
//	{"default_strategy": {"type": "probabilistic", "param": 0.5,
//	   "operation_strategies": [{"operation": "GET /health", "type": "probabilistic", "param": 0}]},
//	 "service_strategies": [{"service": "cart", "type": "ratelimiting", "param": 20}]}
type File struct {
	DefaultStrategy   *ServiceStrategy  `json:"default_strategy"`
	ServiceStrategies []ServiceStrategy `json:"service_strategies"`
}

// ServiceStrategy is the strategy of one service (or the default one).
type ServiceStrategy struct {
	Service             string              `json:"service"`
	Type                string              `json:"type"`
	Param               float64             `json:"param"`
	OperationStrategies []OperationFileItem `json:"operation_strategies"`
}

// OperationFileItem is the strategy of one operation. Only "probabilistic"
// applies; a "ratelimiting" one is ignored with a warning, as in Jaeger.
type OperationFileItem struct {
	Operation string  `json:"operation"`
	Type      string  `json:"type"`
	Param     float64 `json:"param"`
}

// table is the parsed file: what each service gets.
type table struct {
	def      *Response
	services map[string]*Response
}

// Parse decodes and checks a strategies file (unknown keys are errors) and
// builds the responses. defaultProbability is used when the file has no
// default strategy. warn receives the ignored operation strategies.
func parse(b []byte, defaultProbability float64, warn func(string)) (*table, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON object")
	}
	t := &table{def: probabilistic(defaultProbability), services: map[string]*Response{}}
	if f.DefaultStrategy != nil {
		r, err := build(f.DefaultStrategy, defaultProbability, "default_strategy", warn)
		if err != nil {
			return nil, err
		}
		t.def = r
	}
	for i := range f.ServiceStrategies {
		s := &f.ServiceStrategies[i]
		where := fmt.Sprintf("service_strategies[%d]", i)
		if s.Service == "" {
			return nil, fmt.Errorf("%s: service: must not be empty", where)
		}
		if _, dup := t.services[s.Service]; dup {
			return nil, fmt.Errorf("%s: service %q appears twice", where, s.Service)
		}
		r, err := build(s, defaultProbability, where, warn)
		if err != nil {
			return nil, err
		}
		t.services[s.Service] = r
		inherit(r, t.def)
	}
	return t, nil
}

// inherit applies the default strategy's operation strategies to a
// service, as Jaeger does: a service without its own gets a copy of the
// default's (with its own probability as the default probability, if it
// is probabilistic); a service with its own gets the default's for the
// operations it does not name.
func inherit(r, def *Response) {
	if def.OperationSampling == nil {
		return
	}
	if r.OperationSampling == nil {
		ops := *def.OperationSampling
		ops.PerOperationStrategies = append([]OperationStrategy(nil), ops.PerOperationStrategies...)
		if r.StrategyType == Probabilistic && r.ProbabilisticSampling != nil {
			ops.DefaultSamplingProbability = r.ProbabilisticSampling.SamplingRate
		}
		r.OperationSampling = &ops
		return
	}
	named := map[string]bool{}
	for _, o := range r.OperationSampling.PerOperationStrategies {
		named[o.Operation] = true
	}
	for _, o := range def.OperationSampling.PerOperationStrategies {
		if !named[o.Operation] {
			r.OperationSampling.PerOperationStrategies = append(r.OperationSampling.PerOperationStrategies, o)
		}
	}
}

func probabilistic(p float64) *Response {
	return &Response{StrategyType: Probabilistic, ProbabilisticSampling: &ProbabilisticStrategy{SamplingRate: p}}
}

func build(s *ServiceStrategy, defaultProbability float64, where string, warn func(string)) (*Response, error) {
	var r *Response
	switch s.Type {
	case "probabilistic":
		if s.Param < 0 || s.Param > 1 || math.IsNaN(s.Param) {
			return nil, fmt.Errorf("%s: param: a probabilistic strategy needs a probability between 0 and 1, got %g", where, s.Param)
		}
		r = probabilistic(s.Param)
	case "ratelimiting":
		if s.Param < 0 || s.Param > math.MaxInt32 || s.Param != math.Trunc(s.Param) {
			return nil, fmt.Errorf("%s: param: a ratelimiting strategy needs a whole number of traces per second, got %g", where, s.Param)
		}
		r = &Response{StrategyType: RateLimiting, RateLimitingSampling: &RateLimitingStrategy{MaxTracesPerSecond: int32(s.Param)}}
	default:
		return nil, fmt.Errorf("%s: type: must be probabilistic or ratelimiting, got %q", where, s.Type)
	}
	if len(s.OperationStrategies) == 0 {
		return r, nil
	}
	ops := &PerOperation{DefaultSamplingProbability: defaultProbability, PerOperationStrategies: []OperationStrategy{}}
	if r.StrategyType == Probabilistic {
		ops.DefaultSamplingProbability = r.ProbabilisticSampling.SamplingRate
	}
	for j, o := range s.OperationStrategies {
		ow := fmt.Sprintf("%s.operation_strategies[%d]", where, j)
		switch o.Type {
		case "probabilistic":
			if o.Param < 0 || o.Param > 1 || math.IsNaN(o.Param) {
				return nil, fmt.Errorf("%s: param: a probabilistic strategy needs a probability between 0 and 1, got %g", ow, o.Param)
			}
			ops.PerOperationStrategies = append(ops.PerOperationStrategies,
				OperationStrategy{Operation: o.Operation, ProbabilisticSampling: &ProbabilisticStrategy{SamplingRate: o.Param}})
		case "ratelimiting":
			warn(fmt.Sprintf("%s (%q): operation strategies can only be probabilistic; ignored, the operation gets the default probability %g", ow, o.Operation, ops.DefaultSamplingProbability))
		default:
			return nil, fmt.Errorf("%s: type: must be probabilistic, got %q", ow, o.Type)
		}
	}
	r.OperationSampling = ops
	return r, nil
}

// Options configures a Provider.
type Options struct {
	// File is the strategies file; empty serves DefaultProbability to
	// every service.
	File string
	// DefaultProbability is served when the file has no default strategy.
	DefaultProbability float64
	// ReloadInterval is how often the file is checked for changes; 0
	// never reloads.
	ReloadInterval time.Duration
	Logger         *slog.Logger
	// Adaptive, when set, answers for every service without its own entry
	// in the file (service_strategies): static entries win over it.
	Adaptive interface {
		Strategy(service string) *Response
	}
}

// Provider serves strategies from a file and reloads it when its content
// changes. A file that fails to load at start is an error; one that fails
// on reload is logged and the previous strategies stay.
type Provider struct {
	opts Options
	cur  atomic.Pointer[table]
	raw  []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once
	run  atomic.Bool
}

// NewProvider loads the file (if any).
func NewProvider(opts Options) (*Provider, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Provider{opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	p.cur.Store(&table{def: probabilistic(opts.DefaultProbability), services: map[string]*Response{}})
	if opts.File != "" {
		if err := p.load(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Provider) load() error {
	b, err := os.ReadFile(p.opts.File)
	if err != nil {
		return fmt.Errorf("sampling strategies: %w", err)
	}
	if bytes.Equal(b, p.raw) {
		return nil
	}
	t, err := parse(b, p.opts.DefaultProbability, func(msg string) {
		p.opts.Logger.Warn("sampling strategies "+p.opts.File+": "+msg, "file", p.opts.File)
	})
	if err != nil {
		return fmt.Errorf("sampling strategies %s: %w", p.opts.File, err)
	}
	p.raw = b
	p.cur.Store(t)
	return nil
}

// Start begins watching the file for changes (when a file and a reload
// interval are set).
func (p *Provider) Start(context.Context) error {
	if p.opts.File == "" || p.opts.ReloadInterval <= 0 {
		return nil
	}
	p.run.Store(true)
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.opts.ReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			before := p.cur.Load()
			if err := p.load(); err != nil {
				p.opts.Logger.Error("sampling strategies not reloaded; keeping the previous ones", "err", err)
			} else if p.cur.Load() != before {
				p.opts.Logger.Info("sampling strategies reloaded", "file", p.opts.File)
			}
		}
	}()
	return nil
}

// Shutdown stops watching. Safe without Start, and idempotent.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.run.Load() {
		return nil
	}
	p.once.Do(func() { close(p.stop) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Strategy returns the strategy for service: its own, else the adaptive
// one (if Options.Adaptive is set), else the default. The returned value
// is shared and must not be modified.
func (p *Provider) Strategy(service string) *Response {
	t := p.cur.Load()
	if r, ok := t.services[service]; ok {
		return r
	}
	if p.opts.Adaptive != nil {
		return p.opts.Adaptive.Strategy(service)
	}
	return t.def
}

// ServeHTTP answers GET ?service=NAME with the service's strategy as
// Jaeger's JSON. The service parameter is required, exactly once.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed: use GET ?service=NAME", http.StatusMethodNotAllowed)
		return
	}
	services := r.URL.Query()["service"]
	if len(services) != 1 || services[0] == "" {
		http.Error(w, "parameter service: required exactly once, as in ?service=cart", http.StatusBadRequest)
		return
	}
	b, err := json.Marshal(p.Strategy(services[0]))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
