package part

import (
	"testing"

	"github.com/klauspost/compress/zstd"
)

func BenchmarkWriteLevel(b *testing.B) {
	spans := realistic(1, 200_000, 1_700_000_000e9, 15*60e9)
	sorted := sortedCopy(spans)
	for _, c := range []struct {
		name string
		o    WriteOptions
	}{
		{"fastest", WriteOptions{ZstdLevel: zstd.SpeedFastest}},
		{"fastest-notop", WriteOptions{ZstdLevel: zstd.SpeedFastest, TopValues: -1}},
		{"default", WriteOptions{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchWrite(b, len(sorted), func(path string) (*Meta, error) {
				w, err := Create(path, c.o)
				if err != nil {
					return nil, err
				}
				for j := range sorted {
					if err := w.Add(&sorted[j]); err != nil {
						return nil, err
					}
				}
				return w.Finish()
			})
		})
	}
}
