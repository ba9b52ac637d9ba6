package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

type tailView struct {
	Enabled        bool  `json:"enabled"`
	MaxMemoryBytes int64 `json:"maxMemoryBytes"`
	HeldTraces     int64 `json:"heldTraces"`
	TracesKept     int   `json:"tracesKept"`
	TracesDropped  int   `json:"tracesDropped"`
	SpansKept      int   `json:"spansKept"`
	SpansDropped   int   `json:"spansDropped"`
	Policies       []struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Kept       int    `json:"kept"`
		Matched    int    `json:"matched"`
		OverBudget int    `json:"overBudget"`
		Evaluated  int    `json:"evaluated"`
	} `json:"policies"`
}

// tailPolicyHTML is a policy name with markup: the UI must show it as text.
const tailPolicyHTML = `<b>x</b> <img src=x onerror="window.__xss=7">`

// TestUITailSampling shows tail sampling's counters and policies on the
// Sampling page and, on a kept trace's page, the policy that kept it and
// its weight; user-supplied names render as text. Without tail sampling
// the page says it is off (and still shows the adaptive part).
func TestUITailSampling(t *testing.T) {
	b := newBrowser(t)

	off := startServer(t, "")
	b.open(off.queryURL + "/sampling")
	b.waitFor(`document.querySelector('[data-testid="tail-off"]') !== null && document.querySelector('[data-testid="adaptive-off"]') !== null`,
		"both off messages", 10*time.Second)
	require.Contains(t, eval[string](b, `document.querySelector('[data-testid="tail-off"]').textContent`), "sampling.tail.enabled: true")
	require.Equal(t, 0, b.count(`[data-testid="tail-summary"]`))

	cfg := filepath.Join(t.TempDir(), "ariadne.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`sampling:
  tail:
    enabled: true
    idle: 300ms
    policies:
      - name: errors
        type: error
      - name: `+strconv.Quote(tailPolicyHTML)+`
        type: probabilistic
        probability: 0.1
`), 0o644))
	srv := startServer(t, "", "--config", cfg)

	// 200 traces of two spans each; 3 have an error in the child span.
	const traces, errTraces = 200, 3
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("checkout"))))
	tr := tp.Tracer("tail-ui")
	var errIDs, okIDs []string
	for i := range traces {
		c, root := tr.Start(ctx, "GET /cart")
		_, child := tr.Start(c, "SELECT cart")
		if i%(traces/errTraces) == 7 && len(errIDs) < errTraces {
			child.SetStatus(codes.Error, "deadlock")
			errIDs = append(errIDs, root.SpanContext().TraceID().String())
		} else {
			okIDs = append(okIDs, root.SpanContext().TraceID().String())
		}
		child.End()
		root.End()
	}
	require.Len(t, errIDs, errTraces)
	require.NoError(t, tp.Shutdown(ctx))

	var v tailView
	require.Eventually(t, func() bool {
		v = tailView{}
		srv.getJSON("/api/v1/sampling/tail", &v)
		return v.TracesKept+v.TracesDropped == traces && v.HeldTraces == 0
	}, 20*time.Second, 50*time.Millisecond, "tail sampling did not decide the %d traces", traces)
	require.True(t, v.Enabled)
	require.Len(t, v.Policies, 2)
	require.Equal(t, "errors", v.Policies[0].Name)
	require.Equal(t, errTraces, v.Policies[0].Kept)
	require.Equal(t, tailPolicyHTML, v.Policies[1].Name)
	probKept := v.TracesKept - errTraces
	require.Equal(t, probKept, v.Policies[1].Kept)
	// A probabilistic policy of 0.1 over 197 random trace IDs keeps some
	// and drops most (the chance of either being wrong is below 1e-8).
	require.Greater(t, probKept, 0)
	require.Less(t, probKept, 60)

	// The probabilistic policy kept some trace without an error: find one.
	var probID string
	for _, id := range okIDs {
		if spanCount(srv.trace(id)) > 0 {
			probID = id
			break
		}
	}
	require.NotEmpty(t, probID)

	b.open(srv.queryURL + "/sampling")
	b.waitFor(`document.querySelectorAll('[data-testid="tail-policy-row"]').length === 2`, "two policy rows", 10*time.Second)
	// Adaptive sampling is off on this server: its part says so.
	require.Equal(t, 1, b.count(`[data-testid="adaptive-off"]`))
	require.Equal(t, 0, b.count(`[data-testid="tail-off"]`))
	rows := eval[[]string](b, `[...document.querySelectorAll('[data-testid="tail-policy-row"]')].map(r => [...r.cells].map(c => c.textContent).join("|"))`)
	require.Equal(t, []string{
		fmt.Sprintf("errors|error|%d|%d|%d|0|%d", traces, errTraces, errTraces, traces-errTraces),
		fmt.Sprintf("%s|probabilistic|%d|%d|%d|0|%d", tailPolicyHTML, traces, v.Policies[1].Matched, probKept, traces-probKept),
	}, rows)
	summary := eval[string](b, `document.querySelector('[data-testid="tail-summary"]').textContent`)
	require.Contains(t, eval[string](b, `document.querySelector('[data-testid="tail-traces-kept"]').textContent`),
		fmt.Sprintf("%d of %d (", v.TracesKept, traces))
	require.Contains(t, eval[string](b, `document.querySelector('[data-testid="tail-traces-dropped"]').textContent`), strconv.Itoa(v.TracesDropped))
	require.Contains(t, eval[string](b, `document.querySelector('[data-testid="tail-spans"]').textContent`),
		fmt.Sprintf("%d / %d", v.SpansKept, v.SpansDropped))
	require.Equal(t, 2*v.TracesKept, v.SpansKept)
	require.Contains(t, summary, "of 64 MiB")
	require.Equal(t, int64(64<<20), v.MaxMemoryBytes)
	require.Equal(t, 0, b.count(`[data-testid="sampling-page"] img`))
	require.Equal(t, 0, b.count(`[data-testid="tail-policies"] b`))
	require.False(t, eval[bool](b, `window.__xss !== undefined`))
	b.do(chromedp.EmulateViewport(1280, 800))
	b.screenshot("sampling-tail.png")

	// The error trace was kept by the errors policy with weight 1.
	b.open(srv.queryURL + "/trace/" + errIDs[0])
	b.waitFor(`document.querySelector('[data-testid="kept-by"]') !== null`, "the kept-by line", 10*time.Second)
	require.Equal(t, "Kept by tail sampling policy errors · weight 1", eval[string](b, `document.querySelector('[data-testid="kept-by"]').textContent`))
	require.Equal(t, "errors", eval[string](b, `document.querySelector('[data-testid="kept-by-policy"]').textContent`))
	require.Equal(t, "1", eval[string](b, `document.querySelector('[data-testid="kept-by-weight"]').textContent`))

	// The other trace: the HTML policy name as text, weight 10.
	b.open(srv.queryURL + "/trace/" + probID)
	b.waitFor(`document.querySelector('[data-testid="kept-by"]') !== null`, "the kept-by line", 10*time.Second)
	require.Equal(t, tailPolicyHTML, eval[string](b, `document.querySelector('[data-testid="kept-by-policy"]').textContent`))
	require.Equal(t, 0, eval[int](b, `document.querySelector('[data-testid="kept-by-policy"]').children.length`))
	require.Equal(t, "10", eval[string](b, `document.querySelector('[data-testid="kept-by-weight"]').textContent`))
	require.Equal(t, 0, b.count(`[data-testid="trace-header"] img`))
	require.False(t, eval[bool](b, `window.__xss !== undefined`))

	// A trace stored without tail sampling has no kept-by line.
	exp2, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(off.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp2 := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp2),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("checkout"))))
	_, plain := tp2.Tracer("tail-ui").Start(ctx, "GET /cart")
	plain.SetStatus(codes.Error, "deadlock")
	plain.End()
	require.NoError(t, tp2.Shutdown(ctx))
	plainID := plain.SpanContext().TraceID().String()
	require.Eventually(t, func() bool { return spanCount(off.trace(plainID)) == 1 }, 10*time.Second, 50*time.Millisecond)
	b.open(off.queryURL + "/trace/" + plainID)
	b.waitFor(`document.querySelector('[data-testid="span-count"]') !== null`, "the trace header", 10*time.Second)
	require.Equal(t, 0, b.count(`[data-testid="kept-by"]`))
}
