package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// outcome classifies one export attempt.
type outcome uint8

const (
	outcomeOK      outcome = iota // accepted, possibly with partial-success rejections
	outcomeRefused                // backpressure: gRPC Unavailable/ResourceExhausted, HTTP 429/503
	outcomeFailed                 // anything else
)

type exportResult struct {
	outcome    outcome
	rejected   int64         // partial-success rejected spans (outcomeOK only)
	retryAfter time.Duration // server-requested delay, 0 if none
	err        error         // why the attempt was refused or failed
}

// exporter sends one encoded ExportTraceServiceRequest.
type exporter interface {
	export(ctx context.Context, body []byte) exportResult
	close()
}

const (
	grpcExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	maxResponseBody  = 1 << 20
)

func newExporter(cfg *Config) (exporter, error) {
	switch cfg.Protocol {
	case "grpc":
		return newGRPCExporter(cfg)
	case "http/protobuf":
		return newHTTPExporter(cfg)
	}
	return nil, fmt.Errorf("protocol %q: want grpc or http/protobuf", cfg.Protocol)
}

// rawCodec sends pre-encoded protobuf bytes and returns the response bytes,
// so that requests built by AppendProto go out without a pdata round trip.
// Its name is "proto", so servers see an ordinary application/grpc+proto
// request.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

type grpcExporter struct {
	conn *grpc.ClientConn
	md   metadata.MD
	opts []grpc.CallOption
}

func newGRPCExporter(cfg *Config) (*grpcExporter, error) {
	target := cfg.Endpoint
	creds := insecure.NewCredentials()
	switch {
	case strings.HasPrefix(target, "https://"):
		target = strings.TrimPrefix(target, "https://")
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	case strings.HasPrefix(target, "http://"):
		target = strings.TrimPrefix(target, "http://")
	}
	target = strings.TrimSuffix(target, "/")
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("grpc endpoint %q: %w", cfg.Endpoint, err)
	}
	e := &grpcExporter{conn: conn, opts: []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}}
	if cfg.Compression == "gzip" {
		e.opts = append(e.opts, grpc.UseCompressor(grpcgzip.Name))
	}
	if len(cfg.Headers) > 0 {
		e.md = metadata.New(cfg.Headers)
	}
	return e, nil
}

func (e *grpcExporter) export(ctx context.Context, body []byte) exportResult {
	if e.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	var resp []byte
	err := e.conn.Invoke(ctx, grpcExportMethod, &body, &resp, e.opts...)
	if err != nil {
		st := status.Convert(err)
		res := exportResult{outcome: outcomeFailed, err: err}
		switch st.Code() {
		case codes.Unavailable, codes.ResourceExhausted:
			res.outcome = outcomeRefused
			for _, d := range st.Details() {
				if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
					res.retryAfter = ri.GetRetryDelay().AsDuration()
				}
			}
		}
		return res
	}
	return partialSuccess(resp)
}

func (e *grpcExporter) close() { _ = e.conn.Close() }

// partialSuccess reads the rejected span count of an ExportTraceServiceResponse.
func partialSuccess(b []byte) exportResult {
	if len(b) == 0 {
		return exportResult{}
	}
	r := ptraceotlp.NewExportResponse()
	if err := r.UnmarshalProto(b); err != nil {
		return exportResult{} // accepted; an unreadable body carries no rejections we could count
	}
	ps := r.PartialSuccess()
	res := exportResult{rejected: ps.RejectedSpans()}
	if res.rejected > 0 || ps.ErrorMessage() != "" {
		res.err = fmt.Errorf("partial success: %d spans rejected: %s", ps.RejectedSpans(), ps.ErrorMessage())
	}
	return res
}

type httpExporter struct {
	endpoint  string
	client    *http.Client
	transport *http.Transport
	headers   http.Header
	gzip      bool
	gzipPool  sync.Pool // *gzipBuf
}

type gzipBuf struct {
	w   *gzip.Writer
	buf bytes.Buffer
}

func newHTTPExporter(cfg *Config) (*httpExporter, error) {
	u := cfg.Endpoint
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	if i := strings.Index(u, "://"); !strings.Contains(u[i+3:], "/") {
		u += "/v1/traces"
	}
	if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, fmt.Errorf("http endpoint %q: want a URL such as http://127.0.0.1:4318/v1/traces", cfg.Endpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Workers
	tr.MaxIdleConns = cfg.Workers
	e := &httpExporter{
		endpoint:  u,
		transport: tr,
		client:    &http.Client{Transport: tr},
		headers:   http.Header{},
		gzip:      cfg.Compression == "gzip",
	}
	for k, v := range cfg.Headers {
		e.headers.Set(k, v)
	}
	e.headers.Set("Content-Type", "application/x-protobuf")
	if e.gzip {
		e.headers.Set("Content-Encoding", "gzip")
	}
	return e, nil
}

func (e *httpExporter) export(ctx context.Context, body []byte) exportResult {
	payload := body
	if e.gzip {
		gb, _ := e.gzipPool.Get().(*gzipBuf)
		if gb == nil {
			gb = &gzipBuf{w: gzip.NewWriter(nil)}
		}
		defer e.gzipPool.Put(gb)
		gb.buf.Reset()
		gb.w.Reset(&gb.buf)
		_, _ = gb.w.Write(body) // writes to a bytes.Buffer cannot fail
		_ = gb.w.Close()
		payload = gb.buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(payload))
	if err != nil {
		return exportResult{outcome: outcomeFailed, err: err}
	}
	for k, v := range e.headers {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return exportResult{outcome: outcomeFailed, err: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
		_ = resp.Body.Close()
	}()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err != nil || strings.Contains(resp.Header.Get("Content-Type"), "json") {
			return exportResult{}
		}
		return partialSuccess(rb)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return exportResult{
			outcome:    outcomeRefused,
			retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			err:        httpError(resp, rb),
		}
	}
	return exportResult{outcome: outcomeFailed, err: httpError(resp, rb)}
}

func (e *httpExporter) close() { e.transport.CloseIdleConnections() }

func httpError(resp *http.Response, body []byte) error {
	msg := statusMessage(body)
	if msg == "" {
		return errors.New("HTTP " + resp.Status)
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, msg)
}

// statusMessage extracts a short message from an OTLP/HTTP error body: a
// google.rpc.Status protobuf (message is field 2), or else plain text.
func statusMessage(b []byte) string {
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			break
		}
		rest = rest[n:]
		if num == 2 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(rest)
			if m >= 0 && utf8.Valid(v) {
				return truncate(string(v))
			}
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, rest)
		if m < 0 {
			break
		}
		rest = rest[m:]
	}
	if utf8.Valid(b) {
		return truncate(strings.TrimSpace(string(b)))
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
