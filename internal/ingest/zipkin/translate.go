package zipkin

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Attribute and tag names of the mapping (docs/zipkin.md).
const (
	AttrHostIP   = "net.host.ip"
	AttrHostPort = "net.host.port"
	AttrPeerIP   = "net.peer.ip"
	AttrPeerPort = "net.peer.port"
	AttrPeerSvc  = "peer.service"
	AttrShared   = "zipkin.shared"

	TagStatusCode    = "otel.status_code"
	TagStatusMessage = "otel.status_description"
	TagError         = "error"
	TagSpanKind      = "span.kind"
	TagTraceState    = "w3c.tracestate"
	TagScopeName     = "otel.scope.name"
	TagScopeVersion  = "otel.scope.version"
	// TagLinkPrefix + N (from 0) carries link N as
	// "traceId|spanId|traceState|{JSON attributes}|dropped attributes".
	TagLinkPrefix = "otlp.link."
	tagLibName    = "otel.library.name"
	tagLibVersion = "otel.library.version"
)

// resourcePrefixes are the namespaces of the OpenTelemetry resource
// semantic conventions: tags under them describe the process, not the
// span, and become resource attributes.
var resourcePrefixes = []string{
	"service.", "host.", "process.", "telemetry.", "k8s.", "container.", "cloud.",
	"deployment.", "os.", "device.", "faas.", "webengine.", "aws.ecs.", "aws.eks.", "aws.log.", "gcp.", "heroku.",
}

// IsResourceKey reports whether a tag key is a resource attribute.
func IsResourceKey(k string) bool {
	for _, p := range resourcePrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

type groupKey struct {
	resource string // service name and resource tags
	scope    string // scope name and version
}

// ToTraces maps Zipkin spans to OTLP: spans of one local service (and the
// same resource tags) share a resource, spans of one instrumentation scope
// a ScopeSpans.
func ToTraces(spans []Span) ptrace.Traces {
	td := ptrace.NewTraces()
	res := map[string]ptrace.ResourceSpans{}
	scopes := map[groupKey]ptrace.SpanSlice{}
	for i := range spans {
		z := &spans[i]
		tags := make(map[string]string, len(z.Tags))
		for k, v := range z.Tags {
			tags[k] = v
		}
		service := ""
		if z.LocalEndpoint != nil {
			service = z.LocalEndpoint.ServiceName
		}
		var resKeys []string
		for k := range tags {
			if IsResourceKey(k) {
				resKeys = append(resKeys, k)
			}
		}
		slices.Sort(resKeys)
		rk := service
		for _, k := range resKeys {
			rk += "\x00" + k + "\x00" + tags[k]
		}
		rs, ok := res[rk]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			attrs := rs.Resource().Attributes()
			if service != "" {
				attrs.PutStr("service.name", service)
			}
			for _, k := range resKeys {
				if k != "service.name" || service == "" {
					attrs.PutStr(k, tags[k])
				}
			}
			res[rk] = rs
		}
		for _, k := range resKeys {
			delete(tags, k)
		}
		name, version := take(tags, TagScopeName, tagLibName), take(tags, TagScopeVersion, tagLibVersion)
		gk := groupKey{rk, name + "\x00" + version}
		ss, ok := scopes[gk]
		if !ok {
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName(name)
			sc.Scope().SetVersion(version)
			ss = sc.Spans()
			scopes[gk] = ss
		}
		putSpan(ss.AppendEmpty(), z, tags)
	}
	return td
}

// take removes and returns the first of keys present in tags.
func take(tags map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := tags[k]; ok {
			for _, k := range keys {
				delete(tags, k)
			}
			return v
		}
	}
	return ""
}

func traceID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	b, _ := hex.DecodeString(s) // validated
	copy(id[16-len(b):], b)
	return id
}

func spanID(s string) pcommon.SpanID {
	var id pcommon.SpanID
	b, _ := hex.DecodeString(s)
	copy(id[:], b)
	return id
}

func putSpan(sp ptrace.Span, z *Span, tags map[string]string) {
	sp.SetTraceID(traceID(z.TraceID))
	sp.SetSpanID(spanID(z.ID))
	if z.ParentID != "" && z.ParentID != z.ID {
		sp.SetParentSpanID(spanID(z.ParentID))
	}
	sp.SetName(z.Name)
	if ts, ok := tags[TagTraceState]; ok {
		sp.TraceState().FromRaw(ts)
		delete(tags, TagTraceState)
	}
	switch z.Kind {
	case "CLIENT":
		sp.SetKind(ptrace.SpanKindClient)
	case "SERVER":
		sp.SetKind(ptrace.SpanKindServer)
	case "PRODUCER":
		sp.SetKind(ptrace.SpanKindProducer)
	case "CONSUMER":
		sp.SetKind(ptrace.SpanKindConsumer)
	default:
		if strings.EqualFold(tags[TagSpanKind], "internal") {
			sp.SetKind(ptrace.SpanKindInternal)
			delete(tags, TagSpanKind)
		}
	}
	putStatus(sp.Status(), tags)
	putLinks(sp.Links(), tags)
	start := z.Timestamp * 1000
	sp.SetStartTimestamp(pcommon.Timestamp(start))
	sp.SetEndTimestamp(pcommon.Timestamp(start + z.Duration*1000))

	attrs := sp.Attributes()
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attrs.PutStr(k, tags[k])
	}
	if e := z.LocalEndpoint; e != nil {
		putEndpoint(attrs, e, "", AttrHostIP, AttrHostPort)
	}
	if e := z.RemoteEndpoint; e != nil {
		putEndpoint(attrs, e, AttrPeerSvc, AttrPeerIP, AttrPeerPort)
	}
	if z.Shared {
		attrs.PutBool(AttrShared, true)
	}
	for _, a := range z.Annotations {
		putEvent(sp.Events().AppendEmpty(), a)
	}
}

