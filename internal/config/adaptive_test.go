package config

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdaptiveSamplingSettings(t *testing.T) {
	c := Default()
	require.False(t, c.Sampling.Adaptive.Enabled)
	require.Equal(t, 1.0, c.Sampling.Adaptive.TargetTracesPerSecond)
	require.NoError(t, Parse([]byte(`
sampling:
  adaptive:
    enabled: true
    interval: 30s
    target_traces_per_second: 5
    error_target_traces_per_second: 2
    min_probability: 0.0001
    max_probability: 0.5
    initial_probability: 0.01
    lower_bound_traces_per_second: 0.1
    max_increase: 1.5
    smoothing: 0.3
    max_operations: 100
`), &c))
	require.NoError(t, c.Validate())
	a := c.Sampling.Adaptive
	require.Equal(t, AdaptiveSampling{Enabled: true, Interval: Duration(30 * time.Second), TargetTracesPerSecond: 5,
		ErrorTargetTracesPerSecond: 2, MinProbability: 0.0001, MaxProbability: 0.5, InitialProbability: 0.01,
		LowerBoundTracesPerSecond: 0.1, MaxIncrease: 1.5, Smoothing: 0.3, MaxOperations: 100}, a)

	for msg, edit := range map[string]func(*AdaptiveSampling){
		"sampling.adaptive.interval: must be greater than zero":            func(a *AdaptiveSampling) { a.Interval = 0 },
		"sampling.adaptive.target_traces_per_second: must be greater":      func(a *AdaptiveSampling) { a.TargetTracesPerSecond = 0 },
		"sampling.adaptive.target_traces_per_second: must be greater than": func(a *AdaptiveSampling) { a.TargetTracesPerSecond = math.NaN() },
		"sampling.adaptive.error_target_traces_per_second":                 func(a *AdaptiveSampling) { a.ErrorTargetTracesPerSecond = -1 },
		"sampling.adaptive.min_probability":                                func(a *AdaptiveSampling) { a.MinProbability = 0 },
		"sampling.adaptive.max_probability: must be between min_probability and 1, got 1e-05": func(a *AdaptiveSampling) {
			a.MinProbability, a.MaxProbability = 0.1, 0.00001
		},
		"sampling.adaptive.initial_probability":           func(a *AdaptiveSampling) { a.InitialProbability = 1.5 },
		"sampling.adaptive.lower_bound_traces_per_second": func(a *AdaptiveSampling) { a.LowerBoundTracesPerSecond = math.Inf(1) },
		"sampling.adaptive.max_increase":                  func(a *AdaptiveSampling) { a.MaxIncrease = 1 },
		"sampling.adaptive.smoothing":                     func(a *AdaptiveSampling) { a.Smoothing = 1.1 },
		"sampling.adaptive.max_operations":                func(a *AdaptiveSampling) { a.MaxOperations = 0 },
	} {
		c := Default()
		edit(&c.Sampling.Adaptive)
		require.ErrorContains(t, c.Validate(), msg)
	}
	require.ErrorContains(t, Parse([]byte("sampling:\n  adaptive:\n    target: 1\n"), &c), "target")
}
