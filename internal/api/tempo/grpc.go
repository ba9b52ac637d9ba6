package tempo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// Grafana's Tempo data source can stream search and metrics results over
// gRPC (tempopb.StreamingQuerier) on the same port as the HTTP API, with
// HTTP/2 without TLS. Ariadne answers each call with one complete message.
// The messages are encoded by hand from Tempo's protobuf definitions
// (field numbers of pkg/tempopb/tempo.proto).

// rawCodec passes messages through as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// GRPC returns a gRPC server with tempopb.StreamingQuerier's Search,
// MetricsQueryRange and MetricsQueryInstant.
func (a *API) GRPC() *grpc.Server {
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	stream := func(name string, h func(ctx context.Context, req []byte) ([]byte, error)) grpc.StreamDesc {
		return grpc.StreamDesc{StreamName: name, ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			var req []byte
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			ctx := ss.Context()
			if a.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, a.timeout)
				defer cancel()
			}
			resp, err := h(ctx, req)
			if err != nil {
				return grpcError(err)
			}
			return ss.SendMsg(&resp)
		}}
	}
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "tempopb.StreamingQuerier",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{
			stream("Search", a.grpcSearch),
			stream("MetricsQueryRange", func(ctx context.Context, req []byte) ([]byte, error) { return a.grpcMetrics(ctx, req, true) }),
			stream("MetricsQueryInstant", func(ctx context.Context, req []byte) ([]byte, error) { return a.grpcMetrics(ctx, req, false) }),
		},
	}, struct{}{})
	return s
}

