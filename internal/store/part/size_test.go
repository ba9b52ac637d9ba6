package part

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sizeReport breaks a part's size down by column, per span.
func sizeReport(r *Reader) (perSpan float64, report string) {
	ft := r.ft
	n := float64(ft.spans)
	var cols [numCols]int64
	var raw [numCols]int64
	var tokens int64
	for _, g := range ft.granules {
		for c := range g.cols {
			cols[c] += int64(g.cols[c].size)
			raw[c] += int64(g.cols[c].raw)
		}
		tokens += int64(g.tokens.size)
	}
	size := r.meta.Size
	var filters int64
	for _, sec := range ft.sections {
		filters += int64(sec.bloom.size)
	}
	last := &ft.sections[len(ft.sections)-1].bloom
	footer := size - last.off - int64(last.size)
	type row struct {
		name      string
		bytes, rw int64
	}
	var rows []row
	for c := range cols {
		rows = append(rows, row{colNames[c], cols[c], raw[c]})
	}
	rows = append(rows, row{"token filters", tokens, tokens}, row{"dictionary", int64(ft.dict.size), int64(ft.dict.raw)},
		row{"trace filters", filters, filters}, row{"footer+header+trailer", footer + headerSize, footer + headerSize})
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].bytes > rows[j].bytes })
	var b strings.Builder
	fmt.Fprintf(&b, "%d sections, ", len(ft.sections))
	fmt.Fprintf(&b, "%d spans, %d traces, %d granules, %d bytes: %.2f bytes/span (footer %.3f%% of the file)\n",
		ft.spans, ft.traces, len(ft.granules), size, float64(size)/n, 100*float64(footer)/float64(size))
	fmt.Fprintf(&b, "%-22s %10s %10s\n", "column", "bytes/span", "raw/span")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-22s %10.2f %10.2f\n", r.name, float64(r.bytes)/n, float64(r.rw)/n)
	}
	return float64(size) / n, b.String()
}

// TestSizeBudget checks the size target: at most 60 bytes per realistic
// span, indexes included, and a footer well under 1% of the part. Run with
// -v for the breakdown by column; PART_GRANULE_SPANS=n tries another
// granule size.
func TestSizeBudget(t *testing.T) {
	spans := realistic(101, 200_000, 1_700_000_000e9, 15*60e9)
	path := filepath.Join(t.TempDir(), "p.part")
	gs, _ := strconv.Atoi(os.Getenv("PART_GRANULE_SPANS"))
	_, err := Write(path, spans, WriteOptions{GranuleSpans: gs})
	require.NoError(t, err)
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	perSpan, report := sizeReport(r)
	t.Log("\n" + report)
	require.LessOrEqual(t, perSpan, 60.0)
	last := &r.ft.sections[len(r.ft.sections)-1].bloom
	footer := r.meta.Size - last.off - int64(last.size)
	require.Less(t, float64(footer), 0.005*float64(r.meta.Size))
}
