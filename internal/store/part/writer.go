package part

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrOutOfOrder is returned (wrapped) by Writer.Add for a span that sorts
// before the previous one.
var ErrOutOfOrder = errors.New("span out of (trace ID, start) order")

// ErrWriterClosed is returned by Writer calls after Finish or Abort.
var ErrWriterClosed = errors.New("part writer closed")

// wspan is what a Writer keeps of a span until its granule is flushed; the
// attributes, events, links and misc fields are already encoded.
type wspan struct {
	spanID   model.SpanID
	parentID model.SpanID
	start    int64
	end      int64
	name     string
	nameIdx  int32 // -1: stored inline
	kind     int8
	status   int8
	res      uint32
	scope    uint32
	heavy    [numHeavy]uint32 // offsets into chunk.heavy (pending trace only)
}

// chunk is a sequence of spans with their encoded heavy columns: the
// current granule, or the spans of the current trace not yet in it.
type chunk struct {
	spans  []wspan
	runs   []run // granule only
	heavy  [numHeavy][]byte
	tokens []uint64 // token hashes of span, event and link attributes
	cont   bool     // first trace continues a trace of the previous granule
}

type run struct {
	id    model.TraceID
	n     int
	heavy [numHeavy]int // bytes of the run in each heavy column
}

func (c *chunk) bytes() int {
	n := 32 * len(c.spans)
	for _, h := range c.heavy {
		n += len(h)
	}
	return n
}

// granBytes and pendBytes are the uncompressed sizes of the current
// granule and of the pending trace, value dictionary entries included.
func (w *Writer) granBytes() int { return w.gran.bytes() + w.values.markBytes }
func (w *Writer) pendBytes() int { return w.pend.bytes() + w.values.pendingBytes() }

func (c *chunk) reset() {
	c.spans = c.spans[:0]
	c.runs = c.runs[:0]
	for i := range c.heavy {
		c.heavy[i] = c.heavy[i][:0]
	}
	c.tokens = c.tokens[:0]
	c.cont = false
}

// opKey packs a (service, span name index, kind) combination.
func opKey(svc uint32, name int32, kind int8) uint64 {
	return uint64(svc)<<24 | uint64(name)<<8 | uint64(uint8(kind))
}

type dictEntry struct {
	svc    uint32   // resources: service index
	tokens []uint64 // attribute token hashes
	attrs  []model.Attr
	spans  int64 // resources: number of spans (for top values)
	mark   int   // last granule that used it
	maxDur int64 // resources: longest span duration in granule mark
}

// interner deduplicates resources or scopes by their encoding. Callers
// pass the same pointer for many spans, so it caches pointers too.
type interner struct {
	ptrs    ptrCache
	byPtr   map[unsafe.Pointer]uint32
	byEnc   map[string]uint32
	enc     []byte // concatenated encodings, in index order
	entries []dictEntry
}

func newInterner() interner {
	return interner{byPtr: map[unsafe.Pointer]uint32{}, byEnc: map[string]uint32{}}
}

// cached returns the index of the entry last interned for pointer p.
func (in *interner) cached(p unsafe.Pointer) (uint32, bool) {
	sl := in.ptrs.slot(p)
	if sl.v != 0 && sl.p == p {
		return sl.v - 1, true
	}
	if i, ok := in.byPtr[p]; ok {
		*sl = ptrSlot{p, i + 1}
		return i, true
	}
	return 0, false
}

// Writer writes one part file. Spans must be added in (trace ID, start)
// order within a section (NewSection starts the next one); spans with equal
// keys keep the order they were added in. The
// Writer flushes a granule whenever it is full, so its memory is bounded by
// about one granule plus the part-level dictionaries (resources, scopes,
// attribute keys, span names, top values) and 8 bytes per trace for the
// trace-ID filter. A Writer is not safe for concurrent use.
type Writer struct {
	opts WriteOptions
	path string
	tmp  string
	f    *os.File
	bw   *bufio.Writer
	off  int64
	err  error // sticky write error

	keys      keyDict
	names     map[string]uint32
	nameList  []string
	nameCache strCache
	services  map[string]uint32
	svcList   []string
	res       interner
	scopes    interner
	ops       map[uint64]struct{} // opKey
	opCache   [256]uint64         // opKey+1 of ops known to be in ops
	opsTrunc  bool
	top       *topValues
	th        tokenHasher
	// gen is the token generation: it changes whenever the pending chunk
	// starts afresh, so that keyInfo.gen and topEntry.gen tell whether a
	// token is already in the pending chunk's list.
	gen uint32

	spans, traces    int64
	dups             int64
	minStart         int64
	maxStart, maxEnd int64
	minDur, maxDur   int64
	traceHashes      []uint64

	// Sections: the closed ones (bloom not set until finish), the end of
	// each one's hashes in traceHashes, and where the current one began.
	sections   []section
	secHashEnd []int
	secG0      int
	secTraces0 int64

	havePrev  bool
	prevID    model.TraceID
	prevStart int64
	pend      chunk     // spans of the current trace not yet in gran
	gran      chunk     // the current granule
	values    valueDict // value dictionary of gran (and of pend until it is committed)
	granules  []granule

	shapes shapeDict
	memos  []*spanMemo // by name index and kind (see attrMemos)
	// Value dictionary entries and bytes before the span being added.
	spanVals, spanValBytes int
	deferred               []rawAttr // attributes whose tokens wait for keepSpan

	// Scratch buffers.
	cols              [firstHeavy][]byte
	valCol            []byte
	rows              []byte   // valueDict.rebase
	rowStarts         []uint32 // valueDict.rebase
	out               []byte
	tagBuf, tagBuf2   []uint64 // shapes
	shapeEnc, rowVals []byte
	set               []uint64 // hash set for distinct tokens
	parentIdx         spanIndex
	svcScratch        []uint32
	svcMaxDur         []int64  // by service index, for the granule being flushed
	resScratch        []uint32 // resources of the granule being flushed
	scratch           []byte
}

// Create starts writing a part that Finish will move to path. It writes to
// path+".tmp" (replacing any such file) until then.
func Create(path string, opts WriteOptions) (*Writer, error) {
	opts = opts.withDefaults()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	w := &Writer{
		opts:     opts,
		path:     path,
		tmp:      tmp,
		f:        f,
		bw:       bufio.NewWriterSize(f, 1<<20),
		keys:     keyDict{index: map[string]uint32{}},
		names:    map[string]uint32{},
		services: map[string]uint32{},
		res:      newInterner(),
		scopes:   newInterner(),
		ops:      map[uint64]struct{}{},
		top:      newTopValues(opts.TopValues),
		gen:      1,
		values:   newValueDict(),
		shapes:   newShapeDict(),
	}
	w.write(append([]byte(magic), Version))
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	return w, nil
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("write part %s: %w", w.tmp, err)
		return
	}
	w.off += int64(len(b))
}

