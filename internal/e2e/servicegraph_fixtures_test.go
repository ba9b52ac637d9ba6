package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// idField matches the base64 IDs of Tempo's gogo-JSON fixtures; OTLP/JSON
// wants hex.
var idField = regexp.MustCompile(`"(traceId|spanId|parentSpanId)":\s*"([^"]*)"`)

func fixtureAsOTLP(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("../../../shared/testdata/tempo-servicegraph", name))
	require.NoError(t, err)
	return idField.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := idField.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[2]))
		require.NoError(t, err)
		return []byte(`"` + string(sub[1]) + `":"` + hex.EncodeToString(raw) + `"`)
	})
}

// TestTempoServiceGraphFixtures sends Tempo's service-graph fixtures to
// the real binary over OTLP/HTTP JSON and reads the graph back, after the
// edge wait has let unmatched calls end as virtual-node edges or expire.
func TestTempoServiceGraphFixtures(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	// The fixtures are from July 2022: keep their minutes.
	require.NoError(t, os.WriteFile(cfg, []byte("metrics:\n  edge_wait: 300ms\n  retention: 36500d\n"), 0o644))
	cases := map[string]struct {
		edges   map[string][2]uint64
		expired int
	}{
		"trace-with-queue-database.json": {map[string][2]uint64{
			"mythical-requester->mythical-server/":                   {1, 0},
			"mythical-server->postgres/database":                     {1, 0},
			"mythical-requester->mythical-recorder/messaging_system": {1, 0},
			"mythical-server->loki/virtual_node":                     {1, 0},
		}, 3},
		"trace-with-failed-requests.json": {map[string][2]uint64{
			"mythical-requester->mythical-server/": {1, 1},
			"mythical-server->postgres/database":   {1, 1},
			"mythical-server->loki/virtual_node":   {1, 0},
		}, 3},
		"trace-with-expired-edges.json": {map[string][2]uint64{
			"user->mythical-server/virtual_node":   {1, 0},
			"mythical-server->mythical-requester/": {1, 0},
			"mythical-requester->mysql/database":   {1, 0},
		}, 1},
		"trace-with-virtual-nodes.json": {map[string][2]uint64{
			"user->mythical-server/virtual_node":                          {1, 0},
			"mythical-requester->external-payments-platform/virtual_node": {1, 0},
			"external-producer->internal-consumer/virtual_node":           {1, 0},
			"mythical-server->mythical-requester/":                        {1, 0},
		}, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := startServer(t, "", "--config", cfg)
			resp, err := http.Post("http://"+srv.httpAddr+"/v1/traces", "application/json", bytes.NewReader(fixtureAsOTLP(t, name)))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
			win := "start=2022-07-20T00:00:00Z&end=2022-07-21T00:00:00Z"
			var g metricsGraph
			deadline := time.Now().Add(10 * time.Second)
			for {
				require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph?"+win, &g))
				if len(g.edgeSummary()) == len(tc.edges) && expiredEdges(t, srv) == tc.expired || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			require.Equal(t, tc.edges, g.edgeSummary())
			require.Equal(t, tc.expired, expiredEdges(t, srv))
		})
	}
}

// expiredEdges reads ariadne_pipeline_edges_expired_total from /metrics.
func expiredEdges(t *testing.T, srv *server) int {
	_, b := httpGet(t, srv.queryURL+"/metrics")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ariadne_pipeline_edges_expired_total "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("ariadne_pipeline_edges_expired_total not exposed")
	return 0
}
