package otlp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// zstdBytes compresses b as one frame; withSize records the content size
// in the frame header (EncodeAll does, a streaming writer does not).
func zstdBytes(t testing.TB, b []byte, withSize bool) []byte {
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	require.NoError(t, err)
	defer zw.Close()
	if withSize {
		return zw.EncodeAll(b, nil)
	}
	var buf bytes.Buffer
	zw.Reset(&buf)
	_, err = zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

const (
	hdrProto = "application/x-protobuf"
	hdrJSON  = "application/json"
)

// deepProto is an ExportTraceServiceRequest whose one resource attribute
// nests depth arrays: AnyValue{5: ArrayValue{1: AnyValue{...}}}. It is
// written front to back with precomputed lengths, so that millions of
// levels are cheap to build.
func deepProto(depth int) []byte {
	lens := make([]int, depth+1) // encoded length of the AnyValue at each level
	for i := depth - 1; i >= 0; i-- {
		arr := 1 + uvarintLen(lens[i+1]) + lens[i+1]
		lens[i] = 1 + uvarintLen(arr) + arr
	}
	v := make([]byte, 0, lens[0])
	for i := range depth {
		arr := 1 + uvarintLen(lens[i+1]) + lens[i+1]
		v = append(v, 5<<3|2)
		v = appendUvarint(v, uint64(arr))
		v = append(v, 1<<3|2)
		v = appendUvarint(v, uint64(lens[i+1]))
	}
	kv := appendField(appendField(nil, 1, []byte("k")), 2, v)
	res := appendField(nil, 1, kv)
	rs := appendField(nil, 1, res)
	return appendField(nil, 1, rs)
}

func uvarintLen(v int) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendField(dst []byte, field int, payload []byte) []byte {
	dst = appendUvarint(dst, uint64(field<<3|2))
	dst = appendUvarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func TestHTTPBadInput(t *testing.T) {
	const limit = 256 << 10
	e := start(t, Config{Limits: ingest.Limits{MaxRequestBytes: limit, MaxAttrsPerSpan: 4, MaxAttrValueBytes: 64}})

	valid := protoBody(t, traces(nil))
	bigAttr := strings.Repeat("x", 100)
	bomb := bytes.Repeat([]byte{0}, 4*limit)
	zeroIDs := traces(
		nil,
		func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}); s.SetName("GET /x") },
		nil,
		func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) },
	)

	type tc struct {
		name     string
		body     []byte
		header   map[string]string // Content-Type defaults to protobuf
		status   int
		msg      string // substring of the Status / partial-success message / text body
		rejected int64
		check    func(t *testing.T, spans []model.Span)
	}
	cases := []tc{
		{name: "valid protobuf", body: valid, status: 200, check: func(t *testing.T, s []model.Span) {
			require.Equal(t, []string{"span 0"}, spanNames(s))
		}},
		{name: "valid JSON", body: jsonBody(t, traces(nil, nil)), header: map[string]string{"Content-Type": hdrJSON + "; charset=utf-8"},
			status: 200, check: func(t *testing.T, s []model.Span) {
				require.Equal(t, []string{"span 0", "span 1"}, spanNames(s))
				require.Equal(t, "shop", s[0].Service())
			}},
		{name: "empty protobuf body", body: nil, status: 200},
		{name: "malformed protobuf", body: []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}, status: 400,
			msg: "malformed OTLP/protobuf request: "},
		{name: "truncated protobuf", body: valid[:len(valid)-7], status: 400, msg: "malformed OTLP/protobuf request: "},
		{name: "malformed JSON", body: []byte(`{"resourceSpans": [{"scopeSpans": [`), header: map[string]string{"Content-Type": hdrJSON},
			status: 400, msg: "malformed OTLP/JSON request: "},
		{name: "JSON bad trace id", body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708"}]}]}]}`),
			header: map[string]string{"Content-Type": hdrJSON}, status: 400, msg: "malformed OTLP/JSON request: "},
		{name: "wrong content type", body: valid, header: map[string]string{"Content-Type": "text/plain"}, status: 415,
			msg: `unsupported Content-Type "text/plain"; use application/x-protobuf or application/json`},
		{name: "missing content type", body: valid, header: map[string]string{"Content-Type": ""}, status: 415,
			msg: `unsupported Content-Type ""`},
		{name: "unsupported encoding", body: valid, header: map[string]string{"Content-Encoding": "br"}, status: 415,
			msg: `unsupported Content-Encoding "br"; use gzip, zstd or none`},
		{name: "oversized body", body: make([]byte, limit+1), status: 413,
			msg: "request body exceeds the limit of 262144 bytes"},
		{name: "gzip", body: gzipBytes(t, valid), header: map[string]string{"Content-Encoding": "gzip"}, status: 200,
			check: func(t *testing.T, s []model.Span) { require.Len(t, s, 1) }},
		{name: "zstd", body: zstdBytes(t, valid, false), header: map[string]string{"Content-Encoding": "zstd"}, status: 200,
			check: func(t *testing.T, s []model.Span) { require.Len(t, s, 1) }},
		{name: "gzip bomb", body: gzipBytes(t, bomb), header: map[string]string{"Content-Encoding": "gzip"}, status: 413,
			msg: "decompressed request body exceeds the limit of 262144 bytes"},
		{name: "zstd bomb with content size", body: zstdBytes(t, bomb, true), header: map[string]string{"Content-Encoding": "zstd"},
			status: 413, msg: "decompressed request body exceeds the limit of 262144 bytes"},
		{name: "zstd bomb streamed", body: zstdBytes(t, bomb, false), header: map[string]string{"Content-Encoding": "zstd"},
			status: 413, msg: "decompressed request body exceeds the limit of 262144 bytes"},
		{name: "corrupt gzip", body: []byte("not gzip at all"), header: map[string]string{"Content-Encoding": "gzip"}, status: 400,
			msg: "gzip: "},
		{name: "corrupt zstd", body: []byte("not zstd at all"), header: map[string]string{"Content-Encoding": "zstd"}, status: 400,
			msg: "zstd: "},
		{name: "deeply nested attribute", body: deepProto(200), status: 400,
			msg: "malformed OTLP/protobuf request: attribute values nest more than 100 levels deep"},
		{name: "invalid UTF-8", body: protoBody(t, traces(func(s ptrace.Span) {
			s.SetName("caf\xe9")
			s.Attributes().PutStr("k\xff", "v\xfe\xfe")
		})), status: 200, check: func(t *testing.T, s []model.Span) {
			require.Equal(t, "caf\uFFFD", s[0].Name)
			a, ok := attrOf(s, 0, "k\uFFFD")
			require.True(t, ok)
			require.Equal(t, "v\uFFFD", a.Str)
		}},
		{name: "zero IDs mixed with valid spans", body: protoBody(t, zeroIDs), status: 200, rejected: 2,
			msg: `2 spans rejected: resource 0, scope 0, span 1 (name "GET /x", span_id cd00000000000002): trace_id is all zeros; ` +
				`resource 0, scope 0, span 3 (name "span 3", span_id 0000000000000000): span_id is all zeros`,
			check: func(t *testing.T, s []model.Span) { require.Equal(t, []string{"span 0", "span 2"}, spanNames(s)) }},
		{name: "all spans invalid", body: protoBody(t, traces(func(s ptrace.Span) { s.SetStartTimestamp(0) })), status: 200, rejected: 1,
			msg: `1 span rejected: resource 0, scope 0, span 0 (name "span 0", span_id cd00000000000001): start_time_unix_nano is 0`},
		{name: "zero IDs as JSON", body: jsonBody(t, zeroIDs), header: map[string]string{"Content-Type": hdrJSON}, status: 200, rejected: 2,
			msg:   `2 spans rejected: resource 0, scope 0, span 1 (name "GET /x", span_id cd00000000000002): trace_id is all zeros`,
			check: func(t *testing.T, s []model.Span) { require.Len(t, s, 2) }},
		{name: "too many attributes", body: protoBody(t, traces(func(s ptrace.Span) {
			for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
				s.Attributes().PutStr(k, k)
			}
		})), status: 200, check: func(t *testing.T, s []model.Span) {
			require.Len(t, s[0].Attrs, 4)
			require.Equal(t, uint32(2), s[0].DroppedAttrs)
		}},
		{name: "giant attribute value", body: protoBody(t, traces(func(s ptrace.Span) {
			s.Attributes().PutStr("big", bigAttr)
		})), status: 200, check: func(t *testing.T, s []model.Span) {
			a, _ := attrOf(s, 0, "big")
			require.Equal(t, bigAttr[:64], a.Str)
			m, ok := attrOf(s, 0, ingest.TruncatedAttr)
			require.True(t, ok)
			require.Equal(t, `["big"]`, m.String())
		}},
		{name: "end before start", body: protoBody(t, traces(func(s ptrace.Span) {
			s.SetEndTimestamp(s.StartTimestamp() - 1)
		})), status: 200, check: func(t *testing.T, s []model.Span) {
			require.Equal(t, s[0].Start, s[0].End)
			a, ok := attrOf(s, 0, ingest.InvalidEndTimeAttr)
			require.True(t, ok)
			require.Equal(t, "true", a.String())
		}},
		{name: "future start", body: protoBody(t, traces(nil, func(s ptrace.Span) {
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(3 * time.Hour)))
			s.SetEndTimestamp(s.StartTimestamp() + 1)
		})), status: 200, rejected: 1, msg: "is more than 1h0m0s in the future",
			check: func(t *testing.T, s []model.Span) { require.Equal(t, []string{"span 0"}, spanNames(s)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": hdrProto}
			for k, v := range c.header {
				h[k] = v
			}
			isJSON := strings.HasPrefix(h["Content-Type"], hdrJSON)
			e.c.take()
			resp, body := e.post(t, c.body, h)
			require.Equal(t, c.status, resp.StatusCode, "%s", body)
			switch {
			case c.status == 200:
				require.Equal(t, contentType(isJSON), resp.Header.Get("Content-Type"))
				ps := exportResponse(t, body, isJSON).PartialSuccess()
				require.Equal(t, c.rejected, ps.RejectedSpans())
				require.Contains(t, ps.ErrorMessage(), c.msg)
				if c.msg == "" {
					require.Empty(t, ps.ErrorMessage())
				}
			case c.status == 415 && !strings.HasPrefix(c.msg, "unsupported Content-Encoding"):
				require.Contains(t, string(body), c.msg)
			default:
				require.Contains(t, statusBody(t, body, isJSON).GetMessage(), c.msg)
			}
			spans := e.c.take()
			if c.check != nil {
				c.check(t, spans)
			} else if c.status != 200 || c.rejected > 0 {
				require.Empty(t, spans)
			}
		})
	}
}

