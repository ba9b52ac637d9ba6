package jaeger

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// The JSON model of Jaeger's classic query API (the one its UI and
// Grafana's Jaeger data source read). Times and durations are in
// microseconds.

// Trace is one trace.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is one span; its process is Trace.Processes[ProcessID].
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

// Reference is CHILD_OF (the parent) or FOLLOWS_FROM (a link).
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Process is the service that emitted spans and its resource attributes.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// Log is a span event.
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// KeyValue is a typed tag: type is string, bool, int64, float64 or binary
// (the value then is base64).
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// noServiceName is the service of spans whose resource has no service.name,
// as Jaeger names it.
const noServiceName = "OTLPResourceNoServiceName"

// TraceIDString formats a trace ID as Jaeger does: 16 hex digits when the
// high 64 bits are zero, else 32.
func TraceIDString(id model.TraceID) string {
	if binary.BigEndian.Uint64(id[:8]) == 0 {
		return fmt.Sprintf("%016x", binary.BigEndian.Uint64(id[8:]))
	}
	return id.String()
}

func micros(ns int64) int64 { return ns / 1000 }

func str(k, v string) KeyValue { return KeyValue{Key: k, Type: "string", Value: v} }

// tag converts an attribute the way Jaeger maps OTLP attributes: arrays and
// maps become their JSON text.
func tag(a *model.Attr) KeyValue {
	switch a.Type {
	case model.TypeBool:
		return KeyValue{Key: a.Key, Type: "bool", Value: a.Num != 0}
	case model.TypeInt:
		return KeyValue{Key: a.Key, Type: "int64", Value: int64(a.Num)}
	case model.TypeDouble:
		f := math.Float64frombits(a.Num)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return str(a.Key, strconv.FormatFloat(f, 'g', -1, 64)) // JSON cannot carry them
		}
		return KeyValue{Key: a.Key, Type: "float64", Value: f}
	case model.TypeBytes:
		return KeyValue{Key: a.Key, Type: "binary", Value: a.String()}
	}
	return str(a.Key, a.String())
}

func tags(attrs []model.Attr, skip string) []KeyValue {
	out := make([]KeyValue, 0, len(attrs))
	for i := range attrs {
		if attrs[i].Key != skip {
			out = append(out, tag(&attrs[i]))
		}
	}
	return out
}

func sortTags(kv []KeyValue) {
	slices.SortStableFunc(kv, func(a, b KeyValue) int { return cmp.Compare(a.Key, b.Key) })
}

// kindTag is the span.kind tag value; "" for unspecified (no tag).
func kindTag(k int8) string {
	if k == model.KindUnspecified {
		return ""
	}
	return model.KindName(k)
}

// spanTags builds a span's tags in the order Jaeger's query service
// returns them: the instrumentation scope (otel.scope.name/version), the
// attributes sorted by key, span.kind, the status (otel.status_code,
// error=true, otel.status_description) and w3c.tracestate. Dropped counts
// are not shown, as in Jaeger.
func spanTags(s *model.Span) []KeyValue {
	out := make([]KeyValue, 0, len(s.Attrs)+6)
	if s.Scope != nil {
		if s.Scope.Name != "" {
			out = append(out, str("otel.scope.name", s.Scope.Name))
		}
		if s.Scope.Version != "" {
			out = append(out, str("otel.scope.version", s.Scope.Version))
		}
	}
	attrs := tags(s.Attrs, "")
	sortTags(attrs)
	out = append(out, attrs...)
	if k := kindTag(s.Kind); k != "" {
		out = append(out, str("span.kind", k))
	}
	switch s.StatusCode {
	case model.StatusError:
		out = append(out, str("otel.status_code", "ERROR"), KeyValue{Key: "error", Type: "bool", Value: true})
	case model.StatusOK:
		out = append(out, str("otel.status_code", "OK"))
	}
	if s.StatusMessage != "" {
		out = append(out, str("otel.status_description", s.StatusMessage))
	}
	if s.TraceState != "" {
		out = append(out, str("w3c.tracestate", s.TraceState))
	}
	return out
}

// logs converts events: the name becomes the "event" field (unless an
// attribute named event exists), first; the other fields sorted by key.
func logs(events []model.Event) []Log {
	out := make([]Log, 0, len(events))
	for i := range events {
		e := &events[i]
		fields := tags(e.Attrs, "")
		sortTags(fields)
		if e.Name != "" && !slices.ContainsFunc(e.Attrs, func(a model.Attr) bool { return a.Key == "event" }) {
			fields = append([]KeyValue{str("event", e.Name)}, fields...)
		} else if j := slices.IndexFunc(fields, func(kv KeyValue) bool { return kv.Key == "event" }); j > 0 {
			ev := fields[j]
			copy(fields[1:j+1], fields[:j])
			fields[0] = ev
		}
		out = append(out, Log{Timestamp: micros(e.Time), Fields: fields})
	}
	return out
}

