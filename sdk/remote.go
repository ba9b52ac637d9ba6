package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ariadne-tracing/ariadne/internal/sampling"
)

// RemoteConfig configures Remote.
type RemoteConfig struct {
	// URL of the Jaeger remote sampling endpoint; the sampler adds
	// ?service=NAME. Default http://localhost:5778/sampling (ariadne serve,
	// Jaeger, or an OpenTelemetry Collector with the jaeger_remote_sampling
	// extension).
	URL string
	// ServiceName whose strategy is fetched. Default OTEL_SERVICE_NAME;
	// failing that, the service name of the provider the sampler is given
	// to through Config.Sampler. Polling starts once the name is known.
	ServiceName string
	// PollInterval between fetches. Default 1 minute.
	PollInterval time.Duration
	// Fallback is the root sampler used until the first strategy arrives
	// (for example while the server is unreachable). Default
	// TraceIDRatioBased(0.001), as Jaeger clients do.
	Fallback sdktrace.Sampler
	// MaxOperations bounds the per-operation samplers kept; operations
	// past it use the default strategy. Default 2000.
	MaxOperations int
	// Client makes the requests. Default: a client with a 10s timeout.
	Client *http.Client
	// Logger receives fetch errors (once per change between failing and
	// working). Default slog.Default().
	Logger *slog.Logger
}

// RemoteSampler polls a Jaeger remote sampling endpoint and samples new
// traces by the strategy it returns: probabilistic, rate limiting, or per
// operation (span name) with a default probability and a lower bound of
// traces per second. Spans with a parent follow the parent's decision.
// Until the first successful fetch it uses the fallback; after that a
// failing fetch keeps the last strategy. Stop it with Shutdown (Setup's
// shutdown does this when the sampler is Config.Sampler).
type RemoteSampler struct {
	cfg     RemoteConfig
	root    atomic.Pointer[rootSampler]
	parent  sdktrace.Sampler
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	failing atomic.Bool
	fetched atomic.Int64
	service atomic.Pointer[string]
	started atomic.Bool
}

type rootSampler struct {
	sdktrace.Sampler
	raw string // the response it was built from, to skip rebuilding
}

