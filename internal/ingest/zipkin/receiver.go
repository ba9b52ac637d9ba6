package zipkin

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Consumer stores spans; it returns nil only once they are durable (the
// store implements it, see otlp.Consumer).
type Consumer interface {
	Append(ctx context.Context, spans []model.Span) error
}

// Receiver serves POST /api/v2/spans: Zipkin v2 JSON
// (application/json) or proto3 (application/x-protobuf), optionally
// gzip-compressed. It answers 202 once the accepted spans are durable.
type Receiver struct {
	conv     *ingest.Converter
	consumer Consumer
	log      *slog.Logger
	sem      chan struct{}
	spans    *prometheus.CounterVec
}

// NewReceiver returns a receiver storing into c under lim, with at most
// maxConcurrent requests decoding or storing at once. reg may be nil.
func NewReceiver(c Consumer, lim ingest.Limits, maxConcurrent int, reg prometheus.Registerer, log *slog.Logger) *Receiver {
	if maxConcurrent <= 0 {
		maxConcurrent = 64
	}
	r := &Receiver{
		conv:     ingest.NewConverter(lim),
		consumer: c,
		log:      log,
		sem:      make(chan struct{}, maxConcurrent),
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ariadne_zipkin_spans_total",
			Help: "Zipkin spans received, by outcome (accepted, rejected, failed).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(r.spans)
	}
	return r
}

func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	isProto := false
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			textError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: %v", ct, err))
			return
		case mt == "application/json" || mt == "text/plain":
		case mt == "application/x-protobuf" || mt == "application/protobuf":
			isProto = true
		default:
			textError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q; use application/json or application/x-protobuf", ct))
			return
		}
	}
	ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	if ce != "" && ce != "identity" && ce != "gzip" {
		textError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q; use gzip or none", ce))
		return
	}
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	default:
		w.Header().Set("Retry-After", "1")
		textError(w, http.StatusServiceUnavailable, "too many concurrent requests; retry later")
		return
	}
	limit := r.conv.Limits().MaxRequestBytes
	body, err := readAll(req.Body, limit)
	if err == nil && ce == "gzip" {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = readAll(zr, limit)
		}
		if err != nil && !errors.Is(err, errTooLarge) {
			err = fmt.Errorf("gzip body: %w", err)
		}
	}
	if errors.Is(err, errTooLarge) {
		textError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes (ingest.max_request_bytes)", limit))
		return
	}
	if err != nil {
		textError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	var spans []Span
	if isProto {
		spans, err = DecodeProto(body)
	} else {
		spans, err = DecodeJSON(body)
	}
	if err != nil {
		r.spans.WithLabelValues("rejected").Inc()
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := r.conv.Convert(ToTraces(spans), time.Now())
	if res.Rejected > 0 {
		r.spans.WithLabelValues("rejected").Add(float64(res.Rejected))
	}
	if len(res.Spans) > 0 {
		if err := r.consumer.Append(req.Context(), res.Spans); err != nil {
			r.conv.Forget(res.Spans)
			r.spans.WithLabelValues("failed").Add(float64(len(res.Spans)))
			r.log.Warn("zipkin spans not stored", "err", err)
			w.Header().Set("Retry-After", "1")
			textError(w, http.StatusServiceUnavailable, "spans not stored, retry later: "+err.Error())
			return
		}
		r.spans.WithLabelValues("accepted").Add(float64(len(res.Spans)))
	}
	if res.Rejected > 0 && len(res.Spans) == 0 {
		textError(w, http.StatusBadRequest, res.Message)
		return
	}
	if res.Rejected > 0 {
		// Zipkin has no partial success: accept, and say what was left out.
		w.Header().Set("X-Ariadne-Rejected-Spans", strconv.Itoa(res.Rejected))
		r.log.Info("zipkin spans rejected", "rejected", res.Rejected, "reason", res.Message)
	}
	w.WriteHeader(http.StatusAccepted)
}

var errTooLarge = errors.New("body too large")

// readAll reads r up to limit bytes; more is errTooLarge.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}
