// Package model holds Ariadne's in-memory span model and its compact binary
// encoding, shared by the WAL, the head and the columnar parts.
//
// A Span is self-contained: it carries pointers to its Resource and Scope,
// which are shared (never mutated) between the spans of one OTLP
// ResourceSpans / ScopeSpans. Once a Span has been handed to the store it
// must not be modified by the caller.
package model

import (
	"encoding/hex"
	"errors"
	"math"
	"strconv"
)

// TraceID is a 16-byte W3C trace ID.
type TraceID [16]byte

// SpanID is an 8-byte W3C span ID.
type SpanID [8]byte

// IsZero reports whether all bytes are zero (an invalid ID in OTLP).
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether all bytes are zero.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String returns the lower-case hex form.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String returns the lower-case hex form.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// ErrBadID is returned by ParseTraceID and ParseSpanID.
var ErrBadID = errors.New("invalid id")

// ParseTraceID parses 32 hex characters. Shorter IDs (such as Zipkin's
// 64-bit trace IDs as 16 hex characters) are left-padded with zeros.
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if len(s) == 0 || len(s) > 32 || len(s)%2 != 0 {
		return t, ErrBadID
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return t, ErrBadID
	}
	copy(t[16-len(b):], b)
	return t, nil
}

// ParseSpanID parses 16 hex characters.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if len(s) != 16 {
		return id, ErrBadID
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, ErrBadID
	}
	return id, nil
}

// ValueType is the type of an attribute value.
type ValueType uint8

// Attribute value types. Array and Map values are kept as their OTLP/JSON
// AnyValue encoding in Attr.Str so they round-trip exactly.
const (
	TypeEmpty ValueType = iota
	TypeStr
	TypeBool
	TypeInt
	TypeDouble
	TypeBytes
	TypeArray
	TypeMap
)

// Attr is one attribute. Str holds string, bytes, array (JSON) and map (JSON)
// values; Num holds bool (0/1), int (two's complement) and double (IEEE bits).
type Attr struct {
	Key  string
	Type ValueType
	Str  string
	Num  uint64
}

// Event is a span event (a log in Jaeger's terms).
type Event struct {
	Time         int64 // unix nanoseconds
	Name         string
	Attrs        []Attr
	DroppedAttrs uint32
}

// Link is a span link.
type Link struct {
	TraceID      TraceID
	SpanID       SpanID
	TraceState   string
	Flags        uint32
	Attrs        []Attr
	DroppedAttrs uint32
}

// Resource describes the entity that produced spans.
type Resource struct {
	Attrs        []Attr
	DroppedAttrs uint32
	SchemaURL    string
}

// Service returns the value of the service.name attribute, or "" if absent.
func (r *Resource) Service() string {
	if r == nil {
		return ""
	}
	for i := range r.Attrs {
		if r.Attrs[i].Key == "service.name" && r.Attrs[i].Type == TypeStr {
			return r.Attrs[i].Str
		}
	}
	return ""
}

// Scope is the instrumentation scope.
type Scope struct {
	Name         string
	Version      string
	Attrs        []Attr
	DroppedAttrs uint32
	SchemaURL    string
}

// Span kinds, as in OTLP.
const (
	KindUnspecified int8 = 0
	KindInternal    int8 = 1
	KindServer      int8 = 2
	KindClient      int8 = 3
	KindProducer    int8 = 4
	KindConsumer    int8 = 5
)

// Status codes, as in OTLP.
const (
	StatusUnset int8 = 0
	StatusOK    int8 = 1
	StatusError int8 = 2
)

// Span is one span with everything needed to return it as OTLP. (The
// fields are ordered to leave little padding: the head holds hundreds of
// thousands of spans.)
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentID      SpanID
	Start         int64 // unix nanoseconds
	End           int64 // unix nanoseconds
	Name          string
	Kind          int8
	StatusCode    int8
	Flags         uint32
	StatusMessage string
	TraceState    string
	Attrs         []Attr
	Events        []Event
	Links         []Link
	Resource      *Resource
	Scope         *Scope
	DroppedAttrs  uint32
	DroppedEvents uint32
	DroppedLinks  uint32
}