// Duplicates returns the number of spans Add dropped as exact duplicates.
func (w *Writer) Duplicates() int64 { return w.dups }

func validAttrs(attrs []model.Attr) bool {
	for i := range attrs {
		if attrs[i].Type > model.TypeMap {
			return false
		}
	}
	return true
}

// spanSize checks the attribute types of s, its events and links, and
// returns an upper bound of the bytes s adds to a part's heavy columns and
// value dictionary, name included (what keepSpan measures), the resource
// and scope aside (they are checked when first interned, see Add). The
// constants cover every varint and length prefix with room to spare.
func spanSize(s *model.Span) (int, error) {
	n := 128 + len(s.Name) + len(s.TraceState) + len(s.StatusMessage)
	var ok bool
	if n, ok = attrsSize(n, s.Attrs); !ok {
		return 0, errors.New("attribute of unknown type")
	}
	for i := range s.Events {
		e := &s.Events[i]
		if n, ok = attrsSize(n+64+len(e.Name), e.Attrs); !ok {
			return 0, errors.New("event attribute of unknown type")
		}
	}
	for i := range s.Links {
		l := &s.Links[i]
		if n, ok = attrsSize(n+128+len(l.TraceState), l.Attrs); !ok {
			return 0, errors.New("link attribute of unknown type")
		}
	}
	return n, nil
}

// attrsSize adds an upper bound of the encoded size of attrs to n and
// reports whether every attribute has a known type.
func attrsSize(n int, attrs []model.Attr) (int, bool) {
	for i := range attrs {
		a := &attrs[i]
		if a.Type > model.TypeMap {
			return n, false
		}
		n += 48 + len(a.Key) + len(a.Str)
	}
	return n, true
}

// Add appends a copy of s; s is not retained (strings aside, which are
// immutable). It returns an error wrapping ErrOutOfOrder, without adding
// the span, if s sorts before the previous span, and an error for a span
// that cannot be stored (an attribute of unknown type, more than 16 MiB
// of attributes, events, links and strings); the Writer stays usable after
// these. A span that is an exact
// duplicate of a span already added for the same trace and start time (same
// span ID and same encoding, resource and scope included) is dropped and
// counted in Duplicates (for a trace bigger than a granule, only within the
// granule-sized chunk being filled). Errors writing the file are sticky: every later
// call returns them.
func (w *Writer) Add(s *model.Span) error {
	if err := w.checkOrder(&s.TraceID, s.Start, s.SpanID); err != nil {
		return err
	}
	// Every check that can reject s comes before startSpan: once it has
	// committed the previous trace, that trace can take no more spans.
	size, err := spanSize(s)
	if err != nil {
		return fmt.Errorf("span %s of trace %s: %w", s.SpanID, s.TraceID, err)
	}
	if size > maxSpanBytes {
		return fmt.Errorf("span %s of trace %s: %d bytes of attributes, events, links and strings, more than %d", s.SpanID, s.TraceID, size, maxSpanBytes)
	}
	res, resOK := w.res.cached(unsafe.Pointer(s.Resource))
	scope, scopeOK := w.scopes.cached(unsafe.Pointer(s.Scope))
	if !resOK && s.Resource != nil && !validAttrs(s.Resource.Attrs) {
		return fmt.Errorf("span %s of trace %s: resource attribute of unknown type", s.SpanID, s.TraceID)
	}
	if !scopeOK && s.Scope != nil && !validAttrs(s.Scope.Attrs) {
		return fmt.Errorf("span %s of trace %s: scope attribute of unknown type", s.SpanID, s.TraceID)
	}
	newTrace := w.startSpan(&s.TraceID)
	if w.err != nil {
		return w.err
	}
	if !resOK {
		res = w.internResource(s.Resource)
	}
	if !scopeOK {
		scope = w.internScope(s.Scope)
	}
	ws := wspan{
		spanID: s.SpanID, parentID: s.ParentID, start: s.Start, end: s.End,
		name: s.Name, nameIdx: w.nameRef(s.Name, true), kind: s.Kind, status: s.StatusCode,
		res: res, scope: scope,
	}
	p := &w.pend
	for c := range p.heavy {
		ws.heavy[c] = uint32(len(p.heavy[c]))
	}
	w.spanVals, w.spanValBytes = len(w.values.ents), len(w.values.data)
	p.heavy[0] = w.appendAttrs(p.heavy[0], s.Attrs, w.attrMemos(ws.nameIdx, s.Kind, len(s.Attrs)))
	p.heavy[1] = model.AppendEvents(p.heavy[1], s.Events, s.Start)
	p.heavy[2] = model.AppendLinks(p.heavy[2], s.Links)
	p.heavy[3] = appendMisc(p.heavy[3], s)
	if keep, err := w.keepSpan(&ws, &s.TraceID, newTrace); !keep {
		return err
	}

	w.deferredTokens()
	for i := range s.Events {
		p.tokens = w.th.add(p.tokens, s.Events[i].Attrs)
	}
	for i := range s.Links {
		p.tokens = w.th.add(p.tokens, s.Links[i].Attrs)
	}
	w.countSpan(&ws)
	return nil
}

// attrMemos returns the memos for spans of name nameIdx and kind with n
// attributes, nil if there are none. Client and server spans of an RPC
// share a name but not their attributes, hence the kind.
func (w *Writer) attrMemos(nameIdx int32, kind int8, n int) *spanMemo {
	if nameIdx < 0 || nameIdx >= maxMemoNames || kind < 0 || kind > 7 {
		return nil
	}
	i := int(nameIdx)<<3 | int(kind)
	for i >= len(w.memos) {
		w.memos = append(w.memos, nil)
	}
	m := w.memos[i]
	if m == nil {
		m = &spanMemo{}
		w.memos[i] = m
	}
	if len(m.attrs) < n && len(m.attrs) < maxMemoAttrs {
		m.attrs = append(m.attrs, make([]attrMemo, min(n, maxMemoAttrs)-len(m.attrs))...)
	}
	return m
}

