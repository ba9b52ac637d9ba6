package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func tid(b byte) pcommon.TraceID { return pcommon.TraceID{15: b, 0: 0xaa} }
func sid(b byte) pcommon.SpanID  { return pcommon.SpanID{7: b, 0: 0xbb} }

// newSpan appends a valid span to ss.
func newSpan(ss ptrace.ScopeSpans, name string, trace, span byte) ptrace.Span {
	ps := ss.Spans().AppendEmpty()
	ps.SetName(name)
	ps.SetTraceID(tid(trace))
	ps.SetSpanID(sid(span))
	ps.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	ps.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	return ps
}

func oneScope() (ptrace.Traces, ptrace.ScopeSpans) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib")
	return td, ss
}

func attr(t *testing.T, attrs []model.Attr, key string) model.Attr {
	t.Helper()
	for _, a := range attrs {
		if a.Key == key {
			return a
		}
	}
	t.Fatalf("attribute %q missing in %v", key, attrs)
	return model.Attr{}
}

func hasAttr(attrs []model.Attr, key string) bool {
	for _, a := range attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

// arrayStrings decodes a string-array attribute value.
func arrayStrings(t *testing.T, a model.Attr) []string {
	t.Helper()
	require.Equal(t, model.TypeArray, a.Type)
	v := pcommon.NewValueEmpty()
	model.PutValue(v, &a)
	var out []string
	for _, e := range v.Slice().All() {
		out = append(out, e.Str())
	}
	return out
}

func TestConvertValidMatchesModel(t *testing.T) {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc%d", r))
		rs.Resource().Attributes().PutInt("pid", 42)
		for s := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("scope%d", s))
			ss.Scope().SetVersion("1.0")
			ss.Scope().Attributes().PutBool("x", true)
			for i := range 3 {
				ps := newSpan(ss, fmt.Sprintf("op %d", i), byte(r+1), byte(10*r+3*s+i+1))
				ps.SetParentSpanID(sid(99))
				ps.TraceState().FromRaw("k=v")
				ps.SetFlags(1)
				ps.SetKind(ptrace.SpanKindServer)
				ps.Status().SetCode(ptrace.StatusCodeError)
				ps.Status().SetMessage("boom")
				m := ps.Attributes()
				m.PutStr("http.method", "GET")
				m.PutInt("http.status_code", 500)
				m.PutDouble("ratio", 0.5)
				m.PutEmptyBytes("raw").FromRaw([]byte{1, 2, 3})
				sl := m.PutEmptySlice("list")
				sl.AppendEmpty().SetStr("a")
				sl.AppendEmpty().SetInt(-7)
				sl.AppendEmpty().SetEmptySlice().AppendEmpty().SetBool(true)
				mm := m.PutEmptyMap("map")
				mm.PutStr("k", "v")
				mm.PutEmptyMap("inner").PutDouble("d", 1.5)
				m.PutEmpty("nothing")
				ps.SetDroppedAttributesCount(2)
				ev := ps.Events().AppendEmpty()
				ev.SetName("exception")
				ev.SetTimestamp(ps.StartTimestamp() + 5)
				ev.Attributes().PutStr("exception.message", "x")
				ps.SetDroppedEventsCount(1)
				l := ps.Links().AppendEmpty()
				l.SetTraceID(tid(77))
				l.SetSpanID(sid(78))
				l.TraceState().FromRaw("a=b")
				l.Attributes().PutInt("n", 1)
				ps.SetDroppedLinksCount(3)
			}
		}
	}
	spans, rejected, msg := Convert(td, Limits{}, now)
	require.Zero(t, rejected)
	require.Empty(t, msg)
	require.Equal(t, model.FromTraces(td), spans)
	// Resources and scopes are shared by pointer.
	require.Same(t, spans[0].Resource, spans[5].Resource)
	require.NotSame(t, spans[0].Resource, spans[6].Resource)
	require.Same(t, spans[0].Scope, spans[2].Scope)
	require.NotSame(t, spans[0].Scope, spans[3].Scope)
}

