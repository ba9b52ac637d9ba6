package ingest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Reason says why a span was rejected.
type Reason uint8

// Rejection reasons; String gives the metric label.
const (
	ReasonZeroID               Reason = iota // trace ID or span ID all zeros
	ReasonBadTime                            // start time zero
	ReasonFuture                             // start time too far in the future
	ReasonTooManySpansPerTrace               // trace over MaxSpansPerTrace
	NumReasons                 = iota
)

// String returns the reason as used in metric labels: "zero_id",
// "bad_time", "future", "too_many_spans_per_trace".
func (r Reason) String() string {
	switch r {
	case ReasonZeroID:
		return "zero_id"
	case ReasonBadTime:
		return "bad_time"
	case ReasonFuture:
		return "future"
	case ReasonTooManySpansPerTrace:
		return "too_many_spans_per_trace"
	}
	return "unknown"
}

// maxDetailed is how many rejected spans the message describes.
const maxDetailed = 3

// Result is the outcome of converting one request.
type Result struct {
	// Spans holds the accepted spans. Spans of one ResourceSpans share one
	// *model.Resource, spans of one ScopeSpans one *model.Scope. The
	// caller owns them; they do not alias the input.
	Spans []model.Span
	// Rejected is the number of spans left out (the OTLP rejected_spans).
	Rejected int
	// ByReason splits Rejected by reason.
	ByReason [NumReasons]int
	// Message describes the first few rejected spans and the total, for
	// the OTLP partial success error_message; "" if nothing was rejected.
	Message string
}

// Converter converts OTLP trace data to spans under a set of limits and
// remembers how many spans it accepted per recent trace for
// MaxSpansPerTrace. It is safe for concurrent use.
type Converter struct {
	lim    Limits
	traces *traceCounter
}

// NewConverter returns a Converter enforcing lim (zero fields take their
// defaults).
func NewConverter(lim Limits) *Converter {
	lim = lim.WithDefaults()
	return &Converter{lim: lim, traces: newTraceCounter(lim.TrackedTraces)}
}

// Limits returns the limits in force, defaults filled in.
func (c *Converter) Limits() Limits { return c.lim }

// Convert is a one-shot conversion: it validates and converts td as a
// Converter would, but MaxSpansPerTrace only counts spans within td.
// It returns the accepted spans, the number of rejected spans and the
// partial-success message ("" when nothing was rejected).
func Convert(td ptrace.Traces, lim Limits, now time.Time) (spans []model.Span, rejected int, msg string) {
	lim = lim.WithDefaults()
	c := &Converter{lim: lim, traces: newTraceCounter(min(lim.TrackedTraces, td.SpanCount()))}
	r := c.Convert(td, now)
	return r.Spans, r.Rejected, r.Message
}

// Convert validates and converts td. now is the server time used for the
// future-skew check. The spans it accepts count towards MaxSpansPerTrace;
// if they are then not stored, call Forget so that a retry is not counted
// twice. td is only read.
func (c *Converter) Convert(td ptrace.Traces, now time.Time) Result {
	st := state{lim: &c.lim}
	st.alloc(td)
	maxStart := uint64(math.MaxInt64)
	if n := now.UnixNano(); n > 0 && uint64(n)+uint64(c.lim.MaxFutureSkew) < maxStart {
		maxStart = uint64(n) + uint64(c.lim.MaxFutureSkew)
	}
	for ri, rs := range td.ResourceSpans().All() {
		var res *model.Resource
		for si, ss := range rs.ScopeSpans().All() {
			var scope *model.Scope
			for pi, ps := range ss.Spans().All() {
				start := uint64(ps.StartTimestamp())
				switch {
				case ps.TraceID().IsEmpty():
					st.reject(ReasonZeroID, position{ri, si, pi}, ps.Name(), model.SpanID(ps.SpanID()), "trace_id is all zeros")
					continue
				case ps.SpanID().IsEmpty():
					st.reject(ReasonZeroID, position{ri, si, pi}, ps.Name(), model.SpanID{}, "span_id is all zeros")
					continue
				case start == 0:
					st.reject(ReasonBadTime, position{ri, si, pi}, ps.Name(), model.SpanID(ps.SpanID()), "start_time_unix_nano is 0")
					continue
				case start > maxStart:
					st.reject(ReasonFuture, position{ri, si, pi}, ps.Name(), model.SpanID(ps.SpanID()),
						fmt.Sprintf("start time %s is more than %s in the future",
							formatTime(start), c.lim.MaxFutureSkew))
					continue
				}
				if res == nil {
					res = st.resource(rs)
				}
				if scope == nil {
					scope = st.scope(ss)
				}
				st.spans = st.spans[:len(st.spans)+1]
				st.span(&st.spans[len(st.spans)-1], ps, res, scope)
			}
		}
	}
	if len(st.spans) > 0 {
		st.spans = c.traces.admit(st.spans, uint32(min(int64(c.lim.MaxSpansPerTrace), math.MaxUint32)), &st.overLimit)
		if n := st.overLimit.n; n > 0 {
			for i := range st.overLimit.first[:min(n, len(st.overLimit.first))] {
				s := &st.overLimit.first[i]
				st.reject(ReasonTooManySpansPerTrace, locate(td, s.TraceID, s.SpanID), s.Name, s.SpanID,
					fmt.Sprintf("trace %s already has %d spans (max spans per trace)", s.TraceID, c.lim.MaxSpansPerTrace))
			}
			for range n - min(n, len(st.overLimit.first)) {
				st.reject(ReasonTooManySpansPerTrace, position{}, "", model.SpanID{}, "")
			}
		}
	}
	r := Result{Spans: st.spans, Rejected: st.rejected, ByReason: st.byReason}
	if st.rejected > 0 {
		r.Message = st.message()
	}
	return r
}