// TestNestingBomb: without checkNesting, this 15 MiB request nesting
// 1.65 million levels overflows the decoder's stack and kills the process.
func TestNestingBomb(t *testing.T) {
	e := start(t, Config{})
	bomb := deepProto(1_650_000)
	require.Less(t, len(bomb), ingest.DefaultMaxRequestBytes)
	resp, b := e.post(t, bomb, map[string]string{"Content-Type": hdrProto})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, statusBody(t, b, false).GetMessage(), "nest more than 100 levels")

	var out rawMsg
	err := grpcRaw(t, e, rawMsg(bomb), &out)
	require.ErrorContains(t, err, "attribute values nest more than 100 levels deep")
}

func TestHTTPChunkedOversizedBody(t *testing.T) {
	e := start(t, Config{Limits: ingest.Limits{MaxRequestBytes: 1000}})
	// No Content-Length: the limit must hold while reading.
	req, err := http.NewRequest(http.MethodPost, e.url(), io.MultiReader(bytes.NewReader(make([]byte, 5000))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", hdrProto)
	resp, err := e.cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestHTTPMethodNotAllowed(t *testing.T) {
	e := start(t, Config{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequest(m, e.url(), nil)
		require.NoError(t, err)
		resp, err := e.cl.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
	}
	require.Equal(t, 3.0, counter(t, e.reg, "ariadne_request_errors_total", "protocol", "http", "code", "405"))
	resp, err := e.cl.Post("http://"+e.r.HTTPAddr().String()+"/v1/metrics", hdrProto, nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestHTTPOverload(t *testing.T) {
	e := start(t, Config{RetryAfter: 1500 * time.Millisecond})
	e.c.setErr(store.ErrOverloaded)
	for _, isJSON := range []bool{false, true} {
		body, ct := protoBody(t, traces(nil, nil)), hdrProto
		if isJSON {
			body, ct = jsonBody(t, traces(nil, nil)), hdrJSON
		}
		resp, b := e.post(t, body, map[string]string{"Content-Type": ct})
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "2", resp.Header.Get("Retry-After"))
		st := statusBody(t, b, isJSON)
		require.Equal(t, store.ErrOverloaded.Error(), st.GetMessage())
		require.Len(t, st.GetDetails(), 1)
		ri := &errdetails.RetryInfo{}
		require.NoError(t, st.GetDetails()[0].UnmarshalTo(ri))
		require.Equal(t, 1500*time.Millisecond, ri.GetRetryDelay().AsDuration())
	}
	require.Empty(t, e.c.take())
	require.Equal(t, 4.0, counter(t, e.reg, "ariadne_spans_refused_total", "reason", "store_overloaded"))
	require.Equal(t, 2.0, counter(t, e.reg, "ariadne_request_errors_total", "protocol", "http", "code", "503"))

	// Once the store recovers, the retried request is accepted.
	e.c.setErr(nil)
	resp, _ := e.post(t, protoBody(t, traces(nil, nil)), map[string]string{"Content-Type": hdrProto})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, e.c.take(), 2)
}

func TestHTTPTooManyConcurrentRequests(t *testing.T) {
	e := start(t, Config{MaxConcurrentRequests: 1})
	entered, release := e.c.blockNext()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, _ := e.post(t, protoBody(t, traces(nil)), map[string]string{"Content-Type": hdrProto})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}()
	<-entered
	resp, b := e.post(t, protoBody(t, traces(nil)), map[string]string{"Content-Type": hdrProto})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, statusBody(t, b, false).GetMessage(), "too many concurrent requests")
	release()
	wg.Wait()
	require.Len(t, e.c.take(), 1)
}

func TestHTTPMetrics(t *testing.T) {
	e := start(t, Config{})
	body := protoBody(t, traces(nil, func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}) }, func(s ptrace.Span) { s.SetStartTimestamp(0) }))
	resp, _ := e.post(t, body, map[string]string{"Content-Type": hdrProto})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 3.0, counter(t, e.reg, "ariadne_spans_received_total", "protocol", "http"))
	require.Equal(t, 1.0, counter(t, e.reg, "ariadne_spans_accepted_total", "protocol", "http"))
	require.Equal(t, 1.0, counter(t, e.reg, "ariadne_spans_rejected_total", "reason", "zero_id"))
	require.Equal(t, 1.0, counter(t, e.reg, "ariadne_spans_rejected_total", "reason", "bad_time"))
	require.Equal(t, float64(len(body)), counter(t, e.reg, "ariadne_received_bytes_total", "protocol", "http"))
}

