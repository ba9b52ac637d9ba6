package cli

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/api"
	"github.com/ariadne-tracing/ariadne/internal/model"
)

func TestSanitize(t *testing.T) {
	require.Equal(t, "a?[31mred?", sanitize("a\x1b[31mred\n"))
	require.Equal(t, "ünïcode ok", sanitize("ünïcode ok"))
	require.Equal(t, "bad?", sanitize("bad\xff"))
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500: "500ns", 1500: "1.50µs", 250 * time.Microsecond: "250µs", 12345 * time.Microsecond: "12.3ms",
		1834 * time.Millisecond: "1.83s", 123 * time.Second: "2m03s", 26 * time.Hour: "26h00m",
	} {
		require.Equal(t, want, formatDuration(d), d.String())
	}
}

func TestWaterfallOddTraces(t *testing.T) {
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "svc\x1b]0;pwned\x07"}}}
	id := func(b byte) model.SpanID { return model.SpanID{7: b} }
	spans := []model.Span{
		// a and b are each other's parent (a cycle); c's parent is missing.
		{SpanID: id(1), ParentID: id(2), Name: "a", Start: 0, End: 10, Resource: res},
		{SpanID: id(2), ParentID: id(1), Name: "b\r\nfake row", Start: 5, End: 10, Resource: res, StatusCode: model.StatusError},
		{SpanID: id(3), ParentID: id(9), Name: "c", Start: 10, End: 20, Resource: res},
	}
	out := Waterfall(spans, 80)
	require.NotContains(t, out, "\x1b")
	require.NotContains(t, out, "\r")
	for _, name := range []string{" a ", "b??fake row", "c "} {
		require.Contains(t, out, name)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:5] {
		require.Equal(t, 80, width(line), "line %q", line)
	}
}

func TestTraceQLError(t *testing.T) {
	bad := func(body string) error { return &serverError{code: 400, msg: "m", body: []byte(body)} }
	err := traceqlError("{ kind = server }\n&& { .a = }", bad(`{"error":"q: ...","message":"unexpected '}'","position":{"line":2,"column":11,"offset":28}}`))
	require.Equal(t, "invalid TraceQL query at line 2, column 11: unexpected '}'\n  && { .a = }\n            ^", err.Error())
	err = traceqlError("{ .ä = 1 } | foo()", bad(`{"error":"x","message":"foo is not supported","position":{"line":1,"column":14,"offset":14},"unsupported":true}`))
	require.Equal(t, "TraceQL feature not supported at line 1, column 14: foo is not supported\n  { .ä = 1 } | foo()\n               ^", err.Error())
	// Control characters in the query or message are not sent to the terminal.
	err = traceqlError("{ .a = \x1b[31m }", bad(`{"error":"x","message":"bad \u001b value","position":{"line":1,"column":8,"offset":7}}`))
	require.NotContains(t, err.Error(), "\x1b")
	// Without a position, or for other statuses, the server's message stays.
	noPos := bad(`{"error":"q: metrics queries are not search queries"}`)
	require.Equal(t, noPos, traceqlError("{ } | rate()", noPos))
	other := &serverError{code: 503, msg: "timed out", body: []byte(`{"error":"timed out"}`)}
	require.Equal(t, other, traceqlError("{ }", other))
}

func TestSeriesTable(t *testing.T) {
	series := []api.MetricsSeries{
		{Labels: map[string]string{"name": "GET\x1b[2J /", "kind": "server"}, Samples: [][2]float64{{0, 1}, {60000, 5}, {120000, 3}, {180000, 9}}},
		{Labels: map[string]string{"__name__": "rate"}},
	}
	out := SeriesTable(series, time.Minute, 80)
	require.NotContains(t, out, "\x1b")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 4)
	require.Equal(t, "2 series, one point per 1m0s", lines[0])
	row := strings.Fields(lines[2])
	require.Equal(t, []string{`{kind="server",`, `name="GET?[2J`, `/"}`, "1", "4.5", "9", "9", "▁▄▂█"}, row)
	require.Equal(t, []string{`{__name__="rate"}`, "-", "-", "-", "-"}, strings.Fields(lines[3]))
	require.Equal(t, "No spans matched: no series.\n", SeriesTable(nil, time.Minute, 80))
	// More samples than cells: each cell shows the largest of its samples.
	require.Equal(t, "▁█", sparkline([][2]float64{{0, 0}, {1, 0}, {2, 7}, {3, 1}}, 2, 0, 7))
}

// TestWaterfallKeptBy: a trace kept by tail sampling says by which policy
// and with what weight (the root span's, as text); others say nothing.
func TestWaterfallKeptBy(t *testing.T) {
	res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: "web"}}}
	kept := func(policy string, w float64) []model.Attr {
		return []model.Attr{{Key: model.AttrSamplingPolicy, Type: model.TypeStr, Str: policy},
			{Key: model.AttrAdjustedCount, Type: model.TypeDouble, Num: math.Float64bits(w)}}
	}
	spans := []model.Span{
		{SpanID: model.SpanID{7: 2}, ParentID: model.SpanID{7: 1}, Name: "child", Start: 1, End: 5, Resource: res, Attrs: kept("other", 3)},
		{SpanID: model.SpanID{7: 1}, Name: "root", Start: 0, End: 10, Resource: res, Attrs: kept("base\x1b[2Jline", 10.0000000001)},
	}
	out := Waterfall(spans, 80)
	lines := strings.Split(out, "\n")
	require.Equal(t, "Kept by tail sampling policy base?[2Jline, weight 10", lines[1])
	require.NotContains(t, Waterfall(spans[:1], 80), "policy base")
	require.Contains(t, Waterfall(spans[:1], 80), "Kept by tail sampling policy other, weight 3\n")
	spans[0].Attrs, spans[1].Attrs = nil, nil
	require.NotContains(t, Waterfall(spans, 80), "Kept by")
}
