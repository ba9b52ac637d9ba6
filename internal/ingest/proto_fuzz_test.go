package ingest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/loadgen"
)

// FuzzDecodeVsPdata feeds arbitrary bytes to DecodeProto and to the
// decoding it replaced (nesting pre-check, pdata, Convert): either both
// refuse them as malformed or both return the same spans, rejections and
// message, under the default limits and under small ones. Seeds:
// testdata/fuzz/FuzzDecodeVsPdata (REGENERATE_FUZZ_SEEDS=1 rewrites
// them) and the edge cases of TestDecodeProtoEdgeCases.
func FuzzDecodeVsPdata(f *testing.F) {
	for _, c := range protoCases() {
		f.Add(c.req)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, lim := range testLimits {
			diffDecode(t, b, lim, now)
		}
	})
}

// fuzzSeeds are the seed corpus files of FuzzDecodeVsPdata.
func fuzzSeeds(t testing.TB) map[string][]byte {
	g := loadgen.NewGenerator(1, loadgen.GenOptions{Now: fixedClock(now.Add(30 * time.Second)), MinSpans: 2, MaxSpans: 6})
	lg, _ := g.AppendProto(nil, 12)
	seeds := map[string][]byte{
		"loadgen":   lg,
		"realistic": mustMarshal(t, realisticTraces(3, now)),
	}
	keep := []string{"all value types", "all span fields", "invalid UTF-8", "unknown fields everywhere",
		"fields out of order", "repeated singular fields merge or replace", "rejected and accepted spans",
		"end before start", "instrumentation_library_spans only", "instrumentation_library_spans ignored next to scope_spans",
		"span value nesting 100", "span value nesting 101", "group in span", "nested groups in status",
		"unterminated group in status", "group in entity ref", "10-byte varint with stray bits",
		"field number past int32", "trace id of 15 bytes", "link span id of 7 bytes", "error in a dropped attribute"}
	cases := map[string][]byte{}
	for _, c := range protoCases() {
		cases[c.name] = c.req
	}
	for _, name := range keep {
		b, ok := cases[name]
		require.True(t, ok, name)
		seeds[strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(name)] = b
	}
	return seeds
}

// TestWriteProtoFuzzSeeds rewrites testdata/fuzz/FuzzDecodeVsPdata when
// REGENERATE_FUZZ_SEEDS is set.
func TestWriteProtoFuzzSeeds(t *testing.T) {
	if os.Getenv("REGENERATE_FUZZ_SEEDS") == "" {
		t.Skip("set REGENERATE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeVsPdata")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, b := range fuzzSeeds(t) {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}
