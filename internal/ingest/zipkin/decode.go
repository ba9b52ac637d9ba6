// Package zipkin decodes Zipkin v2 spans (JSON and proto3) and maps them to
// the OpenTelemetry model the way the OpenTelemetry Collector's Zipkin
// receiver does (see docs/zipkin.md for the mapping).
package zipkin

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Span is a Zipkin v2 span as decoded from JSON or proto3. IDs are lower
// case hex; times are microseconds.
type Span struct {
	TraceID        string
	ParentID       string
	ID             string
	Kind           string // CLIENT, SERVER, PRODUCER, CONSUMER or ""
	Name           string
	Timestamp      uint64
	Duration       uint64
	LocalEndpoint  *Endpoint
	RemoteEndpoint *Endpoint
	Annotations    []Annotation
	Tags           map[string]string
	Debug          bool
	Shared         bool
}

// Endpoint is a Zipkin endpoint.
type Endpoint struct {
	ServiceName string `json:"serviceName,omitempty"`
	IPv4        string `json:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty"`
	Port        int    `json:"port,omitempty"`
}

// Annotation is a timestamped event.
type Annotation struct {
	Timestamp uint64 `json:"timestamp"`
	Value     string `json:"value"`
}

// ErrBadSpans wraps every decoding error: the request can never succeed.
var ErrBadSpans = errors.New("bad zipkin spans")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSpans, fmt.Sprintf(format, args...))
}

type jsonSpan struct {
	TraceID        string                     `json:"traceId"`
	ParentID       string                     `json:"parentId"`
	ID             string                     `json:"id"`
	Kind           string                     `json:"kind"`
	Name           string                     `json:"name"`
	Timestamp      json.Number                `json:"timestamp"`
	Duration       json.Number                `json:"duration"`
	LocalEndpoint  *Endpoint                  `json:"localEndpoint"`
	RemoteEndpoint *Endpoint                  `json:"remoteEndpoint"`
	Annotations    []jsonAnnotation           `json:"annotations"`
	Tags           map[string]json.RawMessage `json:"tags"`
	Debug          bool                       `json:"debug"`
	Shared         bool                       `json:"shared"`
}

type jsonAnnotation struct {
	Timestamp json.Number `json:"timestamp"`
	Value     string      `json:"value"`
}

// DecodeJSON decodes a JSON array of Zipkin v2 spans. Tag values that are
// not strings (numbers, booleans) are kept as their JSON text.
func DecodeJSON(b []byte) ([]Span, error) {
	var in []jsonSpan
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return nil, bad("body is not a JSON array of Zipkin v2 spans: %v", err)
	}
	out := make([]Span, 0, len(in))
	for i := range in {
		j := &in[i]
		s := Span{TraceID: j.TraceID, ParentID: j.ParentID, ID: j.ID, Kind: j.Kind, Name: j.Name,
			LocalEndpoint: j.LocalEndpoint, RemoteEndpoint: j.RemoteEndpoint, Debug: j.Debug, Shared: j.Shared}
		var err error
		if s.Timestamp, err = micros(j.Timestamp); err != nil {
			return nil, bad("span %d: timestamp: %v", i, err)
		}
		if s.Duration, err = micros(j.Duration); err != nil {
			return nil, bad("span %d: duration: %v", i, err)
		}
		for k, a := range j.Annotations {
			ts, err := micros(a.Timestamp)
			if err != nil {
				return nil, bad("span %d: annotation %d: timestamp: %v", i, k, err)
			}
			s.Annotations = append(s.Annotations, Annotation{Timestamp: ts, Value: a.Value})
		}
		if len(j.Tags) > 0 {
			s.Tags = make(map[string]string, len(j.Tags))
			for k, raw := range j.Tags {
				var str string
				if json.Unmarshal(raw, &str) != nil {
					str = string(raw)
				}
				s.Tags[k] = str
			}
		}
		if err := s.validate(); err != nil {
			return nil, bad("span %d: %v", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// micros parses a non-negative integer number of microseconds ("" = 0).
// Zipkin clients sometimes send fractions; they are truncated.
func micros(n json.Number) (uint64, error) {
	if n == "" {
		return 0, nil
	}
	if v, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > 1<<63 {
		return 0, fmt.Errorf("%q is not a number of microseconds", n)
	}
	return uint64(f), nil
}

func validHex(s string, lengths ...int) bool {
	ok := false
	for _, l := range lengths {
		ok = ok || len(s) == l
	}
	if !ok {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// validate checks IDs and kinds, and normalizes IDs to lower case.
func (s *Span) validate() error {
	s.TraceID, s.ID, s.ParentID = lower(s.TraceID), lower(s.ID), lower(s.ParentID)
	if !validHex(s.TraceID, 16, 32) || s.TraceID == "0000000000000000" || s.TraceID == "00000000000000000000000000000000" {
		return fmt.Errorf("traceId %q: must be 16 or 32 hex characters, not all zero", s.TraceID)
	}
	if !validHex(s.ID, 16) || s.ID == "0000000000000000" {
		return fmt.Errorf("id %q: must be 16 hex characters, not all zero", s.ID)
	}
	if s.ParentID == "0000000000000000" {
		s.ParentID = ""
	}
	if s.ParentID != "" && !validHex(s.ParentID, 16) {
		return fmt.Errorf("parentId %q: must be 16 hex characters", s.ParentID)
	}
	switch s.Kind {
	case "", "CLIENT", "SERVER", "PRODUCER", "CONSUMER":
	default:
		return fmt.Errorf("kind %q: must be CLIENT, SERVER, PRODUCER or CONSUMER", s.Kind)
	}
	for _, e := range []*Endpoint{s.LocalEndpoint, s.RemoteEndpoint} {
		if e == nil {
			continue
		}
		if e.IPv4 != "" && net.ParseIP(e.IPv4).To4() == nil {
			return fmt.Errorf("endpoint ipv4 %q: not an IPv4 address", e.IPv4)
		}
		if e.IPv6 != "" && net.ParseIP(e.IPv6) == nil {
			return fmt.Errorf("endpoint ipv6 %q: not an IPv6 address", e.IPv6)
		}
		if e.Port < 0 || e.Port > 65535 {
			return fmt.Errorf("endpoint port %d: not a port", e.Port)
		}
	}
	return nil
}

func lower(s string) string {
	b := []byte(s)
	changed := false
	for i, c := range b {
		if 'A' <= c && c <= 'F' {
			b[i] = c + 'a' - 'A'
			changed = true
		}
	}
	if !changed {
		return s
	}
	return string(b)
}
