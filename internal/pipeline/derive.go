package pipeline

import (
	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Connection types of edges, as the Collector's servicegraph connector
// and Tempo name them.
const (
	ConnDirect    = ""
	ConnMessaging = "messaging_system"
	ConnDatabase  = "database"
	ConnVirtual   = "virtual_node"
)

// UserNode is the virtual caller of a root server span.
const UserNode = "user"

// spanRef is what the matcher keeps of a span waiting for its other side.
type spanRef struct {
	trace   model.TraceID
	span    model.SpanID
	service string
	peer    string // virtual peer name for client/producer spans, "" if none
	start   int64
	dur     int64
	kind    int8
	err     bool
	matched bool
	expires int64 // unix ns (wall clock)
}

type refKey struct {
	trace model.TraceID
	span  model.SpanID
}

// matcher pairs spans of one trace across batches: parents waiting for
// children in another service, and children waiting for their parent.
type matcher struct {
	parents  map[refKey]*spanRef   // by the parent's span ID
	children map[refKey][]*spanRef // by the parent span ID they wait for
	size     int
	max      int
}

func newMatcher(max int) *matcher {
	return &matcher{parents: map[refKey]*spanRef{}, children: map[refKey][]*spanRef{}, max: max}
}

func attrStr(attrs []model.Attr, key string) string {
	for i := range attrs {
		if attrs[i].Key == key && attrs[i].Type == model.TypeStr {
			return attrs[i].Str
		}
	}
	return ""
}

func firstAttr(attrs []model.Attr, keys ...string) string {
	for _, k := range keys {
		if v := attrStr(attrs, k); v != "" {
			return v
		}
	}
	return ""
}

// dbPeer returns the database node a client span talks to, or "" if the
// span is not a database call.
func dbPeer(s *model.Span) string {
	sys := firstAttr(s.Attrs, "db.system.name", "db.system")
	if sys == "" {
		return ""
	}
	if v := firstAttr(s.Attrs, "peer.service", "db.namespace", "db.name", "server.address", "net.peer.name"); v != "" {
		return v
	}
	return sys
}

// virtualPeer names the uninstrumented peer of a client or producer span.
func virtualPeer(s *model.Span) string {
	return firstAttr(s.Attrs, "peer.service", "server.address", "net.peer.name", "network.peer.address", "messaging.system")
}

// rootCaller names the caller of a root server or consumer span.
func rootCaller(s *model.Span) string {
	if v := firstAttr(s.Attrs, "peer.service", "client.address", "messaging.system"); v != "" && s.Kind == model.KindConsumer {
		return v
	}
	if v := attrStr(s.Attrs, "peer.service"); v != "" {
		return v
	}
	return UserNode
}

func serviceName(s *model.Span) string {
	if v := s.Service(); v != "" {
		return v
	}
	return UnknownService
}

// UnknownService names the service of spans whose resource has no
// service.name.
const UnknownService = "unknown_service"

func isCaller(kind int8) bool { return kind == model.KindClient || kind == model.KindProducer }

// countsAsCall says whether a parent and a child in another service make
// an edge: always, except a client or producer child of a client or
// producer parent (the parent's call counts once, by its server side or
// its virtual peer, not again for each outgoing call of the callee).
func countsAsCall(parentKind, childKind int8) bool {
	return !isCaller(parentKind) || !isCaller(childKind)
}

// batchIndex is scratch state reused between batches.
type batchIndex struct {
	byID     map[model.SpanID]int32 // span IDs of the batch (trace checked on lookup)
	hasChild []bool
	matched  []bool
	svc      []string
}

// derive adds a batch to d: span metrics for every span, and the edges the
// batch completes. now is the wall clock in unix ns.
func (p *Pipeline) derive(d Data, spans []model.Span, now int64) {
	bi := &p.scratch
	if bi.byID == nil {
		bi.byID = make(map[model.SpanID]int32, len(spans))
	}
	clear(bi.byID)
	bi.hasChild = resize(bi.hasChild, len(spans))
	bi.matched = resize(bi.matched, len(spans))
	bi.svc = bi.svc[:0]
	var (
		lastRes *model.Resource
		lastSvc string
	)
	for i := range spans {
		s := &spans[i]
		if s.Resource != lastRes || i == 0 {
			lastRes, lastSvc = s.Resource, serviceName(s)
		}
		bi.svc = append(bi.svc, lastSvc)
		bi.byID[s.SpanID] = int32(i)
		p.spanMetrics(d, s, lastSvc)
	}
	for i := range spans {
		s := &spans[i]
		if s.ParentID.IsZero() {
			continue
		}
		if pi, ok := bi.parentIn(spans, s); ok {
			bi.hasChild[pi] = true
			if bi.svc[pi] != bi.svc[i] && countsAsCall(spans[pi].Kind, s.Kind) {
				ps := &spans[pi]
				p.edge(d, p.ref(ps, bi.svc[pi], now), p.ref(s, bi.svc[i], now))
				bi.matched[pi] = true
			}
		}
	}
	m := p.match
	for i := range spans {
		s := &spans[i]
		svc := bi.svc[i]
		// A client span to a database: the database has no spans of its
		// own, so the edge is complete now.
		if s.Kind == model.KindClient {
			if db := dbPeer(s); db != "" {
				p.virtualEdge(d, EdgeKey{svc, db, ConnDatabase}, s)
				continue
			}
		}
		// This span as a child whose parent is not in the batch.
		if s.ParentID.IsZero() {
			if s.Kind == model.KindServer || s.Kind == model.KindConsumer {
				p.virtualEdge(d, EdgeKey{rootCaller(s), svc, ConnVirtual}, s)
			}
		} else if _, ok := bi.parentIn(spans, s); !ok {
			pk := refKey{s.TraceID, s.ParentID}
			if par := m.parents[pk]; par != nil {
				if par.service != svc && countsAsCall(par.kind, s.Kind) {
					p.edge(d, par, p.ref(s, svc, now))
					par.matched = true
				}
			} else if m.size < m.max {
				m.children[pk] = append(m.children[pk], p.ref(s, svc, now))
				m.size++
			} else {
				p.dropped.Add(1)
			}
		}
		// This span as a parent of children that arrived earlier.
		k := refKey{s.TraceID, s.SpanID}
		if kids := m.children[k]; kids != nil {
			me := p.ref(s, svc, now)
			for _, c := range kids {
				if c.service != svc && countsAsCall(s.Kind, c.kind) {
					p.edge(d, me, c)
					bi.matched[i] = true
				}
			}
			delete(m.children, k)
			m.size -= len(kids)
		}
		// Keep it for children still to come: callers always (their
		// server side usually lives elsewhere), other spans when they
		// have no child in this batch (a call from an uninstrumented
		// client library looks like that).
		if (isCaller(s.Kind) && !bi.matched[i]) || (!isCaller(s.Kind) && !bi.hasChild[i]) {
			if m.parents[k] != nil {
				continue
			}
			if m.size >= m.max {
				p.dropped.Add(1)
				continue
			}
			if !isCaller(s.Kind) && m.size >= m.max/4 {
				// Leaves without a caller kind are kept on speculation
				// (most never get a remote child): they may use only a
				// quarter of the room, so that callers always find some
				// (and at high rates the room, always full, costs memory
				// and the wait file written at every flush).
				continue
			}
			r := p.ref(s, svc, now)
			if isCaller(s.Kind) {
				r.peer = virtualPeer(s)
			}
			m.parents[k] = r
			m.size++
		}
	}
}

// parentIn returns the index of s's parent in the batch.
func (bi *batchIndex) parentIn(spans []model.Span, s *model.Span) (int32, bool) {
	pi, ok := bi.byID[s.ParentID]
	if !ok || spans[pi].TraceID != s.TraceID {
		return 0, false
	}
	return pi, true
}

func resize(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func (p *Pipeline) ref(s *model.Span, svc string, now int64) *spanRef {
	return &spanRef{trace: s.TraceID, span: s.SpanID, service: svc, start: s.Start, dur: s.Duration(),
		kind: s.Kind, err: s.StatusCode == model.StatusError, expires: now + int64(p.cfg.EdgeWait)}
}

// spanStat returns s's series in d, creating it (or, past
// MaxSeriesPerMinute, its service's overflow series; counted when count).
func (p *Pipeline) spanStat(d Data, s *model.Span, svc string, count bool) *SpanStat {
	m := d.minute(s.Start / 60e9)
	k := SpanKey{Service: svc, Name: s.Name, Kind: s.Kind, Status: s.StatusCode}
	st := m.Spans[k]
	if st == nil {
		if len(m.Spans) >= p.cfg.MaxSeriesPerMinute {
			// Too many span names (an ID in the name, typically): fold the
			// rest of the minute into one series per service.
			k.Name = OverflowName
			if count {
				p.overflow.Add(1)
			}
			st = m.Spans[k]
		}
		if st == nil {
			st = &SpanStat{}
			m.Spans[k] = st
		}
	}
	return st
}

func (p *Pipeline) spanMetrics(d Data, s *model.Span, svc string) {
	st := p.spanStat(d, s, svc, true)
	st.Calls++
	isErr := s.StatusCode == model.StatusError
	if isErr {
		st.Errors++
	}
	dur := s.Duration()
	st.Latency.Add(dur)
	if !p.cfg.KeptExemplars {
		st.add(Exemplar{TraceID: s.TraceID, SpanID: s.SpanID, Start: s.Start, Duration: dur, Error: isErr})
	}
}

// edge records a call from parent to child (different services). The
// caller's latency is the parent's when the parent is a client or
// producer span, else the child's; it fails when the child does or a
// client/producer parent does.
func (p *Pipeline) edge(d Data, par, child *spanRef) {
	conn := ConnDirect
	if par.kind == model.KindProducer && child.kind == model.KindConsumer {
		conn = ConnMessaging
	}
	clientDur, start := child.dur, child.start
	failed := child.err
	if isCaller(par.kind) {
		clientDur, start = par.dur, par.start
		failed = failed || par.err
	}
	p.addEdge(d, EdgeKey{par.service, child.service, conn}, start, clientDur, child.dur, failed,
		Exemplar{TraceID: child.trace, SpanID: child.span, Start: child.start, Duration: child.dur, Error: failed})
}

// virtualEdge records an edge whose other node is not instrumented: both
// latencies are the span's own.
func (p *Pipeline) virtualEdge(d Data, k EdgeKey, s *model.Span) {
	failed := s.StatusCode == model.StatusError
	dur := s.Duration()
	p.addEdge(d, k, s.Start, dur, dur, failed,
		Exemplar{TraceID: s.TraceID, SpanID: s.SpanID, Start: s.Start, Duration: dur, Error: failed})
}

func (p *Pipeline) addEdge(d Data, k EdgeKey, start, clientDur, serverDur int64, failed bool, ex Exemplar) {
	m := d.minute(start / 60e9)
	st := m.Edges[k]
	if st == nil {
		if len(m.Edges) >= p.cfg.MaxSeriesPerMinute {
			// Too many peers (addresses as peer names, typically).
			k.Server = OverflowName
			p.overflow.Add(1)
			st = m.Edges[k]
		}
		if st == nil {
			st = &EdgeStat{}
			m.Edges[k] = st
		}
	}
	st.Calls++
	if failed {
		st.Errors++
	}
	st.Client.Add(clientDur)
	st.Server.Add(serverDur)
	if !p.cfg.KeptExemplars {
		st.add(ex)
	}
}

// expire drops what waited longer than the edge wait. A client or producer
// span that found no child in another service becomes an edge to its
// virtual peer when it names one; otherwise it is counted as expired and
// adds nothing (neither a success nor a failure).
func (p *Pipeline) expire(d Data, now int64) {
	m := p.match
	for k, r := range m.parents {
		if r.expires > now {
			continue
		}
		delete(m.parents, k)
		m.size--
		if !isCaller(r.kind) || r.matched {
			continue
		}
		if r.peer != "" {
			p.addEdge(d, EdgeKey{r.service, r.peer, ConnVirtual}, r.start, r.dur, r.dur, r.err,
				Exemplar{TraceID: r.trace, SpanID: r.span, Start: r.start, Duration: r.dur, Error: r.err})
			continue
		}
		p.expired.Add(1)
	}
	for k, kids := range m.children {
		keep := kids[:0]
		for _, c := range kids {
			if c.expires > now {
				keep = append(keep, c)
				continue
			}
			m.size--
			if c.kind == model.KindServer || c.kind == model.KindConsumer {
				p.expired.Add(1)
			}
		}
		if len(keep) == 0 {
			delete(m.children, k)
		} else {
			m.children[k] = keep
		}
	}
}
