package e2e

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// shopHistory is what seedShopHistory sent: per service, the calls and
// errors of its entry (server) spans.
type shopHistory map[string][2]int

func (h shopHistory) errorPct(svc string) float64 {
	return 100 * float64(h[svc][1]) / float64(h[svc][0])
}

// seedShopHistory sends 58 minutes of a small shop's traffic, ending now,
// with the OpenTelemetry Go SDK (one tracer provider per service, explicit
// timestamps): frontend → products → pricing (with a burst of pricing
// failures and a latency spike), products → the catalog database, pricing
// → redis, frontend → checkout → payments → stripe (a peer that sends no
// spans), plus one trace of a service whose name is markup. Failures
// propagate to the callers. Every decision is a function of the request
// number, so the counts it returns are exact.
func seedShopHistory(t *testing.T, srv *server, requests int) shopHistory {
	t.Helper()
	ctx := context.Background()
	sv := newSDKServices(t, srv)
	tr := sv.tracer
	h := shopHistory{}
	count := func(svc string, failed bool) {
		c := h[svc]
		c[0]++
		if failed {
			c[1]++
		}
		h[svc] = c
	}
	now := time.Now().Add(-5 * time.Second)
	start := now.Add(-58 * time.Minute) // inside every one-hour window the UI picks
	seed := uint32(1)
	rnd := func() float64 { // deterministic, in [0, 1)
		seed = seed*1664525 + 1013904223
		return float64(seed>>8) / (1 << 24)
	}
	// Traffic varies over the 58 minutes: more requests in the middle.
	weights := make([]float64, requests)
	var sum float64
	for j := range weights {
		f := float64(j) / float64(requests)
		weights[j] = 1 / (1 + 0.6*math.Sin(f*2*math.Pi*1.5))
		sum += weights[j]
	}
	var at time.Duration
	for j := range requests {
		at += time.Duration(weights[j] / sum * float64(58*time.Minute))
		t0 := start.Add(at)
		minute := int(at / time.Minute)
		ms := func(v float64) time.Time { return t0.Add(time.Duration(v * float64(time.Millisecond))) }
		end := func(s trace.Span, v float64, failed bool, msg string) {
			if failed {
				s.SetStatus(codes.Error, msg)
			}
			s.End(trace.WithTimestamp(ms(v)))
		}
		server, client := trace.WithSpanKind(trace.SpanKindServer), trace.WithSpanKind(trace.SpanKindClient)
		if j%4 != 3 { // product page
			route := []string{"GET /product/{id}", "GET /", "GET /product/{id}"}[j%3]
			c0, root := tr("frontend").Start(ctx, route, server, trace.WithTimestamp(ms(0)), trace.WithAttributes(attribute.String("http.route", route)))
			c1, fc := tr("frontend").Start(c0, "GET products", client, trace.WithTimestamp(ms(1)))
			c2, ps := tr("products").Start(c1, "GetProduct", server, trace.WithTimestamp(ms(2)))
			_, db := tr("products").Start(c2, "SELECT product", client, trace.WithTimestamp(ms(3)),
				trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "catalog")))
			dbDur := 2 + 6*rnd()
			db.End(trace.WithTimestamp(ms(3 + dbDur)))
			p0 := 4 + dbDur
			c3, pc := tr("products").Start(c2, "GetPrice", client, trace.WithTimestamp(ms(p0)))
			c4, pr := tr("pricing").Start(c3, "GetPrice", server, trace.WithTimestamp(ms(p0+0.5)))
			priceDur := 4 + 12*rnd()*rnd()
			if minute >= 20 && minute < 24 { // a slow dependency
				priceDur *= 7
			}
			_, rc := tr("pricing").Start(c4, "GET price", client, trace.WithTimestamp(ms(p0+1)),
				trace.WithAttributes(attribute.String("db.system", "redis"), attribute.String("server.address", "redis")))
			rc.End(trace.WithTimestamp(ms(p0 + 1 + 0.3 + rnd())))
			failed := (minute >= 40 && minute < 46 && j%3 == 0) || j%53 == 0
			end(pr, p0+0.5+priceDur, failed, "price list unavailable")
			end(pc, p0+1+priceDur, failed, "pricing: unavailable")
			end(ps, p0+2+priceDur, failed, "no price")
			end(fc, p0+3+priceDur, failed, "")
			end(root, p0+4+priceDur, failed, "502")
			count("frontend", failed)
			count("products", failed)
			count("pricing", failed)
		} else { // checkout
			c0, root := tr("frontend").Start(ctx, "POST /checkout", server, trace.WithTimestamp(ms(0)))
			c1, fc := tr("frontend").Start(c0, "POST checkout", client, trace.WithTimestamp(ms(1)))
			c2, cs := tr("checkout").Start(c1, "PlaceOrder", server, trace.WithTimestamp(ms(2)))
			_, ins := tr("checkout").Start(c2, "INSERT orders", client, trace.WithTimestamp(ms(3)),
				trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "orders")))
			ins.End(trace.WithTimestamp(ms(6 + 4*rnd())))
			c3, cc := tr("checkout").Start(c2, "Charge", client, trace.WithTimestamp(ms(11)))
			c4, pay := tr("payments").Start(c3, "Charge", server, trace.WithTimestamp(ms(12)))
			stripe := 40 + 160*rnd()
			_, sc := tr("payments").Start(c4, "POST /v1/charges", client, trace.WithTimestamp(ms(13)),
				trace.WithAttributes(attribute.String("peer.service", "stripe")))
			failed := j%23 == 3
			end(sc, 13+stripe, failed, "card declined")
			end(pay, 14+stripe, failed, "card declined")
			end(cc, 15+stripe, failed, "")
			end(cs, 16+stripe, failed, "payment failed")
			end(fc, 17+stripe, failed, "")
			end(root, 18+stripe, failed, "402")
			count("frontend", failed)
			count("checkout", failed)
			count("payments", failed)
		}
	}
	// One trace of a service whose name is markup: shown as text.
	_, x := tr(xssName).Start(ctx, xssHTML, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(now.Add(-10*time.Minute)))
	x.End(trace.WithTimestamp(now.Add(-10*time.Minute + 3*time.Millisecond)))
	count(xssName, false)
	// Callees first, as their spans usually arrive first.
	sv.shutdown("payments", "checkout", "pricing", "products", "frontend", xssName)
	return h
}

