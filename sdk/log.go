package sdk

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// LogOptions configures NewLogHandler.
type LogOptions struct {
	// SpanEvents also records each log record at or above SpanEventLevel
	// as an event named "log" on the span in the record's context, with
	// the level, the message and the record's attributes.
	SpanEvents     bool
	SpanEventLevel slog.Level
}

// NewLogHandler wraps next so that every record logged with a context that
// holds a span (slog.InfoContext(ctx, ...), logger.ErrorContext(ctx, ...))
// gets trace_id and span_id attributes, which link the log line to its
// trace.
func NewLogHandler(next slog.Handler, opts LogOptions) slog.Handler {
	return &logHandler{next: next, opts: opts}
}

type logHandler struct {
	next   slog.Handler
	opts   LogOptions
	attrs  []slog.Attr // from WithAttrs, for span events
	groups string      // group prefix for span event attribute keys
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || (h.opts.SpanEvents && l >= h.opts.SpanEventLevel)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	span := trace.SpanFromContext(ctx)
	sc := span.SpanContext()
	if h.opts.SpanEvents && r.Level >= h.opts.SpanEventLevel && span.IsRecording() {
		kv := []attribute.KeyValue{attribute.String("log.severity", r.Level.String()), attribute.String("log.message", r.Message)}
		for _, a := range h.attrs {
			kv = append(kv, attribute.String(a.Key, a.Value.String()))
		}
		r.Attrs(func(a slog.Attr) bool {
			kv = append(kv, attribute.String(h.groups+a.Key, a.Value.String()))
			return true
		})
		span.AddEvent("log", trace.WithTimestamp(r.Time), trace.WithAttributes(kv...))
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	if sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	for _, a := range as {
		a.Key = h.groups + a.Key
		c.attrs = append(append([]slog.Attr(nil), c.attrs...), a)
	}
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.groups = h.groups + name + "."
	return &c
}
