package otlp

import (
	"testing"
)

func BenchmarkCheckNesting(b *testing.B) {
	const n = 512
	body := protoBody(b, benchTraces(n))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := checkNesting(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	reportCPU(b, cpu, n)
}