// Cheap returns s with only its cheap fields (IDs, name, kind, status code,
// times, resource, scope): what parts read without their heavy columns
// (part.Reader.TraceCheap) and what search summaries need.
func (s *Span) Cheap() Span {
	return Span{
		TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Name: s.Name,
		Kind: s.Kind, StatusCode: s.StatusCode, Start: s.Start, End: s.End,
		Resource: s.Resource, Scope: s.Scope,
	}
}

// Duration returns End-Start in nanoseconds (never negative for stored spans).
func (s *Span) Duration() int64 { return s.End - s.Start }

// Service returns the span's service name (resource attribute service.name).
func (s *Span) Service() string { return s.Resource.Service() }

// KindName returns the OTLP enum name without prefix, e.g. "server".
func KindName(k int8) string {
	switch k {
	case KindInternal:
		return "internal"
	case KindServer:
		return "server"
	case KindClient:
		return "client"
	case KindProducer:
		return "producer"
	case KindConsumer:
		return "consumer"
	}
	return "unspecified"
}

// ParseKind is the inverse of KindName; it also accepts the OTLP enum
// names (SPAN_KIND_SERVER). ok is false for unknown names.
func ParseKind(s string) (int8, bool) {
	switch s {
	case "unspecified", "SPAN_KIND_UNSPECIFIED":
		return KindUnspecified, true
	case "internal", "SPAN_KIND_INTERNAL":
		return KindInternal, true
	case "server", "SPAN_KIND_SERVER":
		return KindServer, true
	case "client", "SPAN_KIND_CLIENT":
		return KindClient, true
	case "producer", "SPAN_KIND_PRODUCER":
		return KindProducer, true
	case "consumer", "SPAN_KIND_CONSUMER":
		return KindConsumer, true
	}
	return 0, false
}

// StatusName returns "unset", "ok" or "error".
func StatusName(c int8) string {
	switch c {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Span attributes tail sampling sets on every span of a kept trace: the
// policy that kept it and its adjusted count (the inverse of the
// probability that a trace like it was kept).
const (
	AttrSamplingPolicy = "ariadne.sampling.policy"
	AttrAdjustedCount  = "ariadne.sampling.adjusted_count"
)

// Attribute keys SDKs set on the root spans they sample (Jaeger's
// convention; the Ariadne sdk's samplers set them too): the sampler that
// decided ("probabilistic", "ratelimiting", "lowerbound", "const") and
// its parameter (the probability, or traces per second).
const (
	AttrSamplerType  = "sampler.type"
	AttrSamplerParam = "sampler.param"
)

// SamplerTags returns s's sampler.type and sampler.param; p is -1 when
// sampler.param is missing or not a number.
func SamplerTags(s *Span) (typ string, p float64) {
	p = -1
	for i := range s.Attrs {
		a := &s.Attrs[i]
		if len(a.Key) < 12 || a.Key[:8] != "sampler." {
			continue
		}
		switch a.Key {
		case AttrSamplerType:
			typ = a.Str
		case AttrSamplerParam:
			switch a.Type {
			case TypeDouble:
				p = math.Float64frombits(a.Num)
			case TypeInt:
				p = float64(int64(a.Num))
			case TypeStr:
				if v, err := strconv.ParseFloat(a.Str, 64); err == nil {
					p = v
				}
			}
		}
	}
	return typ, p
}

// SamplingPolicy returns the ariadne.sampling.policy of s: the tail
// sampling policy that kept its trace.
func SamplingPolicy(s *Span) (string, bool) {
	for i := len(s.Attrs) - 1; i >= 0; i-- {
		if a := &s.Attrs[i]; a.Key == AttrSamplingPolicy && a.Type == TypeStr {
			return a.Str, true
		}
	}
	return "", false
}

// AdjustedCount is how many spans s stands for: its
// ariadne.sampling.adjusted_count, or 1 when it has none (it was not
// sampled, or it was kept with certainty).
func AdjustedCount(s *Span) float64 {
	for i := len(s.Attrs) - 1; i >= 0; i-- {
		a := &s.Attrs[i]
		if a.Key == AttrAdjustedCount && a.Type == TypeDouble {
			if w := math.Float64frombits(a.Num); w >= 1 && !math.IsInf(w, 0) {
				return w
			}
			return 1
		}
	}
	return 1
}
