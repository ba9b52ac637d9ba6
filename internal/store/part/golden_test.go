package part

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

const goldenPath = "testdata/golden.part"

// goldenV1Path is the golden part of format version 1 (goldenSpans written
// by the version 1 writer), kept to check that version 1 parts stay
// readable. It is never regenerated.
const goldenV1Path = "testdata/golden-v1.part"

// goldenV2Path is the same for format version 2 (before sections).
const goldenV2Path = "testdata/golden-v2.part"

// goldenSpans is a small fixed input touching every column: three traces
// (one bigger than a granule), shared resources and scopes, events, links,
// array and map attributes, errors, a long (inline) span name.
func goldenSpans() []model.Span {
	resA := &model.Resource{Attrs: []model.Attr{str("service.name", "frontend"), str("host.name", "web-1"), num("process.pid", 42)}, SchemaURL: "https://opentelemetry.io/schemas/1.26.0"}
	resB := &model.Resource{Attrs: []model.Attr{str("service.name", "db")}, DroppedAttrs: 1}
	scope := &model.Scope{Name: "otelhttp", Version: "0.53.0", Attrs: []model.Attr{boolean("sampled", true)}}
	arr := model.Attr{Key: "tags", Type: model.TypeArray, Str: string(model.AppendAttrs(nil, []model.Attr{str("", "a"), num("", 2)}))}
	mp := model.Attr{Key: "req", Type: model.TypeMap, Str: string(model.AppendAttrs(nil, []model.Attr{str("path", "/x")}))}
	base := int64(1_700_000_000_000_000_000)
	var spans []model.Span
	for t := 0; t < 3; t++ {
		tid := model.TraceID{byte(0x10 * (t + 1)), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(t)}
		n := []int{3, 9, 2}[t]
		for i := 0; i < n; i++ {
			s := model.Span{
				TraceID: tid, SpanID: model.SpanID{byte(t), byte(i), 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
				Name: "GET /api/" + strconv.Itoa(i%2), Kind: model.KindServer,
				Start: base + int64(t)*1e9 + int64(i/2)*1000, End: base + int64(t)*1e9 + int64(i)*1000 + 12345,
				Attrs:    []model.Attr{str("http.method", "GET"), num("http.status_code", 200), double("ratio", 0.5), {Key: "raw", Type: model.TypeBytes, Str: "\x00\x01"}, {Key: "nil", Type: model.TypeEmpty}},
				Resource: resA, Scope: scope, Flags: 0x101,
			}
			if i > 0 {
				s.ParentID = model.SpanID{byte(t), byte(i / 2), 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
				s.Kind = model.KindClient
				s.Resource = resB
				s.Scope = nil
				s.Attrs = append(s.Attrs, arr, mp, str("db.statement", "SELECT 1"))
			}
			if t == 1 && i == 4 {
				s.StatusCode, s.StatusMessage = model.StatusError, "boom"
				s.Events = []model.Event{{Time: s.Start + 10, Name: "exception", Attrs: []model.Attr{str("exception.type", "E")}, DroppedAttrs: 2}}
				s.DroppedEvents = 1
			}
			if t == 2 && i == 1 {
				s.Links = []model.Link{{TraceID: model.TraceID{9}, SpanID: model.SpanID{8}, TraceState: "a=b", Flags: 1, Attrs: []model.Attr{str("link", "x")}}}
				s.Name = string(bytes.Repeat([]byte("long-name-"), 30))
				s.TraceState = "vendor=1"
				s.DroppedAttrs, s.DroppedLinks = 3, 4
				s.ParentID = model.SpanID{1, 2, 3, 4, 5, 6, 7, 8} // outside the trace
			}
			spans = append(spans, s)
		}
	}
	return spans
}

var goldenOpts = WriteOptions{GranuleSpans: 4, WALSegment: 7, Replaces: []uint64{3, 5}, TopValues: 3, SectionSpans: 8}

// TestGoldenPart freezes the format: the golden part must still be read
// correctly, and writing the same input must produce the same bytes.
// REGENERATE_GOLDEN=1 rewrites the golden file and the fuzz seed corpus
// (only for a deliberate format change, with a new Version if old parts
// can no longer be read). A klauspost/compress upgrade may change the
// compressed bytes without changing the format; the read check must still
// pass then.
func TestGoldenPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "golden.part")
	_, err := Write(path, goldenSpans(), goldenOpts)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if os.Getenv("REGENERATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(goldenPath, got, 0o644))
		writeFuzzSeeds(t, got)
	}

	// Read compatibility, this version and versions 1 and 2.
	for v, path := range map[int]string{Version: goldenPath, 1: goldenV1Path, 2: goldenV2Path} {
		r, err := Open(path)
		require.NoError(t, err)
		defer r.Close()
		m := r.Meta()
		require.Equal(t, v, m.Version)
		require.Equal(t, int64(14), m.SpanCount)
		require.Equal(t, int64(3), m.TraceCount)
		require.Equal(t, 7, m.WALSegment)
		require.Equal(t, []uint64{3, 5}, m.Replaces)
		require.Equal(t, []string{"db", "frontend"}, m.Services)
		sorted := sortedCopy(goldenSpans())
		for id, want := range byTrace(sorted) {
			spans, err := r.Trace(id)
			require.NoError(t, err)
			requireSameSpans(t, want, spans)
			// TraceCheap: the same spans with only the cheap fields.
			cheap, err := r.TraceCheap(id)
			require.NoError(t, err)
			wantCheap := make([]model.Span, len(want))
			for i := range want {
				wantCheap[i] = want[i].Cheap()
			}
			requireSameSpans(t, wantCheap, cheap)
		}
		var all []model.Span
		err = r.Scan(context.Background(), nil, nil, func(s *model.Span) bool {
			c := *s
			c.Attrs = slices.Clone(s.Attrs)
			all = append(all, c)
			return true
		})
		require.NoError(t, err)
		requireSameSpans(t, sorted, all)
	}

	// Byte-for-byte freeze.
	want, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "part bytes changed (%d bytes, golden %d): a format change needs a new Version, docs/format.md and REGENERATE_GOLDEN=1", len(got), len(want))
}

// writeFuzzSeeds writes the seed corpus of FuzzOpenPart.
func writeFuzzSeeds(t *testing.T, golden []byte) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenPart")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	empty := filepath.Join(t.TempDir(), "empty.part")
	_, err := Write(empty, nil, WriteOptions{})
	require.NoError(t, err)
	emptyBytes, err := os.ReadFile(empty)
	require.NoError(t, err)
	v1, err := os.ReadFile(goldenV1Path)
	require.NoError(t, err)
	v2, err := os.ReadFile(goldenV2Path)
	require.NoError(t, err)
	seeds := map[string][]byte{
		"golden":           golden,
		"golden-v1":        v1,
		"golden-v2":        v2,
		"empty":            emptyBytes,
		"golden-truncated": golden[:len(golden)/2],
		"magic-only":       []byte(magic + "\x01"),
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}
