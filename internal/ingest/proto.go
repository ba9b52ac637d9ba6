package ingest

import (
	"encoding/binary"
	"math"
	"time"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// The protobuf decoder reads an OTLP ExportTraceServiceRequest straight
// into model.Span, applying the validation, limits and repairs of Decode
// (shared code: state, attr, text, appendList, endAttrs) in the same pass.
// It accepts exactly the requests the pdata decoder accepts and produces
// the same spans, with these additions: values nested more than maxNesting
// levels deep and protobuf groups in messages that can hold attributes are
// refused (ErrTooDeep, ErrGroup).
//
// Where pdata merges repeated occurrences of a singular message field
// (resource, scope, status, an attribute's value), so does the decoder;
// where the last occurrence of a scalar field wins, it does too. Parts that
// end up unused (attributes, events and links past the limits, rejected
// spans, the deprecated instrumentation_library_spans when scope_spans is
// present, entity refs) are still checked, with skim.
//
// Strings are read as views of the request (see view) and copied only by
// state.text, after repair and truncation, so nothing returned aliases the
// request.

// view returns the bytes of b as a string without copying. The string is
// only valid while b is neither modified nor reused: it must never be
// stored (state.text copies it), only read.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// minSpanBytes is the smallest encoded span that can be valid (a trace ID,
// a span ID and a start time): 18 + 10 + 9 bytes.
const minSpanBytes = 37

// DecodeProto decodes an OTLP/protobuf ExportTraceServiceRequest (or the
// identical TracesData) and validates, repairs and limits its spans as
// Decode does. now is the server time used for the future-skew check. It
// returns an error, and no spans, if b is not a valid request; the error
// wraps ErrTooDeep or ErrGroup where those apply. b is only read, and may
// be reused once DecodeProto returns: nothing in the batch refers to it.
func (c *Converter) DecodeProto(b []byte, now time.Time) (*Batch, error) {
	bt := &Batch{}
	st := &bt.st
	st.init(&c.lim, now, true)
	defer st.done()
	st.capEnd = cap(b) - len(b)
	n := countSpans(b)
	st.spans = make([]model.Span, 0, n)
	st.pos = make([]position, 0, n)
	st.perKiB = c.attrsPerKiB.Load()
	st.attrs.hint = st.attrHint(len(b))
	defer c.learnAttrs(st, len(b))
	ri := 0
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return nil, posErr(j)
		}
		if f != 1 || w != wireLen {
			var err error
			if i, err = other(kRequest, f, w, b, j); err != nil {
				return nil, err
			}
			continue
		}
		s, e := length(b, j)
		if s < 0 {
			return nil, at(posErr(s), "resource_spans", ri)
		}
		if err := st.resourceSpans(b[s:e], int32(ri)); err != nil {
			return nil, at(err, "resource_spans", ri)
		}
		ri++
		i = e
	}
	return bt, nil
}

// attrHint is the number of attributes to expect in the next left bytes
// of a request: from the density of recent requests with a quarter more
// and a little for small requests, or, before any, one per attrBytes
// bytes (an upper bound for typical attributes). Too high a hint wastes
// the unused tail of the request's last arena chunk for as long as its
// spans are held; too low costs another chunk.
func (st *state) attrHint(left int) int {
	upper := left / attrBytes
	if st.perKiB <= 0 {
		return upper
	}
	return min(int(int64(left)*st.perKiB*5/4/1024)+16, upper)
}

// learnAttrs folds the attribute density of a decoded request of n bytes
// into the moving average (weight 1/8).
func (c *Converter) learnAttrs(st *state, n int) {
	if n < 1024 {
		return
	}
	d := int64(st.attrs.used) * 1024 / int64(n)
	old := c.attrsPerKiB.Load()
	if old > 0 {
		d = (7*old + d + 7) / 8
	}
	c.attrsPerKiB.Store(max(d, 1))
}

// countSpans returns the number of spans in request b that are long
// enough to be valid, reading only the enclosing messages. It stops at
// anything malformed (the decoder reports it).
func countSpans(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		f, rs, next := lenField(b, i)
		if next < 0 {
			break
		}
		i = next
		for j := 0; f == 1 && j < len(rs); {
			f, ss, next := lenField(rs, j)
			if next < 0 {
				break
			}
			j = next
			for k := 0; (f == 2 || f == 1000) && k < len(ss); {
				f, sp, next := lenField(ss, k)
				if next < 0 {
					break
				}
				k = next
				if f == 2 && len(sp) >= minSpanBytes {
					n++
				}
			}
		}
	}
	return n
}

