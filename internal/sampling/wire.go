// Package sampling implements the server side of the Jaeger remote sampling
// protocol: strategies read from a file in Jaeger's strategies format,
// reloaded when it changes, and served as the JSON that Jaeger's
// /sampling endpoint returns. The wire types are shared with the sdk's
// remote sampler.
package sampling

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// StrategyType is the Jaeger SamplingStrategyType enum. It is written as
// its name ("PROBABILISTIC", "RATE_LIMITING"), as Jaeger's JSON does, and
// read as a name or as the legacy number (0, 1).
type StrategyType int

// Strategy types.
const (
	Probabilistic StrategyType = 0
	RateLimiting  StrategyType = 1
)

var typeNames = map[StrategyType]string{Probabilistic: "PROBABILISTIC", RateLimiting: "RATE_LIMITING"}

// MarshalJSON writes the enum name.
func (t StrategyType) MarshalJSON() ([]byte, error) {
	n, ok := typeNames[t]
	if !ok {
		return nil, fmt.Errorf("unknown strategy type %d", int(t))
	}
	return strconv.AppendQuote(nil, n), nil
}

// UnmarshalJSON reads the enum name or number.
func (t *StrategyType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		for k, n := range typeNames {
			if n == s {
				*t = k
				return nil
			}
		}
		return fmt.Errorf("strategyType: unknown %q", s)
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("strategyType: %s is neither a name nor a number", b)
	}
	if _, ok := typeNames[StrategyType(n)]; !ok {
		return fmt.Errorf("strategyType: unknown %d", n)
	}
	*t = StrategyType(n)
	return nil
}

// Response is the Jaeger SamplingStrategyResponse, as JSON.
type Response struct {
	StrategyType          StrategyType           `json:"strategyType"`
	ProbabilisticSampling *ProbabilisticStrategy `json:"probabilisticSampling,omitempty"`
	RateLimitingSampling  *RateLimitingStrategy  `json:"rateLimitingSampling,omitempty"`
	OperationSampling     *PerOperation          `json:"operationSampling,omitempty"`
}

// ProbabilisticStrategy samples a fraction of traces.
type ProbabilisticStrategy struct {
	SamplingRate float64 `json:"samplingRate"`
}

// RateLimitingStrategy samples up to a number of traces per second.
type RateLimitingStrategy struct {
	MaxTracesPerSecond int32 `json:"maxTracesPerSecond"`
}

// OperationStrategy is a probabilistic strategy for one span name.
type OperationStrategy struct {
	Operation             string                 `json:"operation"`
	ProbabilisticSampling *ProbabilisticStrategy `json:"probabilisticSampling"`
}

// PerOperation holds per-operation strategies and the defaults for other
// operations: a probability, plus a lower bound in traces per second that
// is sampled even when the probability says no.
type PerOperation struct {
	DefaultSamplingProbability       float64             `json:"defaultSamplingProbability"`
	DefaultLowerBoundTracesPerSecond float64             `json:"defaultLowerBoundTracesPerSecond"`
	PerOperationStrategies           []OperationStrategy `json:"perOperationStrategies"`
	DefaultUpperBoundTracesPerSecond float64             `json:"defaultUpperBoundTracesPerSecond,omitempty"`
}
