package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/samplers/jaegerremote"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ariadne-tracing/ariadne/sdk"
)

func samplingGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func decide(s sdktrace.Sampler, name string) sdktrace.SamplingDecision {
	var id trace.TraceID
	_, _ = rand.Read(id[:])
	return s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: name}).Decision
}

// TestRemoteSampling runs ariadne serve with a strategies file, fetches
// strategies with the sdk's remote sampler and with the OpenTelemetry
// contrib jaegerremote sampler, then changes the file and sees both follow.
func TestRemoteSampling(t *testing.T) {
	dir := t.TempDir()
	strategies := filepath.Join(dir, "strategies.json")
	require.NoError(t, os.WriteFile(strategies, []byte(`{
	  "default_strategy": {"type": "probabilistic", "param": 0.5},
	  "service_strategies": [
	    {"service": "cart", "type": "probabilistic", "param": 0.25},
	    {"service": "contrib", "type": "probabilistic", "param": 0}
	  ]}`), 0o644))
	cfg := filepath.Join(dir, "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("sampling:\n  reload_interval: 100ms\n"), 0o644))
	port := freePort(t)
	srv := startServer(t, "", "--config", cfg, "--sampling-strategies-file", strategies, "--sampling-port", strconv.Itoa(port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// The same JSON at /sampling, / and the query API's /api/sampling.
	code, body := samplingGet(t, base+"/sampling?service=cart")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}`, body)
	_, root := samplingGet(t, base+"/?service=cart")
	require.Equal(t, body, root)
	_, api := samplingGet(t, srv.queryURL+"/api/sampling?service=cart")
	require.Equal(t, body, api)
	code, body = samplingGet(t, base+"/sampling")
	require.Equal(t, 400, code)
	require.Contains(t, body, "parameter service")

	ours := sdk.Remote(sdk.RemoteConfig{URL: base + "/sampling", ServiceName: "cart", PollInterval: 50 * time.Millisecond, Fallback: sdk.Never()})
	defer ours.Shutdown(context.Background())
	require.Eventually(t, func() bool { return ours.Description() == "Remote{TraceIDRatioBased{0.25}}" }, 10*time.Second, 20*time.Millisecond)

	contrib := jaegerremote.New("contrib",
		jaegerremote.WithSamplingServerURL(base+"/sampling"),
		jaegerremote.WithSamplingRefreshInterval(50*time.Millisecond),
		jaegerremote.WithInitialSampler(sdktrace.AlwaysSample()))
	defer contrib.Close()
	// The contrib sampler starts with AlwaysSample; the served strategy
	// (probability 0) makes it drop.
	require.Eventually(t, func() bool { return decide(contrib, "op") == sdktrace.Drop }, 10*time.Second, 20*time.Millisecond)

	// Change the file: cart becomes rate limited, contrib gets
	// per-operation strategies.
	require.NoError(t, os.WriteFile(strategies, []byte(`{
	  "default_strategy": {"type": "probabilistic", "param": 0.5},
	  "service_strategies": [
	    {"service": "cart", "type": "ratelimiting", "param": 7},
	    {"service": "contrib", "type": "probabilistic", "param": 0,
	     "operation_strategies": [{"operation": "checkout", "type": "probabilistic", "param": 1}]}
	  ]}`), 0o644))
	require.Eventually(t, func() bool { return ours.Description() == "Remote{RateLimited{7/s}}" }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return decide(contrib, "checkout") == sdktrace.RecordAndSample }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, sdktrace.Drop, decide(contrib, "browse"))

	// A broken file is logged and the previous strategies stay.
	require.NoError(t, os.WriteFile(strategies, []byte(`{"default_strategy": {"type": "sometimes"}}`), 0o644))
	time.Sleep(500 * time.Millisecond) // five reload intervals
	_, body = samplingGet(t, base+"/sampling?service=cart")
	require.Contains(t, body, `"maxTracesPerSecond":7`)
	srv.stop()
	require.Contains(t, srv.log.String(), "sampling strategies not reloaded")
	require.Contains(t, srv.log.String(), `default_strategy: type: must be probabilistic or ratelimiting, got \"sometimes\"`)
}