// Handler serves gRPC requests with g and everything else with h.
func Handler(h http.Handler, g *grpc.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func grpcError(err error) error {
	var re *requestError
	var le *traceql.LimitError
	switch {
	case errors.As(err, &re):
		return status.Error(codes.InvalidArgument, re.msg)
	case errors.As(err, &le):
		return status.Error(codes.ResourceExhausted, le.Msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "query timed out; narrow the time range or add filters")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// fields decodes the scalar and bytes fields of a protobuf message.
type fields struct {
	varints map[protowire.Number]uint64
	bytes   map[protowire.Number][][]byte
}

func decode(b []byte) (fields, error) {
	f := fields{varints: map[protowire.Number]uint64{}, bytes: map[protowire.Number][][]byte{}}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, protowire.ParseError(n)
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.varints[num] = v
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.bytes[num] = append(f.bytes[num], v)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return f, nil
}

func (f fields) str(n protowire.Number) string {
	if v := f.bytes[n]; len(v) > 0 {
		return string(v[len(v)-1])
	}
	return ""
}

// grpcSearch decodes a tempopb.SearchRequest: Tags 1 (map), MinDurationMs 2,
// MaxDurationMs 3, Limit 4, start 5, end 6, Query 8, SpansPerSpanSet 9.
func (a *API) grpcSearch(ctx context.Context, req []byte) ([]byte, error) {
	f, err := decode(req)
	if err != nil {
		return nil, badParams("SearchRequest: %v", err)
	}
	v := url.Values{}
	set := func(key string, n protowire.Number, format func(uint64) string) {
		if x := f.varints[n]; x != 0 {
			v.Set(key, format(x))
		}
	}
	itoa := func(x uint64) string { return strconv.FormatUint(x, 10) }
	ms := func(x uint64) string { return itoa(x) + "ms" }
	set("minDuration", 2, ms)
	set("maxDuration", 3, ms)
	set("limit", 4, itoa)
	set("start", 5, itoa)
	set("end", 6, itoa)
	set("spss", 9, itoa)
	if q := f.str(8); q != "" {
		v.Set("q", q)
	}
	var tags []string
	for _, entry := range f.bytes[1] {
		kv, err := decode(entry)
		if err != nil {
			return nil, badParams("SearchRequest.Tags: %v", err)
		}
		tags = append(tags, kv.str(1)+"="+strconv.Quote(kv.str(2)))
	}
	sort.Strings(tags)
	if len(tags) > 0 {
		v.Set("tags", strings.Join(tags, " "))
	}
	res, err := a.runSearch(ctx, v)
	if err != nil {
		return nil, err
	}
	return appendSearchResponse(nil, res), nil
}

// grpcMetrics decodes tempopb.QueryRangeRequest (query 1, start 2, end 3,
// step 4, in nanoseconds) or QueryInstantRequest (query 1, start 2, end 3).
func (a *API) grpcMetrics(ctx context.Context, req []byte, withStep bool) ([]byte, error) {
	f, err := decode(req)
	if err != nil {
		return nil, badParams("QueryRangeRequest: %v", err)
	}
	v := url.Values{"q": {f.str(1)}}
	if x := f.varints[2]; x != 0 {
		v.Set("start", strconv.FormatUint(x, 10))
	}
	if x := f.varints[3]; x != 0 {
		v.Set("end", strconv.FormatUint(x, 10))
	}
	if x := f.varints[4]; x != 0 && withStep {
		v.Set("step", strconv.FormatUint(x, 10)+"ns")
	}
	series, err := a.evalMetrics(ctx, v, withStep)
	if err != nil {
		return nil, err
	}
	var b []byte
	for _, s := range series {
		var m []byte
		for _, l := range s.Labels {
			m = appendMessage(m, 1, appendKeyValue(nil, l.Name, l.Value))
		}
		if withStep {
			for _, p := range s.Samples { // Sample: value 1 (double), timestamp_ms 2
				var sm []byte
				sm = protowire.AppendTag(sm, 1, protowire.Fixed64Type)
				sm = protowire.AppendFixed64(sm, math.Float64bits(p.Value))
				sm = appendVarint(sm, 2, uint64(p.TimestampMs))
				m = appendMessage(m, 2, sm)
			}
		} else if len(s.Samples) > 0 { // InstantSeries: value 2
			m = protowire.AppendTag(m, 2, protowire.Fixed64Type)
			m = protowire.AppendFixed64(m, math.Float64bits(s.Samples[0].Value))
		} else {
			continue
		}
		b = appendMessage(b, 1, m)
	}
	return appendMessage(b, 2, nil), nil
}

func appendMessage(b []byte, n protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendKeyValue encodes an OTLP KeyValue (key 1, value 2: AnyValue with
// string 1, bool 2, int 3, double 4).
func appendKeyValue(b []byte, key string, v traceql.Value) []byte {
	b = appendString(b, 1, key)
	var av []byte
	switch v.T {
	case traceql.TypeString:
		av = protowire.AppendTag(av, 1, protowire.BytesType)
		av = protowire.AppendString(av, v.S)
	case traceql.TypeBool:
		av = protowire.AppendTag(av, 2, protowire.VarintType)
		av = protowire.AppendVarint(av, protowire.EncodeBool(v.B))
	case traceql.TypeInt:
		av = protowire.AppendTag(av, 3, protowire.VarintType)
		av = protowire.AppendVarint(av, uint64(v.I))
	case traceql.TypeFloat:
		av = protowire.AppendTag(av, 4, protowire.Fixed64Type)
		av = protowire.AppendFixed64(av, math.Float64bits(v.F))
	case traceql.TypeNil:
	default:
		av = protowire.AppendTag(av, 1, protowire.BytesType)
		av = protowire.AppendString(av, v.String())
	}
	return appendMessage(b, 2, av)
}

func parseU(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }

// appendSearchResponse encodes tempopb.SearchResponse: traces 1, metrics 2.
func appendSearchResponse(b []byte, r SearchResponse) []byte {
	for _, t := range r.Traces {
		var m []byte // TraceSearchMetadata
		m = appendString(m, 1, t.TraceID)
		m = appendString(m, 2, t.RootServiceName)
		m = appendString(m, 3, t.RootTraceName)
		m = appendVarint(m, 4, parseU(t.StartTimeUnixNano))
		m = appendVarint(m, 5, uint64(t.DurationMs))
		if t.SpanSet != nil {
			m = appendMessage(m, 6, appendSpanSet(nil, *t.SpanSet))
		}
		for _, ss := range t.SpanSets {
			m = appendMessage(m, 7, appendSpanSet(nil, ss))
		}
		names := make([]string, 0, len(t.ServiceStats))
		for name := range t.ServiceStats {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			st := t.ServiceStats[name]
			stats := appendVarint(appendVarint(nil, 1, uint64(st.SpanCount)), 2, uint64(st.ErrorCount))
			m = appendMessage(m, 8, appendMessage(appendString(nil, 1, name), 2, stats))
		}
		b = appendMessage(b, 1, m)
	}
	metrics := appendVarint(appendVarint(nil, 4, uint64(r.Metrics.CompletedJobs)), 5, uint64(r.Metrics.TotalJobs))
	return appendMessage(b, 2, metrics)
}

// appendSpanSet encodes a SpanSet: spans 1, matched 2, attributes 3; a Span
// is spanID 1, name 2, startTimeUnixNano 3, durationNanos 4, attributes 5.
func appendSpanSet(b []byte, ss SpanSet) []byte {
	for _, sp := range ss.Spans {
		var m []byte
		m = appendString(m, 1, sp.SpanID)
		m = appendString(m, 2, sp.Name)
		m = appendVarint(m, 3, parseU(sp.StartTimeUnixNano))
		m = appendVarint(m, 4, parseU(sp.DurationNanos))
		for _, kv := range sp.Attributes {
			m = appendMessage(m, 5, appendKeyValue(nil, kv.Key, kv.Value.value()))
		}
		b = appendMessage(b, 1, m)
	}
	b = appendVarint(b, 2, uint64(ss.Matched))
	for _, kv := range ss.Attributes {
		b = appendMessage(b, 3, appendKeyValue(nil, kv.Key, kv.Value.value()))
	}
	return b
}

// value converts back to a traceql value for protobuf encoding.
func (v AnyValue) value() traceql.Value {
	switch {
	case v.StringValue != nil:
		return traceql.Value{T: traceql.TypeString, S: *v.StringValue}
	case v.BoolValue != nil:
		return traceql.Value{T: traceql.TypeBool, B: *v.BoolValue}
	case v.IntValue != nil:
		n, _ := strconv.ParseInt(*v.IntValue, 10, 64)
		return traceql.Value{T: traceql.TypeInt, I: n}
	case v.DoubleValue != nil:
		return traceql.Value{T: traceql.TypeFloat, F: *v.DoubleValue}
	}
	return traceql.Value{T: traceql.TypeNil}
}