func TestConvertRejects(t *testing.T) {
	td, ss := oneScope()
	newSpan(ss, "ok1", 1, 1)
	newSpan(ss, "GET /x", 0, 2).SetTraceID(pcommon.TraceID{})
	newSpan(ss, "no span id", 1, 0).SetSpanID(pcommon.SpanID{})
	newSpan(ss, "no start", 1, 4).SetStartTimestamp(0)
	newSpan(ss, "future", 1, 5).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour)))
	newSpan(ss, "slightly ahead", 1, 6).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(30 * time.Minute)))
	newSpan(ss, "max uint64", 1, 7).SetStartTimestamp(pcommon.Timestamp(^uint64(0)))

	c := NewConverter(Limits{})
	r := c.Convert(td, now)
	require.Len(t, r.Spans, 2)
	require.Equal(t, "ok1", r.Spans[0].Name)
	require.Equal(t, "slightly ahead", r.Spans[1].Name)
	require.Equal(t, 5, r.Rejected)
	require.Equal(t, [NumReasons]int{ReasonZeroID: 2, ReasonBadTime: 1, ReasonFuture: 2}, r.ByReason)
	require.Equal(t, `5 spans rejected: `+
		`resource 0, scope 0, span 1 (name "GET /x", span_id bb00000000000002): trace_id is all zeros; `+
		`resource 0, scope 0, span 2 (name "no span id", span_id 0000000000000000): span_id is all zeros; `+
		`resource 0, scope 0, span 3 (name "no start", span_id bb00000000000004): start_time_unix_nano is 0; `+
		`and 2 more`, r.Message)

	td, ss = oneScope()
	newSpan(ss, "future", 1, 5).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour)))
	r = c.Convert(td, now)
	require.Empty(t, r.Spans)
	require.Equal(t, `1 span rejected: resource 0, scope 0, span 0 (name "future", span_id bb00000000000005): `+
		`start time 2025-06-01T14:00:00Z is more than 1h0m0s in the future`, r.Message)
}

func TestConvertEndBeforeStart(t *testing.T) {
	td, ss := oneScope()
	ps := newSpan(ss, "backwards", 1, 1)
	ps.SetEndTimestamp(ps.StartTimestamp() - 10)
	newSpan(ss, "no end", 1, 2).SetEndTimestamp(0)
	newSpan(ss, "fine", 1, 3)
	spans, rejected, msg := Convert(td, Limits{}, now)
	require.Zero(t, rejected)
	require.Empty(t, msg)
	require.Len(t, spans, 3)
	for _, s := range spans[:2] {
		require.Equal(t, s.Start, s.End, s.Name)
		a := attr(t, s.Attrs, InvalidEndTimeAttr)
		require.Equal(t, model.Attr{Key: InvalidEndTimeAttr, Type: model.TypeBool, Num: 1}, a)
	}
	require.False(t, hasAttr(spans[2].Attrs, InvalidEndTimeAttr))
	require.Equal(t, int64(time.Second), spans[2].Duration())
}

func TestConvertInvalidUTF8(t *testing.T) {
	td, ss := oneScope()
	bad := "a\xffb\xc3"
	ss.Scope().SetName(bad)
	ps := newSpan(ss, bad, 1, 1)
	ps.Status().SetMessage(bad)
	ps.Attributes().PutStr(bad, bad)
	ps.Attributes().PutEmptySlice("list").AppendEmpty().SetStr(bad)
	ps.Attributes().PutEmptyMap("map").PutStr(bad, "v")
	ps.Events().AppendEmpty().SetName(bad)
	spans, _, _ := Convert(td, Limits{}, now)
	require.Len(t, spans, 1)
	s := spans[0]
	want := "a\uFFFDb\uFFFD"
	require.Equal(t, want, s.Name)
	require.Equal(t, want, s.StatusMessage)
	require.Equal(t, want, s.Scope.Name)
	require.Equal(t, want, s.Events[0].Name)
	require.Equal(t, want, attr(t, s.Attrs, want).Str)
	require.Equal(t, []string{want}, arrayStrings(t, attr(t, s.Attrs, "list")))
	m := attr(t, s.Attrs, "map")
	v := pcommon.NewValueEmpty()
	model.PutValue(v, &m)
	_, ok := v.Map().Get(want)
	require.True(t, ok)
	require.False(t, hasAttr(s.Attrs, TruncatedAttr))
}

