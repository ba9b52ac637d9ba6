package wal

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAppend measures Append of 1 KiB records from many goroutines, as
// the receivers call it. With SyncAlways every Append waits for an fsync;
// group commit shares one fsync among all records queued meanwhile.
func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 1024)
	for i := range rec {
		rec[i] = byte(i)
	}
	for _, policy := range []SyncPolicy{SyncAlways, SyncNever} {
		for _, par := range []int{1, 16, 128} { // goroutines per GOMAXPROCS
			b.Run(fmt.Sprintf("sync=%s/par=%d", policy, par), func(b *testing.B) {
				w := openWAL(b, Options{Dir: b.TempDir(), Sync: policy})
				b.ReportAllocs()
				b.SetBytes(int64(len(rec)))
				b.SetParallelism(par)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						if err := w.Append(ctx, rec); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