// Forget undoes the MaxSpansPerTrace counting of spans returned by Convert
// that were not stored after all.
func (c *Converter) Forget(spans []model.Span) { c.traces.forget(spans) }

func formatTime(ns uint64) string {
	if ns > math.MaxInt64 {
		return fmt.Sprintf("%d ns after 1970", ns)
	}
	return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339Nano)
}

// position locates a span in a request.
type position struct{ res, scope, span int }

// locate finds the first span with the given IDs in td.
func locate(td ptrace.Traces, tid model.TraceID, sid model.SpanID) position {
	for ri, rs := range td.ResourceSpans().All() {
		for si, ss := range rs.ScopeSpans().All() {
			for pi, ps := range ss.Spans().All() {
				if ps.TraceID() == pcommon.TraceID(tid) && ps.SpanID() == pcommon.SpanID(sid) {
					return position{ri, si, pi}
				}
			}
		}
	}
	return position{-1, -1, -1}
}

// state is the scratch space of one Convert call. Attributes, events and
// links of all spans are carved out of a few arenas sized up front, so a
// typical request costs a handful of allocations.
type state struct {
	lim      *Limits
	spans    []model.Span
	attrs    []model.Attr
	events   []model.Event
	links    []model.Link
	trunc    []string // keys truncated in the current attribute list
	buf      []byte
	rejected int
	byReason [NumReasons]int
	details  []string
	// overLimit collects spans rejected for MaxSpansPerTrace.
	overLimit overLimit
}

type overLimit struct {
	n     int
	first [maxDetailed]model.Span
}

// alloc sizes the arenas for td.
func (st *state) alloc(td ptrace.Traces) {
	lim := st.lim
	nspans, nattrs, nevents, nlinks := 0, 0, 0, 0
	for _, rs := range td.ResourceSpans().All() {
		nattrs += min(rs.Resource().Attributes().Len(), lim.MaxAttrsPerSpan)
		for _, ss := range rs.ScopeSpans().All() {
			nattrs += min(ss.Scope().Attributes().Len(), lim.MaxAttrsPerSpan)
			spans := ss.Spans()
			nspans += spans.Len()
			for _, ps := range spans.All() {
				nattrs += min(ps.Attributes().Len(), lim.MaxAttrsPerSpan)
				evs := ps.Events()
				ne := min(evs.Len(), lim.MaxEventsPerSpan)
				nevents += ne
				for i := range ne {
					nattrs += min(evs.At(i).Attributes().Len(), lim.MaxAttrsPerSpan)
				}
				links := ps.Links()
				nl := min(links.Len(), lim.MaxLinksPerSpan)
				nlinks += nl
				for i := range nl {
					nattrs += min(links.At(i).Attributes().Len(), lim.MaxAttrsPerSpan)
				}
			}
		}
	}
	st.spans = make([]model.Span, 0, nspans)
	if nattrs > 0 {
		st.attrs = make([]model.Attr, nattrs)
	}
	if nevents > 0 {
		st.events = make([]model.Event, nevents)
	}
	if nlinks > 0 {
		st.links = make([]model.Link, nlinks)
	}
}

// convertAttrs converts m under the limits, adding the truncation marker
// and, if invalidEnd, the invalid-end-time marker. It returns the
// attributes and the dropped count (dropped plus what it left out).
func (st *state) convertAttrs(m pcommon.Map, dropped uint32, invalidEnd bool) ([]model.Attr, uint32) {
	n := min(m.Len(), st.lim.MaxAttrsPerSpan)
	var out []model.Attr
	if n > 0 {
		if len(st.attrs) < n { // only if alloc miscounted
			st.attrs = make([]model.Attr, max(n, 64))
		}
		out = st.attrs[:n:n]
		st.attrs = st.attrs[n:]
		st.trunc = st.trunc[:0]
		dropped = addSat(dropped, st.fillAttrs(out, m))
	} else {
		dropped = addSat(dropped, m.Len())
	}
	if n > 0 && len(st.trunc) > 0 {
		st.buf = stringArray(st.buf[:0], st.trunc)
		out = append(out, model.Attr{Key: TruncatedAttr, Type: model.TypeArray, Str: string(st.buf)})
	}
	if invalidEnd {
		out = append(out, model.Attr{Key: InvalidEndTimeAttr, Type: model.TypeBool, Num: 1})
	}
	return out, dropped
}

