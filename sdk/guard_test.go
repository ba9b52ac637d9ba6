package sdk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func memProvider(t *testing.T, cfg Config) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter, *syncBuffer) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	logs := &syncBuffer{}
	cfg.Exporter = exp
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	tp, _, err := NewProvider(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp, logs
}

func TestLeakGuardReportsUnendedSpan(t *testing.T) {
	tp, _, logs := memProvider(t, Config{UnendedSpanTimeout: 50 * time.Millisecond})
	tr := tp.Tracer("t")
	_, ended := tr.Start(context.Background(), "ended in time")
	ended.End()
	_, leak := tr.Start(context.Background(), "forgotten") // the reported line
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "forgotten") }, 5*time.Second, 10*time.Millisecond)
	out := logs.String()
	require.Contains(t, out, "guard_test.go:")
	require.Contains(t, out, "TestLeakGuardReportsUnendedSpan")
	require.Contains(t, out, "has not ended after 50ms")
	require.NotContains(t, out, "ended in time")
	require.Equal(t, 1, strings.Count(out, "forgotten"), "reported once")
	leak.End()
	require.Contains(t, logs.String(), "has now ended")
}

func TestSpanLimitPerTrace(t *testing.T) {
	tp, exp, logs := memProvider(t, Config{MaxSpansPerTrace: 5})
	tr := tp.Tracer("t")
	ctx, root := tr.Start(context.Background(), "root")
	for range 20 {
		_, s := tr.Start(ctx, "loop")
		s.End()
	}
	root.End()
	// A second trace is not affected by the first one's count.
	_, other := tr.Start(context.Background(), "other")
	other.End()
	require.NoError(t, tp.ForceFlush(context.Background()))
	spans := exp.GetSpans()
	byTrace := map[string]int{}
	for _, s := range spans {
		byTrace[s.SpanContext.TraceID().String()]++
	}
	require.Equal(t, 5, byTrace[root.SpanContext().TraceID().String()])
	require.Equal(t, 1, byTrace[other.SpanContext().TraceID().String()])
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, "exceeded the limit of 5 spans per trace"), out)
	require.Contains(t, out, root.SpanContext().TraceID().String())
}

func TestGoKeepsParent(t *testing.T) {
	tp, exp, _ := memProvider(t, Config{})
	tr := tp.Tracer("t")
	m, _ := baggage.NewMember("user.id", "7")
	b, _ := baggage.New(m)
	ctx, cancel := context.WithCancel(baggage.ContextWithBaggage(context.Background(), b))
	ctx, parent := tr.Start(ctx, "request")
	done := make(chan error, 1)
	started := make(chan struct{})
	Go(ctx, func(ctx context.Context) {
		close(started)
		time.Sleep(20 * time.Millisecond) // the request is canceled meanwhile
		_, child := tr.Start(ctx, "background")
		child.End()
		if baggage.FromContext(ctx).Member("user.id").Value() != "7" {
			done <- errors.New("baggage lost")
			return
		}
		done <- ctx.Err()
	})
	<-started
	cancel()
	parent.End()
	require.NoError(t, <-done, "the goroutine's context is neither canceled nor without baggage")
	require.NoError(t, tp.ForceFlush(context.Background()))
	var child sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() == "background" {
			child = s
		}
	}
	require.NotNil(t, child)
	require.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID())
	require.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
}

func TestError(t *testing.T) {
	tp, exp, _ := memProvider(t, Config{})
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	require.NoError(t, Error(ctx, nil))
	err := errors.New("out of stock")
	require.Same(t, err, Error(ctx, err))
	span.End()
	require.NoError(t, tp.ForceFlush(context.Background()))
	s := exp.GetSpans()[0]
	require.Equal(t, codes.Error, s.Status.Code)
	require.Equal(t, "out of stock", s.Status.Description)
	require.Len(t, s.Events, 1)
	require.Equal(t, "exception", s.Events[0].Name)
}

func TestLogHandler(t *testing.T) {
	tp, exp, _ := memProvider(t, Config{})
	var out syncBuffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&out, nil), LogOptions{SpanEvents: true, SpanEventLevel: slog.LevelWarn}))
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	log.With("cart", "c1").InfoContext(ctx, "loaded")
	log.WarnContext(ctx, "slow query", "ms", 250)
	log.Info("no span")
	span.End()
	require.NoError(t, tp.ForceFlush(context.Background()))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	tid, sid := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()
	require.Contains(t, lines[0], `"trace_id":"`+tid+`"`)
	require.Contains(t, lines[0], `"span_id":"`+sid+`"`)
	require.Contains(t, lines[0], `"cart":"c1"`)
	require.Contains(t, lines[1], `"trace_id":"`+tid+`"`)
	require.NotContains(t, lines[2], "trace_id")

	ev := exp.GetSpans()[0].Events
	require.Len(t, ev, 1, "only records at or above warn become events")
	require.Equal(t, "log", ev[0].Name)
	got := map[string]string{}
	for _, a := range ev[0].Attributes {
		got[string(a.Key)] = a.Value.Emit()
	}
	require.Equal(t, map[string]string{"log.severity": "WARN", "log.message": "slow query", "ms": "250"}, got)
}
