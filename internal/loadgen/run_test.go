package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// behaviour decides how the test server answers request number i (from 0)
// carrying n spans: reject some spans (partial success) or refuse it all.
type behaviour func(i, n int) (reject int, refuse bool)

func acceptAll(int, int) (int, bool) { return 0, false }

// sink is the state shared by the test OTLP servers: what they received.
type sink struct {
	behave behaviour

	mu       sync.Mutex
	requests int
	accepted int // spans in requests that were not refused
	rejected int // spans reported back as rejected
	refused  int // spans in refused requests
	traces   map[string]int
	headers  []string // value of the x-tenant header per request
}

func newSink(b behaviour) *sink { return &sink{behave: b, traces: map[string]int{}} }

// sinkCounts is what the server has seen so far, read under the lock.
type sinkCounts struct {
	requests, accepted, rejected, refused int
	traces                                map[string]int
	headers                               []string
}

func (s *sink) snapshot() sinkCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sinkCounts{s.requests, s.accepted, s.rejected, s.refused, maps.Clone(s.traces), slices.Clone(s.headers)}
}

// take records a request and returns how to answer it.
func (s *sink) take(td ptrace.Traces, tenant string) (reject int, refuse bool) {
	n := td.SpanCount()
	s.mu.Lock()
	defer s.mu.Unlock()
	reject, refuse = s.behave(s.requests, n)
	s.requests++
	s.headers = append(s.headers, tenant)
	if refuse {
		s.refused += n
		return 0, true
	}
	s.accepted += n
	s.rejected += reject
	for tid, ss := range byTrace(td) {
		s.traces[tid.String()] += len(ss)
	}
	return reject, false
}

type grpcSink struct {
	ptraceotlp.UnimplementedGRPCServer
	*sink
}

func (g *grpcSink) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	reject, refuse := g.take(req.Traces(), strings.Join(md.Get("x-tenant"), ","))
	if refuse {
		st, err := status.New(codes.Unavailable, "overloaded").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Millisecond)})
		if err != nil {
			return ptraceotlp.ExportResponse{}, err
		}
		return ptraceotlp.NewExportResponse(), st.Err()
	}
	resp := ptraceotlp.NewExportResponse()
	if reject > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(reject))
		resp.PartialSuccess().SetErrorMessage("spans too old")
	}
	return resp, nil
}

func startGRPC(t *testing.T, b behaviour) (*sink, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := newSink(b)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &grpcSink{sink: s})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return s, lis.Addr().String()
}

func startHTTP(t *testing.T, b behaviour) (*sink, string) {
	t.Helper()
	s := newSink(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reject, refuse := s.take(req.Traces(), r.Header.Get("X-Tenant"))
		if refuse {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		resp := ptraceotlp.NewExportResponse()
		if reject > 0 {
			resp.PartialSuccess().SetRejectedSpans(int64(reject))
			resp.PartialSuccess().SetErrorMessage("spans too old")
		}
		out, err := resp.MarshalProto()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// plainServers is one uncompressed server per protocol.
func plainServers() []server { return []server{servers[0], servers[2]} }

type server struct {
	name  string
	start func(*testing.T, behaviour) (*sink, string)
	cfg   Config
}

var servers = []server{
	{"grpc", startGRPC, Config{Protocol: "grpc"}},
	{"grpc-gzip", startGRPC, Config{Protocol: "grpc", Compression: "gzip"}},
	{"http", startHTTP, Config{Protocol: "http/protobuf"}},
	{"http-gzip", startHTTP, Config{Protocol: "http/protobuf", Compression: "gzip"}},
}

func TestRunDeliversEverything(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			live, endpoint := srv.start(t, acceptAll)
			var ids, out bytes.Buffer
			cfg := srv.cfg
			cfg.Endpoint = endpoint
			cfg.TotalSpans = 10_000
			cfg.Workers = 3
			cfg.Headers = map[string]string{"X-Tenant": "bench"}
			cfg.TraceIDsOut = &ids
			res, err := Run(context.Background(), cfg, &out)
			require.NoError(t, err)
			s := live.snapshot()

			require.EqualValues(t, 10_000, res.Sent)
			require.Equal(t, res.Sent, res.Accepted)
			require.Zero(t, res.Rejected+res.Refused+res.Failed+res.Dropped+res.Retries, res.LastError)
			require.Equal(t, int(res.Sent), s.accepted, "sent == received")
			require.EqualValues(t, s.requests, res.Requests)
			require.EqualValues(t, len(s.traces), res.Traces)
			require.InDelta(t, 770, res.BytesPerSpan, 150)
			require.Positive(t, res.LatencyP99)
			for _, h := range s.headers {
				require.Equal(t, "bench", h)
			}

			// Every trace ID line names a trace the server got, with its size.
			lines := 0
			sc := bufio.NewScanner(&ids)
			for sc.Scan() {
				id, count, ok := strings.Cut(sc.Text(), " ")
				require.True(t, ok, sc.Text())
				n, err := strconv.Atoi(count)
				require.NoError(t, err)
				require.Equal(t, s.traces[id], n, "trace %s", id)
				lines++
			}
			require.Equal(t, len(s.traces), lines)
			require.Contains(t, out.String(), "summary:")
			require.Contains(t, out.String(), "sent=10000 ")
			require.Regexp(t, `bytes/span=\d+`, out.String())
		})
	}
}

