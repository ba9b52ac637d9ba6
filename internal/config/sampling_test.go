package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSamplingSettings(t *testing.T) {
	c := Default()
	require.Equal(t, 5778, c.Ports.Sampling)
	require.Equal(t, 1.0, c.Sampling.DefaultProbability)
	require.NoError(t, Parse([]byte(`
ports:
  sampling: 15778
sampling:
  strategies_file: /etc/ariadne/strategies.json
  reload_interval: 30s
  default_probability: 0.01
`), &c))
	require.NoError(t, c.Validate())
	require.Equal(t, 15778, c.Ports.Sampling)
	require.Equal(t, "/etc/ariadne/strategies.json", c.Sampling.StrategiesFile)
	require.Equal(t, Duration(30*time.Second), c.Sampling.ReloadInterval)
	require.Equal(t, 0.01, c.Sampling.DefaultProbability)

	for msg, edit := range map[string]func(*Config){
		"ports.sampling: 70000 is not a port":                          func(c *Config) { c.Ports.Sampling = 70000 },
		"sampling.default_probability: must be between 0 and 1, got 2": func(c *Config) { c.Sampling.DefaultProbability = 2 },
		"sampling.reload_interval: must not be negative":               func(c *Config) { c.Sampling.ReloadInterval = -1 },
	} {
		c := Default()
		edit(&c)
		require.ErrorContains(t, c.Validate(), msg)
	}
	require.ErrorContains(t, Parse([]byte("sampling:\n  strategy_file: x\n"), &c), "strategy_file")
}
