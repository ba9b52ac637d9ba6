package config

import (
	"fmt"
	"math"
	"time"
)

// AdaptiveSampling configures adaptive head sampling
// (docs/adaptive-sampling.md): per-operation probabilities computed from
// the traces received, served on the remote sampling endpoint to services
// without a service_strategies entry in the strategies file.
type AdaptiveSampling struct {
	Enabled bool `yaml:"enabled"`
	// Interval between calculations.
	Interval Duration `yaml:"interval"`
	// TargetTracesPerSecond each root operation should keep.
	TargetTracesPerSecond float64 `yaml:"target_traces_per_second"`
	// ErrorTargetTracesPerSecond raises the probability of an operation
	// with error roots so that about this many of them are kept (0 = off).
	ErrorTargetTracesPerSecond float64 `yaml:"error_target_traces_per_second"`
	MinProbability             float64 `yaml:"min_probability"`
	MaxProbability             float64 `yaml:"max_probability"`
	// InitialProbability is served before an operation has an estimate.
	InitialProbability float64 `yaml:"initial_probability"`
	// LowerBoundTracesPerSecond is served as each operation's lower bound.
	LowerBoundTracesPerSecond float64 `yaml:"lower_bound_traces_per_second"`
	// MaxIncrease is the factor a probability may grow by per interval.
	MaxIncrease float64 `yaml:"max_increase"`
	// Smoothing is the weight of the newest interval in the rate estimate.
	Smoothing float64 `yaml:"smoothing"`
	// MaxOperations caps the service/operation pairs tracked.
	MaxOperations int `yaml:"max_operations"`
}

func defaultAdaptive() AdaptiveSampling {
	return AdaptiveSampling{Interval: Duration(time.Minute), TargetTracesPerSecond: 1, ErrorTargetTracesPerSecond: 1,
		MinProbability: 1e-5, MaxProbability: 1, InitialProbability: 1, LowerBoundTracesPerSecond: 1.0 / 60,
		MaxIncrease: 2, Smoothing: 0.5, MaxOperations: 2000}
}

func (a *AdaptiveSampling) validate() error {
	bad := func(key, why string, v any) error {
		return fmt.Errorf("sampling.adaptive.%s: %s, got %v", key, why, v)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case a.Interval <= 0:
		return bad("interval", "must be greater than zero", time.Duration(a.Interval))
	case !(a.TargetTracesPerSecond > 0) || !finite(a.TargetTracesPerSecond):
		return bad("target_traces_per_second", "must be greater than zero", a.TargetTracesPerSecond)
	case !(a.ErrorTargetTracesPerSecond >= 0) || !finite(a.ErrorTargetTracesPerSecond):
		return bad("error_target_traces_per_second", "must not be negative (0 turns the raise off)", a.ErrorTargetTracesPerSecond)
	case !(a.MinProbability > 0 && a.MinProbability <= 1):
		return bad("min_probability", "must be greater than 0 and at most 1", a.MinProbability)
	case !(a.MaxProbability >= a.MinProbability && a.MaxProbability <= 1):
		return bad("max_probability", "must be between min_probability and 1", a.MaxProbability)
	case !(a.InitialProbability >= 0 && a.InitialProbability <= 1):
		return bad("initial_probability", "must be between 0 and 1", a.InitialProbability)
	case !(a.LowerBoundTracesPerSecond >= 0) || !finite(a.LowerBoundTracesPerSecond):
		return bad("lower_bound_traces_per_second", "must not be negative", a.LowerBoundTracesPerSecond)
	case !(a.MaxIncrease > 1) || !finite(a.MaxIncrease):
		return bad("max_increase", "must be a factor greater than 1", a.MaxIncrease)
	case !(a.Smoothing > 0 && a.Smoothing <= 1):
		return bad("smoothing", "must be greater than 0 and at most 1", a.Smoothing)
	case a.MaxOperations <= 0:
		return bad("max_operations", "must be greater than zero", a.MaxOperations)
	}
	return nil
}