// lenField reads the field at b[i:] of a message of a kind that can hold
// attributes; for a length-delimited field it returns the payload (nil for
// others). next is negative if b is malformed.
func lenField(b []byte, i int) (f int32, payload []byte, next int) {
	f, w, j := tag(b, i)
	if j < 0 {
		return 0, nil, j
	}
	if w != wireLen {
		next, err := skip(b, j, w, true)
		if err != nil {
			return 0, nil, posEOF
		}
		return f, nil, next
	}
	s, e := length(b, j)
	if s < 0 {
		return 0, nil, s
	}
	return f, b[s:e], e
}

// other handles field f of a message of kind k that the caller does not
// decode: an unknown field is skipped, a known one has the wrong wire type.
func other(k kind, f int32, w int, b []byte, j int) (int, error) {
	if spec(k, f).wire >= 0 {
		return 0, badWire(k, f, w)
	}
	return skip(b, j, w, attrMsg(k))
}

// badWire is the error for known field f of kind k sent with wire type w.
func badWire(k kind, f int32, w int) error {
	if attrMsg(k) && (w == wireSGroup || w == wireEGroup) {
		return ErrGroup
	}
	return errWireType{fieldName(k, f), w, int(spec(k, f).wire)}
}

// fields iterates over the fields of a message whose fields were checked:
// it stops at field number want with wire type Len and returns its payload
// bounds, or returns s < 0 at the end of b.
func fields(b []byte, i int, want int32) (s, e int) {
	for i < len(b) {
		f, w, j := tag(b, i)
		if j < 0 {
			return posEOF, posEOF
		}
		if f == want && w == wireLen {
			return length(b, j)
		}
		var err error
		if i, err = skip(b, j, w, true); err != nil {
			return posEOF, posEOF
		}
	}
	return posEOF, posEOF
}

func (st *state) resourceSpans(b []byte, ri int32) error {
	// Check the fields; find the schema URL and whether scope_spans is
	// used (if not, the deprecated field 1000 takes its place).
	var schema []byte
	hasScopeSpans := false
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		if (f > 3 && f != 1000) || w != wireLen {
			var err error
			if i, err = other(kResourceSpans, f, w, b, j); err != nil {
				return err
			}
			continue
		}
		s, e := length(b, j)
		if s < 0 {
			return at(posErr(s), fieldName(kResourceSpans, f), -1)
		}
		switch f {
		case 2:
			hasScopeSpans = true
		case 3:
			schema = b[s:e]
		}
		i = e
	}

	// The resource, merged from all its occurrences.
	res := &model.Resource{SchemaURL: st.text(view(schema))}
	st.beginAttrs()
	var dropped uint32
	nattrs := 0
	for s, e := fields(b, 0, 1); s >= 0; s, e = fields(b, e, 1) {
		if err := st.resource(b[s:e], &nattrs, &dropped); err != nil {
			return at(err, "resource", -1)
		}
	}
	res.Attrs, res.DroppedAttrs = st.endAttrs(nattrs, min(nattrs, st.lim.MaxAttrsPerSpan), dropped, false)

	// The spans.
	si := 0
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		if (f != 2 && f != 1000) || w != wireLen {
			var err error
			if i, err = skip(b, j, w, true); err != nil {
				return err
			}
			continue
		}
		s, e := length(b, j)
		if s < 0 {
			return posErr(s)
		}
		i = e
		if f == 1000 && hasScopeSpans { // ignored, but must be valid
			if err := skim(kScopeSpans, b[s:e], 0); err != nil {
				return at(err, "instrumentation_library_spans", -1)
			}
			continue
		}
		if err := st.scopeSpans(b[s:e], ri, int32(si), res); err != nil {
			return at(err, fieldName(kResourceSpans, f), si)
		}
		si++
	}
	return nil
}

