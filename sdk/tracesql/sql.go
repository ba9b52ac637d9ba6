// Package tracesql traces database/sql: every query, exec and prepared
// statement execution becomes a client span, child of the span in the
// context passed to QueryContext/ExecContext, named after the operation
// and table ("SELECT products") and carrying the statement text. Parameter
// values are not recorded unless RecordArgs is set: they often hold
// personal data.
//
// Use the ...Context methods of *sql.DB; calls without a context start
// new traces.
package tracesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/ariadne-tracing/ariadne/sdk/tracesql"

// Options configures Open and Wrap.
type Options struct {
	// System is the db.system.name attribute ("sqlite", "postgresql",
	// "mysql"). Default: the driver name given to Open.
	System string
	// RecordArgs records parameter values as db.query.parameter.<n>
	// attributes. Off by default.
	RecordArgs bool
	// TracerProvider defaults to the global one.
	TracerProvider trace.TracerProvider
}

// Open is sql.Open with tracing: it opens driverName (which must be
// registered, as for sql.Open) through a tracing wrapper.
func Open(driverName, dsn string, o Options) (*sql.DB, error) {
	db, err := sql.Open(driverName, "")
	if err != nil {
		return nil, err
	}
	d := db.Driver()
	_ = db.Close()
	if o.System == "" {
		o.System = driverName
	}
	var c driver.Connector
	if dc, ok := d.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, fmt.Errorf("%s: %w", driverName, err)
		}
	} else {
		c = dsnConnector{d: d, dsn: dsn}
	}
	return sql.OpenDB(Wrap(c, o)), nil
}

// Wrap returns a connector that traces the connections c makes; use it
// with sql.OpenDB when a driver hands out connectors.
func Wrap(c driver.Connector, o Options) driver.Connector {
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return &connector{base: c, t: &tracer{tr: o.TracerProvider.Tracer(scope), o: o}}
}

type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

type connector struct {
	base driver.Connector
	t    *tracer
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: cn, t: c.t}, nil
}

func (c *connector) Driver() driver.Driver { return c.base.Driver() }

type tracer struct {
	tr trace.Tracer
	o  Options
}

// start begins a span for query; finish ends it with err.
func (t *tracer) start(ctx context.Context, query string, args []driver.NamedValue) (context.Context, trace.Span) {
	op, table := summarize(query)
	name := op
	if table != "" {
		name += " " + table
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", t.o.System),
		attribute.String("db.query.text", query),
		attribute.String("db.operation.name", op),
	}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	if t.o.RecordArgs {
		for i, a := range args {
			key := fmt.Sprintf("db.query.parameter.%d", i)
			if a.Name != "" {
				key = "db.query.parameter." + a.Name
			}
			attrs = append(attrs, attribute.String(key, fmt.Sprint(a.Value)))
		}
	}
	return t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

func finish(span trace.Span, err error) {
	if err != nil && !errors.Is(err, driver.ErrSkip) && !errors.Is(err, io.EOF) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// summarize returns the statement's operation (first keyword, upper case)
// and its main table when a simple scan finds one.
func summarize(q string) (op, table string) {
	f := strings.Fields(q)
	if len(f) == 0 {
		return "SQL", ""
	}
	op = strings.ToUpper(f[0])
	after := map[string]string{"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "REPLACE": "INTO", "UPDATE": "UPDATE"}[op]
	if after == "" {
		return op, ""
	}
	for i := range len(f) - 1 {
		if strings.EqualFold(f[i], after) {
			t := strings.Trim(f[i+1], "`\"[]();,")
			if t != "" && !strings.HasPrefix(t, "(") && !strings.EqualFold(t, "SELECT") {
				return op, t
			}
			break
		}
	}
	return op, ""
}

// conn wraps a driver connection. It implements the context interfaces
// database/sql prefers; where the driver lacks one, it returns
// driver.ErrSkip or falls back, as database/sql itself would.
type conn struct {
	driver.Conn
	t *tracer
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := c.t.start(ctx, query, args)
	res, err := e.ExecContext(ctx, query, args)
	if errors.Is(err, driver.ErrSkip) {
		// database/sql retries through PrepareContext, which traces.
		span.End()
		return nil, err
	}
	finish(span, err)
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, span := c.t.start(ctx, query, args)
	rows, err := q.QueryContext(ctx, query, args)
	if errors.Is(err, driver.ErrSkip) {
		span.End()
		return nil, err
	}
	finish(span, err)
	return rows, err
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: st, query: query, t: c.t}, nil
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // fallback for old drivers, as database/sql does
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type stmt struct {
	driver.Stmt
	query string
	t     *tracer
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := s.t.start(ctx, s.query, args)
	var res driver.Result
	var err error
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = values(args); err == nil {
			res, err = s.Stmt.Exec(vals) //nolint:staticcheck // fallback for old drivers
		}
	}
	finish(span, err)
	return res, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := s.t.start(ctx, s.query, args)
	var rows driver.Rows
	var err error
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = values(args); err == nil {
			rows, err = s.Stmt.Query(vals) //nolint:staticcheck // fallback for old drivers
		}
	}
	finish(span, err)
	return rows, err
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func values(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("tracesql: the driver does not support named parameters")
		}
		vals[i] = a.Value
	}
	return vals, nil
}
