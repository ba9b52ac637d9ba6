package ingest

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Reason says why a span was rejected.
type Reason uint8

// Rejection reasons; String gives the metric label.
const (
	ReasonZeroID               Reason = iota // trace ID or span ID all zeros
	ReasonBadTime                            // start time zero
	ReasonFuture                             // start time too far in the future
	ReasonTooManySpansPerTrace               // trace over MaxSpansPerTrace
	NumReasons                 = iota
)

// String returns the reason as used in metric labels: "zero_id",
// "bad_time", "future", "too_many_spans_per_trace".
func (r Reason) String() string {
	switch r {
	case ReasonZeroID:
		return "zero_id"
	case ReasonBadTime:
		return "bad_time"
	case ReasonFuture:
		return "future"
	case ReasonTooManySpansPerTrace:
		return "too_many_spans_per_trace"
	}
	return "unknown"
}

// maxDetailed is how many rejected spans the message describes.
const maxDetailed = 3

// Result is the outcome of converting one request.
type Result struct {
	// Spans holds the accepted spans. Spans of one ResourceSpans share one
	// *model.Resource, spans of one ScopeSpans one *model.Scope. The
	// caller owns them; they do not alias the input.
	Spans []model.Span
	// Rejected is the number of spans left out (the OTLP rejected_spans).
	Rejected int
	// ByReason splits Rejected by reason.
	ByReason [NumReasons]int
	// Message describes the first few rejected spans and the total, for
	// the OTLP partial success error_message; "" if nothing was rejected.
	Message string
}

// Converter converts OTLP trace data to spans under a set of limits and
// remembers how many spans it accepted per recent trace for
// MaxSpansPerTrace. It is safe for concurrent use.
//
// A request goes through two steps: Decode (pdata) or DecodeProto
// (protobuf bytes) validates, repairs and limits its spans into a Batch;
// Admit then counts them against MaxSpansPerTrace and returns the Result.
// Convert does both.
type Converter struct {
	lim    Limits
	traces *traceCounter
	// attrsPerKiB is the attribute density of recent protobuf requests
	// (attributes per KiB, moving average; 0 until the first): it sizes
	// the attribute arena of the next request, whose chunks the accepted
	// spans keep alive for as long as the store holds them in memory.
	attrsPerKiB atomic.Int64
}

// NewConverter returns a Converter enforcing lim (zero fields take their
// defaults).
func NewConverter(lim Limits) *Converter {
	lim = lim.WithDefaults()
	return &Converter{lim: lim, traces: newTraceCounter(lim.TrackedTraces)}
}

// Limits returns the limits in force, defaults filled in.
func (c *Converter) Limits() Limits { return c.lim }

// Convert is a one-shot conversion: it validates and converts td as a
// Converter would, but MaxSpansPerTrace only counts spans within td.
// It returns the accepted spans, the number of rejected spans and the
// partial-success message ("" when nothing was rejected).
func Convert(td ptrace.Traces, lim Limits, now time.Time) (spans []model.Span, rejected int, msg string) {
	lim = lim.WithDefaults()
	c := &Converter{lim: lim, traces: newTraceCounter(min(lim.TrackedTraces, td.SpanCount()))}
	r := c.Convert(td, now)
	return r.Spans, r.Rejected, r.Message
}

// Convert validates and converts td: Admit(Decode(td, now)). now is the
// server time used for the future-skew check. The spans it accepts count
// towards MaxSpansPerTrace; if they are then not stored, call Forget so
// that a retry is not counted twice. td is only read.
func (c *Converter) Convert(td ptrace.Traces, now time.Time) Result {
	return c.Admit(c.Decode(td, now))
}

// Batch holds the spans of one decoded request, validated, repaired and
// limited but not yet counted against MaxSpansPerTrace. Pass it to Admit
// exactly once.
type Batch struct {
	st state
}

// SpanCount returns the number of spans in the request, valid or not.
func (b *Batch) SpanCount() int { return b.st.count }

