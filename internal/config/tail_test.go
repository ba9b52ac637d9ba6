package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTailSamplingSettings(t *testing.T) {
	c := Default()
	require.False(t, c.Sampling.Tail.Enabled)
	require.NoError(t, Parse([]byte(`
sampling:
  tail:
    enabled: true
    idle: 2s
    max_wait: 1m
    max_memory: 32MiB
    decision_cache: 1000
    policies:
      - name: errors
        type: error
        max_traces_per_second: 100
      - name: checkout
        type: and
        policies:
          - {name: slow-checkout, type: latency, threshold: 500ms, service: checkout, operation: "POST /pay"}
          - {name: few, type: rate_limit, traces_per_second: 5, per_service: true}
      - name: big
        type: span_count
        min_spans: 100
        max_spans: 5000
      - name: rest
        type: probabilistic
        probability: 0.1
`), &c))
	require.NoError(t, c.Validate())
	tl := c.Sampling.Tail
	require.Equal(t, Duration(2*time.Second), tl.Idle)
	require.Equal(t, Duration(time.Minute), tl.MaxWait)
	require.Equal(t, ByteSize(32<<20), tl.MaxMemory)
	require.Equal(t, 1000, tl.DecisionCache)
	require.Equal(t, []TailPolicy{
		{Name: "errors", Type: "error", MaxTracesPerSecond: 100},
		{Name: "checkout", Type: "and", Policies: []TailPolicy{
			{Name: "slow-checkout", Type: "latency", Threshold: Duration(500 * time.Millisecond), Service: "checkout", Operation: "POST /pay"},
			{Name: "few", Type: "rate_limit", TracesPerSecond: 5, PerService: true},
		}},
		{Name: "big", Type: "span_count", MinSpans: 100, MaxSpans: 5000},
		{Name: "rest", Type: "probabilistic", Probability: 0.1},
	}, tl.Policies)

	for msg, edit := range map[string]func(*TailSampling){
		"sampling.tail.idle: must be greater than zero":         func(t *TailSampling) { t.Idle = 0 },
		"sampling.tail.max_wait: must not be shorter than idle": func(t *TailSampling) { t.MaxWait = Duration(time.Second) },
		"sampling.tail.max_memory: must be at least 1MiB":       func(t *TailSampling) { t.MaxMemory = 1000 },
		"sampling.tail.decision_cache":                          func(t *TailSampling) { t.DecisionCache = 0 },
		"sampling.tail.policies: enabled with no policies":      func(t *TailSampling) { t.Policies = nil },
	} {
		c := c
		c.Sampling.Tail.Policies = append([]TailPolicy(nil), tl.Policies...)
		edit(&c.Sampling.Tail)
		require.ErrorContains(t, c.Validate(), msg)
	}
	// Off, nothing else is checked.
	off := Default()
	off.Sampling.Tail.Idle = 0
	require.NoError(t, off.Validate())
	// Unknown keys are errors, in policies too.
	require.ErrorContains(t, Parse([]byte("sampling:\n  tail:\n    idle_time: 1s\n"), &c), "idle_time")
	require.ErrorContains(t, Parse([]byte("sampling:\n  tail:\n    policies:\n      - {name: a, type: error, treshold: 1s}\n"), &c), "treshold")
}

// TestBenchConfigsLoad keeps the server configs the benchmarks use valid.
func TestBenchConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../../tools/bench/configs/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		c, err := Load(f)
		require.NoError(t, err, f)
		require.NoError(t, c.Validate(), f)
	}
}
