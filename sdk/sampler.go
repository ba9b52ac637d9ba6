package sdk

import (
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Always records every span, ignoring the parent's decision. Prefer
// ParentRatio(1) in services that receive traffic from others, so that a
// caller's decision not to sample is kept.
func Always() sdktrace.Sampler { return sdktrace.AlwaysSample() }

// Never records nothing.
func Never() sdktrace.Sampler { return sdktrace.NeverSample() }

// ParentRatio samples a fraction of new traces (ratio in [0, 1], by trace
// ID, so every service that uses the same ratio agrees) and otherwise
// follows the parent: a span whose parent was sampled is sampled, one whose
// parent was not is not. This keeps traces whole across services.
func ParentRatio(ratio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(ratioSampler(ratio))
}

// Root spans sampled by the samplers of this package carry the sampler
// that decided and its parameter, as Jaeger clients do: sampler.type
// ("probabilistic", "ratelimiting" or "lowerbound") and sampler.param (the
// probability, or the traces per second). The server's adaptive sampling
// uses them to estimate rates before sampling.
const (
	attrSamplerType  = attribute.Key("sampler.type")
	attrSamplerParam = attribute.Key("sampler.param")
)

// tagged adds the sampler attributes to the spans its sampler samples.
type tagged struct {
	sdktrace.Sampler
	attrs []attribute.KeyValue
}

func tag(s sdktrace.Sampler, typ string, param float64) tagged {
	return tagged{s, []attribute.KeyValue{attrSamplerType.String(typ), attrSamplerParam.Float64(param)}}
}

func ratioSampler(ratio float64) tagged {
	return tag(sdktrace.TraceIDRatioBased(ratio), "probabilistic", ratio)
}

func (t tagged) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := t.Sampler.ShouldSample(p)
	if r.Decision == sdktrace.RecordAndSample {
		r.Attributes = append(r.Attributes[:len(r.Attributes):len(r.Attributes)], t.attrs...)
	}
	return r
}

// RateLimited samples at most perSecond new traces per second (a token
// bucket holding up to max(perSecond, 1) traces, so short bursts pass) and
// otherwise follows the parent like ParentRatio.
func RateLimited(perSecond float64) sdktrace.Sampler {
	return sdktrace.ParentBased(tag(newRateLimiter(perSecond), "ratelimiting", perSecond))
}

// rateLimiter is a root sampler: a token bucket refilled at rate per
// second.
type rateLimiter struct {
	rate float64
	mu   sync.Mutex
	max  float64
	have float64
	last time.Time
	now  func() time.Time
}

func newRateLimiter(perSecond float64) *rateLimiter {
	if perSecond < 0 || math.IsNaN(perSecond) {
		perSecond = 0
	}
	r := &rateLimiter{rate: perSecond, max: math.Max(perSecond, 1), now: time.Now}
	r.have, r.last = r.max, r.now()
	if perSecond == 0 {
		r.have = 0
	}
	return r
}

// take reports whether a token was available and spends it.
func (r *rateLimiter) take() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.have = math.Min(r.max, r.have+now.Sub(r.last).Seconds()*r.rate)
	r.last = now
	if r.have >= 1 {
		r.have--
		return true
	}
	return false
}

func (r *rateLimiter) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	dec := sdktrace.Drop
	if r.take() {
		dec = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: dec, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (r *rateLimiter) Description() string { return fmt.Sprintf("RateLimited{%g/s}", r.rate) }