// Admit counts the batch's valid spans towards MaxSpansPerTrace, rejects
// those past it and returns the result. The batch must not be used
// afterwards. If the accepted spans are then not stored, call Forget.
func (c *Converter) Admit(b *Batch) Result {
	st := &b.st
	if len(st.spans) > 0 {
		limit := uint32(min(int64(c.lim.MaxSpansPerTrace), math.MaxUint32))
		if cuts := c.traces.admit(st.spans, limit, nil); len(cuts) > 0 {
			for _, cut := range cuts {
				for k := cut.from; k < cut.to; k++ {
					if !st.reject(ReasonTooManySpansPerTrace) {
						continue
					}
					s := &st.spans[k]
					st.describe(st.locate(s.TraceID, s.SpanID), s.Name, s.SpanID,
						fmt.Sprintf("trace %s already has %d spans (max spans per trace)", s.TraceID, c.lim.MaxSpansPerTrace))
				}
			}
			st.spans = compact(st.spans, cuts)
		}
	}
	r := Result{Spans: st.spans, Rejected: st.rejected, ByReason: st.byReason}
	if st.rejected > 0 {
		r.Message = st.message()
	}
	*st = state{}
	return r
}

// Forget undoes the MaxSpansPerTrace counting of spans returned by Convert
// that were not stored after all.
func (c *Converter) Forget(spans []model.Span) { c.traces.forget(spans) }

func formatTime(ns uint64) string {
	if ns > math.MaxInt64 {
		return fmt.Sprintf("%d ns after 1970", ns)
	}
	return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339Nano)
}

// position locates a span in a request: zero-based indexes into
// resource_spans, scope_spans and spans.
type position struct{ res, scope, span int32 }

func (p position) before(q position) bool {
	if p.res != q.res {
		return p.res < q.res
	}
	if p.scope != q.scope {
		return p.scope < q.scope
	}
	return p.span < q.span
}

// early is a span rejected while decoding, remembered for locate.
type early struct {
	tid model.TraceID
	sid model.SpanID
	pos position
}

// state is the working memory of one request, shared by both decoders:
// the accepted spans and the arenas their attributes, events and links
// are carved from, the rejection counts and messages, and the limits.
type state struct {
	lim      *Limits
	maxStart uint64 // latest start time accepted
	proto    bool   // decoding protobuf: strings are views, text copies them
	capEnd   int    // protobuf: cap(request)-len(request), to compute bytes left
	perKiB   int64  // protobuf: expected attributes per KiB (0: use attrBytes)
	sc       *scratch

	count int          // spans in the request
	spans []model.Span // accepted spans
	pos   []position   // pos[i] is where spans[i] is in the request
	attrs attrArena
	evs   arena[model.Event]
	links arena[model.Link]

	rejected int
	byReason [NumReasons]int
	details  []string
	// early holds the first few spans rejected while decoding whose IDs
	// are not zero: the message names the first span of the request with
	// the IDs of a span over MaxSpansPerTrace, as it always did.
	early  [maxDetailed]early
	nearly int
}

func (st *state) init(lim *Limits, now time.Time, proto bool) {
	st.lim, st.proto = lim, proto
	st.maxStart = uint64(math.MaxInt64)
	if n := now.UnixNano(); n > 0 && uint64(n)+uint64(lim.MaxFutureSkew) < st.maxStart {
		st.maxStart = uint64(n) + uint64(lim.MaxFutureSkew)
	}
	st.sc = getScratch()
	if proto && st.sc.intern == nil {
		st.sc.intern = new(interner)
	}
}

// done releases the scratch memory.
func (st *state) done() {
	putScratch(st.sc)
	st.sc = nil
}

// check returns whether a span with these IDs and start time is valid,
// and if not, why.
func (st *state) check(tid model.TraceID, sid model.SpanID, start uint64) (Reason, bool) {
	switch {
	case tid.IsZero(), sid.IsZero():
		return ReasonZeroID, false
	case start == 0:
		return ReasonBadTime, false
	case start > st.maxStart:
		return ReasonFuture, false
	}
	return 0, true
}

