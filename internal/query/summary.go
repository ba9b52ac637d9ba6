package query

import (
	"cmp"
	"slices"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// ServiceCount is one service's share of a trace.
type ServiceCount struct {
	Name   string `json:"name"`
	Spans  int    `json:"spanCount"`
	Errors int    `json:"errorCount"`
}

// Summary describes a trace in search results.
type Summary struct {
	TraceID     model.TraceID
	RootService string
	RootName    string
	// RootMissing is true when no span of the trace lacks a parent: the
	// root span has not arrived (yet); RootService/RootName then describe
	// the earliest span.
	RootMissing bool
	Start       int64 // unix nanoseconds of the earliest span start
	Duration    int64 // nanoseconds from the earliest start to the latest end
	SpanCount   int
	ErrorCount  int
	Services    []ServiceCount // sorted by span count, descending, then name
}

// Summarize computes a Summary of a whole trace.
func Summarize(spans []model.Span) Summary {
	var s Summary
	if len(spans) == 0 {
		return s
	}
	s.TraceID = spans[0].TraceID
	start, end := Bounds(spans)
	s.Start, s.Duration = start, end-start
	s.SpanCount = len(spans)
	root := -1
	earliest := 0
	svc := map[string]*ServiceCount{}
	for i := range spans {
		sp := &spans[i]
		if sp.StatusCode == model.StatusError {
			s.ErrorCount++
		}
		name := sp.Service()
		c := svc[name]
		if c == nil {
			c = &ServiceCount{Name: name}
			svc[name] = c
		}
		c.Spans++
		if sp.StatusCode == model.StatusError {
			c.Errors++
		}
		if sp.ParentID.IsZero() && (root < 0 || sp.Start < spans[root].Start) {
			root = i
		}
		if sp.Start < spans[earliest].Start {
			earliest = i
		}
	}
	if root < 0 {
		s.RootMissing = true
		root = earliest
	}
	s.RootService, s.RootName = spans[root].Service(), spans[root].Name
	for _, c := range svc {
		s.Services = append(s.Services, *c)
	}
	slices.SortFunc(s.Services, func(a, b ServiceCount) int {
		if c := cmp.Compare(b.Spans, a.Spans); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return s
}
