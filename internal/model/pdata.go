package model

import (
	"encoding/base64"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// AttrFromValue converts a pdata value. Array and map values are stored in
// Str as an encoded attribute list (AppendAttrs; array elements have empty
// keys), so they round-trip exactly.
func AttrFromValue(key string, v pcommon.Value) Attr {
	a := Attr{Key: key}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		a.Type, a.Str = TypeStr, v.Str()
	case pcommon.ValueTypeBool:
		a.Type = TypeBool
		if v.Bool() {
			a.Num = 1
		}
	case pcommon.ValueTypeInt:
		a.Type, a.Num = TypeInt, uint64(v.Int())
	case pcommon.ValueTypeDouble:
		a.Type, a.Num = TypeDouble, math.Float64bits(v.Double())
	case pcommon.ValueTypeBytes:
		a.Type, a.Str = TypeBytes, string(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		elems := make([]Attr, s.Len())
		for i := range elems {
			elems[i] = AttrFromValue("", s.At(i))
		}
		a.Type, a.Str = TypeArray, string(AppendAttrs(nil, elems))
	case pcommon.ValueTypeMap:
		a.Type, a.Str = TypeMap, string(AppendAttrs(nil, AttrsFromMap(v.Map())))
	}
	return a
}

// AttrsFromMap converts a pdata attribute map.
func AttrsFromMap(m pcommon.Map) []Attr {
	if m.Len() == 0 {
		return nil
	}
	out := make([]Attr, 0, m.Len())
	for k, v := range m.All() {
		out = append(out, AttrFromValue(k, v))
	}
	return out
}

// PutValue writes a into the pdata value v.
func PutValue(v pcommon.Value, a *Attr) {
	switch a.Type {
	case TypeStr:
		v.SetStr(a.Str)
	case TypeBool:
		v.SetBool(a.Num != 0)
	case TypeInt:
		v.SetInt(int64(a.Num))
	case TypeDouble:
		v.SetDouble(math.Float64frombits(a.Num))
	case TypeBytes:
		v.SetEmptyBytes().FromRaw([]byte(a.Str))
	case TypeArray:
		elems, _ := nestedAttrs(a.Str)
		s := v.SetEmptySlice()
		s.EnsureCapacity(len(elems))
		for i := range elems {
			PutValue(s.AppendEmpty(), &elems[i])
		}
	case TypeMap:
		elems, _ := nestedAttrs(a.Str)
		PutAttrs(v.SetEmptyMap(), elems)
	}
}

func nestedAttrs(s string) ([]Attr, error) {
	d := NewDecoder([]byte(s))
	out := d.Attrs()
	return out, d.Err()
}

// PutAttrs writes attrs into the pdata map m.
func PutAttrs(m pcommon.Map, attrs []Attr) {
	m.EnsureCapacity(len(attrs))
	for i := range attrs {
		PutValue(m.PutEmpty(attrs[i].Key), &attrs[i])
	}
}

// String renders the value as text: strings as is, numbers in Go's
// shortest form, bools as true/false, bytes as base64, arrays and maps as
// JSON-like text. Used for display and for matching string conditions.
func (a *Attr) String() string {
	switch a.Type {
	case TypeStr:
		return a.Str
	case TypeBool:
		if a.Num != 0 {
			return "true"
		}
		return "false"
	case TypeInt:
		return strconv.FormatInt(int64(a.Num), 10)
	case TypeDouble:
		return strconv.FormatFloat(math.Float64frombits(a.Num), 'g', -1, 64)
	case TypeBytes:
		return base64.StdEncoding.EncodeToString([]byte(a.Str))
	case TypeArray, TypeMap:
		v := pcommon.NewValueEmpty()
		PutValue(v, a)
		return v.AsString()
	}
	return ""
}

// Float returns the numeric value of an int or double attribute.
func (a *Attr) Float() (float64, bool) {
	switch a.Type {
	case TypeInt:
		return float64(int64(a.Num)), true
	case TypeDouble:
		return math.Float64frombits(a.Num), true
	}
	return 0, false
}

// ToTraces converts spans to pdata, grouping spans that share a resource
// and scope (by pointer, or by equal encoding) into one ResourceSpans /
// ScopeSpans. Span order is preserved within each group.
func ToTraces(spans []Span) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		res   int
		scope string
	}
	resIdx := map[string]int{}
	scopes := map[scopeKey]ptrace.ScopeSpans{}
	var buf []byte
	for i := range spans {
		s := &spans[i]
		buf = AppendResource(buf[:0], s.Resource)
		ri, ok := resIdx[string(buf)]
		if !ok {
			ri = td.ResourceSpans().Len()
			resIdx[string(buf)] = ri
			rs := td.ResourceSpans().AppendEmpty()
			if s.Resource != nil {
				PutAttrs(rs.Resource().Attributes(), s.Resource.Attrs)
				rs.Resource().SetDroppedAttributesCount(s.Resource.DroppedAttrs)
				rs.SetSchemaUrl(s.Resource.SchemaURL)
			}
		}
		buf = AppendScope(buf[:0], s.Scope)
		sk := scopeKey{ri, string(buf)}
		ss, ok := scopes[sk]
		if !ok {
			ss = td.ResourceSpans().At(ri).ScopeSpans().AppendEmpty()
			scopes[sk] = ss
			if s.Scope != nil {
				ss.Scope().SetName(s.Scope.Name)
				ss.Scope().SetVersion(s.Scope.Version)
				PutAttrs(ss.Scope().Attributes(), s.Scope.Attrs)
				ss.Scope().SetDroppedAttributesCount(s.Scope.DroppedAttrs)
				ss.SetSchemaUrl(s.Scope.SchemaURL)
			}
		}
		putSpan(ss.Spans().AppendEmpty(), s)
	}
	return td
}

