// Package ingest turns decoded OTLP trace data into Ariadne spans. It
// validates every span, enforces the ingest limits and reports what it
// rejected in the form of an OTLP partial success. The receivers live in
// subpackages (otlp). The rules are documented in docs/ingest.md.
package ingest

import "time"

// Default limits, used for every zero field of Limits.
const (
	DefaultMaxRequestBytes   = 16 << 20
	DefaultMaxAttrsPerSpan   = 128
	DefaultMaxAttrValueBytes = 4096
	DefaultMaxEventsPerSpan  = 128
	DefaultMaxLinksPerSpan   = 128
	DefaultMaxSpansPerTrace  = 100_000
	DefaultMaxFutureSkew     = time.Hour
	DefaultTrackedTraces     = 1 << 18
)

// Attributes that ingest adds to spans (and to resources, scopes, events
// and links) it had to modify. Both are documented in docs/ingest.md.
const (
	// TruncatedAttr is a string array holding the keys of the attributes
	// whose values were cut to MaxAttrValueBytes. It is added to the
	// attribute list that held the truncated value.
	TruncatedAttr = "ariadne.truncated"
	// InvalidEndTimeAttr (bool true) marks a span whose end time was before
	// its start time; its end time was set to its start time.
	InvalidEndTimeAttr = "ariadne.invalid_end_time"
)

// maxValueDepth bounds the nesting of array and map attribute values.
// Deeper levels are dropped and the attribute is marked as truncated.
const maxValueDepth = 32

// Limits bounds what one span, one request and one trace may hold. A zero
// field means its default (see WithDefaults).
type Limits struct {
	// MaxRequestBytes bounds a request body, both as received and after
	// decompression, and a gRPC message. Default 16 MiB.
	MaxRequestBytes int64
	// MaxAttrsPerSpan bounds the attributes of a span, and equally those
	// of a resource, a scope, an event and a link. Extra attributes are
	// dropped and counted in the dropped-attributes count. Default 128.
	MaxAttrsPerSpan int
	// MaxAttrValueBytes bounds a string or bytes attribute value, and the
	// encoded size of an array or map value. Longer values are truncated
	// (strings at a UTF-8 boundary) and listed in TruncatedAttr.
	// Default 4096.
	MaxAttrValueBytes int
	// MaxEventsPerSpan bounds the events of a span; extra events are
	// dropped and counted in the dropped-events count. Default 128.
	MaxEventsPerSpan int
	// MaxLinksPerSpan bounds the links of a span; extra links are dropped
	// and counted in the dropped-links count. Default 128.
	MaxLinksPerSpan int
	// MaxSpansPerTrace bounds the spans accepted for one trace ID within
	// the window of recently seen traces (see TrackedTraces). Spans past
	// it are rejected. Default 100000.
	MaxSpansPerTrace int
	// MaxFutureSkew: spans that start more than this after the server's
	// clock are rejected. Default 1h.
	MaxFutureSkew time.Duration
	// TrackedTraces is the number of most recently started trace IDs whose
	// span counts a Converter remembers for MaxSpansPerTrace. Memory is
	// about 60 bytes per tracked trace. Default 262144 (15 MiB).
	TrackedTraces int
}

// WithDefaults returns l with every zero or negative field set to its
// default.
func (l Limits) WithDefaults() Limits {
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if l.MaxAttrsPerSpan <= 0 {
		l.MaxAttrsPerSpan = DefaultMaxAttrsPerSpan
	}
	if l.MaxAttrValueBytes <= 0 {
		l.MaxAttrValueBytes = DefaultMaxAttrValueBytes
	}
	if l.MaxEventsPerSpan <= 0 {
		l.MaxEventsPerSpan = DefaultMaxEventsPerSpan
	}
	if l.MaxLinksPerSpan <= 0 {
		l.MaxLinksPerSpan = DefaultMaxLinksPerSpan
	}
	if l.MaxSpansPerTrace <= 0 {
		l.MaxSpansPerTrace = DefaultMaxSpansPerTrace
	}
	if l.MaxFutureSkew <= 0 {
		l.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if l.TrackedTraces <= 0 {
		l.TrackedTraces = DefaultTrackedTraces
	}
	return l
}