// resource decodes one occurrence of the resource field: its attributes
// continue the list, its dropped count replaces the previous one.
func (st *state) resource(b []byte, nattrs *int, dropped *uint32) error {
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		switch {
		case (f == 1 || f == 3) && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			if f == 1 {
				if err := st.kvOrSkim(b[s:e], *nattrs); err != nil {
					return at(err, "attributes", *nattrs)
				}
				*nattrs++
			} else if err := skim(kEntityRef, b[s:e], 0); err != nil {
				return at(err, "entity_refs", -1)
			}
			i = e
		case f == 2 && w == wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			*dropped = uint32(v)
		default:
			var err error
			if i, err = other(kResource, f, w, b, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// kvOrSkim decodes attribute b, the n-th of its list, into the list being
// built if the list is not full yet, and only checks it otherwise.
func (st *state) kvOrSkim(b []byte, n int) error {
	if n < st.lim.MaxAttrsPerSpan {
		return st.kv(b, st.attrs.push())
	}
	return skim(kKeyValue, b, 0)
}

func (st *state) scopeSpans(b []byte, ri, si int32, res *model.Resource) error {
	var schema []byte
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		if f > 3 || w != wireLen {
			var err error
			if i, err = other(kScopeSpans, f, w, b, j); err != nil {
				return err
			}
			continue
		}
		s, e := length(b, j)
		if s < 0 {
			return at(posErr(s), fieldName(kScopeSpans, f), -1)
		}
		if f == 3 {
			schema = b[s:e]
		}
		i = e
	}

	// The scope, merged from all its occurrences.
	var name, version []byte
	var dropped uint32
	nattrs := 0
	st.beginAttrs()
	for s, e := fields(b, 0, 1); s >= 0; s, e = fields(b, e, 1) {
		if err := st.scope(b[s:e], &name, &version, &nattrs, &dropped); err != nil {
			return at(err, "scope", -1)
		}
	}
	scope := &model.Scope{
		Name:      st.text(view(name)),
		Version:   st.text(view(version)),
		SchemaURL: st.text(view(schema)),
	}
	scope.Attrs, scope.DroppedAttrs = st.endAttrs(nattrs, min(nattrs, st.lim.MaxAttrsPerSpan), dropped, false)

	pi := 0
	for s, e := fields(b, 0, 2); s >= 0; s, e = fields(b, e, 2) {
		st.count++
		if err := st.span(b[s:e], position{ri, si, int32(pi)}, res, scope); err != nil {
			return at(err, "spans", pi)
		}
		pi++
	}
	return nil
}

// scope decodes one occurrence of the scope field.
func (st *state) scope(b []byte, name, version *[]byte, nattrs *int, dropped *uint32) error {
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		switch {
		case f <= 3 && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			switch f {
			case 1:
				*name = b[s:e]
			case 2:
				*version = b[s:e]
			case 3:
				if err := st.kvOrSkim(b[s:e], *nattrs); err != nil {
					return at(err, "attributes", *nattrs)
				}
				*nattrs++
			}
			i = e
		case f == 4 && w == wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			*dropped = uint32(v)
		default:
			var err error
			if i, err = other(kScope, f, w, b, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// id reads a trace or span ID field: empty means all zeros, any length
// other than len(dst) is an error (as in pdata).
func id(dst []byte, b []byte, field string) error {
	switch len(b) {
	case len(dst):
		copy(dst, b)
	case 0:
		clear(dst)
	default:
		return errIDLength{field, len(b), len(dst)}
	}
	return nil
}

// span decodes one span. Its scalar fields and attributes are read in one
// pass (the attributes straight into the arena, rolled back if the span is
// rejected), its events and links in a second pass over their range.
func (st *state) span(b []byte, pos position, res *model.Resource, scope *model.Scope) error {
	var (
		tid                     model.TraceID
		sid, parent             model.SpanID
		traceState, name, msg   []byte
		kind, code              int8
		start, end              uint64
		flags                   uint32
		dAttrs, dEvents, dLinks uint32
		nattrs, nevents, nlinks int
		evFrom, evTo            int
		lkFrom, lkTo            int
	)
	st.attrs.hint = st.attrHint(cap(b) - st.capEnd)
	st.beginAttrs()
	for i := 0; i < len(b); {
		from := i
		var f int32
		var w, j int
		if c := b[i]; c-8 < 0x80-8 { // tag, inlined
			f, w, j = int32(c>>3), int(c&7), i+1
		} else if f, w, j = tagSlow(b, i); j < 0 {
			return posErr(j)
		}
		if f > maxSpecField || int(specs[kSpan][f].wire) != w {
			var err error
			if i, err = other(kSpan, f, w, b, j); err != nil {
				return err
			}
			continue
		}
		switch w {
		case wireLen:
			var s, e int
			if j < len(b) && b[j] < 0x80 && int(b[j]) < len(b)-j { // length, inlined
				s, e = j+1, j+1+int(b[j])
			} else if s, e = lengthSlow(b, j); s < 0 {
				return at(posErr(s), fieldName(kSpan, f), -1)
			}
			p := b[s:e]
			var err error
			switch f {
			case 9:
				if nattrs < st.lim.MaxAttrsPerSpan { // kvOrSkim, inlined
					err = st.kv(p, st.attrs.push())
				} else {
					err = skim(kKeyValue, p, 0)
				}
				if err != nil {
					err = at(err, "attributes", nattrs)
				}
				nattrs++
			case 1:
				err = id(tid[:], p, "trace_id")
			case 2:
				err = id(sid[:], p, "span_id")
			case 3:
				traceState = p
			case 4:
				err = id(parent[:], p, "parent_span_id")
			case 5:
				name = p
			case 11:
				if nevents == 0 {
					evFrom = from
				}
				nevents++
				evTo = e
			case 13:
				if nlinks == 0 {
					lkFrom = from
				}
				nlinks++
				lkTo = e
			case 15:
				if err = status(p, &msg, &code); err != nil {
					err = at(err, "status", -1)
				}
			}
			if err != nil {
				return err
			}
			i = e
		case wireI64:
			var v uint64
			if v, i = fixed64(b, j); i < 0 {
				return posErr(i)
			}
			if f == 7 {
				start = v
			} else {
				end = v
			}
		case wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			switch f {
			case 6:
				kind = int8(v)
			case 10:
				dAttrs = uint32(v)
			case 12:
				dEvents = uint32(v)
			case 14:
				dLinks = uint32(v)
			}
		case wireI32:
			if flags, i = fixed32(b, j); i < 0 {
				return posErr(i)
			}
		}
	}

	if r, ok := st.check(tid, sid, start); !ok {
		st.attrs.rollback()
		if err := st.eventsIn(b[:evTo], evFrom, nil); err != nil {
			return err
		}
		if err := st.linksIn(b[:lkTo], lkFrom, nil); err != nil {
			return err
		}
		st.rejectSpan(r, pos, view(name), tid, sid, start)
		return nil
	}

	invalidEnd := end < start || end > math.MaxInt64
	if invalidEnd {
		end = start
	}
	s := st.newSpan(pos)
	*s = model.Span{
		TraceID:       tid,
		SpanID:        sid,
		ParentID:      parent,
		TraceState:    st.text(view(traceState)),
		Flags:         flags,
		Name:          st.text(view(name)),
		Kind:          kind,
		StatusCode:    code,
		StatusMessage: st.text(view(msg)),
		Start:         int64(start),
		End:           int64(end),
		Resource:      res,
		Scope:         scope,
	}
	s.Attrs, s.DroppedAttrs = st.endAttrs(nattrs, min(nattrs, st.lim.MaxAttrsPerSpan), dAttrs, invalidEnd)

	ne := min(nevents, st.lim.MaxEventsPerSpan)
	s.DroppedEvents = addSat(dEvents, nevents-ne)
	if ne > 0 {
		s.Events = st.evs.take(ne)
	}
	if err := st.eventsIn(b[:evTo], evFrom, s.Events); err != nil {
		return err
	}
	nl := min(nlinks, st.lim.MaxLinksPerSpan)
	s.DroppedLinks = addSat(dLinks, nlinks-nl)
	if nl > 0 {
		s.Links = st.links.take(nl)
	}
	return st.linksIn(b[:lkTo], lkFrom, s.Links)
}

// status decodes one occurrence of a span's status.
func status(b []byte, msg *[]byte, code *int8) error {
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		switch {
		case f == 2 && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			*msg = b[s:e]
			i = e
		case f == 3 && w == wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			*code = int8(v)
		default:
			var err error
			if i, err = other(kStatus, f, w, b, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventsIn decodes the events in b[from:] (part of a span whose fields
// were checked) into out, and checks those past len(out).
func (st *state) eventsIn(b []byte, from int, out []model.Event) error {
	k := 0
	for s, e := fields(b, from, 11); s >= 0; s, e = fields(b, e, 11) {
		var err error
		if k < len(out) {
			err = st.event(&out[k], b[s:e])
		} else {
			err = skim(kEvent, b[s:e], 0)
		}
		if err != nil {
			return at(err, "events", k)
		}
		k++
	}
	return nil
}

func (st *state) event(ev *model.Event, b []byte) error {
	var name []byte
	var t uint64
	var dropped uint32
	n := 0
	st.beginAttrs()
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		switch {
		case f == 1 && w == wireI64:
			if t, i = fixed64(b, j); i < 0 {
				return posErr(i)
			}
		case (f == 2 || f == 3) && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			if f == 2 {
				name = b[s:e]
			} else {
				if err := st.kvOrSkim(b[s:e], n); err != nil {
					return at(err, "attributes", n)
				}
				n++
			}
			i = e
		case f == 4 && w == wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			dropped = uint32(v)
		default:
			var err error
			if i, err = other(kEvent, f, w, b, j); err != nil {
				return err
			}
		}
	}
	ev.Time = int64(t)
	ev.Name = st.text(view(name))
	ev.Attrs, ev.DroppedAttrs = st.endAttrs(n, min(n, st.lim.MaxAttrsPerSpan), dropped, false)
	return nil
}

// linksIn decodes the links in b[from:] (part of a span whose fields were
// checked) into out, and checks those past len(out).
func (st *state) linksIn(b []byte, from int, out []model.Link) error {
	k := 0
	for s, e := fields(b, from, 13); s >= 0; s, e = fields(b, e, 13) {
		var err error
		if k < len(out) {
			err = st.link(&out[k], b[s:e])
		} else {
			err = skim(kLink, b[s:e], 0)
		}
		if err != nil {
			return at(err, "links", k)
		}
		k++
	}
	return nil
}

func (st *state) link(l *model.Link, b []byte) error {
	var traceState []byte
	var dropped uint32
	n := 0
	st.beginAttrs()
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		switch {
		case f <= 4 && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			var err error
			switch f {
			case 1:
				err = id(l.TraceID[:], b[s:e], "trace_id")
			case 2:
				err = id(l.SpanID[:], b[s:e], "span_id")
			case 3:
				traceState = b[s:e]
			case 4:
				if err = st.kvOrSkim(b[s:e], n); err != nil {
					err = at(err, "attributes", n)
				}
				n++
			}
			if err != nil {
				return err
			}
			i = e
		case f == 5 && w == wireVarint:
			var v uint64
			if v, i = varint(b, j); i < 0 {
				return posErr(i)
			}
			dropped = uint32(v)
		case f == 6 && w == wireI32:
			if l.Flags, i = fixed32(b, j); i < 0 {
				return posErr(i)
			}
		default:
			var err error
			if i, err = other(kLink, f, w, b, j); err != nil {
				return err
			}
		}
	}
	l.TraceState = st.text(view(traceState))
	l.Attrs, l.DroppedAttrs = st.endAttrs(n, min(n, st.lim.MaxAttrsPerSpan), dropped, false)
	return nil
}

// kv decodes attribute (KeyValue) b into a.
func (st *state) kv(b []byte, a *model.Attr) error {
	var v value
	key, ok := scalarKV(b, &v)
	if !ok {
		var err error
		if key, err = keyValue(b, &v, true); err != nil {
			return err
		}
	}
	st.attr(a, key, &v)
	return nil
}

// scalarKV decodes the KeyValue encoding every SDK writes: the key, then
// the value holding one string, bool, int, double or bytes field, with
// one-byte lengths. ok is false for anything else (keyValue decodes it);
// where ok is true, keyValue would return the same. v must be zero.
func scalarKV(b []byte, v *value) (key string, ok bool) {
	if len(b) < 4 || b[0] != 1<<3|wireLen || b[1] >= 0x80 {
		return "", false
	}
	i := 2 + int(b[1])
	if i+2 > len(b) || b[i] != 2<<3|wireLen || int(b[i+1]) != len(b)-i-2 { // also rules out b[i+1] >= 0x80
		return "", false
	}
	key = view(b[2:i])
	a := b[i+2:] // the AnyValue
	if len(a) == 0 {
		return key, true
	}
	switch a[0] {
	case 1<<3 | wireLen, 7<<3 | wireLen: // string_value, bytes_value
		if len(a) < 2 || int(a[1]) != len(a)-2 {
			return "", false
		}
		if a[0] == 1<<3|wireLen {
			v.typ, v.str = model.TypeStr, view(a[2:])
		} else {
			v.typ, v.bin = model.TypeBytes, a[2:]
		}
	case 2<<3 | wireVarint, 3<<3 | wireVarint: // bool_value, int_value
		n, j := varint(a, 1)
		if j != len(a) {
			return "", false
		}
		if a[0] == 3<<3|wireVarint {
			v.typ, v.num = model.TypeInt, n
		} else {
			v.typ, v.num = model.TypeBool, min(n, 1)
		}
	case 4<<3 | wireI64: // double_value
		if len(a) != 9 {
			return "", false
		}
		v.typ, v.num = model.TypeDouble, binary.LittleEndian.Uint64(a[1:])
	default:
		return "", false
	}
	return key, true
}

// keyValue reads a KeyValue: it returns the key (a view) and sets v to
// the value. With check, it fails where pdata would; without, b must have
// been checked.
func keyValue(b []byte, v *value, check bool) (key string, err error) {
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return "", posErr(j)
		}
		switch {
		case f <= 2 && w == wireLen:
			s, e := length(b, j)
			if s < 0 {
				return "", posErr(s)
			}
			if f == 1 {
				key = view(b[s:e])
			} else if err := anyValue(v, b[s:e], check); err != nil {
				return "", err
			}
			i = e
		case f == 3 && w == wireVarint:
			if _, i = varint(b, j); i < 0 {
				return "", posErr(i)
			}
		default:
			if i, err = other(kKeyValue, f, w, b, j); err != nil {
				return "", err
			}
		}
	}
	return key, nil
}

// anyValue reads AnyValue b into v. Like pdata it merges: a later value
// field replaces the earlier one, a message with none leaves v as it was.
// With check it checks b, and the arrays and maps in it (nested at most
// maxNesting deep, counting from an attribute's value at depth 1).
func anyValue(v *value, b []byte, check bool) error {
	for i := 0; i < len(b); {
		f, w, j := tag(b, i)
		if j < 0 {
			return posErr(j)
		}
		if f > 8 || int(specs[kAnyValue][f].wire) != w {
			var err error
			if i, err = other(kAnyValue, f, w, b, j); err != nil {
				return err
			}
			continue
		}
		var n uint64
		switch w {
		case wireLen:
			s, e := length(b, j)
			if s < 0 {
				return posErr(s)
			}
			p := b[s:e]
			switch f {
			case 1:
				*v = value{typ: model.TypeStr, str: view(p)}
			case 5, 6:
				if check {
					k := kArrayValue
					if f == 6 {
						k = kKeyValueList
					}
					if err := skim(k, p, 1); err != nil {
						return err
					}
				}
				*v = value{typ: model.TypeArray, raw: p}
				if f == 6 {
					v.typ = model.TypeMap
				}
			case 7:
				*v = value{typ: model.TypeBytes, bin: p}
			}
			i = e
			continue
		case wireI64:
			n, i = fixed64(b, j)
		default:
			n, i = varint(b, j)
		}
		if i < 0 {
			return posErr(i)
		}
		switch f {
		case 2:
			*v = value{typ: model.TypeBool}
			if n != 0 {
				v.num = 1
			}
		case 3:
			*v = value{typ: model.TypeInt, num: n}
		case 4:
			*v = value{typ: model.TypeDouble, num: n}
		case 8: // string_value_strindex: pdata sees no value
			*v = value{}
		}
	}
	return nil
}

// countElems counts the elements of a checked ArrayValue or KeyValueList.
func countElems(raw []byte) int {
	n := 0
	for s, e := fields(raw, 0, 1); s >= 0; s, e = fields(raw, e, 1) {
		n++
	}
	return n
}

// elem reads the next element of a checked ArrayValue or KeyValueList
// (isMap) from raw[i:] into key and v; ok is false at the end.
func elem(raw []byte, i int, isMap bool, key *string, v *value) (next int, ok bool) {
	s, e := fields(raw, i, 1)
	if s < 0 {
		return len(raw), false
	}
	*v = value{}
	if isMap {
		*key, _ = keyValue(raw[s:e], v, false)
		*key = validUTF8(*key)
	} else {
		_ = anyValue(v, raw[s:e], false)
	}
	return e, true
}
