package sampling

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const jaegerStyle = `{
  "service_strategies": [
    {"service": "cart", "type": "probabilistic", "param": 0.8,
     "operation_strategies": [
       {"operation": "GET /cart", "type": "probabilistic", "param": 0.2},
       {"operation": "bulk", "type": "ratelimiting", "param": 3}]},
    {"service": "search", "type": "ratelimiting", "param": 5},
    {"service": "plain", "type": "probabilistic", "param": 0.3}
  ],
  "default_strategy": {
    "type": "probabilistic", "param": 0.5,
    "operation_strategies": [
      {"operation": "/health", "type": "probabilistic", "param": 0.0},
      {"operation": "GET /cart", "type": "probabilistic", "param": 0.9}]
  }
}`

func get(t *testing.T, h http.Handler, query string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/sampling"+query, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestJaegerFileSemantics(t *testing.T) {
	var warnings []string
	tab, err := parse([]byte(jaegerStyle), 1, func(s string) { warnings = append(warnings, s) })
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0], `"bulk"`)

	js := func(r *Response) string { b, err := json.Marshal(r); require.NoError(t, err); return string(b) }
	// cart: its own operations first, then the default's it does not name.
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.8},
	  "operationSampling":{"defaultSamplingProbability":0.8,"defaultLowerBoundTracesPerSecond":0,
	  "perOperationStrategies":[{"operation":"GET /cart","probabilisticSampling":{"samplingRate":0.2}},
	                            {"operation":"/health","probabilisticSampling":{"samplingRate":0}}]}}`, js(tab.services["cart"]))
	// search: rate limiting, and the default's operations with the
	// default's probability.
	require.JSONEq(t, `{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5},
	  "operationSampling":{"defaultSamplingProbability":0.5,"defaultLowerBoundTracesPerSecond":0,
	  "perOperationStrategies":[{"operation":"/health","probabilisticSampling":{"samplingRate":0}},
	                            {"operation":"GET /cart","probabilisticSampling":{"samplingRate":0.9}}]}}`, js(tab.services["search"]))
	// plain: probabilistic, so its own rate becomes the operations' default.
	require.Equal(t, 0.3, tab.services["plain"].OperationSampling.DefaultSamplingProbability)
	require.Equal(t, 0.5, tab.def.OperationSampling.DefaultSamplingProbability)
	// Changing one service's copy does not change the default's.
	require.Len(t, tab.def.OperationSampling.PerOperationStrategies, 2)
}

func TestFileErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"default_strategy":{"type":"probabilistic","param":1.5}}`:                                                                  "default_strategy: param: a probabilistic strategy needs a probability between 0 and 1, got 1.5",
		`{"service_strategies":[{"service":"a","type":"sometimes","param":1}]}`:                                                      `service_strategies[0]: type: must be probabilistic or ratelimiting, got "sometimes"`,
		`{"service_strategies":[{"type":"probabilistic","param":1}]}`:                                                                "service_strategies[0]: service: must not be empty",
		`{"service_strategies":[{"service":"a","type":"ratelimiting","param":2.5}]}`:                                                 "whole number of traces per second, got 2.5",
		`{"default_strategy":{"type":"probabilistic","param":1,"typo":1}}`:                                                           `unknown field "typo"`,
		`{"service_strategies":[{"service":"a","type":"probabilistic","param":1},{"service":"a","type":"probabilistic","param":1}]}`: `service "a" appears twice`,
		`{} {}`: "unexpected data",
	} {
		_, err := parse([]byte(doc), 1, func(string) {})
		require.ErrorContains(t, err, want, doc)
	}
}

func TestHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(path, []byte(jaegerStyle), 0o644))
	p, err := NewProvider(Options{File: path, DefaultProbability: 1})
	require.NoError(t, err)
	code, body := get(t, p, "?service=search")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"strategyType":"RATE_LIMITING"`)
	code, body = get(t, p, "?service=unknown")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"samplingRate":0.5`)
	for _, q := range []string{"", "?service=", "?service=a&service=b"} {
		code, body = get(t, p, q)
		require.Equal(t, 400, code, q)
		require.True(t, strings.HasPrefix(body, "parameter service:"), body)
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("POST", "/sampling?service=a", nil))
	require.Equal(t, 405, rec.Code)

	// No file: every service gets the default probability.
	p, err = NewProvider(Options{DefaultProbability: 0.25})
	require.NoError(t, err)
	_, body = get(t, p, "?service=x")
	require.JSONEq(t, `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}`, body)

	_, err = NewProvider(Options{File: filepath.Join(t.TempDir(), "missing.json")})
	require.ErrorContains(t, err, "missing.json")
}

func TestStrategyTypeJSON(t *testing.T) {
	var r Response
	require.NoError(t, json.Unmarshal([]byte(`{"strategyType":1}`), &r))
	require.Equal(t, RateLimiting, r.StrategyType)
	require.NoError(t, json.Unmarshal([]byte(`{"strategyType":"PROBABILISTIC"}`), &r))
	require.Equal(t, Probabilistic, r.StrategyType)
	require.Error(t, json.Unmarshal([]byte(`{"strategyType":7}`), &r))
	require.Error(t, json.Unmarshal([]byte(`{"strategyType":true}`), &r))
}
