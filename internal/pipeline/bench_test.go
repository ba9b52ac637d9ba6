package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// benchBatches builds batches shaped like an instrumented service mesh:
// per trace a server span in the frontend with a client span calling a
// backend (server span plus two internal spans and a database call),
// resources split into one batch per service as SDK exporters send them.
func benchBatches(traces int) [][]model.Span {
	res := func(s string) *model.Resource {
		return &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: s}}}
	}
	front, back := res("frontend"), res("backend")
	now := time.Now().UnixNano()
	var fb, bb []model.Span
	var out [][]model.Span
	for i := range traces {
		var tid model.TraceID
		tid[0], tid[1], tid[2] = byte(i), byte(i>>8), byte(i>>16)
		sid := func(n byte) model.SpanID { return model.SpanID{n, byte(i), byte(i >> 8), byte(i >> 16)} }
		d := int64(i%1000) * 1e5
		fb = append(fb,
			model.Span{TraceID: tid, SpanID: sid(1), Name: "GET /", Kind: model.KindServer, Start: now, End: now + 5e6 + d, Resource: front},
			model.Span{TraceID: tid, SpanID: sid(2), ParentID: sid(1), Name: "GET backend", Kind: model.KindClient, Start: now, End: now + 4e6 + d, Resource: front})
		bb = append(bb,
			model.Span{TraceID: tid, SpanID: sid(3), ParentID: sid(2), Name: "GET /api", Kind: model.KindServer, Start: now, End: now + 3e6 + d, Resource: back},
			model.Span{TraceID: tid, SpanID: sid(4), ParentID: sid(3), Name: "handler", Kind: model.KindInternal, Start: now, End: now + 2e6 + d, Resource: back},
			model.Span{TraceID: tid, SpanID: sid(5), ParentID: sid(4), Name: "validate", Kind: model.KindInternal, Start: now, End: now + 1e5, Resource: back},
			model.Span{TraceID: tid, SpanID: sid(6), ParentID: sid(4), Name: "SELECT", Kind: model.KindClient, Start: now, End: now + 1e6 + d, Resource: back,
				Attrs: []model.Attr{{Key: "db.system.name", Type: model.TypeStr, Str: "postgresql"}}})
		if len(bb) >= 512 {
			out = append(out, bb, fb) // the callee's batch usually arrives first
			fb, bb = nil, nil
		}
	}
	return out
}

// BenchmarkObserve reports the cost of derivation per span (ns/op is per
// span).
func BenchmarkObserve(b *testing.B) {
	batches := benchBatches(20_000)
	n := 0
	for _, x := range batches {
		n += len(x)
	}
	p, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		for _, x := range batches {
			p.Observe(x)
			done += len(x)
			if done >= b.N {
				break
			}
		}
		p.Expire()
	}
	b.StopTimer()
	if got := edgeCounts(p); b.N >= n && len(got) != 3 { // user→frontend→backend→postgresql
		b.Fatal(fmt.Sprint("unexpected edges ", got))
	}
}
