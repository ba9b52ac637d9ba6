package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
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
		fmt.Fprint(stderr, "Usage: ariadne search [flags]\n       ariadne search [--start, --end, --since, --limit, --step, --json, --width] 'TRACEQL QUERY'\n\n"+
			"Prints the most recent traces matching every condition, newest first.\nConditions are those of the native search API (docs/api.md),\n"+
			"or a TraceQL query (docs/traceql.md), e.g. ariadne search '{ status = error } | count() > 2'.\n"+
			"A TraceQL metrics query prints its series, e.g. ariadne search --since 6h --step 10m '{ status = error } | rate() by (resource.service.name)'.\n\n")
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
	step := fs.String("step", "", "TraceQL metrics queries only: interval of the series, e.g. 5m (default: about 100 points over the range)")
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
			if k != "start" && k != "end" && k != "limit" && k != "step" {
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
	if *step != "" {
		if fs.NArg() == 0 {
			return fmt.Errorf("search: --step is for TraceQL metrics queries, e.g. ariadne search --step 5m '{ } | rate()'")
		}
		v.Set("step", *step)
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
		Traces      []api.TraceSummary  `json:"traces"`
		Series      []api.MetricsSeries `json:"series"`
		StepSeconds float64             `json:"stepSeconds"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("the server's answer is not a search result: %w", err)
	}
	out := Table(res.Traces, termWidth(*w))
	if res.Series != nil {
		out = SeriesTable(res.Series, time.Duration(res.StepSeconds*float64(time.Second)), termWidth(*w))
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// SeriesTable renders the answer to a TraceQL metrics query: a line per
// series with its labels, the range of its samples and a sparkline.
func SeriesTable(series []api.MetricsSeries, step time.Duration, cols int) string {
	if len(series) == 0 {
		return "No spans matched: no series.\n"
	}
	const numW = 10
	var b strings.Builder
	fmt.Fprintf(&b, "%d series, one point per %s\n", len(series), step)
	labels := make([]string, len(series))
	labelW := len("SERIES")
	for i, s := range series {
		keys := make([]string, 0, len(s.Labels))
		for k := range s.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = sanitize(k) + "=" + strconv.Quote(sanitize(s.Labels[k]))
		}
		labels[i] = "{" + strings.Join(parts, ", ") + "}"
		labelW = max(labelW, width(labels[i]))
	}
	labelW = min(labelW, max(24, cols/2))
	sparkW := max(8, cols-labelW-4*(numW+1)-1)
	line := func(label, lo, avg, hi, last, spark string) {
		l := fmt.Sprintf("%s %s %s %s %s %s", fit(label, labelW), fitLeft(lo, numW), fitLeft(avg, numW), fitLeft(hi, numW), fitLeft(last, numW), spark)
		b.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	line("SERIES", "MIN", "AVG", "MAX", "LAST", "")
	for i, s := range series {
		label := labels[i]
		if len(s.Samples) == 0 {
			line(label, "-", "-", "-", "-", "")
			continue
		}
		lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
		for _, p := range s.Samples {
			lo, hi, sum = min(lo, p[1]), max(hi, p[1]), sum+p[1]
		}
		line(label, formatValue(lo), formatValue(sum/float64(len(s.Samples))), formatValue(hi),
			formatValue(s.Samples[len(s.Samples)-1][1]), sparkline(s.Samples, sparkW, lo, hi))
	}
	return b.String()
}

// formatValue prints a sample value with about four significant digits.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// sparkline draws the samples' values in at most w cells (the largest
// value of the samples a cell covers), scaled from lo to hi.
func sparkline(samples [][2]float64, w int, lo, hi float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	n := min(w, len(samples))
	cells := make([]rune, n)
	for c := range n {
		from, to := c*len(samples)/n, (c+1)*len(samples)/n
		v := math.Inf(-1)
		for _, p := range samples[from:max(to, from+1)] {
			v = max(v, p[1])
		}
		k := 0
		if hi > lo {
			k = int((v - lo) / (hi - lo) * float64(len(levels)-1))
		}
		cells[c] = levels[min(max(k, 0), len(levels)-1)]
	}
	return string(cells)
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
