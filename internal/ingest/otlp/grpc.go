package otlp

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ariadne-tracing/ariadne/internal/store"
)

func (r *Receiver) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(r.cfg.Limits.MaxRequestBytes)),
		grpc.MaxConcurrentStreams(uint32(r.cfg.MaxConcurrentRequests)),
		grpc.StatsHandler(grpcStats{r.m}),
		grpc.ForceServerCodecV2(nestingCodec{encoding.GetCodecV2("proto")}),
	)
	ptraceotlp.RegisterGRPCServer(s, &grpcService{r: r})
	return s
}

type grpcService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements the OTLP TraceService.
func (s *grpcService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	r := s.r
	td := req.Traces()
	n := td.SpanCount()
	r.m.grpc.received.Add(float64(n))
	if !r.acquire() {
		r.m.refused.WithLabelValues(refusedTooMany).Add(float64(n))
		return ptraceotlp.ExportResponse{}, r.unavailable(errTooManyRequests.Error())
	}
	defer r.release()
	rejected, msg, err := r.export(ctx, protoGRPC, td)
	if err != nil {
		return ptraceotlp.ExportResponse{}, r.unavailable(clientMessage(err))
	}
	resp := ptraceotlp.NewExportResponse()
	if rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(rejected))
		ps.SetErrorMessage(msg)
	}
	return resp, nil
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

// nestingCodec runs checkNesting before pdata's decoder (see maxNesting).
type nestingCodec struct{ base encoding.CodecV2 }

func (c nestingCodec) Name() string { return c.base.Name() }

func (c nestingCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c nestingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(interface{ UnmarshalProto([]byte) error })
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	if err := checkNesting(b); err != nil {
		return err
	}
	return m.UnmarshalProto(b)
}
