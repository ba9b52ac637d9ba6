package server

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/config"
)

// TestNewTail compiles the benchmarks' tail sampling configs as the server
// does at start, and reports a bad policy by name.
func TestNewTail(t *testing.T) {
	files, err := filepath.Glob("../../tools/bench/configs/tail-*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		c, err := config.Load(f)
		require.NoError(t, err, f)
		s, err := newTail(c)
		require.NoError(t, err, f)
		require.NotNil(t, s, f)
		require.Len(t, s.Stats().Policies, 4, f)
	}

	c := config.Default()
	s, err := newTail(c)
	require.NoError(t, err)
	require.Nil(t, s, "off by default")

	c.Sampling.Tail.Enabled = true
	c.Sampling.Tail.Policies = []config.TailPolicy{{Name: "errors", Type: "error"}, {Name: "bad-query", Type: "condition", Query: "{ span.a = }"}}
	_, err = newTail(c)
	require.ErrorContains(t, err, `sampling.tail.policy "bad-query": query:`)
	c.Sampling.Tail.Policies = []config.TailPolicy{{Name: "structural", Type: "condition", Query: "{ .a = 1 } >> { .b = 2 }"}}
	_, err = newTail(c)
	require.ErrorContains(t, err, "must be one spanset filter")
}
