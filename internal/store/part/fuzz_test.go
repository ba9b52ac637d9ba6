package part

import (
	"bytes"
	"os"
	"testing"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// FuzzOpenPart feeds arbitrary bytes to the reader as a part file: Open,
// Trace, Scan and Iter must return errors, never panic. Each input is read
// twice: as is, and with checksum verification off so that mutations reach
// the footer and column decoders instead of stopping at a CRC mismatch.
// Seeds: testdata/fuzz/FuzzOpenPart (the golden parts among them).
func FuzzOpenPart(f *testing.F) {
	for _, path := range []string{goldenPath, goldenV1Path, goldenV2Path} {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	var ids []model.TraceID
	for id := range byTrace(goldenSpans()) {
		ids = append(ids, id)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, verify := range []bool{true, false} {
			r, err := newReader(bytes.NewReader(b), int64(len(b)), "fuzz", verify)
			if err != nil {
				continue
			}
			try := ids
			for _, g := range r.ft.granules {
				try = append(try, g.first)
			}
			_ = exercise(r, try)
			r.Close()
		}
	})
}