// sdkServices are OpenTelemetry SDK tracer providers, one per service as
// separate processes would have, exporting over OTLP/HTTP.
type sdkServices struct {
	t    *testing.T
	addr string
	tps  map[string]*sdktrace.TracerProvider
}

func newSDKServices(t *testing.T, srv *server) *sdkServices {
	return &sdkServices{t: t, addr: srv.httpAddr, tps: map[string]*sdktrace.TracerProvider{}}
}

func (s *sdkServices) tracer(service string) trace.Tracer {
	tp := s.tps[service]
	if tp == nil {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(s.addr), otlptracehttp.WithInsecure())
		require.NoError(s.t, err)
		tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(1024), sdktrace.WithMaxQueueSize(1<<16)),
			sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))))
		s.tps[service] = tp
	}
	return tp.Tracer("e2e")
}

// shutdown flushes and stops the providers in the given order.
func (s *sdkServices) shutdown(order ...string) {
	s.t.Helper()
	require.Len(s.t, order, len(s.tps), "shut every provider down")
	for _, name := range order {
		require.NoError(s.t, s.tps[name].Shutdown(context.Background()))
	}
}

// svgClick dispatches a click on an element (SVG elements have no click()).
func (b *browser) svgClick(sel string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true })()`, sel))
	require.True(b.t, ok, "no element %s to click", sel)
}

// pctOf parses "12.5%" (or "<0.1%") as a number.
func pctOf(t *testing.T, s string) float64 {
	t.Helper()
	s = strings.TrimPrefix(strings.TrimSuffix(strings.TrimSpace(s), "%"), "<")
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "percentage %q", s)
	return v
}

// TestServicesUI drives the Services page, a service page with an
// exemplar click, the Service map and the trace page's service links in
// a real Chromium against the real binary fed an hour of shop traffic.
func TestServicesUI(t *testing.T) {
	browser := newBrowser(t)
	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("metrics:\n  edge_wait: 300ms\n"), 0o644))
	srv := startServer(t, "", "--config", cfg)
	hist := seedShopHistory(t, srv, 1800)
	u := srv.queryURL
	services := []string{"checkout", "frontend", "payments", "pricing", "products", xssName}

	// Metrics are derived at ingest: wait until every request is counted
	// and stripe (known only once its callee's wait expires) is on the graph.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r struct {
			Services []struct {
				Service string `json:"service"`
				Calls   int    `json:"calls"`
			} `json:"services"`
		}
		var g metricsGraph
		require.Equal(t, 200, srv.getJSON("/api/v1/metrics/services", &r))
		require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph", &g))
		got := 0
		for _, s := range r.Services {
			if s.Calls == hist[s.Service][0] {
				got++
			}
		}
		_, stripe := g.edgeSummary()["payments->stripe/virtual_node"]
		if got == len(services) && stripe {
			break
		}
		require.True(t, time.Now().Before(deadline), "metrics not complete: %+v, %v", r, g.edgeSummary())
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("services page lists every service with its error rate, sorts and filters", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/search")
		b.waitFor(`document.querySelector('.topbar nav a[href="/services"]') !== null`, "Services in the navigation", 10*time.Second)
		b.click(`.topbar nav a[href="/services"]`)
		b.waitFor(`location.pathname === '/services' && document.querySelectorAll('[data-testid=service-row]').length === 6`, "six service rows", 15*time.Second)
		names := eval[[]string](b, `[...document.querySelectorAll('[data-testid=service-row]')].map(r => r.dataset.service)`)
		require.Equal(t, services, names, "sorted by name")
		for _, s := range services {
			cell := eval[string](b, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=service-row]')].find(r => r.dataset.service === %s).querySelector('[data-col=errorRate]').textContent`, js(s)))
			require.InDelta(t, hist.errorPct(s), pctOf(t, cell), 0.06, "%s: %s", s, cell)
		}
		require.Greater(t, hist.errorPct("pricing"), 5.0, "the shop has a pricing failure burst")
		// Sparklines: rate and p95 per row.
		b.waitFor(`document.querySelectorAll('[data-testid=service-row] svg.sparkline path.spark-line').length === 12`, "two sparklines per row", 15*time.Second)
		require.True(t, eval[bool](b, `[...document.querySelectorAll('svg.sparkline path.spark-line')].every(p => p.getAttribute('d').split('L').length >= 25)`), "30 points per sparkline")
		// The markup-named service is text, and nothing ran.
		require.True(t, eval[bool](b, hasText(`[data-testid=service-row] a`, xssName)))
		require.Equal(t, 0, b.count(`[data-testid=services-table] img`))
		require.False(t, eval[bool](b, `window.__xss !== undefined`))
		b.screenshot("services.png")

		// Sort by error rate: highest first, then (second click) lowest first.
		byErr := slices.Clone(services)
		slices.SortStableFunc(byErr, func(a, c string) int { return -cmpFloat(hist.errorPct(a), hist.errorPct(c)) })
		b.click(`th[data-sort=errorRate]`)
		b.waitFor(`new URLSearchParams(location.search).get('sort') === 'errorRate'`, "sort in the URL", 5*time.Second)
		first := `document.querySelector('[data-testid=service-row]').dataset.service`
		require.Equal(t, byErr[0], eval[string](b, first))
		b.click(`th[data-sort=errorRate]`)
		b.waitFor(`new URLSearchParams(location.search).get('dir') === 'flip'`, "flipped sort in the URL", 5*time.Second)
		require.Equal(t, hist.errorPct(byErr[len(byErr)-1]), hist.errorPct(eval[string](b, first)), "lowest error rate first")
		// Sort by name descending survives a reload.
		b.click(`th[data-sort=service]`)
		b.waitFor(`!location.search.includes('sort=')`, "sort by name", 5*time.Second)
		b.click(`th[data-sort=service]`)
		b.waitFor(`location.search.includes('dir=flip')`, "sort by name, descending", 5*time.Second)
		b.open(eval[string](b, `location.href`))
		b.waitFor(`document.querySelectorAll('[data-testid=service-row]').length === 6`, "rows after reload", 15*time.Second)
		rev := slices.Clone(services)
		slices.Reverse(rev)
		require.Equal(t, rev, eval[[]string](b, `[...document.querySelectorAll('[data-testid=service-row]')].map(r => r.dataset.service)`))
		// Filter.
		b.do(chromedp.SendKeys(chromedp.CSS(`input[name=filter]`), "pr"))
		b.waitFor(`document.querySelectorAll('[data-testid=service-row]').length === 2`, "two services match 'pr'", 5*time.Second)
		require.ElementsMatch(t, []string{"pricing", "products"}, eval[[]string](b, `[...document.querySelectorAll('[data-testid=service-row]')].map(r => r.dataset.service)`))
		b.do(chromedp.SendKeys(chromedp.CSS(`input[name=filter]`), "zzz"))
		b.waitFor(hasText(`[data-testid=services-table]`, "No service matches"), "no match message", 5*time.Second)
		// Window picker.
		b.do(chromedp.SetValue(chromedp.CSS(`select[name=window]`), "6h"))
		b.waitFor(`new URLSearchParams(location.search).get('window') === '6h'`, "window in the URL", 5*time.Second)
	})

	t.Run("service page shows charts, operations and neighbours; an exemplar opens its trace", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/services?sort=errorRate")
		b.waitFor(`document.querySelector('[data-testid=service-row][data-service=pricing] a') !== null`, "pricing row", 15*time.Second)
		b.click(`[data-testid=service-row][data-service=pricing] a`)
		b.waitFor(`location.pathname === '/services/pricing' && document.querySelectorAll('circle.exemplar').length > 0`, "charts with exemplars", 15*time.Second)
		require.Equal(t, "pricing", eval[string](b, `document.querySelector('[data-testid=service-name]').textContent`))
		require.InDelta(t, hist.errorPct("pricing"), pctOf(t, eval[string](b, `document.querySelector('[data-testid=service-error-rate]').textContent`)), 0.06)
		for _, c := range []string{"chart-rate", "chart-errors", "chart-latency"} {
			require.Equal(t, 1, b.count(`[data-testid=`+c+`] svg`), c)
		}
		require.Equal(t, 3, b.count(`[data-testid=chart-latency] path.chart-line`), "p50, p95, p99")
		require.True(t, eval[bool](b, `[...document.querySelectorAll('[data-testid=chart-latency] path.chart-line')].every(p => p.getAttribute('d').split('L').length > 40)`), "a point per minute with data")
		require.Greater(t, b.count(`[data-testid=chart-latency] circle.exemplar.error`), 0, "failing exemplars")
		require.Greater(t, b.count(`[data-testid=chart-errors] circle.exemplar.error`), 0, "failing exemplars on the error chart")
		// Operations and neighbours.
		b.waitFor(hasText(`[data-testid=operation-row]`, "GetPrice"), "GetPrice operation", 10*time.Second)
		require.Equal(t, "/search", eval[string](b, `new URL(document.querySelector('[data-testid=operation-row] a').href).pathname`))
		require.Equal(t, "pricing", eval[string](b, `new URL(document.querySelector('[data-testid=operation-row] a').href).searchParams.get('service')`))
		b.waitFor(hasText(`[data-testid=upstream] [data-testid=neighbour]`, "products"), "products upstream", 10*time.Second)
		require.True(t, eval[bool](b, hasText(`[data-testid=downstream] [data-testid=neighbour]`, "redis")), "redis downstream")
		require.False(t, eval[bool](b, hasText(`[data-testid=upstream]`, "redis")))
		b.screenshot("service.png")
		b.open(u + "/services/pricing?theme=dark")
		b.waitFor(`document.querySelectorAll('[data-testid=chart-latency] circle.exemplar').length > 0`, "dark service page", 15*time.Second)
		b.screenshot("service-dark.png")
		b.open(u + "/services/pricing")
		b.waitFor(`document.querySelectorAll('[data-testid=chart-latency] circle.exemplar.error').length > 0`, "service page", 15*time.Second)

		// A failing exemplar opens its trace.
		id := eval[string](b, `document.querySelector('[data-testid=chart-latency] circle.exemplar.error').dataset.traceId`)
		require.Regexp(t, `^[0-9a-f]{32}$`, id)
		b.svgClick(`[data-testid=chart-latency] circle.exemplar.error`)
		b.waitFor(`location.pathname === '/trace/`+id+`' && document.querySelector('[data-testid=span-count]') !== null`, "the exemplar's trace", 15*time.Second)
		require.True(t, eval[bool](b, hasText(`[data-testid=trace-header] .mono`, id)), "trace ID in the header")
		require.NotEqual(t, "0", eval[string](b, `document.querySelector('[data-testid=error-count]').textContent`), "the trace has the failure")

		// The trace page links each service to its service page.
		b.waitFor(`document.querySelectorAll('[data-testid=trace-service-link]').length === 3`, "frontend, products, pricing links", 5*time.Second)
		require.Equal(t, "/services/products", eval[string](b, `[...document.querySelectorAll('[data-testid=trace-service-link]')].find(a => a.textContent === 'products').getAttribute('href')`))
		b.click(`[data-testid=span-row]`)
		b.waitFor(`document.querySelector('[data-testid=span-service-link]') !== null`, "service link in span details", 5*time.Second)
		require.Equal(t, "/services/frontend", eval[string](b, `document.querySelector('[data-testid=span-service-link]').getAttribute('href')`))
		b.click(`[data-testid=span-service-link]`)
		b.waitFor(`location.pathname === '/services/frontend' && document.querySelector('[data-testid=service-name]')?.textContent === 'frontend'`, "frontend's service page", 10*time.Second)

		// A click on the worst minute of the error-rate chart searches that
		// minute's failing traces.
		b.open(u + "/services/pricing")
		b.waitFor(`document.querySelectorAll('[data-testid=chart-errors] rect.point-col').length > 40`, "error chart columns", 15*time.Second)
		worst := eval[int](b, `(() => { let best = -1, idx = -1; for (const r of document.querySelectorAll('[data-testid=chart-errors] rect.point-col')) { const m = r.textContent.match(/, ([0-9.]+)% errors/); if (m && +m[1] > best) { best = +m[1]; idx = +r.dataset.index } } return idx })()`)
		require.GreaterOrEqual(t, worst, 0)
		b.svgClick(fmt.Sprintf(`[data-testid=chart-errors] rect.point-col[data-index="%d"]`, worst))
		b.waitFor(`location.pathname === '/search' && document.querySelectorAll('[data-testid=result]').length > 0`, "that minute's failing traces", 15*time.Second)
		q := eval[string](b, `location.search`)
		require.Contains(t, q, "status=error")
		require.Contains(t, q, "service=pricing")
		require.Contains(t, q, "lookback=custom")
		require.Equal(t, b.count(`[data-testid=result]`), b.count(`[data-testid=result].has-error`), "only failing traces")
	})

	t.Run("service map draws services, peers and failing edges; clicks open pages", func(t *testing.T) {
		b := browser.with(t)
		var g metricsGraph
		require.Equal(t, 200, srv.getJSON("/api/v1/metrics/graph", &g))
		var nodes, virtual []string
		for _, n := range g.Nodes {
			nodes = append(nodes, n.Name)
			if n.Virtual {
				virtual = append(virtual, n.Name)
			}
		}
		require.Subset(t, virtual, []string{"stripe", "catalog", "orders", "redis", "user"})
		b.open(u + "/search")
		b.click(`.topbar nav a[href="/map"]`)
		b.waitFor(`document.querySelectorAll('[data-testid=map-node]').length > 0`, "map nodes", 15*time.Second)
		require.ElementsMatch(t, nodes, eval[[]string](b, `[...document.querySelectorAll('[data-testid=map-node]')].map(n => n.dataset.name)`))
		require.ElementsMatch(t, virtual, eval[[]string](b, `[...document.querySelectorAll('[data-testid=map-node].virtual')].map(n => n.dataset.name)`))
		edge := func(c, s string) string {
			return fmt.Sprintf(`[data-testid=map-edge][data-client=%q][data-server=%q]`, c, s)
		}
		require.Equal(t, 1, b.count(edge("products", "pricing")+".failing"), "failing edge highlighted")
		require.Equal(t, 1, b.count(edge("pricing", "redis")), "redis edge")
		require.Equal(t, 0, b.count(edge("pricing", "redis")+".failing"), "no errors towards redis")
		label := eval[string](b, `document.querySelector('`+edge("products", "pricing")+` [data-testid=edge-label]').textContent`)
		require.InDelta(t, hist.errorPct("pricing"), pctOf(t, label[strings.LastIndex(label, "·")+len("·"):]), 0.06, label)
		// Callers are left of callees.
		x := func(name string) float64 {
			return eval[float64](b, fmt.Sprintf(`document.querySelector('[data-testid=map-node][data-name=%q]').getBoundingClientRect().x`, name))
		}
		require.Less(t, x("user"), x("frontend"))
		require.Less(t, x("frontend"), x("products"))
		require.Less(t, x("products"), x("pricing"))
		require.Less(t, x("pricing"), x("redis"))
		require.Less(t, x("payments"), x("stripe"))
		require.True(t, eval[bool](b, hasText(`[data-testid=map-node]`, xssName)) || eval[bool](b, hasText(`[data-testid=map-node] title`, xssName)))
		require.False(t, eval[bool](b, `window.__xss !== undefined`))
		b.screenshot("map.png")
		b.open(u + "/map?theme=dark")
		b.waitFor(`document.querySelectorAll('[data-testid=map-edge].failing').length > 0`, "dark map", 15*time.Second)
		b.screenshot("map-dark.png")
		b.open(u + "/map")
		b.waitFor(`document.querySelectorAll('[data-testid=map-edge]').length > 0`, "map edges", 15*time.Second)

		// A click on an edge searches the server side's traces in the window.
		b.svgClick(edge("products", "pricing"))
		b.waitFor(`location.pathname === '/search'`, "search page", 10*time.Second)
		q := eval[string](b, `location.search`)
		require.Contains(t, q, "service=pricing")
		require.Contains(t, q, "lookback=custom")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length > 0`, "pricing traces", 15*time.Second)

		// A click on a node opens its service page.
		b.open(u + "/map")
		b.waitFor(`document.querySelectorAll('[data-testid=map-node]').length > 0`, "map nodes", 15*time.Second)
		b.svgClick(`[data-testid=map-node][data-name=payments]`)
		b.waitFor(`location.pathname === '/services/payments' && document.querySelector('[data-testid=service-summary]') !== null`, "payments page", 10*time.Second)
		b.waitFor(hasText(`[data-testid=downstream] [data-testid=neighbour]`, "stripe"), "stripe downstream", 10*time.Second)
	})

	t.Run("a TraceQL metrics query on the search page charts its series", func(t *testing.T) {
		b := browser.with(t)
		q := `{ kind = server } | count_over_time() by (resource.service.name)`
		b.open(u + "/search?mode=traceql&lookback=1h&q=" + url.QueryEscape(q))
		b.waitFor(`document.querySelectorAll('[data-testid=tql-series] tbody tr').length === 6`, "six series", 15*time.Second)
		totals := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('[data-testid=tql-series] tbody tr')]`+
			`.map(r => [r.dataset.series, r.querySelector('[data-testid=series-total]').textContent]))`)
		for _, svc := range services {
			require.Equal(t, strconv.Itoa(hist[svc][0]), totals[`{resource.service.name="`+svc+`"}`], "%s: spans counted over the hour", svc)
		}
		require.Equal(t, 6, b.count(`[data-testid=tql-chart] path.chart-line`), "one line per series")
		require.Equal(t, "6 series", eval[string](b, `document.querySelector('[data-testid=result-count]').textContent`))
		b.screenshot("tql-metrics.png")
	})

	t.Run("empty windows say so; Refresh loads new data; errors are shown", func(t *testing.T) {
		b := browser.with(t)
		empty := startServer(t, "")
		for _, p := range []string{"/services", "/map", "/services/nothing"} {
			b.open(empty.queryURL + p)
			b.waitFor(hasText(`[data-testid=empty]`, "No data in this window"), p+": empty message", 10*time.Second)
		}
		// Spans sent later appear on Refresh.
		b.open(empty.queryURL + "/services")
		b.waitFor(hasText(`[data-testid=empty]`, "No data in this window"), "empty services page", 10*time.Second)
		sv := newSDKServices(t, empty)
		_, s := sv.tracer("late").Start(context.Background(), "GET /late", trace.WithSpanKind(trace.SpanKindServer))
		s.End()
		sv.shutdown("late")
		b.click(`[data-testid=refresh]`)
		b.waitFor(`document.querySelector('[data-testid=service-row][data-service=late]') !== null`, "the new service after Refresh", 10*time.Second)
		// With the server gone, the next load shows the error.
		empty.stop()
		b.do(chromedp.SetValue(chromedp.CSS(`select[name=window]`), "15m"))
		b.waitFor(hasText(`[data-testid=metrics-error]`, "Could not load"), "error shown", 10*time.Second)
	})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