func TestConvertAttributeCountLimits(t *testing.T) {
	td, ss := oneScope()
	lim := Limits{MaxAttrsPerSpan: 3, MaxEventsPerSpan: 2, MaxLinksPerSpan: 1}
	for i := range 5 {
		td.ResourceSpans().At(0).Resource().Attributes().PutInt(fmt.Sprint("r", i), int64(i))
	}
	td.ResourceSpans().At(0).Resource().SetDroppedAttributesCount(1)
	ps := newSpan(ss, "many", 1, 1)
	ps.SetDroppedAttributesCount(10)
	for i := range 7 {
		ps.Attributes().PutInt(fmt.Sprint("a", i), int64(i))
	}
	for i := range 4 {
		ev := ps.Events().AppendEmpty()
		ev.SetName(fmt.Sprint("e", i))
		for j := range 4 {
			ev.Attributes().PutInt(fmt.Sprint("k", j), 1)
		}
	}
	ps.SetDroppedEventsCount(1)
	for range 3 {
		l := ps.Links().AppendEmpty()
		l.SetTraceID(tid(9))
		l.SetSpanID(sid(9))
		for j := range 5 {
			l.Attributes().PutInt(fmt.Sprint("k", j), 1)
		}
	}
	spans, rejected, _ := Convert(td, lim, now)
	require.Zero(t, rejected)
	s := spans[0]
	require.Equal(t, []string{"a0", "a1", "a2"}, keys(s.Attrs))
	require.Equal(t, uint32(14), s.DroppedAttrs)
	require.Equal(t, []string{"service.name", "r0", "r1"}, keys(s.Resource.Attrs))
	require.Equal(t, uint32(4), s.Resource.DroppedAttrs)
	require.Len(t, s.Events, 2)
	require.Equal(t, "e1", s.Events[1].Name)
	require.Equal(t, uint32(3), s.DroppedEvents)
	require.Len(t, s.Events[1].Attrs, 3)
	require.Equal(t, uint32(1), s.Events[1].DroppedAttrs)
	require.Len(t, s.Links, 1)
	require.Equal(t, uint32(2), s.DroppedLinks)
	require.Len(t, s.Links[0].Attrs, 3)
	require.Equal(t, uint32(2), s.Links[0].DroppedAttrs)
}

func keys(attrs []model.Attr) []string {
	var out []string
	for _, a := range attrs {
		out = append(out, a.Key)
	}
	return out
}