func addSat(a uint32, b int) uint32 {
	if b <= 0 {
		return a
	}
	if uint64(a)+uint64(b) > math.MaxUint32 {
		return math.MaxUint32
	}
	return a + uint32(b)
}

func (st *state) resource(rs ptrace.ResourceSpans) *model.Resource {
	r := &model.Resource{SchemaURL: validUTF8(rs.SchemaUrl())}
	r.Attrs, r.DroppedAttrs = st.convertAttrs(rs.Resource().Attributes(), rs.Resource().DroppedAttributesCount(), false)
	return r
}

func (st *state) scope(ss ptrace.ScopeSpans) *model.Scope {
	is := ss.Scope()
	s := &model.Scope{
		Name:      validUTF8(is.Name()),
		Version:   validUTF8(is.Version()),
		SchemaURL: validUTF8(ss.SchemaUrl()),
	}
	s.Attrs, s.DroppedAttrs = st.convertAttrs(is.Attributes(), is.DroppedAttributesCount(), false)
	return s
}

// span converts a span that passed validation.
func (st *state) span(s *model.Span, ps ptrace.Span, res *model.Resource, scope *model.Scope) {
	start, end := uint64(ps.StartTimestamp()), uint64(ps.EndTimestamp())
	invalidEnd := end < start || end > math.MaxInt64
	if invalidEnd {
		end = start
	}
	status := ps.Status()
	*s = model.Span{
		TraceID:       model.TraceID(ps.TraceID()),
		SpanID:        model.SpanID(ps.SpanID()),
		ParentID:      model.SpanID(ps.ParentSpanID()),
		TraceState:    validUTF8(ps.TraceState().AsRaw()),
		Flags:         ps.Flags(),
		Name:          validUTF8(ps.Name()),
		Kind:          int8(ps.Kind()),
		StatusCode:    int8(status.Code()),
		StatusMessage: validUTF8(status.Message()),
		Start:         int64(start),
		End:           int64(end),
		Resource:      res,
		Scope:         scope,
	}
	s.Attrs, s.DroppedAttrs = st.convertAttrs(ps.Attributes(), ps.DroppedAttributesCount(), invalidEnd)

	evs := ps.Events()
	ne := min(evs.Len(), st.lim.MaxEventsPerSpan)
	s.DroppedEvents = addSat(ps.DroppedEventsCount(), evs.Len()-ne)
	if ne > 0 {
		if len(st.events) < ne {
			st.events = make([]model.Event, max(ne, 64))
		}
		s.Events = st.events[:ne:ne]
		st.events = st.events[ne:]
		for i := range ne {
			pe := evs.At(i)
			e := &s.Events[i]
			e.Time = int64(pe.Timestamp())
			e.Name = validUTF8(pe.Name())
			e.Attrs, e.DroppedAttrs = st.convertAttrs(pe.Attributes(), pe.DroppedAttributesCount(), false)
		}
	}

	links := ps.Links()
	nl := min(links.Len(), st.lim.MaxLinksPerSpan)
	s.DroppedLinks = addSat(ps.DroppedLinksCount(), links.Len()-nl)
	if nl > 0 {
		if len(st.links) < nl {
			st.links = make([]model.Link, max(nl, 64))
		}
		s.Links = st.links[:nl:nl]
		st.links = st.links[nl:]
		for i := range nl {
			pl := links.At(i)
			l := &s.Links[i]
			l.TraceID = model.TraceID(pl.TraceID())
			l.SpanID = model.SpanID(pl.SpanID())
			l.TraceState = validUTF8(pl.TraceState().AsRaw())
			l.Flags = pl.Flags()
			l.Attrs, l.DroppedAttrs = st.convertAttrs(pl.Attributes(), pl.DroppedAttributesCount(), false)
		}
	}
}

// reject counts a rejected span and describes the first few. An empty
// problem only counts.
func (st *state) reject(r Reason, pos position, name string, sid model.SpanID, problem string) {
	st.rejected++
	st.byReason[r]++
	if problem == "" || len(st.details) >= maxDetailed {
		return
	}
	name = truncUTF8(validUTF8(name), 64)
	st.details = append(st.details, fmt.Sprintf("resource %d, scope %d, span %d (name %q, span_id %s): %s",
		pos.res, pos.scope, pos.span, name, sid, problem))
}

// message renders "N spans rejected: d1; d2; d3; and M more".
func (st *state) message() string {
	var b strings.Builder
	if st.rejected == 1 {
		b.WriteString("1 span rejected: ")
	} else {
		fmt.Fprintf(&b, "%d spans rejected: ", st.rejected)
	}
	b.WriteString(strings.Join(st.details, "; "))
	if more := st.rejected - len(st.details); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}
