package traceql

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestTempoCorpus runs Tempo's own parser corpus (test_examples.yaml):
// valid queries parse and validate; parse_fails and validate_fails are
// rejected with a position; unsupported ones are either rejected as not
// supported or parse (their results are covered by the semantics tests).
func TestTempoCorpus(t *testing.T) {
	b, err := os.ReadFile("../../../../shared/testdata/tempo-traceql/test_examples.yaml")
	require.NoError(t, err)
	var corpus struct {
		Valid         []string `yaml:"valid"`
		ParseFails    []string `yaml:"parse_fails"`
		ValidateFails []string `yaml:"validate_fails"`
		Unsupported   []string `yaml:"unsupported"`
	}
	require.NoError(t, yaml.Unmarshal(b, &corpus))
	require.NotEmpty(t, corpus.Valid)
	require.NotEmpty(t, corpus.ParseFails)
	require.NotEmpty(t, corpus.ValidateFails)
	require.NotEmpty(t, corpus.Unsupported)
	for _, q := range corpus.Valid {
		_, err := Parse(q)
		require.NoError(t, err, "valid query %q", q)
	}
	for _, group := range [][]string{corpus.ParseFails, corpus.ValidateFails} {
		for _, q := range group {
			_, err := Parse(q)
			require.Error(t, err, "invalid query %q was accepted", q)
			var pe *Error
			require.True(t, errors.As(err, &pe), "%q: %T", q, err)
			require.False(t, pe.Unsupported, "%q is invalid, not unsupported: %v", q, err)
			require.GreaterOrEqual(t, pe.Line, 1)
			require.GreaterOrEqual(t, pe.Col, 1)
		}
	}
	for _, q := range corpus.Unsupported {
		_, err := Parse(q)
		require.Error(t, err, "unsupported query %q was accepted", q)
		var pe *Error
		require.True(t, errors.As(err, &pe), "%q: %T", q, err)
		require.True(t, pe.Unsupported, "%q should be reported as not supported: %v", q, err)
		require.Contains(t, err.Error(), "not supported")
	}
}