// references lists the parent (CHILD_OF) first, then the links: a link's
// type is CHILD_OF when its attribute opentracing.ref_type is child_of,
// else FOLLOWS_FROM; a link to the parent sets the parent reference's type
// instead of adding one.
func references(s *model.Span, traceID string) []Reference {
	out := make([]Reference, 0, len(s.Links)+1)
	if !s.ParentID.IsZero() {
		out = append(out, Reference{RefType: "CHILD_OF", TraceID: traceID, SpanID: s.ParentID.String()})
	}
	for i := range s.Links {
		l := &s.Links[i]
		typ := "FOLLOWS_FROM"
		for _, a := range l.Attrs {
			if a.Key == "opentracing.ref_type" && a.Type == model.TypeStr && a.Str == "child_of" {
				typ = "CHILD_OF"
			}
		}
		if !s.ParentID.IsZero() && l.TraceID == s.TraceID && l.SpanID == s.ParentID {
			out[0].RefType = typ
			continue
		}
		out = append(out, Reference{RefType: typ, TraceID: TraceIDString(l.TraceID), SpanID: l.SpanID.String()})
	}
	return out
}

// processKey identifies equal processes (same service and tags).
func processKey(p *Process) string {
	b := []byte(p.ServiceName)
	for _, t := range p.Tags {
		b = fmt.Appendf(b, "\x00%s\x00%s\x00%v", t.Key, t.Type, t.Value)
	}
	return string(b)
}

// uniqueServerIDs gives a server span that shares its span ID with a
// client span of the trace (Zipkin's shared spans) a new ID: the next unused
// one above it. Its parent becomes the client span, and the spans whose
// parent was the shared ID move under the server span (the server side made
// them), as Jaeger's query service does. It returns the span ID and parent
// ID to show for each span.
func uniqueServerIDs(spans []model.Span) (ids, parents []model.SpanID) {
	ids = make([]model.SpanID, len(spans))
	parents = make([]model.SpanID, len(spans))
	used := make(map[model.SpanID]bool, len(spans))
	client := map[model.SpanID]bool{}
	for i := range spans {
		ids[i], parents[i] = spans[i].SpanID, spans[i].ParentID
		used[spans[i].SpanID] = true
		if spans[i].Kind == model.KindClient {
			client[spans[i].SpanID] = true
		}
	}
	moved := map[model.SpanID]model.SpanID{}
	for i := range spans {
		s := &spans[i]
		if s.Kind != model.KindServer || !client[s.SpanID] {
			continue
		}
		n := binary.BigEndian.Uint64(s.SpanID[:])
		var id model.SpanID
		for {
			n++
			binary.BigEndian.PutUint64(id[:], n)
			if !used[id] && n != 0 {
				break
			}
		}
		used[id] = true
		ids[i], parents[i] = id, s.SpanID
		moved[s.SpanID] = id
	}
	if len(moved) == 0 {
		return ids, parents
	}
	for i := range spans {
		s := &spans[i]
		if nid, ok := moved[s.ParentID]; ok && ids[i] != nid {
			parents[i] = nid
		}
	}
	return ids, parents
}

// ToTrace converts the spans of one trace (in the order given) to Jaeger's
// model. Processes are numbered p1, p2, ... in order of first use; spans
// with equal resources share one.
func ToTrace(spans []model.Span) Trace {
	t := Trace{Spans: make([]Span, 0, len(spans)), Processes: map[string]Process{}}
	if len(spans) == 0 {
		return t
	}
	t.TraceID = TraceIDString(spans[0].TraceID)
	byRes := map[*model.Resource]string{}
	byKey := map[string]string{}
	ids, parents := uniqueServerIDs(spans)
	for i := range spans {
		s := &spans[i]
		pid, ok := byRes[s.Resource]
		if !ok {
			p := Process{ServiceName: s.Service(), Tags: []KeyValue{}}
			if s.Resource != nil {
				p.Tags = tags(s.Resource.Attrs, "service.name")
			}
			if p.ServiceName == "" {
				p.ServiceName = noServiceName
			}
			sortTags(p.Tags)
			k := processKey(&p)
			if pid, ok = byKey[k]; !ok {
				pid = "p" + strconv.Itoa(len(byKey)+1)
				byKey[k] = pid
				t.Processes[pid] = p
			}
			byRes[s.Resource] = pid
		}
		sp := *s
		sp.SpanID, sp.ParentID = ids[i], parents[i]
		t.Spans = append(t.Spans, Span{
			TraceID:       t.TraceID,
			SpanID:        sp.SpanID.String(),
			OperationName: s.Name,
			References:    references(&sp, t.TraceID),
			StartTime:     micros(s.Start),
			Duration:      micros(s.End - s.Start),
			Tags:          spanTags(s),
			Logs:          logs(s.Events),
			ProcessID:     pid,
		})
	}
	return t
}