func TestRunPartialSuccess(t *testing.T) {
	for _, srv := range plainServers() {
		t.Run(srv.name, func(t *testing.T) {
			live, endpoint := srv.start(t, func(i, n int) (int, bool) { return n / 10, false })
			cfg := srv.cfg
			cfg.Endpoint = endpoint
			cfg.TotalSpans = 10_000
			cfg.Workers = 2
			res, err := Run(context.Background(), cfg, nil)
			require.NoError(t, err)
			s := live.snapshot()
			require.EqualValues(t, 10_000, res.Sent)
			require.Equal(t, int(res.Sent), s.accepted)
			require.EqualValues(t, s.rejected, res.Rejected)
			require.Positive(t, res.Rejected)
			require.Equal(t, res.Sent-res.Rejected, res.Accepted)
			require.Zero(t, res.Refused+res.Failed+res.Dropped)
			require.Contains(t, res.LastError, "spans too old")
		})
	}
}

func TestRunRefused(t *testing.T) {
	refuseAll := func(int, int) (int, bool) { return 0, true }
	for _, srv := range plainServers() {
		t.Run(srv.name, func(t *testing.T) {
			live, endpoint := srv.start(t, refuseAll)
			cfg := srv.cfg
			cfg.Endpoint = endpoint
			cfg.TotalSpans = 5_000
			cfg.Workers = 2
			res, err := Run(context.Background(), cfg, nil)
			require.NoError(t, err)
			s := live.snapshot()
			require.EqualValues(t, 5_000, res.Sent, "no retries by default")
			require.Equal(t, res.Sent, res.Refused)
			require.Equal(t, res.Sent, res.Dropped)
			require.Zero(t, res.Accepted+res.Failed+res.Retries+res.Traces)
			require.Equal(t, int(res.Sent), s.refused)
			require.Zero(t, s.accepted)
		})
	}
}

func TestRunRetriesRefusals(t *testing.T) {
	// The first five requests are refused, the rest accepted: with enough
	// retries every span ends up accepted exactly once.
	refuseFirst := func(i, _ int) (int, bool) { return 0, i < 5 }
	for _, srv := range plainServers() {
		t.Run(srv.name, func(t *testing.T) {
			live, endpoint := srv.start(t, refuseFirst)
			var ids bytes.Buffer
			cfg := srv.cfg
			cfg.Endpoint = endpoint
			cfg.TotalSpans = 5_000
			cfg.Workers = 2
			cfg.MaxRetries = 10
			cfg.RetryBackoff = time.Millisecond
			cfg.TraceIDsOut = &ids
			res, err := Run(context.Background(), cfg, nil)
			require.NoError(t, err)
			s := live.snapshot()
			require.EqualValues(t, 5, res.Retries)
			require.EqualValues(t, 5_000, res.Accepted)
			require.Equal(t, res.Accepted+res.Refused, res.Sent)
			require.Zero(t, res.Dropped+res.Failed)
			require.Equal(t, int(res.Refused), s.refused)
			require.Equal(t, 5_000, s.accepted)
			require.Equal(t, len(s.traces), strings.Count(ids.String(), "\n"))
		})
	}
}

func TestRunFailed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "no such tenant", http.StatusUnauthorized)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Protocol: "http/protobuf", Endpoint: srv.URL, TotalSpans: 2000, MaxRetries: 3}, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2000, res.Failed)
	require.Equal(t, res.Sent, res.Failed)
	require.Zero(t, res.Retries, "failures are not retried")
	require.Contains(t, res.LastError, "401")
	require.Contains(t, res.LastError, "no such tenant")
}

