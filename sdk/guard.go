package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// maxGuardedTraces bounds the traces the span limit tracks at once, and
// maxWatchedSpans the open spans the leak guard watches; past them, new
// traces and spans are not tracked until others finish.
const (
	maxGuardedTraces = 100_000
	maxWatchedSpans  = 100_000
)

// guard is a span processor in front of the exporting one. It drops the
// spans of a trace past the per-trace limit and reports spans left open
// longer than the leak timeout, with the call site that started them.
type guard struct {
	next    sdktrace.SpanProcessor
	limit   int
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	traces map[trace.TraceID]*traceCount
	open   map[trace.SpanID]*openSpan

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type traceCount struct {
	started, active int
	dropped         map[trace.SpanID]bool
	warned          bool
}

type openSpan struct {
	name     string
	traceID  trace.TraceID
	start    time.Time
	site     string
	reported bool
}

func newGuard(next sdktrace.SpanProcessor, limit int, timeout time.Duration, log *slog.Logger) *guard {
	g := &guard{next: next, limit: limit, timeout: timeout, log: log,
		traces: map[trace.TraceID]*traceCount{}, open: map[trace.SpanID]*openSpan{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if timeout > 0 {
		go g.watch()
	} else {
		close(g.done)
	}
	return g
}

func (g *guard) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	sc := s.SpanContext()
	var site string
	if g.timeout > 0 {
		site = callSite()
	}
	g.mu.Lock()
	drop := false
	if g.limit > 0 {
		tc := g.traces[sc.TraceID()]
		if tc == nil && len(g.traces) < maxGuardedTraces {
			tc = &traceCount{}
			g.traces[sc.TraceID()] = tc
		}
		if tc != nil {
			tc.started++
			tc.active++
			if tc.started > g.limit {
				drop = true
				if tc.dropped == nil {
					tc.dropped = map[trace.SpanID]bool{}
				}
				tc.dropped[sc.SpanID()] = true
				if !tc.warned {
					tc.warned = true
					g.log.Warn(fmt.Sprintf("trace %s exceeded the limit of %d spans per trace; its further spans are dropped (first dropped: %q)",
						sc.TraceID(), g.limit, s.Name()), "trace_id", sc.TraceID().String(), "limit", g.limit)
				}
			}
		}
	}
	if g.timeout > 0 && len(g.open) < maxWatchedSpans {
		g.open[sc.SpanID()] = &openSpan{name: s.Name(), traceID: sc.TraceID(), start: time.Now(), site: site}
	}
	g.mu.Unlock()
	if !drop {
		g.next.OnStart(ctx, s)
	}
}

func (g *guard) OnEnd(s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	g.mu.Lock()
	drop := false
	if tc := g.traces[sc.TraceID()]; tc != nil {
		drop = tc.dropped[sc.SpanID()]
		delete(tc.dropped, sc.SpanID())
		if tc.active--; tc.active <= 0 {
			delete(g.traces, sc.TraceID())
		}
	}
	if o := g.open[sc.SpanID()]; o != nil {
		if o.reported {
			g.log.Info(fmt.Sprintf("span %q reported as not ended has now ended after %s", o.name, time.Since(o.start).Round(time.Millisecond)),
				"trace_id", o.traceID.String(), "span_id", sc.SpanID().String())
		}
		delete(g.open, sc.SpanID())
	}
	g.mu.Unlock()
	if !drop {
		g.next.OnEnd(s)
	}
}

// watch reports open spans older than the timeout, each once.
func (g *guard) watch() {
	defer close(g.done)
	every := g.timeout / 4
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		g.mu.Lock()
		for id, o := range g.open {
			if !o.reported && now.Sub(o.start) >= g.timeout {
				o.reported = true
				g.log.Warn(fmt.Sprintf("span %q started at %s has not ended after %s (missing span.End()?)", o.name, o.site, g.timeout),
					"trace_id", o.traceID.String(), "span_id", id.String(), "started_at", o.site)
			}
		}
		g.mu.Unlock()
	}
}

// OpenSpans returns how many spans the leak guard is watching.
func (g *guard) openSpans() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.open)
}

func (g *guard) ForceFlush(ctx context.Context) error { return g.next.ForceFlush(ctx) }

func (g *guard) Shutdown(ctx context.Context) error {
	g.once.Do(func() { close(g.stop) })
	<-g.done
	return g.next.Shutdown(ctx)
}

// callSite returns "file:line (function)" of the first caller outside the
// OpenTelemetry SDK and this package's non-test code.
func callSite() string {
	var pcs [32]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		internal := strings.HasPrefix(f.Function, "go.opentelemetry.io/") ||
			(strings.HasPrefix(f.Function, "github.com/ariadne-tracing/ariadne/sdk") && !strings.HasSuffix(f.File, "_test.go"))
		if !internal {
			return fmt.Sprintf("%s:%d (%s)", f.File, f.Line, f.Function)
		}
		if !more {
			return "unknown"
		}
	}
}
