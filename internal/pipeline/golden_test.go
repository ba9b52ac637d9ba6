package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// goldenData is the fixed content of testdata/metrics-v1.golden.
func goldenData() Data {
	d := Data{}
	m := d.minute(29_000_000)
	s := &SpanStat{Calls: 3, Errors: 1}
	for _, v := range []int64{0, 1_500_000, 250_000_000} {
		s.Latency.Add(v)
	}
	s.add(Exemplar{TraceID: model.TraceID{1, 2}, SpanID: model.SpanID{3}, Start: 1_740_000_000_000_000_000, Duration: 250_000_000, Error: true})
	m.Spans[SpanKey{Service: "checkout", Name: "POST /pay", Kind: model.KindServer, Status: model.StatusError}] = s
	e := &EdgeStat{Calls: 2}
	e.Client.Add(4_000_000)
	e.Server.Add(3_000_000)
	e.Client.Add(9_000_000)
	e.Server.Add(8_000_000)
	e.add(Exemplar{TraceID: model.TraceID{9}, SpanID: model.SpanID{8}, Start: 1_740_000_000_100_000_000, Duration: 8_000_000})
	m.Edges[EdgeKey{Client: "checkout", Server: "paydb", ConnType: ConnDatabase}] = e
	d.minute(29_000_001).Spans[SpanKey{Service: "mailer", Name: "send"}] = &SpanStat{Calls: 0}
	return d
}

// TestFormatFrozen fails when the bytes of the metrics file format change:
// bump fileVersion and document it in docs/format.md, then regenerate
// with REGENERATE_GOLDEN=1.
func TestFormatFrozen(t *testing.T) {
	golden := filepath.Join("testdata", "metrics-v1.golden")
	got := EncodeData(goldenData(), minMinute, maxMinute)
	if os.Getenv("REGENERATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, want, got)
	back, err := DecodeData(want)
	require.NoError(t, err)
	require.Equal(t, got, EncodeData(back, minMinute, maxMinute))
	require.Equal(t, uint64(3), back[29_000_000].Spans[SpanKey{Service: "checkout", Name: "POST /pay", Kind: model.KindServer, Status: model.StatusError}].Calls)
}
