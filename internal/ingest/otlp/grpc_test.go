package otlp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

func grpcClient(t *testing.T, e *env, opts ...grpc.DialOption) ptraceotlp.GRPCClient {
	t.Helper()
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient(e.r.GRPCAddr().String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return ptraceotlp.NewGRPCClient(conn)
}

func export(t *testing.T, c ptraceotlp.GRPCClient, td ptrace.Traces, opts ...grpc.CallOption) (ptraceotlp.ExportResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), opts...)
}

func TestGRPCPartialSuccess(t *testing.T) {
	e := start(t, Config{})
	c := grpcClient(t, e)
	resp, err := export(t, c, traces(nil, func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}) }, nil))
	require.NoError(t, err)
	require.Equal(t, int64(1), resp.PartialSuccess().RejectedSpans())
	require.Equal(t, `1 span rejected: resource 0, scope 0, span 1 (name "span 1", span_id cd00000000000002): trace_id is all zeros`,
		resp.PartialSuccess().ErrorMessage())
	require.Equal(t, []string{"span 0", "span 2"}, spanNames(e.c.take()))

	// All spans invalid: still OK, everything counted as rejected.
	resp, err = export(t, c, traces(func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) }, func(s ptrace.Span) { s.SetStartTimestamp(0) }))
	require.NoError(t, err)
	require.Equal(t, int64(2), resp.PartialSuccess().RejectedSpans())
	require.Empty(t, e.c.take())

	// Fully accepted: no partial success.
	resp, err = export(t, c, traces(nil))
	require.NoError(t, err)
	require.Zero(t, resp.PartialSuccess().RejectedSpans())
	require.Empty(t, resp.PartialSuccess().ErrorMessage())
	require.Len(t, e.c.take(), 1)

	require.Equal(t, 6.0, counter(t, e.reg, "ariadne_spans_received_total", "protocol", "grpc"))
	require.Equal(t, 3.0, counter(t, e.reg, "ariadne_spans_accepted_total", "protocol", "grpc"))
	require.Equal(t, 2.0, counter(t, e.reg, "ariadne_spans_rejected_total", "reason", "zero_id"))
	require.Positive(t, counter(t, e.reg, "ariadne_received_bytes_total", "protocol", "grpc"))
}

func TestGRPCOverload(t *testing.T) {
	e := start(t, Config{RetryAfter: 3 * time.Second})
	c := grpcClient(t, e)
	e.c.setErr(store.ErrOverloaded)
	_, err := export(t, c, traces(nil))
	st := status.Convert(err)
	require.Equal(t, codes.Unavailable, st.Code())
	require.Equal(t, store.ErrOverloaded.Error(), st.Message())
	require.Len(t, st.Details(), 1)
	ri, ok := st.Details()[0].(*errdetails.RetryInfo)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, ri.GetRetryDelay().AsDuration())
	require.Equal(t, 1.0, counter(t, e.reg, "ariadne_spans_refused_total", "reason", "store_overloaded"))
	require.Equal(t, 1.0, counter(t, e.reg, "ariadne_request_errors_total", "protocol", "grpc", "code", "Unavailable"))
	e.c.setErr(nil)
	_, err = export(t, c, traces(nil))
	require.NoError(t, err)
}

func TestGRPCTooManyConcurrentRequests(t *testing.T) {
	e := start(t, Config{MaxConcurrentRequests: 1})
	c := grpcClient(t, e)
	c2 := grpcClient(t, e) // a second connection: streams per connection are limited too
	entered, release := e.c.blockNext()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := export(t, c, traces(nil))
		require.NoError(t, err)
	}()
	<-entered
	_, err := export(t, c2, traces(nil, nil))
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "too many concurrent requests")
	release()
	wg.Wait()
	require.Equal(t, 2.0, counter(t, e.reg, "ariadne_spans_refused_total", "reason", "too_many_requests"))
}

func TestGRPCOversized(t *testing.T) {
	e := start(t, Config{Limits: ingest.Limits{MaxRequestBytes: 64 << 10}})
	c := grpcClient(t, e)
	td := traces(func(s ptrace.Span) { s.Attributes().PutStr("big", strings.Repeat("x", 100<<10)) })
	_, err := export(t, c, td)
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	// Compressed below the limit but over it once decompressed.
	_, err = export(t, c, td, grpc.UseCompressor("gzip"))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	_, err = export(t, c, td, grpc.UseCompressor("zstd"))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	require.Empty(t, e.c.take())
	require.Equal(t, 3.0, counter(t, e.reg, "ariadne_request_errors_total", "protocol", "grpc", "code", "ResourceExhausted"))
}

func TestGRPCCompression(t *testing.T) {
	e := start(t, Config{})
	c := grpcClient(t, e)
	for _, comp := range []string{"gzip", "zstd"} {
		resp, err := export(t, c, traces(nil, nil), grpc.UseCompressor(comp))
		require.NoError(t, err, comp)
		require.Zero(t, resp.PartialSuccess().RejectedSpans())
		require.Len(t, e.c.take(), 2, comp)
	}
}

func TestGRPCDeepNesting(t *testing.T) {
	e := start(t, Config{})
	var out rawMsg
	// deepProto(n) holds n+1 nested values.
	err := grpcRaw(t, e, rawMsg(deepProto(maxNesting)), &out)
	require.ErrorContains(t, err, "attribute values nest more than 100 levels deep")
	require.NoError(t, grpcRaw(t, e, rawMsg(deepProto(maxNesting-1)), &out))
	// The server survived.
	_, err = export(t, grpcClient(t, e), traces(nil))
	require.NoError(t, err)
}

// grpcRaw sends raw protobuf bytes as an Export request: a well-behaved
// client cannot build what the tests need to send.
func grpcRaw(t testing.TB, e *env, in rawMsg, out *rawMsg) error {
	conn, err := grpc.NewClient(e.r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", in, out,
		grpc.ForceCodecV2(rawCodec{}))
}

type rawMsg []byte

type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(rawMsg))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawMsg) = data.Materialize()
	return nil
}

// Requests bigger than an HTTP/2 frame are gathered into a pooled buffer
// that is not cleared between requests: a smaller request after a bigger
// one (same buffer tier) must decode to exactly its own spans.
func TestGRPCLargeRequestsReuseBuffers(t *testing.T) {
	e := start(t, Config{})
	c := grpcClient(t, e)
	for round, size := range []int{120 << 10, 70 << 10, 100 << 10, 66 << 10} {
		fill := strings.Repeat(string(rune('a'+round)), 3000) // under the value length limit
		n := size / len(fill)
		var mods []func(ptrace.Span)
		for i := range n {
			mods = append(mods, func(s ptrace.Span) { s.Attributes().PutStr("fill", fmt.Sprintf("%d:%s", i, fill)) })
		}
		resp, err := export(t, c, traces(mods...))
		require.NoError(t, err)
		require.Zero(t, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
		got := e.c.take()
		require.Len(t, got, n, "round %d", round)
		for i := range got {
			a, ok := attrOf(got, i, "fill")
			require.True(t, ok)
			require.Equal(t, fmt.Sprintf("%d:%s", i, fill), a.Str, "round %d span %d", round, i)
		}
	}
}
