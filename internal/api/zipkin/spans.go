package zipkin

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	"github.com/ariadne-tracing/ariadne/internal/ingest/zipkin"
	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Span is a Zipkin v2 span in the JSON the query API returns.
type Span struct {
	TraceID        string              `json:"traceId"`
	ParentID       string              `json:"parentId,omitempty"`
	ID             string              `json:"id"`
	Kind           string              `json:"kind,omitempty"`
	Name           string              `json:"name,omitempty"`
	Timestamp      int64               `json:"timestamp,omitempty"`
	Duration       int64               `json:"duration,omitempty"`
	LocalEndpoint  *zipkin.Endpoint    `json:"localEndpoint,omitempty"`
	RemoteEndpoint *zipkin.Endpoint    `json:"remoteEndpoint,omitempty"`
	Annotations    []zipkin.Annotation `json:"annotations,omitempty"`
	Tags           map[string]string   `json:"tags,omitempty"`
	Shared         bool                `json:"shared,omitempty"`
}

// TraceIDString is Zipkin's form of a trace ID: 16 hex characters when
// the high 64 bits are zero, else 32.
func TraceIDString(id model.TraceID) string {
	if binary.BigEndian.Uint64(id[:8]) == 0 {
		return id.String()[16:]
	}
	return id.String()
}

var kinds = map[int8]string{model.KindClient: "CLIENT", model.KindServer: "SERVER", model.KindProducer: "PRODUCER", model.KindConsumer: "CONSUMER"}

// endpoint fills an endpoint from the attributes named; nil if empty.
func endpoint(service string, attrs []model.Attr, used map[string]bool, ipKey, portKey string) *zipkin.Endpoint {
	e := &zipkin.Endpoint{ServiceName: service}
	for i := range attrs {
		a := &attrs[i]
		switch {
		case a.Key == ipKey && a.Type == model.TypeStr:
			if ip := parseIP(a.Str); ip == 4 {
				e.IPv4 = a.Str
			} else if ip == 6 {
				e.IPv6 = a.Str
			} else {
				continue
			}
			used[a.Key] = true
		case a.Key == portKey && a.Type == model.TypeInt && int64(a.Num) > 0 && int64(a.Num) < 65536:
			e.Port = int(a.Num)
			used[a.Key] = true
		}
	}
	if *e == (zipkin.Endpoint{}) {
		return nil
	}
	return e
}

// FromSpan maps a stored span to Zipkin v2 (docs/zipkin.md): the inverse of
// the ingest mapping. Attributes that are not endpoints become tags (as
// text), so do resource attributes other than service.name.
func FromSpan(s *model.Span) Span {
	z := Span{
		TraceID:   TraceIDString(s.TraceID),
		ID:        s.SpanID.String(),
		Kind:      kinds[s.Kind],
		Name:      s.Name,
		Timestamp: s.Start / 1000,
		Duration:  s.Duration() / 1000,
	}
	if !s.ParentID.IsZero() {
		z.ParentID = s.ParentID.String()
	}
	used := map[string]bool{}
	z.LocalEndpoint = endpoint(s.Service(), s.Attrs, used, zipkin.AttrHostIP, zipkin.AttrHostPort)
	peer := ""
	for i := range s.Attrs {
		if s.Attrs[i].Key == zipkin.AttrPeerSvc && s.Attrs[i].Type == model.TypeStr {
			peer = s.Attrs[i].Str
			used[zipkin.AttrPeerSvc] = true
		}
	}
	z.RemoteEndpoint = endpoint(peer, s.Attrs, used, zipkin.AttrPeerIP, zipkin.AttrPeerPort)
	tags := map[string]string{}
	for i := range s.Attrs {
		a := &s.Attrs[i]
		switch {
		case used[a.Key]:
		case a.Key == zipkin.AttrShared && a.Type == model.TypeBool:
			z.Shared = a.Num != 0
		default:
			tags[a.Key] = a.String()
		}
	}
	if s.Resource != nil {
		for i := range s.Resource.Attrs {
			if a := &s.Resource.Attrs[i]; a.Key != "service.name" {
				tags[a.Key] = a.String()
			}
		}
	}
	if s.Scope != nil && s.Scope.Name != "" {
		tags[zipkin.TagScopeName] = s.Scope.Name
		if s.Scope.Version != "" {
			tags[zipkin.TagScopeVersion] = s.Scope.Version
		}
	}
	switch s.StatusCode {
	case model.StatusError:
		tags[zipkin.TagError] = s.StatusMessage
		if s.StatusMessage == "" {
			tags[zipkin.TagError] = "true"
		}
	case model.StatusOK:
		tags[zipkin.TagStatusCode] = "OK"
		if s.StatusMessage != "" {
			tags[zipkin.TagStatusMessage] = s.StatusMessage
		}
	}
	if s.TraceState != "" {
		tags[zipkin.TagTraceState] = s.TraceState
	}
	for i := range s.Links {
		l := &s.Links[i]
		tags[zipkin.TagLinkPrefix+strconv.Itoa(i)] = l.TraceID.String() + "|" + l.SpanID.String() + "|" + l.TraceState + "|" +
			attrsJSON(l.Attrs) + "|" + strconv.FormatUint(uint64(l.DroppedAttrs), 10)
	}
	if len(tags) > 0 {
		z.Tags = tags
	}
	for i := range s.Events {
		z.Annotations = append(z.Annotations, annotation(&s.Events[i]))
	}
	return z
}

// annotation is an event's name, or "name|{attributes as JSON}|dropped"
// when it has attributes (the OpenTelemetry Collector's encoding).
func annotation(e *model.Event) zipkin.Annotation {
	a := zipkin.Annotation{Timestamp: uint64(e.Time / 1000), Value: e.Name}
	if len(e.Attrs) == 0 && e.DroppedAttrs == 0 {
		return a
	}
	a.Value = e.Name + "|" + attrsJSON(e.Attrs) + "|" + strconv.FormatUint(uint64(e.DroppedAttrs), 10)
	return a
}

// attrsJSON encodes attributes as a JSON object: bools, ints and finite
// doubles as JSON values, everything else as text.
func attrsJSON(attrs []model.Attr) string {
	m := make(map[string]any, len(attrs))
	for i := range attrs {
		at := &attrs[i]
		switch at.Type {
		case model.TypeBool:
			m[at.Key] = at.Num != 0
		case model.TypeInt:
			m[at.Key] = int64(at.Num)
		case model.TypeDouble:
			if f, _ := at.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
				m[at.Key] = f
			} else {
				m[at.Key] = at.String()
			}
		default:
			m[at.Key] = at.String()
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// FromSpans maps the spans of one trace.
func FromSpans(spans []model.Span) []Span {
	out := make([]Span, 0, len(spans))
	for i := range spans {
		out = append(out, FromSpan(&spans[i]))
	}
	return out
}
