package shop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/examples/shop"
	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/servertest"
)

func search(t *testing.T, srv *servertest.Server, q url.Values) []string {
	t.Helper()
	resp, err := http.Get(srv.QueryURL + "/api/v1/search?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Traces []struct {
			TraceID string `json:"traceID"`
		} `json:"traces"`
		Error string `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, 200, resp.StatusCode, r.Error)
	var ids []string
	for _, tr := range r.Traces {
		ids = append(ids, tr.TraceID)
	}
	return ids
}

func attr(sp *model.Span, key string) string {
	for _, a := range sp.Attrs {
		if a.Key == key {
			if a.Type == model.TypeInt {
				return strconv.FormatInt(int64(a.Num), 10)
			}
			return a.Str
		}
	}
	return ""
}

// connected checks that every span's parent is in the trace and returns
// the spans by ID.
func connected(t *testing.T, spans []model.Span) map[model.SpanID]*model.Span {
	t.Helper()
	byID := map[model.SpanID]*model.Span{}
	for i := range spans {
		byID[spans[i].SpanID] = &spans[i]
	}
	roots := 0
	for i := range spans {
		sp := &spans[i]
		if sp.ParentID.IsZero() {
			roots++
			continue
		}
		require.Contains(t, byID, sp.ParentID, "parent of %s %q is missing", sp.Service(), sp.Name)
	}
	require.Equal(t, 1, roots)
	return byID
}

// TestShopTraces runs the shop and its traffic against an in-process
// server with faults turned up, then checks the stored traces: whole and
// connected across six services, baggage on every hop behind auth, and each
// injected fault visible.
func TestShopTraces(t *testing.T) {
	srv := servertest.Start(t, nil)
	faults := shop.DefaultFaults()
	faults.ErrorRate = map[string]float64{"products": 0.1, "inventory": 0.05}
	faults.Spike = 20 * time.Millisecond
	faults.OverloadShare = 1 // pricing sheds load all the time
	faults.SlowDependency = 5 * time.Millisecond
	sh, err := shop.Start(context.Background(), shop.Options{Endpoint: srv.GRPCAddr, Faults: faults, BatchTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"frontend", "auth", "stores", "products", "inventory", "pricing"}, sh.Services())

	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	var stats shop.TrafficStats
	shop.Traffic(ctx, sh.URL(), shop.TrafficOptions{Rate: 30}, &stats)
	cancel()
	require.NoError(t, sh.Shutdown(context.Background()))
	t.Log(stats.String())
	require.Greater(t, stats.Sessions.Load(), int64(15))

	// A product listing: six services in one connected trace.
	ids := search(t, srv, url.Values{"service": {"frontend"}, "name": {"GET /api/stores/{id}/products"}, "limit": {"200"}})
	require.NotEmpty(t, ids)
	var full []model.Span
	for _, id := range ids {
		spans := srv.Trace(t, id)
		services := map[string]bool{}
		for i := range spans {
			services[spans[i].Service()] = true
		}
		if len(services) == 6 {
			full = spans
			break
		}
	}
	require.NotNil(t, full, "no product listing reached all six services")
	byID := connected(t, full)
	var tenant string
	nPlusOne := map[model.SpanID]int{}
	for i := range full {
		sp := &full[i]
		if sp.ParentID.IsZero() {
			require.Equal(t, "frontend", sp.Service())
			tenant = attr(sp, "tenant.id")
		}
		if sp.Name == "SELECT products" {
			nPlusOne[sp.ParentID]++
		}
		if sp.Service() == "inventory" && sp.Name == "shop.Inventory/Check" {
			parent := byID[sp.ParentID]
			require.Equal(t, "products", parent.Service(), "the gRPC hop")
			require.Equal(t, model.KindClient, parent.Kind)
		}
	}
	require.Contains(t, shop.Tenants, tenant)
	for i := range full {
		switch sp := &full[i]; sp.Service() {
		case "stores", "products", "inventory", "pricing":
			require.Equal(t, tenant, attr(sp, "tenant.id"), "baggage on %s %q", sp.Service(), sp.Name)
			require.NotEmpty(t, attr(sp, "user.id"))
		}
	}
	// N+1: one query for the IDs plus one per product, under one span.
	most := 0
	for _, n := range nPlusOne {
		most = max(most, n)
	}
	require.GreaterOrEqual(t, most, 1+4, "N+1 queries under one parent")

	// Injected errors are error spans.
	require.NotEmpty(t, search(t, srv, url.Values{"service": {"products"}, "status": {"error"}, "attr": {"exception.message=~.*injected failure.*"}}))
	require.NotEmpty(t, search(t, srv, url.Values{"service": {"inventory"}, "status": {"error"}}))

	// Retry storm: "get price" spans with several attempts, each attempt
	// a client span under it.
	ids = search(t, srv, url.Values{"service": {"products"}, "name": {"get price"}, "attr": {"demo.attempts>=2"}})
	require.NotEmpty(t, ids)
	spans := srv.Trace(t, ids[0])
	byID = connected(t, spans)
	var retried *model.Span
	for i := range spans {
		if n, _ := strconv.Atoi(attr(&spans[i], "demo.attempts")); spans[i].Name == "get price" && n >= 2 {
			retried = &spans[i]
		}
	}
	require.NotNil(t, retried)
	attempts := 0
	for i := range spans {
		if spans[i].ParentID == retried.SpanID && spans[i].Name == "GET /prices/{sku}" {
			attempts++
		}
	}
	require.Equal(t, attr(retried, "demo.attempts"), strconv.Itoa(attempts))

	// sdk.Go: the background "record view" stays in the request's trace.
	ids = search(t, srv, url.Values{"service": {"products"}, "name": {"record view"}})
	require.NotEmpty(t, ids)
	spans = srv.Trace(t, ids[0])
	byID = connected(t, spans)
	for i := range spans {
		if spans[i].Name == "record view" {
			require.Equal(t, "GET /products/{id}", byID[spans[i].ParentID].Name)
		}
	}
}

// TestShopRemoteSampling points the shop's services at the server's remote
// sampling endpoint with a strategies file that drops the stores listing
// of the frontend: those traces never arrive, the others do, whole.
func TestShopRemoteSampling(t *testing.T) {
	strategies := filepath.Join(t.TempDir(), "strategies.json")
	require.NoError(t, os.WriteFile(strategies, []byte(`{
	  "service_strategies": [
	    {"service": "frontend", "type": "probabilistic", "param": 1,
	     "operation_strategies": [{"operation": "GET /api/stores", "type": "probabilistic", "param": 0}]}
	  ]}`), 0o644))
	srv := servertest.Start(t, func(c *config.Config) { c.Sampling.StrategiesFile = strategies })
	sh, err := shop.Start(context.Background(), shop.Options{Endpoint: srv.GRPCAddr, SamplingURL: srv.SamplingURL,
		Faults: shop.Faults{}, BatchTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	var stats shop.TrafficStats
	shop.Traffic(ctx, sh.URL(), shop.TrafficOptions{Rate: 20}, &stats)
	cancel()
	require.NoError(t, sh.Shutdown(context.Background()))
	require.Greater(t, stats.Sessions.Load(), int64(10))

	require.Empty(t, search(t, srv, url.Values{"name": {"GET /api/stores"}}), "dropped by the remote strategy")
	require.Empty(t, search(t, srv, url.Values{"name": {"GET /stores"}}), "the stores service follows the frontend's decision")
	ids := search(t, srv, url.Values{"service": {"frontend"}, "name": {"GET /api/stores/{id}/products"}})
	require.NotEmpty(t, ids)
	connected(t, srv.Trace(t, ids[0]))
}
