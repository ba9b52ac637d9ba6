package server

import (
	"errors"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// TailCompile compiles a tail sampling condition: one TraceQL spanset
// filter, evaluated span by span.
func TailCompile(q string) (func(*model.Span) bool, error) {
	parsed, err := traceql.Parse(q)
	if err != nil {
		return nil, err
	}
	f := parsed.SpanFilter()
	if f == nil {
		return nil, errors.New("must be one spanset filter { ... } (structural operators and pipelines are not supported here)")
	}
	return f, nil
}
