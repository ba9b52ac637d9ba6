package otlp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

type nopConsumer struct{}

func (nopConsumer) Append(context.Context, []model.Span) error { return nil }

// FuzzHTTPTraces sends arbitrary bodies, as protobuf and as JSON, through
// the HTTP handler: it must never panic and must answer 2xx or 4xx.
// Seeds: testdata/fuzz/FuzzHTTPTraces (REGENERATE_FUZZ_SEEDS=1 rewrites
// them).
func FuzzHTTPTraces(f *testing.F) {
	r, err := New(Config{}, nopConsumer{}, nil, nil)
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, r.Shutdown(context.Background())) })
	h := r.httpHandler()
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		ct := hdrProto
		if asJSON {
			ct = hdrJSON
		}
		req := httptest.NewRequest(http.MethodPost, TracesPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzCheckNesting checks the nesting limit of ingest's decoder against
// pdata's: whatever it lets through decodes (or fails to decode) without
// values nesting deeper than maxNesting.
func FuzzCheckNesting(f *testing.F) {
	f.Add(deepProto(3))
	f.Add(deepProto(maxNesting))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkNesting(b) != nil {
			return
		}
		req := ptraceotlp.NewExportRequest()
		if req.UnmarshalProto(b) != nil {
			return
		}
		td := req.Traces()
		check := func(m pcommon.Map) {
			for _, v := range m.All() {
				if d := valueDepth(v); d > maxNesting {
					t.Fatalf("value nests %d levels", d)
				}
			}
		}
		for _, rs := range td.ResourceSpans().All() {
			check(rs.Resource().Attributes())
			for _, ss := range rs.ScopeSpans().All() {
				check(ss.Scope().Attributes())
				for _, s := range ss.Spans().All() {
					check(s.Attributes())
					for _, e := range s.Events().All() {
						check(e.Attributes())
					}
					for _, l := range s.Links().All() {
						check(l.Attributes())
					}
				}
			}
		}
	})
}

func valueDepth(v pcommon.Value) int {
	d := 0
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			d = max(d, valueDepth(e))
		}
	case pcommon.ValueTypeMap:
		for _, e := range v.Map().All() {
			d = max(d, valueDepth(e))
		}
	}
	return d + 1
}

// TestWriteFuzzSeeds rewrites the seed corpora when REGENERATE_FUZZ_SEEDS
// is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("REGENERATE_FUZZ_SEEDS") == "" {
		t.Skip("set REGENERATE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	valid := traces(nil, func(s ptrace.Span) {
		s.Attributes().PutStr("http.route", "/cart/{id}")
		s.Attributes().PutEmptySlice("tags").AppendEmpty().SetStr("a")
		s.Events().AppendEmpty().SetName("ev")
		l := s.Links().AppendEmpty()
		l.SetTraceID(traceID(9))
		l.SetSpanID(spanID(9))
	})
	bad := traces(
		func(s ptrace.Span) { s.SetTraceID(pcommon.TraceID{}) },
		func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) },
		func(s ptrace.Span) { s.SetStartTimestamp(0) },
		func(s ptrace.Span) { s.SetEndTimestamp(1); s.SetName("\xff\xfe") },
	)
	seeds := map[string][]any{
		"valid-proto":   {protoBody(t, valid), false},
		"valid-json":    {jsonBody(t, valid), true},
		"invalid-proto": {protoBody(t, bad), false},
		"invalid-json":  {jsonBody(t, bad), true},
		"nested":        {deepProto(maxNesting + 1), false},
		"empty-json":    {[]byte("{}"), true},
	}
	writeSeeds(t, "FuzzHTTPTraces", seeds)
	writeSeeds(t, "FuzzCheckNesting", map[string][]any{
		"valid":  {protoBody(t, valid)},
		"nested": {deepProto(maxNesting + 1)},
	})
}

func writeSeeds(t *testing.T, fuzzName string, seeds map[string][]any) {
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, args := range seeds {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				b.WriteString("[]byte(" + strconv.Quote(string(a)) + ")\n")
			case bool:
				b.WriteString("bool(" + strconv.FormatBool(a) + ")\n")
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644))
	}
}
