package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const (
	xssHTML = `<img src=x onerror="window.__xss=1">`
	xssURL  = `javascript:window.__xss=2`
	xssName = `render <img src=x onerror="window.__xss=3">`
)

// uiTraces are two checkout traces sent with the OpenTelemetry Go SDK over
// OTLP/HTTP, one tracer provider per service, with fixed timestamps.
type uiTraces struct {
	a, b string // trace IDs
}

func seedUITraces(t *testing.T, srv *server) uiTraces {
	t.Helper()
	ctx := context.Background()
	sv := newSDKServices(t, srv)
	tracer := sv.tracer
	t0 := time.Now().Add(-2 * time.Minute).Truncate(time.Millisecond)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	span := func(ctx context.Context, service, name string, from, to int, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
		return tracer(service).Start(ctx, name, trace.WithTimestamp(at(from)), trace.WithAttributes(attrs...))
	}
	end := func(s trace.Span, ms int) { s.End(trace.WithTimestamp(at(ms))) }

	// Trace B first, so that a span of A can link to it.
	bctx, broot := span(ctx, "frontend", "GET /checkout", 0, 60, attribute.String("customer.tier", "silver"))
	pctx, place := span(bctx, "checkout", "PlaceOrder", 5, 50)
	_, cache := span(pctx, "checkout", "cache lookup", 10, 20)
	end(cache, 20)
	end(place, 50)
	end(broot, 60)

	actx, root := span(ctx, "frontend", "GET /checkout", 0, 100,
		attribute.String("customer.tier", "gold"), attribute.String("http.route", "/checkout"),
		attribute.String("xss.html", xssHTML), attribute.String("xss.url", xssURL))
	pctx, place = span(actx, "checkout", "PlaceOrder", 5, 80)
	_, sel := span(pctx, "checkout", "SELECT orders", 10, 30, attribute.String("db.system", "postgresql"))
	end(sel, 30)
	_, charge := span(pctx, "payment", "Charge", 35, 75)
	charge.AddEvent("exception", trace.WithTimestamp(at(70)), trace.WithAttributes(attribute.String("exception.message", "card declined")))
	charge.SetStatus(codes.Error, "card declined")
	_, audit := span(pctx, "checkout", "audit", 40, 50)
	end(audit, 50)
	end(charge, 75)
	end(place, 80)
	_, render := tracer("frontend").Start(actx, xssName, trace.WithTimestamp(at(82)),
		trace.WithLinks(trace.Link{SpanContext: broot.SpanContext()}))
	end(render, 95)
	end(root, 100)
	// 16 one-span traces of another service that all carry ui.region, so
	// that autocomplete (which samples recent spans) knows its value.
	for i := range 16 {
		_, s := span(ctx, "autocomplete", "tick", 200+i, 201+i, attribute.String("ui.region", "eu-test"))
		end(s, 201+i)
	}
	sv.shutdown("frontend", "checkout", "payment", "autocomplete")
	return uiTraces{a: root.SpanContext().TraceID().String(), b: broot.SpanContext().TraceID().String()}
}