func putSpan(ps ptrace.Span, s *Span) {
	ps.SetTraceID(pcommon.TraceID(s.TraceID))
	ps.SetSpanID(pcommon.SpanID(s.SpanID))
	ps.SetParentSpanID(pcommon.SpanID(s.ParentID))
	ps.TraceState().FromRaw(s.TraceState)
	ps.SetFlags(s.Flags)
	ps.SetName(s.Name)
	ps.SetKind(ptrace.SpanKind(s.Kind))
	ps.SetStartTimestamp(pcommon.Timestamp(s.Start))
	ps.SetEndTimestamp(pcommon.Timestamp(s.End))
	PutAttrs(ps.Attributes(), s.Attrs)
	ps.SetDroppedAttributesCount(s.DroppedAttrs)
	ps.Status().SetCode(ptrace.StatusCode(s.StatusCode))
	ps.Status().SetMessage(s.StatusMessage)
	evs := ps.Events()
	evs.EnsureCapacity(len(s.Events))
	for i := range s.Events {
		e := &s.Events[i]
		pe := evs.AppendEmpty()
		pe.SetTimestamp(pcommon.Timestamp(e.Time))
		pe.SetName(e.Name)
		PutAttrs(pe.Attributes(), e.Attrs)
		pe.SetDroppedAttributesCount(e.DroppedAttrs)
	}
	ps.SetDroppedEventsCount(s.DroppedEvents)
	links := ps.Links()
	links.EnsureCapacity(len(s.Links))
	for i := range s.Links {
		l := &s.Links[i]
		pl := links.AppendEmpty()
		pl.SetTraceID(pcommon.TraceID(l.TraceID))
		pl.SetSpanID(pcommon.SpanID(l.SpanID))
		pl.TraceState().FromRaw(l.TraceState)
		pl.SetFlags(l.Flags)
		PutAttrs(pl.Attributes(), l.Attrs)
		pl.SetDroppedAttributesCount(l.DroppedAttrs)
	}
	ps.SetDroppedLinksCount(s.DroppedLinks)
}

// FromTraces converts pdata to spans without validation (the ingest path
// validates; this is for tests and tools). Spans of one ResourceSpans share
// one *Resource, spans of one ScopeSpans one *Scope.
func FromTraces(td ptrace.Traces) []Span {
	var out []Span
	for _, rs := range td.ResourceSpans().All() {
		res := &Resource{
			Attrs:        AttrsFromMap(rs.Resource().Attributes()),
			DroppedAttrs: rs.Resource().DroppedAttributesCount(),
			SchemaURL:    rs.SchemaUrl(),
		}
		for _, ss := range rs.ScopeSpans().All() {
			sc := &Scope{
				Name:         ss.Scope().Name(),
				Version:      ss.Scope().Version(),
				Attrs:        AttrsFromMap(ss.Scope().Attributes()),
				DroppedAttrs: ss.Scope().DroppedAttributesCount(),
				SchemaURL:    ss.SchemaUrl(),
			}
			for _, ps := range ss.Spans().All() {
				out = append(out, SpanFromPdata(ps, res, sc))
			}
		}
	}
	return out
}

// SpanFromPdata converts one span without validation or limits.
func SpanFromPdata(ps ptrace.Span, res *Resource, sc *Scope) Span {
	s := Span{
		TraceID:       TraceID(ps.TraceID()),
		SpanID:        SpanID(ps.SpanID()),
		ParentID:      SpanID(ps.ParentSpanID()),
		TraceState:    ps.TraceState().AsRaw(),
		Flags:         ps.Flags(),
		Name:          ps.Name(),
		Kind:          int8(ps.Kind()),
		StatusCode:    int8(ps.Status().Code()),
		StatusMessage: ps.Status().Message(),
		Start:         int64(ps.StartTimestamp()),
		End:           int64(ps.EndTimestamp()),
		Attrs:         AttrsFromMap(ps.Attributes()),
		DroppedAttrs:  ps.DroppedAttributesCount(),
		DroppedEvents: ps.DroppedEventsCount(),
		DroppedLinks:  ps.DroppedLinksCount(),
		Resource:      res,
		Scope:         sc,
	}
	if n := ps.Events().Len(); n > 0 {
		s.Events = make([]Event, n)
		for i := range n {
			pe := ps.Events().At(i)
			s.Events[i] = Event{Time: int64(pe.Timestamp()), Name: pe.Name(),
				Attrs: AttrsFromMap(pe.Attributes()), DroppedAttrs: pe.DroppedAttributesCount()}
		}
	}
	if n := ps.Links().Len(); n > 0 {
		s.Links = make([]Link, n)
		for i := range n {
			pl := ps.Links().At(i)
			s.Links[i] = Link{TraceID: TraceID(pl.TraceID()), SpanID: SpanID(pl.SpanID()),
				TraceState: pl.TraceState().AsRaw(), Flags: pl.Flags(),
				Attrs: AttrsFromMap(pl.Attributes()), DroppedAttrs: pl.DroppedAttributesCount()}
		}
	}
	return s
}
