package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// Trace runs `ariadne trace [flags] TRACE_ID`.
func Trace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: ariadne trace [flags] TRACE_ID\n\nPrints a trace as a waterfall: the span tree with services, durations and\nbars on a shared time axis; errors are marked with !.\n\n")
		fs.PrintDefaults()
	}
	server := fs.String("server", envOr("ARIADNE_SERVER", DefaultServer), "query API of the server (env ARIADNE_SERVER)")
	asJSON := fs.Bool("json", false, "print the trace as OTLP JSON instead")
	details := fs.Bool("details", false, "also print each span's ID, kind, status, attributes and events")
	w := fs.Int("width", 0, "output width in columns (default: $COLUMNS, else 120)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("trace: want exactly one trace ID, got %d arguments", fs.NArg())
	}
	id := fs.Arg(0)
	if _, err := model.ParseTraceID(id); err != nil || (len(id) != 16 && len(id) != 32) {
		return fmt.Errorf("trace: %q is not a trace ID (32 or 16 hex characters)", sanitize(id))
	}
	c, err := newClient(*server)
	if err != nil {
		return err
	}
	body, code, err := c.get(ctx, "/api/v1/traces/"+strings.ToLower(id))
	if code == 404 {
		return fmt.Errorf("trace %s not found on %s", strings.ToLower(id), c.base)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		out.WriteByte('\n')
		_, err := stdout.Write(out.Bytes())
		return err
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		return fmt.Errorf("the server's answer is not OTLP JSON: %w", err)
	}
	_, err = io.WriteString(stdout, waterfall(model.FromTraces(td), termWidth(*w), *details))
	return err
}

// row is one line of the waterfall.
type row struct {
	span   *model.Span
	prefix string // tree drawing
}

