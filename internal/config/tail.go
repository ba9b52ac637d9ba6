package config

import (
	"fmt"
	"time"
)

// TailSampling configures tail-based sampling in the ingest path
// (docs/sampling.md, "Tail sampling"). Off by default.
type TailSampling struct {
	Enabled bool `yaml:"enabled"`
	// A trace is decided once its root span has arrived and no span has
	// arrived for Idle, or MaxWait after its first span.
	Idle    Duration `yaml:"idle"`
	MaxWait Duration `yaml:"max_wait"`
	// MaxMemory bounds what undecided traces hold; past it the traces due
	// soonest are decided early.
	MaxMemory ByteSize `yaml:"max_memory"`
	// DecisionCache is how many decided traces are remembered for their
	// late spans.
	DecisionCache int `yaml:"decision_cache"`
	// Policies: a trace is kept when one of them keeps it, unless a drop
	// policy matches.
	Policies []TailPolicy `yaml:"policies"`
}

// TailPolicy is one tail sampling policy; Type says which fields apply.
type TailPolicy struct {
	Name               string       `yaml:"name"`
	Type               string       `yaml:"type"` // error, latency, condition, probabilistic, rate_limit, span_count, and, or, drop
	Threshold          Duration     `yaml:"threshold"`
	Service            string       `yaml:"service"`
	Operation          string       `yaml:"operation"`
	Query              string       `yaml:"query"`
	Probability        float64      `yaml:"probability"`
	TracesPerSecond    float64      `yaml:"traces_per_second"`
	PerService         bool         `yaml:"per_service"`
	MinSpans           int          `yaml:"min_spans"`
	MaxSpans           int          `yaml:"max_spans"`
	MaxTracesPerSecond float64      `yaml:"max_traces_per_second"`
	Policies           []TailPolicy `yaml:"policies"`
}

func defaultTail() TailSampling {
	return TailSampling{Idle: Duration(5 * time.Second), MaxWait: Duration(30 * time.Second),
		MaxMemory: 64 << 20, DecisionCache: 200_000}
}

// validate checks the settings the tail package does not; the policies are
// checked when the server compiles them.
func (t *TailSampling) validate() error {
	bad := func(key, why string, v any) error {
		return fmt.Errorf("sampling.tail.%s: %s, got %v", key, why, v)
	}
	switch {
	case !t.Enabled:
		return nil
	case t.Idle <= 0:
		return bad("idle", "must be greater than zero", time.Duration(t.Idle))
	case t.MaxWait < t.Idle:
		return bad("max_wait", "must not be shorter than idle", time.Duration(t.MaxWait))
	case t.MaxMemory < 1<<20:
		return bad("max_memory", "must be at least 1MiB", int64(t.MaxMemory))
	case t.DecisionCache <= 0:
		return bad("decision_cache", "must be greater than zero", t.DecisionCache)
	case len(t.Policies) == 0:
		return fmt.Errorf("sampling.tail.policies: enabled with no policies would drop every trace")
	}
	return nil
}