func TestConvertTruncation(t *testing.T) {
	td, ss := oneScope()
	lim := Limits{MaxAttrValueBytes: 10}
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("host.name", strings.Repeat("h", 20))
	ps := newSpan(ss, "big", 1, 1)
	m := ps.Attributes()
	m.PutStr("short", "0123456789")                    // exactly the limit: kept
	m.PutStr("ascii", "0123456789abc")                 // cut to 10 bytes
	m.PutStr("utf8", "ééééééé")                        // 14 bytes, cut to 10 at a boundary
	m.PutStr("utf8odd", "aééééé")                      // 11 bytes; byte 10 is inside é: cut to 9
	m.PutEmptyBytes("bytes").FromRaw(make([]byte, 11)) // cut to 10
	sl := m.PutEmptySlice("list")
	for range 5 {
		sl.AppendEmpty().SetStr("abc")
	}
	ps.Events().AppendEmpty().Attributes().PutStr("ev", strings.Repeat("e", 11))

	spans, _, _ := Convert(td, lim, now)
	s := spans[0]
	require.Equal(t, "0123456789", attr(t, s.Attrs, "short").Str)
	require.Equal(t, "0123456789", attr(t, s.Attrs, "ascii").Str)
	require.Equal(t, "ééééé", attr(t, s.Attrs, "utf8").Str)
	require.Equal(t, "aéééé", attr(t, s.Attrs, "utf8odd").Str)
	require.Len(t, attr(t, s.Attrs, "bytes").Str, 10)
	list := attr(t, s.Attrs, "list")
	require.LessOrEqual(t, len(list.Str), 10)
	require.Equal(t, []string{"abc"}, arrayStrings(t, list))
	require.Equal(t, []string{"ascii", "utf8", "utf8odd", "bytes", "list"}, arrayStrings(t, attr(t, s.Attrs, TruncatedAttr)))
	// The marker goes on the list that held the value.
	require.Equal(t, []string{"host.name"}, arrayStrings(t, attr(t, s.Resource.Attrs, TruncatedAttr)))
	require.Equal(t, []string{"ev"}, arrayStrings(t, attr(t, s.Events[0].Attrs, TruncatedAttr)))
	require.Equal(t, uint32(0), s.DroppedAttrs)
}

func TestConvertNestedDepth(t *testing.T) {
	td, ss := oneScope()
	ps := newSpan(ss, "deep", 1, 1)
	v := ps.Attributes().PutEmptySlice("deep")
	for range maxValueDepth + 10 {
		v = v.AppendEmpty().SetEmptySlice()
	}
	spans, _, _ := Convert(td, Limits{}, now)
	s := spans[0]
	a := attr(t, s.Attrs, "deep")
	levels := 0
	pv := pcommon.NewValueEmpty()
	model.PutValue(pv, &a)
	for pv.Type() == pcommon.ValueTypeSlice {
		levels++
		if pv.Slice().Len() == 0 {
			break
		}
		pv = pv.Slice().At(0)
	}
	require.Equal(t, maxValueDepth, levels)
	require.Equal(t, []string{"deep"}, arrayStrings(t, attr(t, s.Attrs, TruncatedAttr)))
}

// TestNestedEncodingMatchesModel checks that our budgeted encoder writes
// exactly what model.AttrFromValue writes when nothing is cut.
func TestNestedEncodingMatchesModel(t *testing.T) {
	v := pcommon.NewValueEmpty()
	sl := v.SetEmptySlice()
	sl.AppendEmpty().SetStr("x")
	sl.AppendEmpty().SetInt(-1 << 40)
	sl.AppendEmpty().SetDouble(3.25)
	sl.AppendEmpty().SetBool(true)
	sl.AppendEmpty().SetEmptyBytes().FromRaw([]byte("raw"))
	sl.AppendEmpty()
	mm := sl.AppendEmpty().SetEmptyMap()
	mm.PutStr("k", strings.Repeat("z", 300))
	mm.PutEmptySlice("s").AppendEmpty().SetInt(1)
	st := state{lim: &Limits{MaxAttrValueBytes: 4096}, sc: getScratch()}
	var got model.Attr
	var pv value
	pv.setPdata(v)
	st.attr(&got, "key", &pv)
	require.Equal(t, model.AttrFromValue("key", v), got)
	require.Empty(t, st.sc.trunc)
}

func TestTruncUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"abc", 0, ""},
		{"日本語", 7, "日本"},
		{"日本語", 6, "日本"},
		{"日本語", 5, "日"},
		{"日本語", 2, ""},
		{"a😀", 4, "a"},
	} {
		got := truncUTF8(tc.in, tc.n)
		require.Equal(t, tc.want, got, "%q %d", tc.in, tc.n)
		require.True(t, utf8.ValidString(got))
	}
}

