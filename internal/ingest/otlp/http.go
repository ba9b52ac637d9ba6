package otlp

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
)

// TracesPath is the OTLP/HTTP traces endpoint.
const TracesPath = "/v1/traces"

const (
	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

// maxPooledBuf: larger body buffers are left to the GC rather than kept.
const maxPooledBuf = 4 << 20

func (r *Receiver) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TracesPath, r.handleTraces)
	return mux
}

// handleTraces serves POST /v1/traces. Status codes follow the OTLP/HTTP
// specification: 200 (possibly with partial success), 400 for requests
// that can never succeed, 413/415/405 for what the client must change,
// 503 with Retry-After for overload; error bodies are google.rpc.Status
// in the request's encoding.
func (r *Receiver) handleTraces(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.textError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use POST", req.Method, TracesPath))
		return
	}
	isJSON, ok := parseContentType(req.Header.Get("Content-Type"))
	if !ok {
		r.textError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q; use %s or %s",
			req.Header.Get("Content-Type"), ctProtobuf, ctJSON))
		return
	}
	ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity", "gzip", "zstd":
	default:
		r.statusError(w, isJSON, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Encoding %q; use gzip, zstd or none", ce))
		return
	}
	if !r.acquire() {
		r.overloaded(w, isJSON, errTooManyRequests.Error())
		return
	}
	defer r.release()

	limit := r.cfg.Limits.MaxRequestBytes
	if req.ContentLength > limit {
		r.statusError(w, isJSON, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
			errTooLarge{"request body", limit}.Error())
		return
	}
	rawBuf := r.getBuf()
	defer r.putBuf(rawBuf)
	raw, err := readLimited((*rawBuf)[:0], req.Body, limit)
	*rawBuf = raw[:0]
	r.m.http.bytes.Add(float64(len(raw)))
	if err != nil {
		r.bodyError(w, isJSON, fmt.Errorf("read request body: %w", err))
		return
	}
	body := raw
	if ce == "gzip" || ce == "zstd" {
		outBuf := r.getBuf()
		defer r.putBuf(outBuf)
		if ce == "gzip" {
			body, err = r.decomp.gunzip((*outBuf)[:0], raw)
		} else {
			body, err = r.decomp.unzstd((*outBuf)[:0], raw)
		}
		*outBuf = body[:0]
		if err != nil {
			r.bodyError(w, isJSON, err)
			return
		}
	}

	var batch *ingest.Batch
	if isJSON {
		ereq := ptraceotlp.NewExportRequest()
		if err := ereq.UnmarshalJSON(body); err != nil {
			r.statusError(w, isJSON, http.StatusBadRequest, codes.InvalidArgument, "malformed OTLP/JSON request: "+err.Error())
			return
		}
		batch = r.conv.Decode(ereq.Traces(), time.Now())
	} else {
		if batch, err = r.conv.DecodeProto(body, time.Now()); err != nil {
			r.statusError(w, isJSON, http.StatusBadRequest, codes.InvalidArgument, "malformed OTLP/protobuf request: "+err.Error())
			return
		}
	}
	r.m.http.received.Add(float64(batch.SpanCount()))
	rejected, msg, err := r.export(req.Context(), protoHTTP, batch)
	if err != nil {
		r.overloaded(w, isJSON, clientMessage(err))
		return
	}

	var b []byte
	if isJSON {
		resp := ptraceotlp.NewExportResponse()
		if rejected > 0 {
			ps := resp.PartialSuccess()
			ps.SetRejectedSpans(int64(rejected))
			ps.SetErrorMessage(msg)
		}
		b, err = resp.MarshalJSON()
	} else {
		b = (&traceResponse{rejected: rejected, msg: msg}).appendProto(nil)
	}
	if err != nil { // cannot happen for a response we built
		r.log.Error("encode export response", "err", err)
	}
	w.Header().Set("Content-Type", contentType(isJSON))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// parseContentType recognises the OTLP/HTTP media types.
func parseContentType(ct string) (isJSON, ok bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, false
	}
	switch mt {
	case ctProtobuf, "application/protobuf":
		return false, true
	case ctJSON:
		return true, true
	}
	return false, false
}

func contentType(isJSON bool) string {
	if isJSON {
		return ctJSON
	}
	return ctProtobuf
}

// bodyError answers a failure to read or decompress the body.
func (r *Receiver) bodyError(w http.ResponseWriter, isJSON bool, err error) {
	var tl errTooLarge
	if errors.As(err, &tl) {
		r.statusError(w, isJSON, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, tl.Error())
		return
	}
	r.statusError(w, isJSON, http.StatusBadRequest, codes.InvalidArgument, err.Error())
}

// overloaded answers 503 with Retry-After and a RetryInfo detail.
func (r *Receiver) overloaded(w http.ResponseWriter, isJSON bool, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(r.retryAfterSeconds()))
	ri, _ := anypb.New(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryAfter)})
	r.statusError(w, isJSON, http.StatusServiceUnavailable, codes.Unavailable, msg, ri)
}

// statusError writes an OTLP error response: a google.rpc.Status in the
// request's encoding.
func (r *Receiver) statusError(w http.ResponseWriter, isJSON bool, httpCode int, code codes.Code, msg string, details ...*anypb.Any) {
	st := &spb.Status{Code: int32(code), Message: msg, Details: details}
	var b []byte
	if isJSON {
		b, _ = protojson.Marshal(st)
	} else {
		b, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", contentType(isJSON))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpCode)
	_, _ = w.Write(b)
	r.m.errors.WithLabelValues(protoHTTP, strconv.Itoa(httpCode)).Inc()
}

// textError is for requests whose encoding we do not know.
func (r *Receiver) textError(w http.ResponseWriter, httpCode int, msg string) {
	http.Error(w, msg, httpCode)
	r.m.errors.WithLabelValues(protoHTTP, strconv.Itoa(httpCode)).Inc()
}

func (r *Receiver) getBuf() *[]byte {
	if b, ok := r.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (r *Receiver) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		r.bufs.Put(b)
	}
}
