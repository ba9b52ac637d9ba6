package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
	"github.com/ariadne-tracing/ariadne/internal/store"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
)

// storeBatches is 512-span batches of 3-service traces (server → client →
// server → internal → database client), one batch per service.
func storeBatches(n int) [][]model.Span {
	res := func(s string) *model.Resource {
		return &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: s},
			{Key: "service.version", Type: model.TypeStr, Str: "1.4.2"}, {Key: "host.name", Type: model.TypeStr, Str: "node-7"}}}
	}
	front, back := res("frontend"), res("backend")
	now := time.Now().UnixNano()
	attrs := []model.Attr{{Key: "http.request.method", Type: model.TypeStr, Str: "GET"}, {Key: "http.route", Type: model.TypeStr, Str: "/api/items/{id}"},
		{Key: "url.full", Type: model.TypeStr, Str: "https://shop.example.com/api/items/42?limit=50"}, {Key: "http.response.status_code", Type: model.TypeInt, Num: 200}}
	var out [][]model.Span
	var fb, bb []model.Span
	for i := 0; len(out)*512 < n; i++ {
		tid := model.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 9}
		sid := func(k byte) model.SpanID { return model.SpanID{k, byte(i), byte(i >> 8), byte(i >> 16)} }
		d := int64(i%1000) * 1e5
		fb = append(fb,
			model.Span{TraceID: tid, SpanID: sid(1), Name: "GET /", Kind: model.KindServer, Start: now, End: now + 5e6 + d, Attrs: attrs, Resource: front},
			model.Span{TraceID: tid, SpanID: sid(2), ParentID: sid(1), Name: "GET backend", Kind: model.KindClient, Start: now, End: now + 4e6 + d, Attrs: attrs, Resource: front})
		bb = append(bb,
			model.Span{TraceID: tid, SpanID: sid(3), ParentID: sid(2), Name: "GET /api/items/{id}", Kind: model.KindServer, Start: now, End: now + 3e6 + d, Attrs: attrs, Resource: back},
			model.Span{TraceID: tid, SpanID: sid(4), ParentID: sid(3), Name: "load", Kind: model.KindInternal, Start: now, End: now + 2e6 + d, Resource: back},
			model.Span{TraceID: tid, SpanID: sid(5), ParentID: sid(4), Name: "SELECT items", Kind: model.KindClient, Start: now, End: now + 1e6 + d, Resource: back,
				Attrs: []model.Attr{{Key: "db.system.name", Type: model.TypeStr, Str: "postgresql"}, {Key: "db.query.text", Type: model.TypeStr, Str: "SELECT * FROM items WHERE id = $1"}}})
		if len(bb) >= 300 {
			out = append(out, bb, fb)
			fb, bb = nil, nil
		}
	}
	return out
}

// BenchmarkStoreAppend compares the store's Append (WAL encoding and
// write without fsync, head) with and without the pipeline observing it:
// the difference is what derivation adds to the store side of ingest.
func BenchmarkStoreAppend(b *testing.B) {
	for _, observe := range []bool{false, true} {
		name := "without-pipeline"
		if observe {
			name = "with-pipeline"
		}
		b.Run(name, func(b *testing.B) {
			batches := storeBatches(200_000)
			spans := 0
			for _, x := range batches {
				spans += len(x)
			}
			opts := store.Options{Dir: b.TempDir(), Sync: wal.SyncNever, HeadMaxSpans: 1 << 30, MaxHeadBytes: 1 << 40}
			if observe {
				p, err := pipeline.New(pipeline.Config{})
				if err != nil {
					b.Fatal(err)
				}
				opts.Observer = p
			}
			db, err := store.Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Shutdown(context.Background())
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for i := 0; i < b.N; i++ {
				for _, x := range batches {
					// Append takes ownership; the spans are only read, so
					// sharing them between rounds is safe here.
					if err := db.Append(context.Background(), x); err != nil {
						b.Fatal(err)
					}
				}
				n += spans
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/span")
		})
	}
}
