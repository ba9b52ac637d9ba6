package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeConsumer records what it is given. It is a test double for the
// store, whose own contract is tested in internal/store.
type fakeConsumer struct {
	mu    sync.Mutex
	spans []model.Span
	calls int
	err   error
	// block, if set, makes Append signal entered and wait for it.
	block   chan struct{}
	entered chan struct{}
}

func (f *fakeConsumer) Append(ctx context.Context, spans []model.Span) error {
	f.mu.Lock()
	f.calls++
	block, entered, err := f.block, f.entered, f.err
	f.mu.Unlock()
	if block != nil {
		entered <- struct{}{}
		<-block
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spans = append(f.spans, spans...)
	return nil
}

func (f *fakeConsumer) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// blockNext makes the following Appends wait until the returned release
// is called; entered receives once per blocked call.
func (f *fakeConsumer) blockNext() (entered <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block = make(chan struct{})
	f.entered = make(chan struct{}, 16)
	b := f.block
	return f.entered, func() {
		f.mu.Lock()
		f.block = nil
		f.mu.Unlock()
		close(b)
	}
}

func (f *fakeConsumer) take() []model.Span {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spans
	f.spans = nil
	return s
}

type env struct {
	r   *Receiver
	c   *fakeConsumer
	reg *prometheus.Registry
	cl  *http.Client
}

// start runs a receiver on loopback ports chosen by the kernel.
func start(t testing.TB, cfg Config) *env {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c := &fakeConsumer{}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, c, reg, nil)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	cl := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		cl.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, r.Shutdown(ctx))
	})
	return &env{r: r, c: c, reg: reg, cl: cl}
}

func (e *env) url() string { return "http://" + e.r.HTTPAddr().String() + TracesPath }

// post sends body with the given headers and returns the response and
// its body.
func (e *env) post(t testing.TB, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url(), bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// counter returns the value of a counter with the given labels.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
		labels:
			for i := 0; i+1 < len(labels); i += 2 {
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						continue labels
					}
				}
				continue metrics
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

var (
	testNow = time.Now()
	testTS  = pcommon.NewTimestampFromTime(testNow.Add(-time.Minute))
)

func traceID(b byte) pcommon.TraceID { return pcommon.TraceID{0: 0xab, 15: b} }
func spanID(b byte) pcommon.SpanID   { return pcommon.SpanID{0: 0xcd, 7: b} }

// traces builds a request with one resource and one scope holding the
// given spans, each changed by its function.
func traces(mods ...func(ptrace.Span)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	for i, mod := range mods {
		ps := ss.Spans().AppendEmpty()
		ps.SetTraceID(traceID(1))
		ps.SetSpanID(spanID(byte(i + 1)))
		ps.SetName(fmt.Sprintf("span %d", i))
		ps.SetStartTimestamp(testTS)
		ps.SetEndTimestamp(testTS + 1000)
		if mod != nil {
			mod(ps)
		}
	}
	return td
}

func protoBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func jsonBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	require.NoError(t, err)
	return b
}

// exportResponse decodes a 200 body.
func exportResponse(t testing.TB, b []byte, isJSON bool) ptraceotlp.ExportResponse {
	t.Helper()
	resp := ptraceotlp.NewExportResponse()
	if isJSON {
		require.NoError(t, resp.UnmarshalJSON(b))
	} else {
		require.NoError(t, resp.UnmarshalProto(b))
	}
	return resp
}

// statusBody decodes an error body.
func statusBody(t testing.TB, b []byte, isJSON bool) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	if isJSON {
		require.NoError(t, protojson.Unmarshal(b, st), "%s", b)
	} else {
		require.NoError(t, proto.Unmarshal(b, st), "%q", b)
	}
	return st
}

func spanNames(spans []model.Span) []string {
	out := []string{}
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attrOf(spans []model.Span, i int, key string) (model.Attr, bool) {
	for _, a := range spans[i].Attrs {
		if a.Key == key {
			return a, true
		}
	}
	return model.Attr{}, false
}
