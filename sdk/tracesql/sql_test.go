package tracesql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "modernc.org/sqlite"

	"github.com/ariadne-tracing/ariadne/sdk/tracesql"
)

func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, a := range s.Attributes {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}

func TestSQLiteSpans(t *testing.T) {
	for _, recordArgs := range []bool{false, true} {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		db, err := tracesql.Open("sqlite", ":memory:", tracesql.Options{TracerProvider: tp, RecordArgs: recordArgs})
		require.NoError(t, err)
		db.SetMaxOpenConns(1) // one in-memory database
		ctx, root := tp.Tracer("t").Start(context.Background(), "handler")
		_, err = db.ExecContext(ctx, `CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)`)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO products (id, name) VALUES (?, ?)`, 1, "secret-name")
		require.NoError(t, err)
		var name string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT name FROM products WHERE id = ?`, 1).Scan(&name))
		require.Equal(t, "secret-name", name)
		st, err := db.PrepareContext(ctx, `UPDATE products SET name = ? WHERE id = ?`)
		require.NoError(t, err)
		_, err = st.ExecContext(ctx, "other", 1)
		require.NoError(t, err)
		require.NoError(t, st.Close())
		_, err = db.ExecContext(ctx, `SELECT * FROM missing_table`)
		require.Error(t, err)
		root.End()
		require.NoError(t, db.Close())

		spans := exp.GetSpans()
		byName := map[string]tracetest.SpanStub{}
		for _, s := range spans {
			if s.Name != "handler" {
				require.Equal(t, root.SpanContext().SpanID(), s.Parent.SpanID(), s.Name)
			}
			byName[s.Name] = s
		}
		require.Contains(t, byName, "CREATE")
		ins := byName["INSERT products"]
		a := attrs(ins)
		require.Equal(t, "INSERT INTO products (id, name) VALUES (?, ?)", a["db.query.text"])
		require.Equal(t, "sqlite", a["db.system.name"])
		require.Equal(t, "products", a["db.collection.name"])
		if recordArgs {
			require.Equal(t, "secret-name", a["db.query.parameter.1"])
		} else {
			for _, s := range spans {
				for _, kv := range s.Attributes {
					require.NotContains(t, kv.Value.Emit(), "secret-name", "parameter values are not recorded by default")
					require.NotContains(t, string(kv.Key), "parameter")
				}
			}
		}
		require.Contains(t, byName, "SELECT products")
		require.Contains(t, byName, "UPDATE products")
		bad := byName["SELECT missing_table"]
		require.Equal(t, codes.Error, bad.Status.Code)
		require.Contains(t, bad.Status.Description, "missing_table")
	}
}

func TestUnknownDriver(t *testing.T) {
	_, err := tracesql.Open("nosuchdriver", "", tracesql.Options{})
	require.ErrorContains(t, err, "nosuchdriver")
}
