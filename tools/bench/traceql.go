package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxTraceQLRequests caps the requests per TraceQL series (structural
// queries can take seconds on a large store).
const maxTraceQLRequests = 50

// traceql times TraceQL searches and a TraceQL metrics query through the
// Tempo-compatible API (issue 7), one request at a time.
func (q *querier) traceql(n, warmup int, svc, user func() string) ([]metric, error) {
	n = min(n, maxTraceQLRequests)
	get := func(path string) ([]byte, time.Duration, error) {
		t0 := time.Now()
		resp, err := q.client.Get(q.srv.tempoURL + path)
		if err != nil {
			return nil, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		took := time.Since(t0)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
		}
		return body, took, err
	}
	cases := []struct {
		name string
		path func() string
	}{
		{"TraceQL `{ span.user.id = X }`", func() string {
			return "/api/search?" + url.Values{"q": {fmt.Sprintf(`{ span.user.id = %q }`, user())}}.Encode()
		}},
		{"TraceQL `{ resource.service.name = X && span.http.response.status_code >= 500 && duration > 50ms }`", func() string {
			return "/api/search?" + url.Values{"q": {fmt.Sprintf(`{ resource.service.name = %q && span.http.response.status_code >= 500 && duration > 50ms }`, svc())}}.Encode()
		}},
		{"TraceQL structural `{ kind = server } >> { span.db.system = \"postgresql\" && duration > 10ms }`", func() string {
			return "/api/search?" + url.Values{"q": {`{ kind = server } >> { span.db.system = "postgresql" && duration > 10ms }`}}.Encode()
		}},
		{"TraceQL `{ span.db.system = \"redis\" } | count() > 2`", func() string {
			return "/api/search?" + url.Values{"q": {`{ span.db.system = "redis" } | count() > 2`}}.Encode()
		}},
		{"TraceQL metrics `{ status = error } | rate() by (resource.service.name)`, last 24h, step 10m", func() string {
			return "/api/metrics/query_range?" + url.Values{"q": {`{ status = error } | rate() by (resource.service.name)`}, "since": {"24h"}, "step": {"10m"}}.Encode()
		}},
	}
	var out []metric
	for _, c := range cases {
		logf("%s: %d requests", c.name, n)
		var s series
		for i := range warmup + n {
			path := c.path()
			body, took, err := get(path)
			if i < warmup {
				continue
			}
			var resp struct {
				Traces []json.RawMessage `json:"traces"`
				Series []json.RawMessage `json:"series"`
			}
			if err == nil {
				err = json.Unmarshal(body, &resp)
			}
			if err != nil {
				logf("%s: %v", path, err)
				s.bad++
				continue
			}
			s.lat = append(s.lat, took)
			s.results += len(resp.Traces) + len(resp.Series)
		}
		if len(s.lat) == 0 {
			return nil, fmt.Errorf("%s: every request failed", c.name)
		}
		out = append(out, s.metrics(c.name, "traces or series returned")...)
	}
	return out, nil
}
