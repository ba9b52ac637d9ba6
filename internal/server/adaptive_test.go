package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/servertest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestAdaptiveOff: by default the endpoint says so and the remote sampling
// answers are the static ones.
func TestAdaptiveOff(t *testing.T) {
	srv := servertest.Start(t, nil)
	code, body := get(t, srv.QueryURL+"/api/v1/sampling/adaptive")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"enabled":false}`, body)
	_, body = get(t, srv.SamplingURL+"?service=cart")
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1}}`, body)
}

// TestAdaptiveBrokenStateFile: a state file that cannot be decoded does
// not stop the server; services get the initial probability.
func TestAdaptiveBrokenStateFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sampling"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sampling", "adaptive.json"), []byte("{not json"), 0o644))
	srv := servertest.Start(t, func(c *config.Config) {
		c.DataDir = dir
		c.Sampling.Adaptive.Enabled = true
		c.Sampling.Adaptive.InitialProbability = 0.3
	})
	_, body := get(t, srv.SamplingURL+"?service=cart")
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.3},
	  "operationSampling":{"defaultSamplingProbability":0.3,"defaultLowerBoundTracesPerSecond":0.016666666666666666,"perOperationStrategies":[]}}`, body)
	code, body := get(t, srv.QueryURL+"/api/v1/sampling/adaptive")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"enabled":true`)
	require.Contains(t, body, `"services":[]`)
}

// TestAdaptiveWithoutMetrics: adaptive sampling counts root spans even with
// the metrics pipeline turned off, and the store works without it.
func TestAdaptiveWithoutMetrics(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) {
		c.Metrics.Enabled = false
		c.Sampling.Adaptive.Enabled = true
		c.Sampling.Adaptive.Interval = config.Duration(100 * time.Millisecond)
	})
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "cart"}}}
	now := time.Now().UnixNano()
	var spans []model.Span
	for i := range 50 {
		spans = append(spans, model.Span{TraceID: model.TraceID{1, byte(i)}, SpanID: model.SpanID{1, byte(i)}, Name: "GET /cart",
			Kind: model.KindServer, Start: now, End: now + 1e6, Resource: res})
	}
	require.NoError(t, srv.Store.Append(context.Background(), spans))
	require.NoError(t, srv.Store.Flush()) // the store's observer hooks run without a pipeline
	require.Eventually(t, func() bool {
		_, body := get(t, srv.QueryURL+"/api/v1/sampling/adaptive")
		return strings.Contains(body, `"GET /cart"`)
	}, 10*time.Second, 50*time.Millisecond, "the root spans were counted")
	code, _ := get(t, srv.QueryURL+"/api/v1/metrics/services")
	require.Equal(t, 404, code, "derivation is off")
}