func putEndpoint(attrs pcommon.Map, e *Endpoint, svcKey, ipKey, portKey string) {
	if svcKey != "" && e.ServiceName != "" {
		attrs.PutStr(svcKey, e.ServiceName)
	}
	if e.IPv4 != "" {
		attrs.PutStr(ipKey, e.IPv4)
	}
	if e.IPv6 != "" {
		attrs.PutStr(ipKey, e.IPv6)
	}
	if e.Port > 0 {
		attrs.PutInt(portKey, int64(e.Port))
	}
}

// putStatus sets the status from otel.status_code/otel.status_description
// or Zipkin's error tag (its value, unless empty or "true", is the message).
func putStatus(st ptrace.Status, tags map[string]string) {
	if v, ok := tags[TagStatusCode]; ok {
		switch strings.TrimPrefix(strings.ToUpper(v), "STATUS_CODE_") {
		case "OK":
			st.SetCode(ptrace.StatusCodeOk)
		case "ERROR":
			st.SetCode(ptrace.StatusCodeError)
		}
		delete(tags, TagStatusCode)
		st.SetMessage(tags[TagStatusMessage])
		delete(tags, TagStatusMessage)
	}
	if v, ok := tags[TagError]; ok && v != "false" {
		st.SetCode(ptrace.StatusCodeError)
		if st.Message() == "" && v != "true" {
			st.SetMessage(v)
		}
		delete(tags, TagError)
	}
}

// maxLinkTags bounds the otlp.link.N tags read from one span.
const maxLinkTags = 128

// putLinks unpacks the otlp.link.0, otlp.link.1, ... tags (the OpenTelemetry
// Collector's encoding of links in Zipkin) into links, stopping at the
// first missing index. A tag that does not parse stays a tag.
func putLinks(links ptrace.SpanLinkSlice, tags map[string]string) {
	for i := range maxLinkTags {
		key := TagLinkPrefix + strconv.Itoa(i)
		v, ok := tags[key]
		if !ok {
			return
		}
		parts := strings.Split(v, "|")
		if len(parts) < 5 {
			continue
		}
		tid, sid := strings.Trim(parts[0], `"`), strings.Trim(parts[1], `"`)
		dropped, err := strconv.ParseUint(parts[len(parts)-1], 10, 32)
		var attrs map[string]any
		if !validHex(tid, 32) || !validHex(sid, 16) || err != nil ||
			json.Unmarshal([]byte(strings.Join(parts[3:len(parts)-1], "|")), &attrs) != nil {
			continue
		}
		l := links.AppendEmpty()
		l.SetTraceID(traceID(tid))
		l.SetSpanID(spanID(sid))
		l.TraceState().FromRaw(parts[2])
		l.SetDroppedAttributesCount(uint32(dropped))
		putJSONAttrs(l.Attributes(), attrs)
		delete(tags, key)
	}
}

// putJSONAttrs adds decoded JSON values as attributes, in key order:
// strings, booleans, integral numbers as ints, other numbers as doubles.
func putJSONAttrs(m pcommon.Map, attrs map[string]any) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := attrs[k].(type) {
		case string:
			m.PutStr(k, v)
		case bool:
			m.PutBool(k, v)
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				m.PutInt(k, int64(v))
			} else {
				m.PutDouble(k, v)
			}
		}
	}
}

// putEvent maps an annotation to an event. A value "name|{json}|dropped"
// (how OTLP events with attributes travel through Zipkin) is unpacked.
func putEvent(ev ptrace.SpanEvent, a Annotation) {
	ev.SetTimestamp(pcommon.Timestamp(a.Timestamp * 1000))
	parts := strings.Split(a.Value, "|")
	if len(parts) >= 3 {
		var attrs map[string]any
		body := strings.Join(parts[1:len(parts)-1], "|")
		dropped, err := strconv.ParseUint(parts[len(parts)-1], 10, 32)
		if err == nil && json.Unmarshal([]byte(body), &attrs) == nil {
			ev.SetName(parts[0])
			ev.SetDroppedAttributesCount(uint32(dropped))
			putJSONAttrs(ev.Attributes(), attrs)
			return
		}
	}
	ev.SetName(a.Value)
}