// rejectSpan counts a span that check refused, and describes it if it is
// among the first few rejected. name may be a view.
func (st *state) rejectSpan(r Reason, pos position, name string, tid model.TraceID, sid model.SpanID, start uint64) {
	if r != ReasonZeroID && st.nearly < len(st.early) {
		st.early[st.nearly] = early{tid, sid, pos}
		st.nearly++
	}
	if !st.reject(r) {
		return
	}
	var problem string
	switch {
	case r == ReasonFuture:
		problem = fmt.Sprintf("start time %s is more than %s in the future", formatTime(start), st.lim.MaxFutureSkew)
	case r == ReasonBadTime:
		problem = "start_time_unix_nano is 0"
	case tid.IsZero():
		problem = "trace_id is all zeros"
	default:
		problem = "span_id is all zeros"
	}
	st.describe(pos, name, sid, problem)
}

// reject counts a rejected span; it returns whether the span should be
// described in the message.
func (st *state) reject(r Reason) bool {
	st.rejected++
	st.byReason[r]++
	return len(st.details) < maxDetailed
}

// describe adds a rejected span to the message.
func (st *state) describe(pos position, name string, sid model.SpanID, problem string) {
	name = truncUTF8(validUTF8(name), 64)
	st.details = append(st.details, fmt.Sprintf("resource %d, scope %d, span %d (name %q, span_id %s): %s",
		pos.res, pos.scope, pos.span, name, sid, problem))
}

// message renders "N spans rejected: d1; d2; d3; and M more".
func (st *state) message() string {
	var b strings.Builder
	if st.rejected == 1 {
		b.WriteString("1 span rejected: ")
	} else {
		fmt.Fprintf(&b, "%d spans rejected: ", st.rejected)
	}
	b.WriteString(strings.Join(st.details, "; "))
	if more := st.rejected - len(st.details); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

// locate returns the position of the first span in the request with the
// given IDs (before admit removed any).
func (st *state) locate(tid model.TraceID, sid model.SpanID) position {
	p, found := position{-1, -1, -1}, false
	for i := range st.spans {
		if st.spans[i].TraceID == tid && st.spans[i].SpanID == sid {
			p, found = st.pos[i], true
			break
		}
	}
	for _, e := range st.early[:st.nearly] {
		if e.tid == tid && e.sid == sid {
			if !found || e.pos.before(p) {
				p = e.pos
			}
			break
		}
	}
	return p
}

// newSpan appends an accepted span at pos and returns it; the pointer is
// valid until the next newSpan.
func (st *state) newSpan(pos position) *model.Span {
	if len(st.spans) == cap(st.spans) { // only if the count was off
		st.spans = append(st.spans, model.Span{})
	} else {
		st.spans = st.spans[:len(st.spans)+1]
	}
	st.pos = append(st.pos, pos)
	return &st.spans[len(st.spans)-1]
}

// beginAttrs starts an attribute list.
func (st *state) beginAttrs() {
	st.attrs.begin()
	st.sc.trunc = st.sc.trunc[:0]
}

// endAttrs finishes the attribute list begun with beginAttrs, of which the
// first kept of total attributes were added: it adds the markers and
// returns the list and its dropped count (dropped from the input plus
// those left out).
func (st *state) endAttrs(total, kept int, dropped uint32, invalidEnd bool) ([]model.Attr, uint32) {
	dropped = addSat(dropped, total-kept)
	if kept > 0 && len(st.sc.trunc) > 0 {
		st.sc.buf = stringArray(st.sc.buf[:0], st.sc.trunc)
		*st.attrs.push() = model.Attr{Key: TruncatedAttr, Type: model.TypeArray, Str: string(st.sc.buf)}
	}
	if invalidEnd {
		*st.attrs.push() = model.Attr{Key: InvalidEndTimeAttr, Type: model.TypeBool, Num: 1}
	}
	return st.attrs.end(), dropped
}

func addSat(a uint32, b int) uint32 {
	if b <= 0 {
		return a
	}
	if uint64(a)+uint64(b) > math.MaxUint32 {
		return math.MaxUint32
	}
	return a + uint32(b)
}

// compact removes the spans in cuts (ascending, disjoint ranges).
func compact(spans []model.Span, cuts []cut) []model.Span {
	w := cuts[0].from
	for i, c := range cuts {
		next := len(spans)
		if i+1 < len(cuts) {
			next = cuts[i+1].from
		}
		w += copy(spans[w:], spans[c.to:next])
	}
	clear(spans[w:])
	return spans[:w]
}
