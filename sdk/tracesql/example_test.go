package tracesql_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ariadne-tracing/ariadne/sdk/tracesql"
)

// Open instead of sql.Open; use the ...Context methods so that queries
// join the caller's trace. The statement is recorded, the parameters are
// not.
func ExampleOpen() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	db, err := tracesql.Open("sqlite", ":memory:", tracesql.Options{TracerProvider: tp})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, span := tp.Tracer("stores").Start(context.Background(), "list stores")
	_, _ = db.ExecContext(ctx, "CREATE TABLE stores (id INTEGER, city TEXT)")
	_, _ = db.ExecContext(ctx, "INSERT INTO stores VALUES (?, ?)", 1, "Lyon")
	var n int
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM stores WHERE city = ?", "Lyon").Scan(&n)
	span.End()
	for _, s := range exp.GetSpans()[:3] {
		fmt.Println(s.Name)
	}
	// Output:
	// CREATE
	// INSERT stores
	// SELECT stores
}