// checkOrder returns an error if a span (trace id, start) may not be added
// now.
func (w *Writer) checkOrder(id *model.TraceID, start int64, spanID model.SpanID) error {
	if w.f == nil {
		return ErrWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.havePrev {
		if c := compareID(id, &w.prevID); c < 0 || c == 0 && start < w.prevStart {
			return fmt.Errorf("span %s of trace %s (start %d) after trace %s (start %d): %w",
				spanID, *id, start, w.prevID, w.prevStart, ErrOutOfOrder)
		}
	}
	return nil
}

// startSpan prepares the pending chunk for a span of trace id (which
// checkOrder accepted): a new trace commits the pending one, a trace that
// outgrew a granule is cut. It reports whether id starts a new trace.
func (w *Writer) startSpan(id *model.TraceID) bool {
	newTrace := !w.havePrev || *id != w.prevID
	if newTrace {
		w.commitPending()
	} else if len(w.pend.spans) >= w.opts.GranuleSpans || w.pendBytes() >= w.opts.GranuleBytes {
		w.flushPendingChunk()
	}
	return newTrace
}

// nameRef returns the footer name index of name, adding it if there is
// room, or -1 (stored inline). stable says whether name may be kept.
func (w *Writer) nameRef(name string, stable bool) int32 {
	if v := w.nameCache.get(name); v != 0 {
		return int32(v - 1)
	}
	if i, ok := w.names[name]; ok {
		w.nameCache.put(w.nameList[i], i+1)
		return int32(i)
	}
	if len(w.nameList) >= maxNames || len(name) > maxNameLen {
		return -1
	}
	if !stable {
		name = strings.Clone(name)
	}
	i := uint32(len(w.nameList))
	w.nameList = append(w.nameList, name)
	w.names[name] = i
	w.nameCache.put(name, i+1)
	return int32(i)
}

// keepSpan finishes adding ws, whose heavy columns are the tail of the
// pending chunk: it drops it (reporting false) if it is an exact duplicate,
// or, with an error, too big (only addRaw can get there: Add checks sizes
// first); otherwise it appends it.
func (w *Writer) keepSpan(ws *wspan, id *model.TraceID, newTrace bool) (bool, error) {
	p := &w.pend
	size := len(ws.name) + len(w.values.data) - w.spanValBytes
	for c := range p.heavy {
		size += len(p.heavy[c]) - int(ws.heavy[c])
	}
	if size > maxSpanBytes {
		w.truncatePending(ws)
		return false, fmt.Errorf("span %s of trace %s: %d bytes encoded, more than %d", ws.spanID, *id, size, maxSpanBytes)
	}
	if w.isDuplicate(ws) {
		w.truncatePending(ws)
		w.dups++
		return false, nil
	}
	if newTrace {
		w.prevID = *id
		w.havePrev = true
		w.traces++
		w.traceHashes = append(w.traceHashes, bloom.Hash(id[:]))
	}
	w.prevStart = ws.start
	p.spans = append(p.spans, *ws)
	return true, nil
}

// appendAttrs appends the attrs-column entry of attrs: the shape (the
// index+1 of the span's tags in the shape table, or 0 followed by the
// shape), then per attribute the key as a string if it has no dictionary
// ref, and the value: for a string with a dictionary key, uvarint(v) for the
// v-th value of that key in the value dictionary, or 0 followed by the
// string if it is full; otherwise as model.AppendAttr writes it. sm (may
// be nil) are the memos of the span's name and kind.
//
// It also adds the attributes' tokens (see keyTokens), except for those
// that count for top values now, which it leaves in w.deferred for
// deferredTokens. The attribute types must have been checked.
func (w *Writer) appendAttrs(dst []byte, attrs []model.Attr, sm *spanMemo) []byte {
	keys, vd := &w.keys, &w.values
	w.deferred = w.deferred[:0]
	vals, tags := w.rowVals[:0], w.tagBuf[:0]
	var memos []attrMemo
	match := false
	if sm != nil {
		memos = sm.attrs
		match = sm.shape != 0 && sm.n == len(attrs)
	}
	for i := range attrs {
		a := &attrs[i]
		var m *attrMemo
		if i < len(memos) {
			m = &memos[i]
		}
		var ref uint32
		if m != nil && m.ref != 0 && (same(m.srcKey, a.Key) || m.key == a.Key) {
			ref = m.ref
			m.srcKey = a.Key
			if m.typ != a.Type {
				match = false
				m.typ = a.Type
			}
		} else {
			match = false
			ref = keys.ref(a.Key, true)
			if m != nil {
				*m = attrMemo{srcKey: a.Key, ref: ref, typ: a.Type} // ref 0: never a hit
				if ref != 0 {
					m.key = keys.keys[ref-1]
				}
			}
		}
		if !match {
			// Tags are only needed when the shape memo fails; the
			// attributes before this one matched their memos.
			for j := len(tags); j < i; j++ {
				tags = append(tags, uint64(memos[j].ref)<<3|uint64(memos[j].typ&7))
			}
			tags = append(tags, uint64(ref)<<3|uint64(a.Type&7))
		}
		if ref == 0 {
			vals = model.AppendString(vals, a.Key)
			w.deferred = append(w.deferred, rawAttr{key: a.Key, typ: a.Type, str: a.Str, num: a.Num})
			if a.Type == model.TypeStr {
				vals = append(vals, 0)
			}
			vals = appendValue(vals, a)
			continue
		}
		ki := &w.keys.info[ref-1]
		switch {
		case ki.gen != w.gen:
			w.keyTokens(ref, a.Type, a.Str, a.Num)
		case a.Type == model.TypeStr:
			if !ki.topDone {
				w.keyTokens(ref, a.Type, a.Str, a.Num)
			}
		case a.Type == model.TypeInt || a.Type == model.TypeBool:
			if nm := &ki.nums[a.Num%numMemos]; !nm.ok || nm.num != a.Num || nm.typ != a.Type || nm.gen != w.gen {
				w.keyTokens(ref, a.Type, a.Str, a.Num)
			}
		}
		if a.Type == model.TypeStr {
			var k int
			if m != nil && m.gen == vd.gen && (same(m.srcVal, a.Str) || m.val == a.Str) {
				k = int(m.idx)
				vd.ents[k].count++
				m.srcVal = a.Str
			} else if k = vd.ref(ref, a.Str); k >= 0 && m != nil {
				m.val, m.srcVal, m.idx, m.gen = vd.str(k), a.Str, int32(k), vd.gen
			}
			if k >= 0 {
				vals = binary.AppendUvarint(vals, uint64(vd.ents[k].local))
				continue
			}
			w.deferred = append(w.deferred, rawAttr{ref: ref, key: ki.key, typ: a.Type, str: a.Str})
			vals = append(vals, 0)
		}
		vals = appendValue(vals, a)
	}
	w.rowVals, w.tagBuf = vals, tags
	if match {
		dst = binary.AppendUvarint(dst, uint64(sm.shape))
	} else {
		var idx int
		dst, idx = w.appendShapeRef(dst, tags)
		if sm != nil {
			// Every position now has a memo with the span's ref and type
			// (a ref of 0 never matches).
			sm.n, sm.shape = len(attrs), 0
			if idx >= 0 && len(attrs) <= len(memos) {
				sm.shape = int32(idx + 1)
			}
		}
	}
	return append(dst, vals...)
}

// appendShapeRef appends the shape reference of tags: its index+1 in the
// shape table (added if there is room), or 0 and the shape. It returns the
// index, or -1.
func (w *Writer) appendShapeRef(dst []byte, tags []uint64) ([]byte, int) {
	w.shapeEnc = appendShape(w.shapeEnc[:0], tags)
	if i := w.shapes.lookup(w.shapeEnc, tags); i >= 0 {
		return binary.AppendUvarint(dst, uint64(i)+1), i
	}
	dst = append(dst, 0)
	return append(dst, w.shapeEnc...), -1
}

// keyTokens adds the tokens of an attribute with key ref ref (not 0) to the
// pending chunk, except those of a string value (the value dictionary's,
// or deferred), reserves top-value counters for a string key, and returns
// the key's entry.
//
// A span's tokens may be added before keepSpan decides whether to keep it:
// the tokens of a dropped duplicate are those of the span it duplicates.
func (w *Writer) keyTokens(ref uint32, typ model.ValueType, str string, num uint64) *keyInfo {
	ki := &w.keys.info[ref-1]
	gen := w.gen
	p := &w.pend
	if ki.gen != gen {
		ki.gen = gen
		p.tokens = append(p.tokens, ki.hash)
	}
	switch typ {
	case model.TypeStr:
		if !ki.topDone && len(str) <= maxTopValueLen {
			ki.top, ki.topDone = w.top.key(ki.key), true // reserve the key in first-seen order
		}
	case model.TypeInt, model.TypeBool:
		// Most numeric attributes (ports, status codes, counts) repeat.
		m := &ki.nums[num%numMemos]
		if m.ok && m.typ == typ && m.num == num {
			if m.gen != gen {
				m.gen = gen
				p.tokens = append(p.tokens, m.hash)
			}
			break
		}
		h, _ := w.th.value(ki.key, typ, "", num)
		*m = numMemo{ok: true, typ: typ, gen: gen, num: num, hash: h}
		p.tokens = append(p.tokens, h)
	}
	return ki
}

// deferredTokens adds the tokens of the attributes appendAttrs (or
// rawAttrs) deferred, once the span is kept.
func (w *Writer) deferredTokens() {
	for i := range w.deferred {
		a := &w.deferred[i]
		var ki *keyInfo
		if a.ref != 0 {
			ki = &w.keys.info[a.ref-1]
		}
		w.attrTokens(ki, a.key, a.typ, a.str, a.num)
	}
}

// attrTokens adds the tokens of an attribute that appendAttrs or rawAttrs
// deferred (its key is stored inline, or its string value is not in the
// value dictionary) and counts a string value for top values. ki is the
// key's dictionary entry (nil for a key stored inline; keyTokens has
// handled its key). key and str may alias memory the caller reuses.
func (w *Writer) attrTokens(ki *keyInfo, key string, typ model.ValueType, str string, num uint64) {
	p := &w.pend
	var tk *topKey
	if ki == nil {
		p.tokens = append(p.tokens, bloom.HashString(key))
		if typ == model.TypeStr && len(str) <= maxTopValueLen {
			tk = w.top.key(key)
		}
	} else if typ == model.TypeStr && len(str) <= maxTopValueLen {
		tk = ki.top
	}
	if tk != nil {
		// The entry keeps the token hash: a value seen before is not
		// hashed again.
		if e := w.top.add(tk, str, 1); e.gen != w.gen {
			e.gen = w.gen
			p.tokens = append(p.tokens, e.token)
		}
		return
	}
	if h, ok := w.th.value(key, typ, str, num); ok {
		p.tokens = append(p.tokens, h)
	}
}

// countSpan updates the part-level statistics with a span just kept.
func (w *Writer) countSpan(ws *wspan) {
	re := &w.res.entries[ws.res]
	re.spans++
	if ws.nameIdx < 0 {
		w.opsTrunc = true
	} else {
		k := opKey(re.svc, ws.nameIdx, ws.kind)
		c := &w.opCache[(k*golden64)>>56]
		if *c != k+1 {
			if _, ok := w.ops[k]; ok {
				*c = k + 1
			} else if len(w.ops) < maxOps {
				w.ops[k] = struct{}{}
				*c = k + 1
			} else {
				w.opsTrunc = true
			}
		}
	}
	d := ws.end - ws.start
	if w.spans == 0 {
		w.minStart, w.maxStart, w.maxEnd, w.minDur, w.maxDur = ws.start, ws.start, ws.end, d, d
	} else {
		w.minStart = min(w.minStart, ws.start)
		w.maxStart = max(w.maxStart, ws.start)
		w.maxEnd = max(w.maxEnd, ws.end)
		w.minDur = min(w.minDur, d)
		w.maxDur = max(w.maxDur, d)
	}
	w.spans++
}

// distinct removes duplicate hashes from hs in place, keeping the first of
// each, with an open-addressing hash set (the hashes are well mixed).
func (w *Writer) distinct(hs []uint64) []uint64 {
	size := 16
	for size < 2*len(hs) {
		size *= 2
	}
	if cap(w.set) < size {
		w.set = make([]uint64, size)
	}
	set := w.set[:size]
	clear(set)
	mask := uint64(size - 1)
	out := hs[:0]
	zero := false
	for _, h := range hs {
		if h == 0 { // 0 marks an empty slot
			if !zero {
				zero = true
				out = append(out, h)
			}
			continue
		}
		for i := h & mask; ; i = (i + 1) & mask {
			if set[i] == h {
				break
			}
			if set[i] == 0 {
				set[i] = h
				out = append(out, h)
				break
			}
		}
	}
	return out
}

// truncatePending removes the heavy bytes appended for ws and its uses of
// the value dictionary.
func (w *Writer) truncatePending(ws *wspan) {
	w.values.uncount(w.pend.heavy[0][ws.heavy[0]:], &w.shapes.shapeTable, w.tagBuf2)
	w.values.truncate(w.spanVals)
	for c := range w.pend.heavy {
		w.pend.heavy[c] = w.pend.heavy[c][:ws.heavy[c]]
	}
}

// isDuplicate reports whether ws (whose heavy bytes are the tail of the
// pending chunk) equals a pending span with the same start.
func (w *Writer) isDuplicate(ws *wspan) bool {
	p := &w.pend
	for j := len(p.spans) - 1; j >= 0 && p.spans[j].start == ws.start; j-- {
		o := &p.spans[j]
		if o.spanID != ws.spanID || o.parentID != ws.parentID || o.end != ws.end || o.name != ws.name ||
			o.kind != ws.kind || o.status != ws.status || o.res != ws.res || o.scope != ws.scope {
			continue
		}
		same := true
		for c := range p.heavy {
			end := ws.heavy[c]
			if j+1 < len(p.spans) {
				end = p.spans[j+1].heavy[c]
			}
			if string(p.heavy[c][o.heavy[c]:end]) != string(p.heavy[c][ws.heavy[c]:]) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// intern returns the index of the entry whose encoding is enc, adding it
// with newEntry if it is new, and caches ptr's index.
func (in *interner) intern(ptr unsafe.Pointer, enc []byte, newEntry func() dictEntry) uint32 {
	if i, ok := in.byEnc[string(enc)]; ok {
		in.remember(ptr, i)
		return i
	}
	i := uint32(len(in.entries))
	in.byEnc[string(enc)] = i
	in.enc = append(in.enc, enc...)
	in.entries = append(in.entries, newEntry())
	in.entries[i].mark = -1
	in.remember(ptr, i)
	return i
}

// remember caches a pointer's index; the cache is bounded because callers
// may pass a new pointer for every batch. The bound is above the number of
// batches in a head (a miss costs encoding the resource or scope).
func (in *interner) remember(ptr unsafe.Pointer, i uint32) {
	if len(in.byPtr) >= 1<<17 {
		clear(in.byPtr)
	}
	in.byPtr[ptr] = i
	*in.ptrs.slot(ptr) = ptrSlot{ptr, i + 1}
}

// internResource returns the dictionary index of r, which must not be
// cached yet (see interner.cached) and must have valid attributes.
func (w *Writer) internResource(r *model.Resource) uint32 {
	w.scratch = model.AppendResource(w.scratch[:0], r)
	return w.res.intern(unsafe.Pointer(r), w.scratch, func() dictEntry {
		svc := r.Service()
		si, ok := w.services[svc]
		if !ok {
			si = uint32(len(w.svcList))
			svc = strings.Clone(svc)
			w.svcList = append(w.svcList, svc)
			w.services[svc] = si
		}
		e := dictEntry{svc: si}
		if r != nil {
			e.tokens = w.th.add(nil, r.Attrs)
			e.attrs = r.Attrs
			for i := range r.Attrs {
				if r.Attrs[i].Type == model.TypeStr {
					w.top.key(r.Attrs[i].Key) // reserve the key in first-seen order
				}
			}
		}
		return e
	})
}

// internScope returns the dictionary index of s, which must not be cached
// yet and must have valid attributes.
func (w *Writer) internScope(s *model.Scope) uint32 {
	w.scratch = model.AppendScope(w.scratch[:0], s)
	return w.scopes.intern(unsafe.Pointer(s), w.scratch, func() dictEntry {
		var e dictEntry
		if s != nil {
			e.tokens = w.th.add(nil, s.Attrs)
		}
		return e
	})
}

// commitPending moves the pending trace into the current granule, flushing
// the granule first if the trace does not fit.
func (w *Writer) commitPending() {
	p, g := &w.pend, &w.gran
	if len(p.spans) == 0 {
		return
	}
	if len(g.spans) > 0 && (len(g.spans)+len(p.spans) > w.opts.GranuleSpans || w.granBytes()+w.pendBytes() > w.opts.GranuleBytes) {
		w.flushGranule()
	}
	if len(g.spans) == 0 {
		g.cont = p.cont
	}
	rn := run{id: w.prevID, n: len(p.spans)}
	for c := range p.heavy {
		rn.heavy[c] = len(p.heavy[c])
	}
	g.runs = append(g.runs, rn)
	g.spans = append(g.spans, p.spans...)
	for c := range p.heavy {
		g.heavy[c] = append(g.heavy[c], p.heavy[c]...)
	}
	g.tokens = append(g.tokens, p.tokens...)
	p.reset()
	w.values.commit()
	w.nextGen()
}

// nextGen starts a new token generation for a fresh pending chunk.
func (w *Writer) nextGen() {
	w.gen++
	if w.gen == 0 { // wrapped: forget every generation
		for i := range w.keys.info {
			ki := &w.keys.info[i]
			ki.gen = 0
			for j := range ki.nums {
				ki.nums[j].gen = 0
			}
		}
		for _, k := range w.top.order {
			for i := range k.entries {
				k.entries[i].gen = 0
			}
		}
		w.gen = 1
	}
}

// flushPendingChunk writes the pending spans of a trace bigger than a
// granule as a granule of their own.
func (w *Writer) flushPendingChunk() {
	if len(w.gran.spans) > 0 {
		w.flushGranule()
	}
	w.commitPending()
	w.flushGranule()
	w.pend.cont = true
}

// flushGranule encodes, compresses and writes the current granule.
func (w *Writer) flushGranule() {
	g := &w.gran
	if len(g.spans) == 0 || w.err != nil {
		g.reset()
		return
	}
	vd := &w.values
	pending := len(w.pend.spans) > 0
	if pending {
		// The pending trace moves to the next granule: its uses of the
		// dictionary no longer count for this one.
		vd.uncount(w.pend.heavy[0], &w.shapes.shapeTable, w.tagBuf2)
	}
	w.valCol = vd.column(w.valCol[:0])
	w.valueTokens()
	for c := range w.cols {
		w.cols[c] = w.cols[c][:0]
	}
	cols := &w.cols
	gm := granule{first: g.runs[0].id, cont: g.cont, spans: len(g.spans)}

	cols[colTrace] = binary.AppendUvarint(cols[colTrace], uint64(len(g.runs)))
	gm.minStart = g.spans[0].start
	for _, r := range g.runs {
		cols[colTrace] = append(cols[colTrace], r.id[:]...)
	}
	pos := 0
	for _, r := range g.runs {
		cols[colTrace] = binary.AppendUvarint(cols[colTrace], uint64(r.n))
		gm.minStart = min(gm.minStart, g.spans[pos].start) // spans of a run are sorted by start
		pos += r.n
	}
	for _, r := range g.runs {
		for _, n := range r.heavy {
			cols[colTrace] = binary.AppendUvarint(cols[colTrace], uint64(n))
		}
	}
	gm.maxStart = math.MinInt64
	gm.minDur, gm.maxDur = math.MaxInt64, math.MinInt64
	w.svcScratch = w.svcScratch[:0]
	w.resScratch = w.resScratch[:0]
	pos = 0
	for _, r := range g.runs {
		spans := g.spans[pos : pos+r.n]
		pos += r.n
		if len(spans) > 16 {
			w.parentIdx.build(spans)
		}
		for i := range spans {
			s := &spans[i]
			cols[colSpanID] = append(cols[colSpanID], s.spanID[:]...)
			cols[colParent] = appendParent(cols[colParent], spans, s.parentID, &w.parentIdx)
			if i == 0 {
				cols[colStart] = binary.AppendUvarint(cols[colStart], uint64(s.start)-uint64(gm.minStart))
			} else {
				cols[colStart] = binary.AppendUvarint(cols[colStart], uint64(s.start)-uint64(spans[i-1].start))
			}
			d := s.end - s.start
			cols[colDuration] = binary.AppendVarint(cols[colDuration], d)
			if s.nameIdx >= 0 {
				cols[colName] = binary.AppendUvarint(cols[colName], uint64(s.nameIdx)+1)
			} else {
				cols[colName] = append(cols[colName], 0)
				cols[colName] = model.AppendString(cols[colName], s.name)
			}
			cols[colKindStatus] = append(cols[colKindStatus], byte(s.kind), byte(s.status))
			cols[colResScope] = binary.AppendUvarint(cols[colResScope], uint64(s.res))
			cols[colResScope] = binary.AppendUvarint(cols[colResScope], uint64(s.scope))
			gm.maxStart = max(gm.maxStart, s.start)
			gm.minDur = min(gm.minDur, d)
			gm.maxDur = max(gm.maxDur, d)
			granIdx := len(w.granules)
			if re := &w.res.entries[s.res]; re.mark != granIdx {
				re.mark = granIdx
				re.maxDur = d
				w.svcScratch = append(w.svcScratch, re.svc)
				w.resScratch = append(w.resScratch, s.res)
				g.tokens = append(g.tokens, re.tokens...)
			} else {
				re.maxDur = max(re.maxDur, d)
			}
			if se := &w.scopes.entries[s.scope]; se.mark != granIdx {
				se.mark = granIdx
				g.tokens = append(g.tokens, se.tokens...)
			}
		}
	}
	slices.Sort(w.svcScratch)
	gm.services = slices.Clone(slices.Compact(w.svcScratch))
	for len(w.svcMaxDur) < len(w.svcList) {
		w.svcMaxDur = append(w.svcMaxDur, 0)
	}
	for _, s := range gm.services {
		w.svcMaxDur[s] = math.MinInt64
	}
	for _, ri := range w.resScratch {
		re := &w.res.entries[ri]
		w.svcMaxDur[re.svc] = max(w.svcMaxDur[re.svc], re.maxDur)
	}
	gm.svcMaxDur = make([]int64, len(gm.services))
	for j, s := range gm.services {
		gm.svcMaxDur[j] = w.svcMaxDur[s]
	}

	for c := range gm.cols {
		var raw []byte
		switch {
		case c < firstHeavy:
			raw = cols[c]
		case c == colValues:
			raw = w.valCol
		default:
			raw = g.heavy[c-firstHeavy]
		}
		gm.cols[c] = w.writeBlock(raw, true)
	}
	tokens := w.distinct(g.tokens)
	bf := bloom.New(len(tokens), tokenFPRate)
	for _, h := range tokens {
		bf.Add(h)
	}
	w.scratch = bf.Append(w.scratch[:0])
	gm.tokens = w.writeBlock(w.scratch, false)
	w.granules = append(w.granules, gm)
	g.reset()
	if !pending {
		vd.reset()
		return
	}
	// Re-add the pending trace's values to the (now empty) dictionary.
	p := &w.pend
	w.rowStarts = w.rowStarts[:0]
	for i := range p.spans {
		w.rowStarts = append(w.rowStarts, p.spans[i].heavy[0])
	}
	rows, err := vd.rebase(w.rows[:0], p.heavy[0], w.rowStarts, &w.shapes.shapeTable, w.tagBuf2)
	if err != nil {
		w.err = fmt.Errorf("write part %s: internal error: %w", w.tmp, err)
		return
	}
	w.rows, p.heavy[0] = p.heavy[0], rows
	for i := range p.spans {
		p.spans[i].heavy[0] = w.rowStarts[i]
	}
}

// valueTokens adds the tokens of the value dictionary entries of the
// granule to its token list and counts them for top values.
func (w *Writer) valueTokens() {
	vd := &w.values
	g := &w.gran
	for i := range vd.ents[:vd.mark] {
		e := &vd.ents[i]
		ki := &w.keys.info[e.key-1]
		v := unsafe.String(unsafe.SliceData(vd.data[e.off:]), e.n)
		if ki.top != nil && len(v) <= maxTopValueLen {
			te := w.top.add(ki.top, v, int64(e.count))
			g.tokens = append(g.tokens, te.token)
			continue
		}
		h, _ := w.th.value(w.keys.keys[e.key-1], model.TypeStr, v, 0)
		g.tokens = append(g.tokens, h)
	}
}

// appendParent appends the parent reference of a span in run spans: 0 for
// no parent, k+2 when the parent is spans[k], 1 and the raw ID otherwise.
func appendParent(dst []byte, spans []wspan, parent model.SpanID, idx *spanIndex) []byte {
	if parent.IsZero() {
		return append(dst, 0)
	}
	if len(spans) > 16 {
		if k := idx.find(spans, parent); k >= 0 {
			return binary.AppendUvarint(dst, uint64(k)+2)
		}
	} else {
		for k := range spans {
			if spans[k].spanID == parent {
				return binary.AppendUvarint(dst, uint64(k)+2)
			}
		}
	}
	dst = append(dst, 1)
	return append(dst, parent[:]...)
}

// writeBlock writes raw as one block (zstd-compressed if allowed and
// smaller) and returns its reference.
func (w *Writer) writeBlock(raw []byte, allowZstd bool) blockRef {
	b := blockRef{off: w.off, raw: len(raw), codec: codecRaw}
	stored := raw
	if allowZstd && !w.opts.Uncompressed {
		w.out, b.codec = compress(w.out[:0], raw, w.opts.ZstdLevel)
		stored = w.out
	}
	b.size = len(stored)
	b.crc = crc32.Checksum(stored, castagnoli)
	w.write(stored)
	return b
}

// NewSection ends the current section, if it has spans: the spans added
// next go to a new run of granules sorted by trace ID, so they may again
// start with any trace ID. A trace with spans on both sides is stored in
// both sections (and counted as a trace in each). Writers of parts put
// earlier traces in earlier sections (see WriteOptions.SectionSpans).
func (w *Writer) NewSection() error {
	if w.f == nil {
		return ErrWriterClosed
	}
	w.commitPending()
	w.flushGranule()
	w.closeSection()
	w.havePrev = false
	return w.err
}

func (w *Writer) closeSection() {
	if len(w.granules) == w.secG0 {
		return
	}
	w.sections = append(w.sections, section{g0: w.secG0, g1: len(w.granules), traces: w.traces - w.secTraces0})
	w.secHashEnd = append(w.secHashEnd, len(w.traceHashes))
	w.secG0, w.secTraces0 = len(w.granules), w.traces
}

// Finish writes the rest of the part (last granule, dictionaries, trace
// filter, footer), fsyncs it, renames it to its path and fsyncs the
// directory. When it returns nil the part is durable and complete. On error
// the temporary file is removed. The Writer cannot be used afterwards.
func (w *Writer) Finish() (*Meta, error) {
	if w.f == nil {
		return nil, ErrWriterClosed
	}
	w.commitPending()
	w.flushGranule()
	w.closeSection()
	meta, err := w.finish()
	if err != nil {
		w.Abort()
		return nil, err
	}
	return meta, nil
}

func (w *Writer) finish() (*Meta, error) {
	ft := &footer{
		version: Version, walSegment: w.opts.WALSegment, replaces: w.opts.Replaces,
		spans: w.spans, traces: w.traces,
		minStart: w.minStart, maxStart: w.maxStart, maxEnd: w.maxEnd, minDur: w.minDur, maxDur: w.maxDur,
		services: w.svcList, names: w.nameList, opsTruncated: w.opsTrunc, granules: w.granules,
	}
	// Dictionary block: resources, scopes, attribute keys.
	dict := binary.AppendUvarint(nil, uint64(len(w.res.entries)))
	dict = append(dict, w.res.enc...)
	dict = binary.AppendUvarint(dict, uint64(len(w.scopes.entries)))
	dict = append(dict, w.scopes.enc...)
	dict = appendStrings(dict, w.keys.keys)
	dict = binary.AppendUvarint(dict, uint64(w.shapes.len()))
	dict = append(dict, w.shapes.enc...)
	if len(dict) > maxDictRaw {
		return nil, fmt.Errorf("part %s: %d bytes of resources and scopes, more than %d", w.path, len(dict), maxDictRaw)
	}
	ft.dict = w.writeBlock(dict, true)

	if len(w.sections) == 0 { // an empty part has one empty section
		w.sections = []section{{}}
		w.secHashEnd = []int{0}
	}
	from := 0
	for i := range w.sections {
		hs := w.traceHashes[from:w.secHashEnd[i]]
		from = w.secHashEnd[i]
		bf := bloom.New(len(hs), traceFPRate)
		for _, h := range hs {
			bf.Add(h)
		}
		w.sections[i].bloom = w.writeBlock(bf.Append(w.scratch[:0]), false)
	}
	ft.sections = w.sections

	for i := range w.res.entries {
		e := &w.res.entries[i]
		for j := range e.attrs {
			if a := &e.attrs[j]; a.Type == model.TypeStr && e.spans > 0 && len(a.Str) <= maxTopValueLen {
				w.top.add(w.top.key(a.Key), a.Str, e.spans)
			}
		}
	}
	ft.top = w.top.result()
	for k := range w.ops {
		ft.ops = append(ft.ops, opRef{svc: uint32(k >> 24), name: uint32(k>>8) & 0xffff, kind: int8(uint8(k))})
	}
	slices.SortFunc(ft.ops, func(a, b opRef) int {
		if c := strings.Compare(w.svcList[a.svc], w.svcList[b.svc]); c != 0 {
			return c
		}
		if c := strings.Compare(w.nameList[a.name], w.nameList[b.name]); c != 0 {
			return c
		}
		return int(a.kind) - int(b.kind)
	})

	raw := ft.append(nil)
	if len(raw) > maxFooterRaw {
		return nil, fmt.Errorf("part %s: footer of %d bytes, more than %d", w.path, len(raw), maxFooterRaw)
	}
	stored := binary.AppendUvarint(nil, uint64(len(raw)))
	stored = encoder(w.opts.ZstdLevel).EncodeAll(raw, stored)
	w.write(stored)
	var trailer [trailerSize]byte
	binary.LittleEndian.PutUint32(trailer[0:], uint32(len(stored)))
	binary.LittleEndian.PutUint32(trailer[4:], crc32.Checksum(stored, castagnoli))
	copy(trailer[8:], magic)
	trailer[trailerSize-1] = Version
	w.write(trailer[:])
	if w.err != nil {
		return nil, w.err
	}
	if err := w.bw.Flush(); err != nil {
		return nil, fmt.Errorf("write part %s: %w", w.tmp, err)
	}
	if err := w.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync part %s: %w", w.tmp, err)
	}
	if err := w.f.Close(); err != nil {
		return nil, fmt.Errorf("close part %s: %w", w.tmp, err)
	}
	w.f = nil
	if err := os.Rename(w.tmp, w.path); err != nil {
		return nil, fmt.Errorf("rename part %s: %w", w.path, err)
	}
	if err := syncDir(filepath.Dir(w.path)); err != nil {
		return nil, err
	}
	return ft.meta(w.off), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Abort discards the part: it closes and removes the temporary file. It is
// safe to call after Finish (it does nothing then) and more than once.
func (w *Writer) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.tmp != "" {
		os.Remove(w.tmp)
		w.tmp = ""
	}
}

// Write writes spans as a part at path. It sorts an index of the spans by
// (trace ID, start), keeping the input order of equal keys, and streams
// them through a Writer; spans itself is neither reordered nor retained.
// Exact duplicates are written once. A span the Writer rejects (see Add)
// fails the whole part: nothing is written.
func Write(path string, spans []model.Span, opts WriteOptions) (*Meta, error) {
	return WriteBatches(path, [][]model.Span{spans}, opts)
}

// WriteBatches is Write of the concatenation of batches, without making
// it: the store passes a head's batches as they were appended.
func WriteBatches(path string, batches [][]model.Span, opts WriteOptions) (*Meta, error) {
	// Sort keys rather than an index of spans: comparisons then read
	// contiguous memory instead of two spans each.
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	if n > math.MaxInt32 || len(batches) > math.MaxInt32 {
		return nil, fmt.Errorf("write part %s: %d spans in %d batches is too many", path, n, len(batches))
	}
	keys := make([]sortKey, 0, n)
	base := make([]int32, len(batches)) // position of each batch's first span
	for bi, b := range batches {
		base[bi] = int32(len(keys))
		for i := range b {
			s := &b[i]
			keys = append(keys, sortKey{
				hi: binary.BigEndian.Uint64(s.TraceID[:8]), lo: binary.BigEndian.Uint64(s.TraceID[8:]),
				start: s.Start, idx: int32(len(keys)), batch: int32(bi),
			})
		}
	}
	keys = sortKeys(keys)
	opts = opts.withDefaults()
	w, err := Create(path, opts)
	if err != nil {
		return nil, err
	}
	for si, sec := range sectionKeys(keys, opts.SectionSpans) {
		if si > 0 {
			if err := w.NewSection(); err != nil {
				w.Abort()
				return nil, fmt.Errorf("write part %s: %w", path, err)
			}
		}
		for _, k := range sec {
			if err := w.Add(&batches[k.batch][k.idx-base[k.batch]]); err != nil {
				w.Abort()
				return nil, fmt.Errorf("write part %s: span %d: %w", path, k.idx, err)
			}
		}
	}
	return w.Finish()
}

// sectionKeys cuts keys, sorted by trace ID and start, into sections of
// about target spans (as many as needed, of equal size) by the start of
// their traces: each trace goes whole to one section, earlier traces to
// earlier sections, and each section stays sorted by trace ID. The
// sections share one array as big as keys.
func sectionKeys(keys []sortKey, target int) [][]sortKey {
	nsec := (len(keys) + target - 1) / target
	if nsec <= 1 {
		return [][]sortKey{keys}
	}
	type trace struct {
		start    int64
		from, to int32 // keys[from:to]
	}
	ntraces := 0
	for i := range keys {
		if i == 0 || keys[i].hi != keys[i-1].hi || keys[i].lo != keys[i-1].lo {
			ntraces++
		}
	}
	traces := make([]trace, 0, ntraces)
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].hi == keys[i].hi && keys[j].lo == keys[i].lo {
			j++
		}
		traces = append(traces, trace{keys[i].start, int32(i), int32(j)}) // sorted by start: the first is the earliest
		i = j
	}
	byStart := make([]int32, len(traces))
	for i := range byStart {
		byStart[i] = int32(i)
	}
	slices.SortStableFunc(byStart, func(a, b int32) int { return cmp.Compare(traces[a].start, traces[b].start) })
	sec := make([]uint8, len(traces)) // at most 255 sections: a bigger Write gets bigger ones
	nsec = min(nsec, 255)
	size := make([]int, nsec)
	sum := 0
	for _, t := range byStart {
		s := min(sum*nsec/len(keys), nsec-1)
		sec[t] = uint8(s)
		n := int(traces[t].to - traces[t].from)
		size[s] += n
		sum += n
	}
	all := make([]sortKey, 0, len(keys))
	out := make([][]sortKey, 0, nsec)
	for _, n := range size {
		if n > 0 {
			out = append(out, all[len(all):len(all):len(all)+n])
			all = all[:len(all)+n]
		}
	}
	// index of each section in out (empty sections are left out)
	at := make([]uint8, nsec)
	for s, j := 0, 0; s < nsec; s++ {
		at[s] = uint8(j)
		if size[s] > 0 {
			j++
		}
	}
	for i, t := range traces {
		o := &out[at[sec[i]]]
		*o = append(*o, keys[t.from:t.to]...)
	}
	return out
}

// sortKey is the part order of the idx-th input span (in batch): trace ID
// as two big-endian halves, start, then input position (which makes the
// sort stable).
type sortKey struct {
	hi, lo uint64
	start  int64
	idx    int32
	batch  int32
}

// sortKeys sorts keys (and may return another slice). Trace IDs are
// mostly random, so it first places the keys in buckets by the top bits of
// their trace ID (a counting sort: one pass) and then sorts each small
// bucket; skewed IDs just make bigger buckets.
func sortKeys(keys []sortKey) []sortKey {
	if len(keys) < 1<<12 {
		slices.SortFunc(keys, compareSortKeys)
		return keys
	}
	bits := 1
	for bits < 16 && 1<<(bits+2) < len(keys) {
		bits++
	}
	shift := 64 - bits
	start := make([]int32, 1<<bits+1)
	for i := range keys {
		start[keys[i].hi>>shift+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([]sortKey, len(keys))
	next := slices.Clone(start[:len(start)-1])
	for i := range keys {
		b := keys[i].hi >> shift
		out[next[b]] = keys[i]
		next[b]++
	}
	for b := 0; b < len(start)-1; b++ {
		if bucket := out[start[b]:start[b+1]]; len(bucket) > 1 {
			slices.SortFunc(bucket, compareSortKeys)
		}
	}
	return out
}

func compareSortKeys(a, b sortKey) int {
	switch {
	case a.hi != b.hi:
		return cmp.Compare(a.hi, b.hi)
	case a.lo != b.lo:
		return cmp.Compare(a.lo, b.lo)
	case a.start != b.start:
		return cmp.Compare(a.start, b.start)
	}
	return cmp.Compare(a.idx, b.idx)
}

// meta builds the public description of a part of the given size.
func (f *footer) meta(size int64) *Meta {
	m := &Meta{
		Version: f.version, Size: size, SpanCount: f.spans, TraceCount: f.traces, Granules: len(f.granules),
		Sections: len(f.sections),
		MinStart: f.minStart, MaxStart: f.maxStart, MaxEnd: f.maxEnd, MinDuration: f.minDur, MaxDuration: f.maxDur,
		WALSegment: f.walSegment, OperationsTruncated: f.opsTruncated, TopValues: f.top,
	}
	if len(f.replaces) > 0 {
		m.Replaces = slices.Clone(f.replaces)
	}
	if len(f.services) > 0 {
		m.Services = slices.Clone(f.services)
	}
	slices.Sort(m.Services)
	m.Operations = make([]Operation, len(f.ops))
	for i, op := range f.ops {
		m.Operations[i] = Operation{Service: f.services[op.svc], Name: f.names[op.name], Kind: op.kind}
	}
	return m
}