func TestRunReportsEveryInterval(t *testing.T) {
	live, endpoint := startGRPC(t, acceptAll)
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{
		Endpoint:       endpoint,
		Rate:           20_000,
		Duration:       350 * time.Millisecond,
		ReportInterval: 100 * time.Millisecond,
		Workers:        2,
	}, &out)
	require.NoError(t, err)
	require.Equal(t, int(res.Accepted), live.snapshot().accepted)

	line := regexp.MustCompile(`^t=[0-9.]+s sent=\d+/s accepted=\d+/s refused=\d+/s failed=\d+/s p50_latency=(-|[0-9.]+[µm]?s) p99=(-|[0-9.]+[µm]?s)$`)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	progress := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "t=") {
			require.Regexp(t, line, l)
			progress++
		}
	}
	require.GreaterOrEqual(t, progress, 2, out.String())
	require.GreaterOrEqual(t, len(res.Intervals), progress)
	var sum int64
	for _, iv := range res.Intervals {
		sum += iv.Sent
	}
	require.Equal(t, res.Sent, sum)
}

func TestRunStopsOnCancel(t *testing.T) {
	live, endpoint := startHTTP(t, acceptAll)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if live.snapshot().requests >= 3 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := Run(ctx, Config{Protocol: "http/protobuf", Endpoint: strings.TrimPrefix(endpoint, "http://")}, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.Requests, int64(3))
	// Requests aborted by the cancellation may still reach the server.
	require.LessOrEqual(t, int(res.Accepted), live.snapshot().accepted)
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Protocol: "zipkin"},
		{Compression: "zstd"},
		{Protocol: "http/protobuf", Endpoint: "ftp://x/v1/traces"},
		{Rate: -1},
	} {
		_, err := Run(context.Background(), cfg, nil)
		require.Error(t, err, "%+v", cfg)
	}
}

// FuzzResponseBodies feeds arbitrary server responses to the parsers of
// error and partial-success bodies; they must never panic.
func FuzzResponseBodies(f *testing.F) {
	st, err := proto.Marshal(status.New(codes.Unavailable, "overloaded").Proto())
	require.NoError(f, err)
	ps := ptraceotlp.NewExportResponse()
	ps.PartialSuccess().SetRejectedSpans(3)
	ps.PartialSuccess().SetErrorMessage("too old")
	psb, err := ps.MarshalProto()
	require.NoError(f, err)
	for _, seed := range [][]byte{nil, st, psb, []byte("rate limited\n"), {0x12, 0xff, 0xff}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = statusMessage(b)
		r := partialSuccess(b)
		require.Equal(t, outcomeOK, r.outcome)
		_ = parseRetryAfter(string(b), time.Now())
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	require.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
}

func TestHistogram(t *testing.T) {
	var h histogram
	require.Equal(t, time.Duration(0), h.quantile(0.5))
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * 100 * time.Microsecond)
	}
	require.InEpsilon(t, 50*time.Millisecond, h.quantile(0.5), 0.07)
	require.InEpsilon(t, 99*time.Millisecond, h.quantile(0.99), 0.07)
	h.record(time.Hour * 1000)
	require.Positive(t, h.quantile(1))
}

func TestStatusMessage(t *testing.T) {
	st := status.New(codes.InvalidArgument, "span 3 of 120: end time before start time")
	b, err := proto.Marshal(st.Proto())
	require.NoError(t, err)
	require.Equal(t, "span 3 of 120: end time before start time", statusMessage(b))
	require.Equal(t, "plain text", statusMessage([]byte("plain text\n")))
}

// rawSink counts spans without decoding them, so that benchmarks measure
// the sender.
type rawSink struct{ requests, bytes atomic.Int64 }

func startRawGRPC(b *testing.B) (*rawSink, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	s := &rawSink{}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var body []byte
				if err := dec(&body); err != nil {
					return nil, err
				}
				s.requests.Add(1)
				s.bytes.Add(int64(len(body)))
				return new([]byte), nil
			},
		}},
	}, struct{}{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return s, lis.Addr().String()
}

func startRawHTTP(b *testing.B) (*rawSink, string) {
	s := &rawSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
	}))
	b.Cleanup(srv.Close)
	return s, srv.URL
}

// BenchmarkRun measures end-to-end sending over loopback to a sink that
// does not decode; sink and sender share the CPUs, so -cpu 1 gives a lower
// bound for one loadgen core.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name  string
		start func(*testing.B) (*rawSink, string)
		cfg   Config
	}{
		{"grpc", startRawGRPC, Config{Protocol: "grpc"}},
		{"http", startRawHTTP, Config{Protocol: "http/protobuf"}},
		{"http-gzip", startRawHTTP, Config{Protocol: "http/protobuf", Compression: "gzip"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, endpoint := bc.start(b)
			cfg := bc.cfg
			cfg.Endpoint = endpoint
			cfg.TotalSpans = int64(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), cfg, nil)
			require.NoError(b, err)
			require.EqualValues(b, b.N, res.Accepted, res.LastError)
			b.ReportMetric(float64(res.Sent)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(s.bytes.Load())/float64(max(res.Sent, 1)), "wire_bytes/span")
		})
	}
}
