package e2e

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func protoBody(t *testing.T, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestBadInput sends malformed and hostile requests to the real binary;
// each gets a clear answer, the server stays up, and the data stored
// before is intact.
func TestBadInput(t *testing.T) {
	cfg := t.TempDir() + "/ariadne.yaml"
	require.NoError(t, writeFile(cfg, "ingest:\n  max_request_bytes: 1MiB\n  max_attributes_per_span: 8\n  max_attribute_value_length: 64\n"))
	srv := startServer(t, "", "--config", cfg)

	var good pcommon.TraceID
	good[0] = 0x11
	code, body := srv.postOTLP("application/x-protobuf", protoBody(t, makeTrace(good, 1)))
	require.Equal(t, 200, code, string(body))

	valid := protoBody(t, makeTrace(pcommon.TraceID{0x22}, 2))
	mixed := makeTrace(pcommon.TraceID{0x33}, 3)
	mixed.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(5).SetTraceID(pcommon.TraceID{})
	mixed.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(6).SetSpanID(pcommon.SpanID{})
	manyAttrs := makeTrace(pcommon.TraceID{0x44}, 4)
	giant := makeTrace(pcommon.TraceID{0x55}, 5)
	for i, sp := range manyAttrs.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		for j := 0; j < 50; j++ {
			sp.Attributes().PutInt("extra."+string(rune('a'+j%26))+string(rune('a'+j/26)), int64(i*j))
		}
	}
	giant.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("huge", strings.Repeat("x", 100_000))
	badUTF8 := makeTrace(pcommon.TraceID{0x66}, 6)
	badUTF8.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("bad \xff\xfe name")
	bomb := gzipBytes(t, bytes.Repeat([]byte{0}, 50<<20))

	cases := []struct {
		name        string
		contentType string
		body        []byte
		headers     []string
		code        int
		contains    string
	}{
		{"malformed protobuf", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01}, nil, 400, ""},
		{"malformed JSON", "application/json", []byte(`{"resourceSpans": [`), nil, 400, ""},
		{"wrong content type", "text/plain", valid, nil, 415, ""},
		{"truncated body", "application/x-protobuf", valid[:len(valid)/2], nil, 400, ""},
		{"oversized body", "application/x-protobuf", bytes.Repeat([]byte{0}, 2<<20), nil, 413, "limit"},
		{"compression bomb", "application/x-protobuf", bomb, []string{"Content-Encoding", "gzip"}, 413, "limit"},
		{"unknown encoding", "application/x-protobuf", valid, []string{"Content-Encoding", "br"}, 415, ""},
		{"zero IDs mixed with valid spans", "application/x-protobuf", protoBody(t, mixed), nil, 200, "all zeros"},
		{"too many attributes", "application/x-protobuf", protoBody(t, manyAttrs), nil, 200, ""},
		{"giant attribute", "application/x-protobuf", protoBody(t, giant), nil, 200, ""},
		{"invalid UTF-8", "application/x-protobuf", protoBody(t, badUTF8), nil, 200, ""},
		{"same batch twice (1)", "application/x-protobuf", valid, nil, 200, ""},
		{"same batch twice (2)", "application/x-protobuf", valid, nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := srv.postOTLP(c.contentType, c.body, c.headers...)
			require.Equal(t, c.code, code, "body: %q", body)
			if c.contains != "" {
				require.Contains(t, string(body), c.contains)
			}
		})
	}

	// The server is up and everything valid is stored.
	require.Equal(t, crashSpansPerTrace, srv.trace(good.String()).SpanCount())
	require.Equal(t, crashSpansPerTrace, srv.trace(pcommon.TraceID{0x22}.String()).SpanCount(), "a resent batch is stored once")
	require.Equal(t, crashSpansPerTrace-2, srv.trace(pcommon.TraceID{0x33}.String()).SpanCount(), "the valid spans of a mixed batch are kept")

	td := srv.trace(pcommon.TraceID{0x44}.String())
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, 8, sp.Attributes().Len())
	require.Equal(t, uint32(52-8), sp.DroppedAttributesCount())

	td = srv.trace(pcommon.TraceID{0x55}.String())
	var found bool
	for _, sp := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		if v, ok := sp.Attributes().Get("huge"); ok {
			found = true
			require.Len(t, v.Str(), 64)
			_, marked := sp.Attributes().Get("ariadne.truncated")
			require.True(t, marked, "truncated attributes are marked")
		}
	}
	require.True(t, found)

	td = srv.trace(pcommon.TraceID{0x66}.String())
	var names []string
	for _, sp := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		names = append(names, sp.Name())
	}
	require.Contains(t, names, "bad \uFFFD name")
}
