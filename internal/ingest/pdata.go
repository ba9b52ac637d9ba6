package ingest

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Decode validates, repairs and limits the spans of td (decoded pdata,
// as from OTLP/JSON). now is the server time used for the future-skew
// check. td is only read; string values of the result share memory with
// td's strings (which are immutable).
func (c *Converter) Decode(td ptrace.Traces, now time.Time) *Batch {
	b := &Batch{}
	st := &b.st
	st.init(&c.lim, now, false)
	defer st.done()
	st.alloc(td)
	for ri, rs := range td.ResourceSpans().All() {
		var res *model.Resource
		for si, ss := range rs.ScopeSpans().All() {
			var scope *model.Scope
			for pi, ps := range ss.Spans().All() {
				st.count++
				pos := position{int32(ri), int32(si), int32(pi)}
				tid, sid, start := model.TraceID(ps.TraceID()), model.SpanID(ps.SpanID()), uint64(ps.StartTimestamp())
				if r, ok := st.check(tid, sid, start); !ok {
					st.rejectSpan(r, pos, ps.Name(), tid, sid, start)
					continue
				}
				if res == nil {
					res = st.pdataResource(rs)
				}
				if scope == nil {
					scope = st.pdataScope(ss)
				}
				st.pdataSpan(st.newSpan(pos), ps, res, scope)
			}
		}
	}
	return b
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
	st.pos = make([]position, 0, nspans)
	st.attrs.init(nattrs)
	st.evs.init(nevents)
	st.links.init(nlinks)
}

// pdataAttrs converts m under the limits, adding the truncation marker
// and, if invalidEnd, the invalid-end-time marker. It returns the
// attributes and the dropped count (dropped plus what it left out).
func (st *state) pdataAttrs(m pcommon.Map, dropped uint32, invalidEnd bool) ([]model.Attr, uint32) {
	n := min(m.Len(), st.lim.MaxAttrsPerSpan)
	st.beginAttrs()
	i := 0
	var v value
	for k, pv := range m.All() {
		if i == n {
			break
		}
		v.setPdata(pv)
		st.attr(st.attrs.push(), k, &v)
		i++
	}
	return st.endAttrs(m.Len(), n, dropped, invalidEnd)
}

func (st *state) pdataResource(rs ptrace.ResourceSpans) *model.Resource {
	r := &model.Resource{SchemaURL: validUTF8(rs.SchemaUrl())}
	r.Attrs, r.DroppedAttrs = st.pdataAttrs(rs.Resource().Attributes(), rs.Resource().DroppedAttributesCount(), false)
	return r
}

func (st *state) pdataScope(ss ptrace.ScopeSpans) *model.Scope {
	is := ss.Scope()
	s := &model.Scope{
		Name:      validUTF8(is.Name()),
		Version:   validUTF8(is.Version()),
		SchemaURL: validUTF8(ss.SchemaUrl()),
	}
	s.Attrs, s.DroppedAttrs = st.pdataAttrs(is.Attributes(), is.DroppedAttributesCount(), false)
	return s
}

// pdataSpan converts a span that passed validation.
func (st *state) pdataSpan(s *model.Span, ps ptrace.Span, res *model.Resource, scope *model.Scope) {
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
	s.Attrs, s.DroppedAttrs = st.pdataAttrs(ps.Attributes(), ps.DroppedAttributesCount(), invalidEnd)

	evs := ps.Events()
	ne := min(evs.Len(), st.lim.MaxEventsPerSpan)
	s.DroppedEvents = addSat(ps.DroppedEventsCount(), evs.Len()-ne)
	if ne > 0 {
		s.Events = st.evs.take(ne)
		for i := range ne {
			pe := evs.At(i)
			e := &s.Events[i]
			e.Time = int64(pe.Timestamp())
			e.Name = validUTF8(pe.Name())
			e.Attrs, e.DroppedAttrs = st.pdataAttrs(pe.Attributes(), pe.DroppedAttributesCount(), false)
		}
	}

	links := ps.Links()
	nl := min(links.Len(), st.lim.MaxLinksPerSpan)
	s.DroppedLinks = addSat(ps.DroppedLinksCount(), links.Len()-nl)
	if nl > 0 {
		s.Links = st.links.take(nl)
		for i := range nl {
			pl := links.At(i)
			l := &s.Links[i]
			l.TraceID = model.TraceID(pl.TraceID())
			l.SpanID = model.SpanID(pl.SpanID())
			l.TraceState = validUTF8(pl.TraceState().AsRaw())
			l.Flags = pl.Flags()
			l.Attrs, l.DroppedAttrs = st.pdataAttrs(pl.Attributes(), pl.DroppedAttributesCount(), false)
		}
	}
}
