package traceql

import (
	"fmt"
	"testing"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

func BenchmarkParse(b *testing.B) {
	const q = `{ resource.service.name = "checkout" && span.http.response.status_code >= 500 } >> { span.db.system =~ "postgres.*" && duration > 100ms } | count() > 2`
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

// wideTrace is a trace of n spans: a root with chains of depth 10 below it;
// every fifth span is a database client span.
func wideTrace(n int) []model.Span {
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "svc"}}}
	spans := make([]model.Span, n)
	for i := range spans {
		s := &spans[i]
		s.TraceID = model.TraceID{1}
		s.SpanID = model.SpanID{byte(i >> 8), byte(i), 1}
		if i > 0 {
			p := i - 1
			if i%10 == 1 {
				p = 0
			}
			s.ParentID = spans[p].SpanID
		}
		s.Name = fmt.Sprintf("op-%d", i%7)
		s.Kind = model.KindServer
		s.Start, s.End = int64(i), int64(i+1000)
		s.Resource = res
		s.Attrs = []model.Attr{{Key: "http.route", Type: model.TypeStr, Str: "/x"}, {Key: "n", Type: model.TypeInt, Num: uint64(i)}}
		if i%5 == 0 {
			s.Kind = model.KindClient
			s.Attrs = append(s.Attrs, model.Attr{Key: "db.system", Type: model.TypeStr, Str: "postgresql"})
		}
	}
	return spans
}

func BenchmarkEval(b *testing.B) {
	spans := wideTrace(1000)
	for _, q := range []string{
		`{ span.db.system = "postgresql" && .n > 500 }`,
		`{ kind = server } >> { span.db.system != nil }`,
		`{ kind = server } !< { kind = client }`,
		`{ } | by(name) | count() > 100`,
	} {
		parsed, err := Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !parsed.Matches(spans) {
					b.Fatal("no match")
				}
			}
		})
	}
}
