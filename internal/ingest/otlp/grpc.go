package otlp

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// exportMethod is the one gRPC method the receiver serves.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

func (r *Receiver) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(r.cfg.Limits.MaxRequestBytes)),
		grpc.MaxConcurrentStreams(uint32(r.cfg.MaxConcurrentRequests)),
		grpc.StatsHandler(grpcStats{r.m}),
		grpc.ForceServerCodecV2(codec{base: encoding.GetCodecV2("proto"), conv: r.conv, pool: &recvPool{}}),
	)
	s.RegisterService(&traceServiceDesc, &grpcService{r: r})
	return s
}

// traceServiceDesc is the OTLP TraceService with its Export method taking
// a traceRequest, which the codec fills by decoding the message bytes
// with ingest's protobuf decoder (no generated message types involved).
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*traceServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: exportHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

// traceServer is the handler type of traceServiceDesc.
type traceServer interface {
	export(ctx context.Context, req *traceRequest) (*traceResponse, error)
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(traceRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	s := srv.(traceServer)
	if interceptor == nil {
		return s.export(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: exportMethod}
	return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return s.export(ctx, req.(*traceRequest))
	})
}

// traceRequest is a decoded ExportTraceServiceRequest.
type traceRequest struct{ batch *ingest.Batch }

// traceResponse is an ExportTraceServiceResponse.
type traceResponse struct {
	rejected int
	msg      string
}

// appendProto appends the response in protobuf form. Like pdata it always
// writes partial_success, empty when nothing was rejected.
func (e *traceResponse) appendProto(dst []byte) []byte {
	var ps []byte
	if e.rejected != 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType) // rejected_spans
		ps = protowire.AppendVarint(ps, uint64(e.rejected))
	}
	if e.msg != "" {
		ps = protowire.AppendTag(ps, 2, protowire.BytesType) // error_message
		ps = protowire.AppendString(ps, e.msg)
	}
	dst = protowire.AppendTag(dst, 1, protowire.BytesType) // partial_success
	return protowire.AppendBytes(dst, ps)
}

type grpcService struct{ r *Receiver }

// export implements the OTLP TraceService's Export.
func (s *grpcService) export(ctx context.Context, req *traceRequest) (*traceResponse, error) {
	r := s.r
	n := req.batch.SpanCount()
	r.m.grpc.received.Add(float64(n))
	if !r.acquire() {
		r.m.refused.WithLabelValues(refusedTooMany).Add(float64(n))
		return nil, r.unavailable(errTooManyRequests.Error())
	}
	defer r.release()
	rejected, msg, err := r.export(ctx, protoGRPC, req.batch)
	if err != nil {
		return nil, r.unavailable(clientMessage(err))
	}
	return &traceResponse{rejected: rejected, msg: msg}, nil
}

// unavailable is a retryable gRPC error with a RetryInfo detail.
func (r *Receiver) unavailable(msg string) error {
	st := status.New(codes.Unavailable, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryAfter)}); err == nil {
		st = d
	}
	return st.Err()
}

// clientMessage is what a client is told about a consumer error: the
// sentinel texts are safe to show, anything else stays in our log.
func clientMessage(err error) string {
	switch {
	case errors.Is(err, errTooManyRequests):
		return errTooManyRequests.Error()
	case errors.Is(err, store.ErrOverloaded):
		return store.ErrOverloaded.Error()
	case errors.Is(err, store.ErrClosed):
		return "server shutting down, retry later"
	}
	return "storing spans failed, retry later"
}

// grpcStats counts wire bytes and failed calls.
type grpcStats struct{ m *metrics }

func (h grpcStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (h grpcStats) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s := s.(type) {
	case *stats.InPayload:
		h.m.grpc.bytes.Add(float64(s.WireLength))
	case *stats.End:
		if s.Error != nil {
			h.m.errors.WithLabelValues(protoGRPC, status.Code(s.Error).String()).Inc()
		}
	}
}

func (h grpcStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (h grpcStats) HandleConn(context.Context, stats.ConnStats) {}

// codec is the server's gRPC codec. It decodes Export requests with
// ingest's protobuf decoder straight from gRPC's receive buffer (which is
// freed on return: the decoder keeps no reference to it) and encodes
// Export responses by hand; other messages (none today) go to base.
// Requests that do not decode fail with gRPC's INTERNAL "grpc: failed to
// unmarshal the received message: ...", as with the generated code.
type codec struct {
	base encoding.CodecV2
	conv *ingest.Converter
	pool *recvPool
}

func (c codec) Name() string { return c.base.Name() }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if resp, ok := v.(*traceResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(resp.appendProto(nil))}, nil
	}
	return c.base.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*traceRequest)
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(c.pool)
	defer buf.Free()
	batch, err := c.conv.DecodeProto(buf.ReadOnlyData(), time.Now())
	if err != nil {
		return err
	}
	req.batch = batch
	return nil
}