// TestUI drives the embedded web UI in a real Chromium against the real
// binary: search, the trace page with its views, span details, critical
// path, find, comparison, dark theme, opening a file and inert user data.
func TestUI(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	tr := seedUITraces(t, srv)
	u := srv.queryURL
	rows := `document.querySelectorAll('[data-testid=span-row]').length`

	t.Run("serves the app on client routes without shadowing the API", func(t *testing.T) {
		for path, want := range map[string]int{"/": 200, "/search": 200, "/trace/" + tr.a: 200, "/api/v1/nope": 404, "/metrics": 200} {
			resp, err := http.Get(u + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, want, resp.StatusCode, path)
			if path == "/metrics" || path == "/api/v1/nope" {
				require.NotContains(t, string(body), "<div id=\"root\">", path)
			} else {
				require.Contains(t, string(body), "<div id=\"root\">", path)
			}
		}
	})

	t.Run("search by service lists both traces with scatter plot", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/search?service=frontend&lookback=1h")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 2`, "two results", 15*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=result][data-trace-id="`+tr.a+`"].has-error`), "trace A is marked as having errors")
		require.True(t, eval[bool](b, hasText(`[data-trace-id="`+tr.a+`"]`, "6 spans")))
		require.True(t, eval[bool](b, hasText(`[data-trace-id="`+tr.a+`"]`, "1 errors")))
		require.True(t, eval[bool](b, hasText(`[data-trace-id="`+tr.a+`"] .svc-tag`, "payment (1)")))
		require.Equal(t, 2, b.count(`[data-testid=scatter] circle`))
		require.Equal(t, 1, b.count(`[data-testid=scatter] circle.error`))
		b.screenshot("search.png")
		// Sorting by most spans puts A (6 spans) before B (3).
		first := eval[string](b, `document.querySelector('[data-testid=result]').dataset.traceId`)
		require.NotEmpty(t, first)
		b.do(chromedp.SetValue(chromedp.CSS(`select[name=sort]`), "spans"))
		b.waitFor(`new URLSearchParams(location.search).get('sort') === 'spans'`, "sort in URL", 10*time.Second)
		b.waitFor(`document.querySelector('[data-testid=result]').dataset.traceId === `+js(tr.a), "A first by span count", 10*time.Second)
		// Pick both traces for comparison.
		b.click(`[data-trace-id="` + tr.a + `"] input[type=checkbox]`)
		b.click(`[data-trace-id="` + tr.b + `"] input[type=checkbox]`)
		b.waitFor(`!document.querySelector('[data-testid=compare-picked]').disabled`, "compare enabled", 10*time.Second)
		b.click(`[data-testid=compare-picked]`)
		b.waitFor(`location.pathname === `+js("/trace/"+tr.a+"..."+tr.b), "comparison opened", 10*time.Second)
		b.do(chromedp.NavigateBack())
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 2`, "back to the results", 15*time.Second)
		// A click on a scatter dot opens the trace.
		b.do(chromedp.Click(chromedp.CSS(`[data-testid=scatter] circle[data-trace-id="` + tr.b + `"]`)))
		b.waitFor(`location.pathname === `+js("/trace/"+tr.b), "trace B opened from the scatter plot", 10*time.Second)
	})

	t.Run("search by attribute", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/search?attr=customer.tier%3Dgold&lookback=1h")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 1`, "one result", 15*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=result][data-trace-id="`+tr.a+`"]`))
		// The form shows the filter from the URL.
		require.Equal(t, "customer.tier=gold", eval[string](b, `document.querySelector('input[name=attr]').value`))
		// Autocomplete: attribute keys, then the key's values once an operator is typed.
		b.open(u + "/search?service=frontend&lookback=1h")
		b.waitFor(`!!document.querySelector('#attr-list-0 option[value="ui.region"]')`, "attribute keys offered", 10*time.Second)
		b.do(chromedp.SendKeys(chromedp.CSS(`input[name=attr]`), "ui.region="))
		b.waitFor(`!!document.querySelector('#attr-list-0 option[value="ui.region=eu-test"]')`, "attribute values offered", 10*time.Second)
		b.waitFor(`[...document.querySelectorAll('#ops option')].some(o => o.value === 'GET /checkout') && [...document.querySelectorAll('#ops option')].some(o => o.value.startsWith('render <img'))`, "span names of the service offered", 10*time.Second)
		// Status and whole-trace duration filters.
		b.open(u + "/search?status=error&lookback=1h")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 1 && !!document.querySelector('[data-trace-id="`+tr.a+`"]')`, "only the errored trace", 15*time.Second)
		require.Equal(t, "error", eval[string](b, `document.querySelector('select[name=status]').value`))
		b.open(u + "/search?minDuration=80ms&durationScope=trace&lookback=1h")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 1 && !!document.querySelector('[data-trace-id="`+tr.a+`"]')`, "only the 100ms trace", 15*time.Second)
		require.True(t, eval[bool](b, `document.querySelector('input[name=durationScope]:checked').parentElement.textContent === 'Whole trace'`))
		// A bad filter shows the API's error, as text.
		b.open(u + "/search?minDuration=fast&lookback=1h")
		b.waitFor(hasText(`[role=alert]`, "minDuration"), "error naming the parameter", 10*time.Second)
	})

	t.Run("TraceQL search, autocomplete, matched spans and syntax errors", func(t *testing.T) {
		b := browser.with(t)
		tql := func(q string) string { return u + "/search?mode=traceql&lookback=1h&q=" + url.QueryEscape(q) }
		// A structural query finds trace A; its matched span is the payment error.
		b.open(tql(`{ resource.service.name = "checkout" } >> { status = error }`))
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 1`, "one result", 15*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=result][data-trace-id="`+tr.a+`"]`))
		require.Equal(t, "1 matched", eval[string](b, `document.querySelector('[data-testid=matched-count]').textContent`))
		require.Contains(t, eval[string](b, `document.querySelector('[data-testid=traceql-input]').value`), ">> { status = error }")
		b.screenshot("traceql.png")
		// Opening it highlights the matched span.
		b.click(`[data-trace-id="` + tr.a + `"] a.result-title`)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		require.Equal(t, "1 match", eval[string](b, `document.querySelector('[data-testid=find-count]').textContent`))
		require.Equal(t, 1, b.rowsWhere(`r.classList.contains('match') && r.textContent.includes('Charge')`))

		// Switch from the form to TraceQL and build a query with autocomplete.
		b.open(u + "/search?lookback=1h")
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length > 0`, "recent traces", 15*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`[data-testid=mode-traceql]`)))
		b.waitFor(`!!document.querySelector('[data-testid=traceql-input]')`, "the query box", 10*time.Second)
		b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=traceql-input]`), "{ .ui.reg"))
		b.waitFor(`[...document.querySelectorAll('[data-testid=tql-suggestion]')].some(e => e.textContent === '.ui.region')`, "attribute key offered", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.Tab)) // Tab takes the first completion
		b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=traceql-input]`), " = "))
		b.waitFor(`[...document.querySelectorAll('[data-testid=tql-suggestion]')].some(e => e.textContent === '"eu-test"')`, "attribute value offered", 10*time.Second)
		b.screenshot("traceql-autocomplete.png")
		b.click(`[data-testid=tql-suggestion]`)
		b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=traceql-input]`), " }"))
		require.Equal(t, `{ .ui.region = "eu-test" }`, eval[string](b, `document.querySelector('[data-testid=traceql-input]').value`))
		b.click(`[data-testid=search-submit]`)
		b.waitFor(`new URLSearchParams(location.search).get('q') === '{ .ui.region = "eu-test" }' && new URLSearchParams(location.search).get('mode') === 'traceql'`, "query in URL", 10*time.Second)
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 16`, "the 16 autocomplete traces", 15*time.Second)

		// A syntax error is shown at its position, as text.
		b.open(tql("{ status = error }\n&& { .a = }"))
		b.waitFor(`!!document.querySelector('[data-testid=traceql-error-position]')`, "syntax error", 15*time.Second)
		require.Contains(t, eval[string](b, `document.querySelector('[data-testid=traceql-error-position]').textContent`), "Syntax error at line 2, column 11: ")
		require.Equal(t, "&& { .a = }\n          ^", eval[string](b, `document.querySelector('[data-testid=traceql-error-caret]').textContent`))
		require.Equal(t, 0, b.count(`[data-testid=result]`))
		require.False(t, eval[bool](b, hasText(`.results`, "No traces match")), "a syntax error is not an empty result")
		b.screenshot("traceql-error.png")
		b.open(tql("{ parent.a = 1 }"))
		b.waitFor(hasText(`[data-testid=traceql-error-position]`, "Not supported at line 1, column 3: "), "unsupported feature", 15*time.Second)
	})

	t.Run("trace page waterfall, collapse and expand", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		require.Equal(t, "6", eval[string](b, `document.querySelector('[data-testid=span-count]').textContent`))
		require.Equal(t, "1", eval[string](b, `document.querySelector('[data-testid=error-count]').textContent`))
		require.Equal(t, "100ms", eval[string](b, `document.querySelector('[data-testid=trace-duration]').textContent`))
		require.Equal(t, 1, b.count(`[data-testid=error-mark]`))
		require.Equal(t, 1, b.rowsWhere(`r.classList.contains('error') && r.textContent.includes('Charge')`))
		// Pre-order, children by start time.
		require.Equal(t, []string{"GET /checkout", "PlaceOrder", "SELECT orders", "Charge", "audit", xssName},
			eval[[]string](b, `[...document.querySelectorAll('[data-testid=span-row] .span-name')].map(e => e.textContent)`))
		b.click(`[data-testid=span-row] [data-testid=toggle]`) // collapse the root
		b.waitFor(rows+` === 1`, "root collapsed", 10*time.Second)
		require.Contains(t, eval[string](b, `location.search`), "toggle=")
		b.click(`[data-testid=expand-all]`)
		b.waitFor(rows+` === 6`, "expanded again", 10*time.Second)
		b.do(chromedp.SetValue(chromedp.CSS(`[data-testid=depth-select]`), "2"))
		b.waitFor(rows+` === 3`, "two levels: root, PlaceOrder, render", 10*time.Second)
		b.click(`[data-testid=collapse-all]`)
		b.waitFor(rows+` === 1`, "all collapsed", 10*time.Second)
		// The view survives a reload: it is in the URL.
		b.open(eval[string](b, `location.href`))
		b.waitFor(rows+` === 1`, "still collapsed after reload", 15*time.Second)
		b.click(`[data-testid=expand-all]`)
		b.waitFor(rows+` === 6`, "expanded", 10*time.Second)
	})

	t.Run("keyboard moves the selection and folds", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		selected := `document.querySelector('[data-testid=span-row].selected .span-name')?.textContent`
		b.do(chromedp.Click(chromedp.CSS(`[data-testid=span-row] .span-name`))) // the root; focuses the waterfall
		b.waitFor(selected+` === 'GET /checkout'`, "root selected", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.ArrowDown))
		b.waitFor(selected+` === 'PlaceOrder'`, "down", 10*time.Second)
		b.do(chromedp.KeyEvent("j"))
		b.waitFor(selected+` === 'SELECT orders'`, "j", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.ArrowLeft)) // a leaf: to its parent
		b.waitFor(selected+` === 'PlaceOrder'`, "left to the parent", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.ArrowLeft)) // collapse PlaceOrder
		b.waitFor(rows+` === 3`, "PlaceOrder collapsed", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.ArrowRight))
		b.waitFor(rows+` === 6`, "expanded", 10*time.Second)
		b.do(chromedp.KeyEvent(kb.Escape))
		b.waitFor(`!document.querySelector('[data-testid=span-detail]')`, "details closed", 10*time.Second)
	})

	t.Run("minimap selects and moves the time window", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		drag := func(from, to float64) {
			eval[int](b, fmt.Sprintf(`(() => {
				const m = document.querySelector('[data-testid=minimap]'); const r = m.getBoundingClientRect();
				const ev = (type, f) => m.dispatchEvent(new PointerEvent(type, {bubbles: true, clientX: r.left + f * r.width, clientY: r.top + 10, pointerId: 1}));
				ev('pointerdown', %g); ev('pointermove', %g); ev('pointerup', %g); return 0 })()`, from, to, to))
		}
		drag(0.1, 0.5) // select 10%..50% of the trace
		b.waitFor(`new URLSearchParams(location.search).get('vs') === '0.1000' && new URLSearchParams(location.search).get('ve') === '0.5000'`, "window in URL", 10*time.Second)
		require.Equal(t, "10ms", eval[string](b, `document.querySelector('.ruler .tick').textContent`), "the ruler starts at the window")
		drag(0.3, 0.4) // drag the window 10% to the right
		b.waitFor(`new URLSearchParams(location.search).get('vs') === '0.2000' && new URLSearchParams(location.search).get('ve') === '0.6000'`, "moved window in URL", 10*time.Second)
		// render (82ms..95ms) is outside the window: its bar starts right of the visible range.
		require.True(t, eval[bool](b, `parseFloat([...document.querySelectorAll('[data-testid=span-row]')].pop().querySelector('.bar').style.left) > 100`))
	})

	t.Run("critical path toggle", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		// audit runs in parallel with Charge: every span but audit is on the path.
		require.Equal(t, 5, b.count(`[data-testid=span-row].critical`))
		require.Equal(t, 0, b.rowsWhere(`r.classList.contains('critical') && r.querySelector('.span-name').textContent === 'audit'`))
		b.click(`[data-testid=cp-toggle]`)
		b.waitFor(`document.querySelectorAll('[data-testid=span-row].critical').length === 0`, "critical path off", 10*time.Second)
		require.Contains(t, eval[string](b, `location.search`), "cp=0")
	})

	t.Run("span details render user data as text", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		b.click(`[data-testid=span-row]`) // the root
		b.waitFor(`!!document.querySelector('[data-testid=span-detail]')`, "detail panel", 10*time.Second)
		require.Equal(t, "GET /checkout", eval[string](b, `document.querySelector('[data-testid=span-detail-name]').textContent`))
		require.True(t, eval[bool](b, hasText(`[data-testid=attrs-span] td`, xssHTML)), "the HTML attribute value appears as text")
		require.True(t, eval[bool](b, hasText(`[data-testid=attrs-span] td`, xssURL)))
		require.True(t, eval[bool](b, hasText(`[data-testid=span-row] .span-name`, xssName)), "the HTML span name appears as text")
		require.Equal(t, 0, b.count(`img`), "no element was created from user data")
		require.Equal(t, 0, b.count(`a[href^="javascript"]`))
		require.True(t, eval[bool](b, `window.__xss === undefined`))
		// The attribute filter narrows the table.
		b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=attr-filter]`), "tier"))
		b.waitFor(`document.querySelectorAll('[data-testid=attrs-span] tr').length === 1`, "one filtered attribute", 10*time.Second)
		// The error span: status message, self time and its event relative to the trace start.
		b.open(u + "/trace/" + tr.a + "?span=" + eval[string](b, `[...document.querySelectorAll('[data-testid=span-row]')].find(r => r.textContent.includes('Charge')).dataset.spanId`))
		b.waitFor(`!!document.querySelector('[data-testid=span-detail]')`, "detail from URL", 15*time.Second)
		require.Equal(t, "error: card declined", eval[string](b, `document.querySelector('[data-testid=span-status]').textContent`))
		require.Equal(t, "40ms", eval[string](b, `document.querySelector('[data-testid=self-time]').textContent`))
		require.True(t, eval[bool](b, hasText(`[data-testid=span-detail] .events li`, "+70ms exception")))
		b.screenshot("trace.png")
	})

	t.Run("span link opens the linked trace", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		b.click(`[data-testid=span-row]:last-child`)
		b.do(chromedp.Click(chromedp.CSS(`[data-testid=span-link]`)))
		b.waitFor(`location.pathname === `+js("/trace/"+tr.b), "linked trace", 10*time.Second)
		b.waitFor(rows+` === 3`, "trace B rows", 15*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=span-row].selected`), "the linked span is selected")
	})

	t.Run("find in trace is linkable", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a + "?uiFind=postgres")
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		require.Equal(t, "1 match", eval[string](b, `document.querySelector('[data-testid=find-count]').textContent`))
		require.Equal(t, 1, b.rowsWhere(`r.classList.contains('match') && r.textContent.includes('SELECT orders')`))
		// Typing updates the URL.
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=find-input]`), "checkout"))
		b.waitFor(`new URLSearchParams(location.search).get('uiFind') === 'checkout'`, "uiFind in URL", 10*time.Second)
		b.waitFor(`document.querySelectorAll('[data-testid=span-row].match').length === 4`, "four checkout matches", 10*time.Second)
	})

	t.Run("statistics and flame graph views", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		b.click(`[data-testid=view-stats]`)
		b.waitFor(`document.querySelectorAll('[data-testid=stats-table] tbody tr').length === 6`, "six stats rows", 10*time.Second)
		// payment Charge: 1 span, 40ms total and self, 40ms on the critical path, 1 error.
		require.Equal(t, []string{"payment", "Charge", "1", "40ms", "40ms", "40ms", "40ms", "40ms", "40ms", "1"},
			eval[[]string](b, `[...[...document.querySelectorAll('[data-testid=stats-table] tbody tr')].find(r => r.textContent.includes('Charge')).cells].map(c => c.textContent)`))
		require.Equal(t, "stats", eval[string](b, `new URLSearchParams(location.search).get('view')`))
		b.click(`[data-testid=view-flame]`)
		b.waitFor(`document.querySelector('[data-testid=flame] canvas')?.height > 0`, "flame graph canvas", 10*time.Second)
		// The root box is drawn at the top left: its pixel is not transparent.
		require.True(t, eval[bool](b, `(() => { const c = document.querySelector('[data-testid=flame] canvas'); return c.getContext('2d').getImageData(5, 5, 1, 1).data[3] > 0 })()`))
	})

	t.Run("download the trace as OTLP JSON and open it again", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		// Catch the downloaded blob instead of saving it.
		eval[int](b, `(() => { const orig = URL.createObjectURL; URL.createObjectURL = (blob) => { window.__download = blob; return orig(blob) }; return 0 })()`)
		b.click(`[data-testid=download]`)
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__download.text()`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(text))
		require.NoError(t, err, "the download is OTLP/JSON")
		require.Equal(t, 6, td.SpanCount())
		// Open the downloaded file: the same trace, from the file.
		f := filepath.Join(t.TempDir(), "download.json")
		require.NoError(t, os.WriteFile(f, []byte(text), 0o644))
		b.do(chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=open-file]`), []string{f}, chromedp.NodeReady))
		b.waitFor(`location.pathname === '/file'`, "file view", 10*time.Second)
		b.waitFor(rows+` === 6`, "six rows from the file", 10*time.Second)
		require.Equal(t, 5, b.count(`[data-testid=span-row].critical`))
		require.Equal(t, 1, b.count(`[data-testid=error-mark]`))
	})

	t.Run("Jaeger UI search links", func(t *testing.T) {
		b := browser.with(t)
		startUs := time.Now().Add(-time.Hour).UnixMicro()
		endUs := time.Now().Add(time.Minute).UnixMicro()
		b.open(fmt.Sprintf("%s/search?service=frontend&operation=GET%%20%%2Fcheckout&tags=%%7B%%22customer.tier%%22%%3A%%22silver%%22%%7D&lookback=custom&start=%d&end=%d&limit=20", u, startUs, endUs))
		b.waitFor(`document.querySelectorAll('[data-testid=result]').length === 1`, "one result", 15*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=result][data-trace-id="`+tr.b+`"]`))
	})

	t.Run("compare two traces", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a + "..." + tr.b)
		b.waitFor(`!!document.querySelector('[data-testid=compare-summary]')`, "comparison", 15*time.Second)
		require.Equal(t, "only in A: 4 only in B: 1 in both: 2", eval[string](b, `document.querySelector('[data-testid=compare-summary]').textContent`))
		require.Equal(t, 7, b.count(`[data-testid=diff-row]`))
		// The root took 100ms in A and 60ms in B.
		require.True(t, eval[bool](b, hasText(`[data-testid=diff-row].both`, "-40ms")))
		require.Equal(t, 4, b.count(`[data-testid=diff-row].only-a`))
	})

	t.Run("dark theme", func(t *testing.T) {
		b := browser.with(t)
		b.open(u + "/trace/" + tr.a)
		b.waitFor(rows+` === 6`, "six rows", 15*time.Second)
		before := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
		b.click(`[data-testid=theme-toggle]`)
		b.waitFor(`document.documentElement.dataset.theme === 'dark'`, "dark theme", 10*time.Second)
		after := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
		require.NotEqual(t, before, after)
		require.Equal(t, "rgb(18, 21, 27)", after)
		b.screenshot("trace-dark.png")
		b.click(`[data-testid=theme-toggle]`)
		b.waitFor(`document.documentElement.dataset.theme === 'light'`, "light again", 10*time.Second)
	})

	t.Run("open a Jaeger JSON file without storing it", func(t *testing.T) {
		b := browser.with(t)
		doc := map[string]any{"data": []any{map[string]any{
			"traceID": "00000000000000000000000000abcdef",
			"spans": []any{
				map[string]any{"traceID": "abcdef", "spanID": "0000000000000001", "operationName": "from-file-root", "startTime": 1700000000000000, "duration": 5000, "processID": "p1", "references": []any{}},
				map[string]any{"traceID": "abcdef", "spanID": "0000000000000002", "operationName": "from-file-child", "startTime": 1700000000001000, "duration": 2000, "processID": "p1",
					"references": []any{map[string]any{"refType": "CHILD_OF", "traceID": "abcdef", "spanID": "0000000000000001"}},
					"tags":       []any{map[string]any{"key": "error", "type": "bool", "value": true}}},
			},
			"processes": map[string]any{"p1": map[string]any{"serviceName": "file-svc"}},
		}}}
		body, err := json.Marshal(doc)
		require.NoError(t, err)
		f := filepath.Join(t.TempDir(), "trace.json")
		require.NoError(t, os.WriteFile(f, body, 0o644))
		b.open(u + "/search")
		b.do(chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=open-file]`), []string{f}, chromedp.NodeReady))
		b.waitFor(`location.pathname === '/file'`, "file view", 10*time.Second)
		b.waitFor(rows+` === 2`, "two rows from the file", 10*time.Second)
		require.Equal(t, 1, b.count(`[data-testid=error-mark]`))
		require.True(t, eval[bool](b, hasText(`[data-testid=trace-header]`, "not stored")))
		// Nothing was stored.
		var res searchResponse
		require.Equal(t, 200, srv.getJSON("/api/v1/search?service=file-svc", &res))
		require.Empty(t, res.Traces)
	})
}
