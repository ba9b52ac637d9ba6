package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/api"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ", ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// Search runs `ariadne search [flags]`: the native search, as a table.
func Search(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: ariadne search [flags]\n       ariadne search [--start, --end, --since, --limit, --json, --width] 'TRACEQL QUERY'\n\n"+
			"Prints the most recent traces matching every condition, newest first.\nConditions are those of the native search API (docs/api.md),\n"+
			"or a TraceQL query (docs/traceql.md), e.g. ariadne search '{ status = error } | count() > 2'.\n\n")
		fs.PrintDefaults()
	}
	server := fs.String("server", envOr("ARIADNE_SERVER", DefaultServer), "query API of the server (env ARIADNE_SERVER)")
	params := map[string]*string{
		"service":       fs.String("service", "", "service name"),
		"name":          fs.String("name", "", "span name"),
		"kind":          fs.String("kind", "", "span kind: server, client, producer, consumer, internal"),
		"status":        fs.String("status", "", "span status: error, ok, unset"),
		"statusScope":   fs.String("status-scope", "", "span (default) or trace"),
		"minDuration":   fs.String("min-duration", "", "minimum duration, e.g. 250ms"),
		"maxDuration":   fs.String("max-duration", "", "maximum duration, e.g. 2s"),
		"durationScope": fs.String("duration-scope", "", "span (default) or trace: whether durations apply to a span or the whole trace"),
		"start":         fs.String("start", "", "earliest span start: RFC 3339 or Unix time"),
		"end":           fs.String("end", "", "latest span start: RFC 3339 or Unix time"),
		"limit":         fs.String("limit", "", "at most this many traces (server default 20)"),
	}
	since := fs.Duration("since", 0, "shorthand for --start: traces from this long ago until now, e.g. 1h")
	var attrs repeated
	fs.Var(&attrs, "attr", "attribute condition, repeatable: [scope.]key OP value, e.g. 'http.response.status_code>=500'")
	asJSON := fs.Bool("json", false, "print the server's JSON answer instead of a table")
	w := fs.Int("width", 0, "output width in columns (default: $COLUMNS, else 120)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("search: unexpected argument %q (give one TraceQL query, quoted, or conditions as flags; see ariadne search -h)", sanitize(fs.Arg(1)))
	}
	v := url.Values{}
	for k, p := range params {
		if *p != "" {
			v.Set(k, *p)
		}
	}
	path := "/api/v1/search?"
	if fs.NArg() == 1 {
		for k := range v {
			if k != "start" && k != "end" && k != "limit" {
				return fmt.Errorf("search: --%s cannot be combined with a TraceQL query; put the condition into the query", flagName(k))
			}
		}
		if len(attrs) > 0 {
			return fmt.Errorf("search: --attr cannot be combined with a TraceQL query; put the condition into the query")
		}
		v.Set("q", fs.Arg(0))
		path = "/api/v1/traceql?"
	}
	if *since > 0 {
		if v.Get("start") != "" {
			return fmt.Errorf("search: give --since or --start, not both")
		}
		v.Set("start", strconv.FormatInt(time.Now().Add(-*since).UnixNano(), 10))
	}
	for _, a := range attrs {
		v.Add("attr", a)
	}
	c, err := newClient(*server)
	if err != nil {
		return err
	}
	body, _, err := c.get(ctx, path+v.Encode())
	if err != nil {
		if q := v.Get("q"); q != "" {
			return traceqlError(q, err)
		}
		return err
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var res struct {
		Traces []api.TraceSummary `json:"traces"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("the server's answer is not a search result: %w", err)
	}
	_, err = io.WriteString(stdout, Table(res.Traces, termWidth(*w)))
	return err
}

// Table renders search results, one trace per line.
func Table(traces []api.TraceSummary, width int) string {
	if len(traces) == 0 {
		return "No traces found.\n"
	}
	const idW, startW, durW, numW = 32, 23, 8, 6
	rootW := max(20, width-(idW+1+startW+1+durW+1+numW+1+numW+1))
	var b strings.Builder
	line := func(id, start, dur, spans, errs, root string) {
		fmt.Fprintf(&b, "%s %s %s %s %s %s\n", fit(id, idW), fit(start, startW), fitLeft(dur, durW),
			fitLeft(spans, numW), fitLeft(errs, numW), strings.TrimRight(fit(root, rootW), " "))
	}
	line("TRACE ID", "START (UTC)", "DURATION", "SPANS", "ERRORS", "ROOT")
	for _, t := range traces {
		root := sanitize(t.RootServiceName) + ": " + sanitize(t.RootSpanName)
		if t.RootMissing {
			root += " (root missing)"
		}
		if len(t.Services) > 1 {
			root += fmt.Sprintf(" +%d services", len(t.Services)-1)
		}
		start, _ := strconv.ParseInt(t.StartTimeUnixNano, 10, 64)
		line(sanitize(t.TraceID), formatTime(start), formatDuration(time.Duration(t.DurationNanos)),
			strconv.Itoa(t.SpanCount), strconv.Itoa(t.ErrorCount), root)
	}
	return b.String()
}

// flagName is the command-line flag of a native search parameter.
func flagName(param string) string {
	var b strings.Builder
	for _, r := range param {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// traceqlError turns the server's answer to an invalid TraceQL query into
// a message that shows the query line with a caret under the position.
func traceqlError(src string, err error) error {
	var se *serverError
	if !errors.As(err, &se) || se.code != 400 {
		return err
	}
	var e api.TraceQLError
	if json.Unmarshal(se.body, &e) != nil || e.Position == nil {
		return err
	}
	lines := strings.Split(src, "\n")
	if e.Position.Line < 1 || e.Position.Line > len(lines) {
		return err
	}
	line := []rune(sanitize(lines[e.Position.Line-1]))
	col := min(max(e.Position.Column, 1), len(line)+1)
	kind := "invalid TraceQL query"
	if e.Unsupported {
		kind = "TraceQL feature not supported"
	}
	return fmt.Errorf("%s at line %d, column %d: %s\n  %s\n  %s^",
		kind, e.Position.Line, e.Position.Column, sanitize(e.Message), string(line), strings.Repeat(" ", col-1))
}