func TestShutdownWaitsForInflight(t *testing.T) {
	e := start(t, Config{})
	entered, release := e.c.blockNext()
	done := make(chan int)
	go func() {
		resp, _ := e.post(t, protoBody(t, traces(nil)), map[string]string{"Content-Type": hdrProto})
		done <- resp.StatusCode
	}()
	<-entered
	shut := make(chan error)
	go func() { shut <- e.r.Shutdown(context.Background()) }()
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in flight")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	require.Equal(t, http.StatusOK, <-done)
	require.NoError(t, <-shut)
	require.Len(t, e.c.take(), 1)
	// New connections are refused now.
	_, err := e.cl.Post(e.url(), hdrProto, nil)
	require.Error(t, err)
}

func TestLifecycle(t *testing.T) {
	r, err := New(Config{}, &fakeConsumer{}, nil, nil)
	require.NoError(t, err)
	require.Nil(t, r.GRPCAddr())
	require.NoError(t, r.Shutdown(context.Background())) // without Start
	require.NoError(t, r.Shutdown(context.Background()))
	require.Error(t, r.Start(context.Background()))

	e := start(t, Config{})
	// A port in use makes Start fail without leaving anything listening.
	r2, err := New(Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: e.r.HTTPAddr().String()}, &fakeConsumer{}, nil, nil)
	require.NoError(t, err)
	require.ErrorContains(t, r2.Start(context.Background()), "otlp http listen")
	require.NoError(t, r2.Shutdown(context.Background()))

	_, err = New(Config{}, nil, nil, nil)
	require.Error(t, err)
	// Metrics registered twice on one registry is a configuration error.
	_, err = New(Config{}, &fakeConsumer{}, e.reg, nil)
	require.Error(t, err)
}