// treeRows orders spans depth first, children by start time; spans whose
// parent is missing are roots.
func treeRows(spans []model.Span) []row {
	byID := map[model.SpanID]bool{}
	for i := range spans {
		byID[spans[i].SpanID] = true
	}
	children := map[model.SpanID][]*model.Span{}
	var roots []*model.Span
	for i := range spans {
		s := &spans[i]
		if s.ParentID.IsZero() || !byID[s.ParentID] || s.ParentID == s.SpanID {
			roots = append(roots, s)
		} else {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	order := func(a, b *model.Span) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		if c := bytes.Compare(a.SpanID[:], b.SpanID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Service(), b.Service())
	}
	slices.SortFunc(roots, order)
	var out []row
	seen := map[*model.Span]bool{}
	var walk func(s *model.Span, lead, branch string)
	walk = func(s *model.Span, lead, branch string) {
		if seen[s] {
			return // a cycle of parent IDs
		}
		seen[s] = true
		out = append(out, row{span: s, prefix: lead + branch})
		kids := children[s.SpanID]
		slices.SortFunc(kids, order)
		next := lead
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		for i, k := range kids {
			b := "├─ "
			if i == len(kids)-1 {
				b = "└─ "
			}
			walk(k, next, b)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	// Spans in a parent cycle are not reachable from a root: list them too.
	for i := range spans {
		if !seen[&spans[i]] {
			walk(&spans[i], "", "")
		}
	}
	return out
}

// keptBy is the tail sampling policy that kept the trace and its weight,
// from a root span's attributes, or else the first span's that has them.
func keptBy(spans []model.Span) (string, float64, bool) {
	found := -1
	for i := range spans {
		if _, ok := model.SamplingPolicy(&spans[i]); ok {
			if found < 0 || spans[i].ParentID.IsZero() {
				found = i
			}
			if spans[i].ParentID.IsZero() {
				break
			}
		}
	}
	if found < 0 {
		return "", 0, false
	}
	p, _ := model.SamplingPolicy(&spans[found])
	return p, model.AdjustedCount(&spans[found]), true
}

// Waterfall renders spans of one trace in width columns.
func Waterfall(spans []model.Span, width int) string { return waterfall(spans, width, false) }

// waterfall renders the trace; with details, each span's kind, status,
// attributes and events follow its line.
func waterfall(spans []model.Span, width int, details bool) string {
	var b strings.Builder
	if len(spans) == 0 {
		return "(no spans)\n"
	}
	sum := query.Summarize(spans)
	services := len(sum.Services)
	fmt.Fprintf(&b, "Trace %s  %s UTC  %s  %d spans  %d services  %d errors\n",
		sum.TraceID, formatTime(sum.Start), formatDuration(time.Duration(sum.Duration)), sum.SpanCount, services, sum.ErrorCount)
	if policy, weight, ok := keptBy(spans); ok {
		fmt.Fprintf(&b, "Kept by tail sampling policy %s, weight %s\n", sanitize(policy), strconv.FormatFloat(weight, 'g', 6, 64))
	}
	rows := treeRows(spans)
	svcW, nameW := len("SERVICE"), len("SPAN")
	for _, r := range rows {
		svcW = max(svcW, widthOf(sanitize(r.span.Service())))
		nameW = max(nameW, widthOf(r.prefix)+widthOf(sanitize(r.span.Name)))
	}
	svcW = min(svcW, 20)
	const durW = 8
	barW := 10
	// Columns: marker(1) sp service sp name sp duration sp |bar|
	fixed := 1 + 1 + svcW + 1 + 1 + durW + 1 + 2
	nameW = min(nameW, max(20, width-fixed-barW))
	barW = max(10, width-fixed-nameW)
	fmt.Fprintf(&b, "  %s %s %s %s\n", fit("SERVICE", svcW), fit("SPAN", nameW), fitLeft("DURATION", durW), timeAxis(sum.Duration, barW))
	for _, r := range rows {
		s := r.span
		mark := " "
		if s.StatusCode == model.StatusError {
			mark = "!"
		}
		name := r.prefix + sanitize(s.Name)
		fmt.Fprintf(&b, "%s %s %s %s |%s|\n", mark, fit(sanitize(s.Service()), svcW), fit(name, nameW),
			fitLeft(formatDuration(time.Duration(s.Duration())), durW), bar(s.Start-sum.Start, s.Duration(), sum.Duration, barW, s.StatusCode == model.StatusError))
		if details {
			writeDetails(&b, s, sum.Start, width)
		}
	}
	if sum.ErrorCount > 0 {
		b.WriteString("\nErrors:\n")
		for _, r := range rows {
			if s := r.span; s.StatusCode == model.StatusError {
				msg := s.StatusMessage
				if msg == "" {
					msg = "(no message)"
				}
				fmt.Fprintf(&b, "! %s %s: %s\n", sanitize(s.Service()), sanitize(s.Name), sanitize(msg))
			}
		}
	}
	return b.String()
}

func widthOf(s string) int { return width(s) }

// writeDetails prints a span's ID, kind, status, attributes and events,
// indented, one per line, each cut to width.
func writeDetails(b *strings.Builder, s *model.Span, traceStart int64, width int) {
	line := func(text string) {
		b.WriteString(strings.TrimRight(fit("      "+sanitize(text), width), " "))
		b.WriteByte('\n')
	}
	head := "span " + s.SpanID.String() + "  kind " + model.KindName(s.Kind) + "  status " + model.StatusName(s.StatusCode)
	if s.StatusMessage != "" {
		head += ": " + s.StatusMessage
	}
	line(head)
	for i := range s.Attrs {
		line(s.Attrs[i].Key + " = " + s.Attrs[i].String())
	}
	for i := range s.Events {
		e := &s.Events[i]
		text := "@" + formatDuration(time.Duration(e.Time-traceStart)) + " " + e.Name
		for j := range e.Attrs {
			text += " " + e.Attrs[j].Key + "=" + e.Attrs[j].String()
		}
		line(text)
	}
}

// bar draws a span from offset for dur on an axis of total over w cells:
// at least one cell; '█' for spans, '▓' for errors.
func bar(offset, dur, total int64, w int, isErr bool) string {
	if total <= 0 {
		total = 1
	}
	from := int(float64(offset) / float64(total) * float64(w))
	n := int(float64(dur)/float64(total)*float64(w) + 0.5)
	from = min(max(from, 0), w-1)
	n = min(max(n, 1), w-from)
	ch := "█"
	if isErr {
		ch = "▓"
	}
	return strings.Repeat(" ", from) + strings.Repeat(ch, n) + strings.Repeat(" ", w-from-n)
}

// timeAxis labels the bar column: 0 on the left, the trace duration on
// the right, inside |...| of w cells.
func timeAxis(total int64, w int) string {
	right := formatDuration(time.Duration(total))
	return "|" + "0" + strings.Repeat(" ", max(0, w-1-width(right))) + right + "|"
}