func TestMaxSpansPerTrace(t *testing.T) {
	c := NewConverter(Limits{MaxSpansPerTrace: 3})
	batch := func(spanIDs ...byte) ptrace.Traces {
		td, ss := oneScope()
		for _, id := range spanIDs {
			trace := byte(1)
			if id >= 100 {
				trace = 2
			}
			newSpan(ss, fmt.Sprint("s", id), trace, id)
		}
		return td
	}
	r := c.Convert(batch(1, 2, 100), now)
	require.Len(t, r.Spans, 3)
	require.Zero(t, r.Rejected)

	// Trace 1 has 2 of 3; interleaved with trace 2.
	r = c.Convert(batch(3, 101, 4, 5, 102), now)
	require.Equal(t, []string{"s3", "s101", "s102"}, names(r.Spans))
	require.Equal(t, 2, r.Rejected)
	require.Equal(t, 2, r.ByReason[ReasonTooManySpansPerTrace])
	require.Equal(t, `2 spans rejected: `+
		`resource 0, scope 0, span 2 (name "s4", span_id bb00000000000004): trace aa000000000000000000000000000001 already has 3 spans (max spans per trace); `+
		`resource 0, scope 0, span 3 (name "s5", span_id bb00000000000005): trace aa000000000000000000000000000001 already has 3 spans (max spans per trace)`,
		r.Message)

	// Not stored after all: Forget makes room again.
	r = c.Convert(batch(103), now)
	require.Len(t, r.Spans, 0)
	c.Forget(r.Spans)
	r = c.Convert(batch(6), now)
	require.Len(t, r.Spans, 0)
	c.Forget(c.Convert(batch(103), now).Spans) // no-op: rejected
	r = c.Convert(batch(1, 2), now)
	require.Empty(t, r.Spans)

	// A batch over the limit on its own.
	spans, rejected, msg := Convert(batch(1, 2, 3, 4, 5, 6, 7), Limits{MaxSpansPerTrace: 3}, now)
	require.Len(t, spans, 3)
	require.Equal(t, 4, rejected)
	require.Contains(t, msg, "; and 1 more")
}

func TestMaxSpansPerTraceForget(t *testing.T) {
	c := NewConverter(Limits{MaxSpansPerTrace: 2})
	td, ss := oneScope()
	newSpan(ss, "a", 1, 1)
	newSpan(ss, "b", 1, 2)
	r := c.Convert(td, now)
	require.Len(t, r.Spans, 2)
	require.Equal(t, 2, c.Convert(td, now).Rejected)
	c.Forget(r.Spans) // as if the store refused the first batch
	require.Len(t, c.Convert(td, now).Spans, 2)
}

func TestTraceCounterEviction(t *testing.T) {
	c := NewConverter(Limits{MaxSpansPerTrace: 1, TrackedTraces: 2})
	one := func(trace byte) int {
		td, ss := oneScope()
		newSpan(ss, "x", trace, 1)
		return len(c.Convert(td, now).Spans)
	}
	require.Equal(t, 1, one(1))
	require.Equal(t, 0, one(1))
	require.Equal(t, 1, one(2))
	require.Equal(t, 1, one(3)) // evicts trace 1
	require.Equal(t, 1, one(1)) // counted from zero again; evicts trace 2
	require.Equal(t, 0, one(3))
	require.Len(t, c.traces.counts, 2)
	require.Len(t, c.traces.ring, 2)
}

func names(spans []model.Span) []string {
	out := []string{}
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestConvertEmpty(t *testing.T) {
	spans, rejected, msg := Convert(ptrace.NewTraces(), Limits{}, now)
	require.Empty(t, spans)
	require.Zero(t, rejected)
	require.Empty(t, msg)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	spans, _, _ = Convert(td, Limits{}, now)
	require.Empty(t, spans)
}