// Remote starts a RemoteSampler: it fetches once in the background right
// away, then every PollInterval (once the service name is known, see
// RemoteConfig.ServiceName).
func Remote(cfg RemoteConfig) *RemoteSampler {
	if cfg.URL == "" {
		cfg.URL = "http://localhost:5778/sampling"
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = os.Getenv("OTEL_SERVICE_NAME")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.Fallback == nil {
		cfg.Fallback = sdktrace.TraceIDRatioBased(0.001)
	}
	if cfg.MaxOperations <= 0 {
		cfg.MaxOperations = 2000
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &RemoteSampler{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	s.root.Store(&rootSampler{Sampler: cfg.Fallback})
	s.parent = sdktrace.ParentBased(rootFunc{s})
	s.adopt(cfg.ServiceName)
	return s
}

// adopt sets the service name if none is set yet and starts polling.
func (s *RemoteSampler) adopt(service string) {
	if service == "" {
		return
	}
	if s.service.CompareAndSwap(nil, &service) && s.started.CompareAndSwap(false, true) {
		go s.poll()
	}
}

func (s *RemoteSampler) poll() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.Update(ctx)
		cancel()
		if err != nil && !s.failing.Swap(true) {
			s.cfg.Logger.Warn("remote sampling: fetch failed; keeping the current strategy", "url", s.cfg.URL, "service", s.serviceName(), "err", err)
		} else if err == nil && s.failing.Swap(false) {
			s.cfg.Logger.Info("remote sampling: fetch works again", "url", s.cfg.URL)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Update fetches the strategy now and applies it. Polling calls it; call
// it directly to apply a change without waiting.
func (s *RemoteSampler) Update(ctx context.Context) error {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return fmt.Errorf("sampling URL: %w", err)
	}
	q := u.Query()
	service := s.serviceName()
	if service == "" {
		return errors.New("remote sampling: no service name (set RemoteConfig.ServiceName or OTEL_SERVICE_NAME)")
	}
	q.Set("service", service)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	if cur := s.root.Load(); cur.raw == string(body) {
		s.fetched.Add(1)
		return nil
	}
	var r sampling.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decode strategy: %w", err)
	}
	s.root.Store(&rootSampler{Sampler: s.build(&r), raw: string(body)})
	s.fetched.Add(1)
	return nil
}

// build turns a strategy into a root sampler, as Jaeger clients do:
// per-operation strategies win, then rate limiting, then probabilistic.
func (s *RemoteSampler) build(r *sampling.Response) sdktrace.Sampler {
	switch {
	case r.OperationSampling != nil:
		return newPerOperation(r.OperationSampling, s.cfg.MaxOperations)
	case r.StrategyType == sampling.RateLimiting && r.RateLimitingSampling != nil:
		n := float64(r.RateLimitingSampling.MaxTracesPerSecond)
		return tag(newRateLimiter(n), "ratelimiting", n)
	case r.ProbabilisticSampling != nil:
		return ratioSampler(r.ProbabilisticSampling.SamplingRate)
	default:
		return s.cfg.Fallback
	}
}

// ShouldSample implements sdktrace.Sampler.
func (s *RemoteSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return s.parent.ShouldSample(p)
}

// Description implements sdktrace.Sampler.
func (s *RemoteSampler) Description() string {
	return "Remote{" + s.root.Load().Description() + "}"
}

// Fetches returns how many fetches have succeeded.
func (s *RemoteSampler) Fetches() int64 { return s.fetched.Load() }

func (s *RemoteSampler) serviceName() string {
	if p := s.service.Load(); p != nil {
		return *p
	}
	return ""
}

// Shutdown stops polling and waits for the poller to exit. Idempotent.
func (s *RemoteSampler) Shutdown(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	if s.started.CompareAndSwap(false, true) {
		close(s.done) // never polled; nothing can start it any more
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rootFunc is the root sampler ParentBased delegates to: the current
// strategy.
type rootFunc struct{ s *RemoteSampler }

func (r rootFunc) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return r.s.root.Load().ShouldSample(p)
}
func (r rootFunc) Description() string { return r.s.Description() }

// perOperation samples each span name by its own probability, or the
// default one, and guarantees a lower bound of traces per second per
// operation.
type perOperation struct {
	def      tagged
	defRate  float64
	lower    float64
	max      int
	mu       sync.Mutex
	ops      map[string]*opSampler
	explicit map[string]float64
}

type opSampler struct {
	ratio      tagged
	floor      *rateLimiter
	floorAttrs []attribute.KeyValue // sampler.type=lowerbound
}

func newPerOperation(p *sampling.PerOperation, max int) *perOperation {
	po := &perOperation{
		def: ratioSampler(p.DefaultSamplingProbability), defRate: p.DefaultSamplingProbability,
		lower: p.DefaultLowerBoundTracesPerSecond, max: max,
		ops: map[string]*opSampler{}, explicit: map[string]float64{},
	}
	for _, o := range p.PerOperationStrategies {
		if o.ProbabilisticSampling != nil {
			po.explicit[o.Operation] = o.ProbabilisticSampling.SamplingRate
		}
	}
	return po
}

func (po *perOperation) op(name string) *opSampler {
	po.mu.Lock()
	defer po.mu.Unlock()
	if o, ok := po.ops[name]; ok {
		return o
	}
	if len(po.ops) >= po.max {
		return nil
	}
	rate, ok := po.explicit[name]
	if !ok {
		rate = po.defRate
	}
	o := &opSampler{ratio: ratioSampler(rate)}
	if po.lower > 0 {
		o.floor = newRateLimiter(po.lower)
		o.floorAttrs = tag(nil, "lowerbound", rate).attrs
	}
	po.ops[name] = o
	return o
}

func (po *perOperation) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	o := po.op(p.Name)
	if o == nil {
		return po.def.ShouldSample(p)
	}
	res := o.ratio.ShouldSample(p)
	if res.Decision != sdktrace.RecordAndSample && o.floor != nil && o.floor.take() {
		res.Decision = sdktrace.RecordAndSample
		res.Attributes = o.floorAttrs
	}
	return res
}

func (po *perOperation) Description() string {
	return fmt.Sprintf("PerOperation{default=%g,lowerBound=%g/s,operations=%d}", po.defRate, po.lower, len(po.explicit))
}
