package part

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	heavy    [numCols - firstHeavy]uint32 // offsets into chunk.heavy (pending trace only)
}

// chunk is a sequence of spans with their encoded heavy columns: the
// current granule, or the spans of the current trace not yet in it.
type chunk struct {
	spans  []wspan
	runs   []run // granule only
	heavy  [numCols - firstHeavy][]byte
	tokens []uint64 // token hashes of span, event and link attributes
	cont   bool     // first trace continues a trace of the previous granule
}

type run struct {
	id    model.TraceID
	n     int
	heavy [numCols - firstHeavy]int // bytes of the run in each heavy column
}

func (c *chunk) bytes() int {
	n := 32 * len(c.spans)
	for _, h := range c.heavy {
		n += len(h)
	}
	return n
}

func (c *chunk) reset() {
	c.spans = c.spans[:0]
	c.runs = c.runs[:0]
	for i := range c.heavy {
		c.heavy[i] = c.heavy[i][:0]
	}
	c.tokens = c.tokens[:0]
	c.cont = false
}

type opKey struct {
	svc  uint32
	name string
	kind int8
}

type dictEntry struct {
	svc    uint32   // resources: service index
	tokens []uint64 // attribute token hashes
	attrs  []model.Attr
	spans  int64 // resources: number of spans (for top values)
	mark   int   // last granule that used it
}

// interner deduplicates resources or scopes by their encoding.
type interner struct {
	byPtr   map[any]uint32
	byEnc   map[string]uint32
	enc     []byte // concatenated encodings, in index order
	entries []dictEntry
}

func newInterner() interner {
	return interner{byPtr: map[any]uint32{}, byEnc: map[string]uint32{}}
}

// Writer writes one part file. Spans must be added in (trace ID, start)
// order; spans with equal keys keep the order they were added in. The
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

	keys     keyDict
	names    map[string]uint32
	nameList []string
	services map[string]uint32
	svcList  []string
	res      interner
	scopes   interner
	ops      map[opKey]struct{}
	opsTrunc bool
	top      *topValues
	th       tokenHasher

	spans, traces    int64
	dups             int64
	minStart         int64
	maxStart, maxEnd int64
	minDur, maxDur   int64
	traceHashes      []uint64

	havePrev  bool
	prevID    model.TraceID
	prevStart int64
	pend      chunk // spans of the current trace not yet in gran
	gran      chunk // the current granule
	granules  []granule

	cols       [firstHeavy][]byte
	out        []byte
	refs       []uint32  // key refs of the span being added
	keyTop     []*topKey // top-value counters by key dictionary index
	set        []uint64  // hash set for distinct tokens
	parentIdx  map[model.SpanID]int32
	svcScratch []uint32
	scratch    []byte
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
		opts:      opts,
		path:      path,
		tmp:       tmp,
		f:         f,
		bw:        bufio.NewWriterSize(f, 1<<20),
		keys:      keyDict{index: map[string]uint32{}},
		names:     map[string]uint32{},
		services:  map[string]uint32{},
		res:       newInterner(),
		scopes:    newInterner(),
		ops:       map[opKey]struct{}{},
		top:       newTopValues(opts.TopValues),
		parentIdx: map[model.SpanID]int32{},
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

func validSpan(s *model.Span) error {
	if !validAttrs(s.Attrs) {
		return errors.New("attribute of unknown type")
	}
	for i := range s.Events {
		if !validAttrs(s.Events[i].Attrs) {
			return errors.New("event attribute of unknown type")
		}
	}
	for i := range s.Links {
		if !validAttrs(s.Links[i].Attrs) {
			return errors.New("link attribute of unknown type")
		}
	}
	if s.Resource != nil && !validAttrs(s.Resource.Attrs) {
		return errors.New("resource attribute of unknown type")
	}
	if s.Scope != nil && !validAttrs(s.Scope.Attrs) {
		return errors.New("scope attribute of unknown type")
	}
	return nil
}

// Add appends a copy of s; s is not retained (strings aside, which are
// immutable). It returns an error wrapping ErrOutOfOrder, without adding
// the span, if s sorts before the previous span, and an error for a span
// that cannot be stored (an attribute of unknown type, more than 16 MiB
// encoded); the Writer stays usable after these. A span that is an exact
// duplicate of a span already added for the same trace and start time (same
// span ID and same encoding, resource and scope included) is dropped and
// counted in Duplicates (for a trace bigger than a granule, only within the
// granule-sized chunk being filled). Errors writing the file are sticky: every later
// call returns them.
func (w *Writer) Add(s *model.Span) error {
	if w.f == nil {
		return ErrWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	newTrace := !w.havePrev
	if w.havePrev {
		c := compareID(&s.TraceID, &w.prevID)
		if c < 0 || c == 0 && s.Start < w.prevStart {
			return fmt.Errorf("span %s of trace %s (start %d) after trace %s (start %d): %w",
				s.SpanID, s.TraceID, s.Start, w.prevID, w.prevStart, ErrOutOfOrder)
		}
		newTrace = c != 0
	}
	if err := validSpan(s); err != nil {
		return fmt.Errorf("span %s of trace %s: %w", s.SpanID, s.TraceID, err)
	}
	if newTrace {
		w.commitPending()
	} else if len(w.pend.spans) >= w.opts.GranuleSpans || w.pend.bytes() >= w.opts.GranuleBytes {
		w.flushPendingChunk()
	}
	if w.err != nil {
		return w.err
	}

	ws := wspan{
		spanID: s.SpanID, parentID: s.ParentID, start: s.Start, end: s.End,
		name: s.Name, nameIdx: -1, kind: s.Kind, status: s.StatusCode,
	}
	ws.res = w.internResource(s.Resource)
	ws.scope = w.internScope(s.Scope)
	if i, ok := w.names[s.Name]; ok {
		ws.nameIdx = int32(i)
	} else if len(w.nameList) < maxNames && len(s.Name) <= maxNameLen {
		ws.nameIdx = int32(len(w.nameList))
		w.nameList = append(w.nameList, s.Name)
		w.names[s.Name] = uint32(ws.nameIdx)
	}
	p := &w.pend
	for c := range p.heavy {
		ws.heavy[c] = uint32(len(p.heavy[c]))
	}
	p.heavy[0], w.refs = appendAttrsCol(p.heavy[0], s.Attrs, &w.keys, w.refs)
	p.heavy[1] = model.AppendEvents(p.heavy[1], s.Events, s.Start)
	p.heavy[2] = model.AppendLinks(p.heavy[2], s.Links)
	p.heavy[3] = appendMisc(p.heavy[3], s)
	size := len(s.Name)
	for c := range p.heavy {
		size += len(p.heavy[c]) - int(ws.heavy[c])
	}
	if size > maxSpanBytes {
		w.truncatePending(&ws)
		return fmt.Errorf("span %s of trace %s: %d bytes encoded, more than %d", s.SpanID, s.TraceID, size, maxSpanBytes)
	}
	if w.isDuplicate(&ws) {
		w.truncatePending(&ws)
		w.dups++
		return nil
	}
	if newTrace {
		w.prevID = s.TraceID
		w.havePrev = true
		w.traces++
		w.traceHashes = append(w.traceHashes, bloom.Hash(s.TraceID[:]))
	}
	w.prevStart = s.Start
	p.spans = append(p.spans, ws)

	// Tokens, autocomplete and statistics.
	p.tokens = w.th.add(p.tokens, s.Attrs)
	for i := range s.Events {
		p.tokens = w.th.add(p.tokens, s.Events[i].Attrs)
	}
	for i := range s.Links {
		p.tokens = w.th.add(p.tokens, s.Links[i].Attrs)
	}
	for i := range s.Attrs {
		if a := &s.Attrs[i]; a.Type == model.TypeStr && len(a.Str) <= maxTopValueLen {
			w.top.add(w.topKey(a.Key, w.refs[i]), a.Str, 1)
		}
	}
	re := &w.res.entries[ws.res]
	re.spans++
	if len(w.ops) < maxOps {
		if ws.nameIdx >= 0 {
			w.ops[opKey{svc: re.svc, name: s.Name, kind: s.Kind}] = struct{}{}
		} else {
			w.opsTrunc = true
		}
	} else if _, ok := w.ops[opKey{svc: re.svc, name: s.Name, kind: s.Kind}]; !ok {
		w.opsTrunc = true
	}
	d := s.End - s.Start
	if w.spans == 0 {
		w.minStart, w.maxStart, w.maxEnd, w.minDur, w.maxDur = s.Start, s.Start, s.End, d, d
	} else {
		w.minStart = min(w.minStart, s.Start)
		w.maxStart = max(w.maxStart, s.Start)
		w.maxEnd = max(w.maxEnd, s.End)
		w.minDur = min(w.minDur, d)
		w.maxDur = max(w.maxDur, d)
	}
	w.spans++
	return nil
}

// topKey returns the top-value counters of key, whose attrs-column ref
// (dictionary index + 1, or 0) is ref.
func (w *Writer) topKey(key string, ref uint32) *topKey {
	if ref == 0 {
		return w.top.key(key)
	}
	i := int(ref - 1)
	for len(w.keyTop) <= i {
		w.keyTop = append(w.keyTop, nil)
	}
	if w.keyTop[i] == nil {
		w.keyTop[i] = w.top.key(key) // nil when no more keys are tracked: looked up again, cheaply
	}
	return w.keyTop[i]
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

// truncatePending removes the heavy bytes appended for ws.
func (w *Writer) truncatePending(ws *wspan) {
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
func (in *interner) intern(ptr any, enc []byte, newEntry func() dictEntry) uint32 {
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
// may pass a new pointer for every batch.
func (in *interner) remember(ptr any, i uint32) {
	if len(in.byPtr) >= 1<<14 {
		clear(in.byPtr)
	}
	in.byPtr[ptr] = i
}

func (w *Writer) internResource(r *model.Resource) uint32 {
	if i, ok := w.res.byPtr[r]; ok {
		return i
	}
	w.scratch = model.AppendResource(w.scratch[:0], r)
	return w.res.intern(r, w.scratch, func() dictEntry {
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

func (w *Writer) internScope(s *model.Scope) uint32 {
	if i, ok := w.scopes.byPtr[s]; ok {
		return i
	}
	w.scratch = model.AppendScope(w.scratch[:0], s)
	return w.scopes.intern(s, w.scratch, func() dictEntry {
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
	if len(g.spans) > 0 && (len(g.spans)+len(p.spans) > w.opts.GranuleSpans || g.bytes()+p.bytes() > w.opts.GranuleBytes) {
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
	pos = 0
	for _, r := range g.runs {
		spans := g.spans[pos : pos+r.n]
		pos += r.n
		if len(spans) > 16 {
			clear(w.parentIdx)
			for i := range spans {
				if _, ok := w.parentIdx[spans[i].spanID]; !ok {
					w.parentIdx[spans[i].spanID] = int32(i)
				}
			}
		}
		for i := range spans {
			s := &spans[i]
			cols[colSpanID] = append(cols[colSpanID], s.spanID[:]...)
			cols[colParent] = appendParent(cols[colParent], spans, s.parentID, w.parentIdx)
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
				w.svcScratch = append(w.svcScratch, re.svc)
				g.tokens = append(g.tokens, re.tokens...)
			}
			if se := &w.scopes.entries[s.scope]; se.mark != granIdx {
				se.mark = granIdx
				g.tokens = append(g.tokens, se.tokens...)
			}
		}
	}
	slices.Sort(w.svcScratch)
	gm.services = slices.Clone(slices.Compact(w.svcScratch))

	for c := range gm.cols {
		var raw []byte
		if c < firstHeavy {
			raw = cols[c]
		} else {
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
}

// appendParent appends the parent reference of a span in run spans: 0 for
// no parent, k+2 when the parent is spans[k], 1 and the raw ID otherwise.
func appendParent(dst []byte, spans []wspan, parent model.SpanID, idx map[model.SpanID]int32) []byte {
	if parent.IsZero() {
		return append(dst, 0)
	}
	if len(spans) > 16 {
		if k, ok := idx[parent]; ok {
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
	if allowZstd {
		w.out, b.codec = compress(w.out[:0], raw, w.opts.ZstdLevel)
		stored = w.out
	}
	b.size = len(stored)
	b.crc = crc32.Checksum(stored, castagnoli)
	w.write(stored)
	return b
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
	if len(dict) > maxDictRaw {
		return nil, fmt.Errorf("part %s: %d bytes of resources and scopes, more than %d", w.path, len(dict), maxDictRaw)
	}
	ft.dict = w.writeBlock(dict, true)

	bf := bloom.New(len(w.traceHashes), traceFPRate)
	for _, h := range w.traceHashes {
		bf.Add(h)
	}
	ft.bloom = w.writeBlock(bf.Append(nil), false)

	for i := range w.res.entries {
		e := &w.res.entries[i]
		for j := range e.attrs {
			if a := &e.attrs[j]; a.Type == model.TypeStr && e.spans > 0 {
				w.top.add(w.top.key(a.Key), a.Str, e.spans)
			}
		}
	}
	ft.top = w.top.result()
	for k := range w.ops {
		ft.ops = append(ft.ops, opRef{svc: k.svc, name: w.names[k.name], kind: k.kind})
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
	idx := make([]int32, len(spans))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return Compare(&spans[a], &spans[b]) })
	w, err := Create(path, opts)
	if err != nil {
		return nil, err
	}
	for _, i := range idx {
		if err := w.Add(&spans[i]); err != nil {
			w.Abort()
			return nil, fmt.Errorf("write part %s: span %d: %w", path, i, err)
		}
	}
	return w.Finish()
}

// meta builds the public description of a part of the given size.
func (f *footer) meta(size int64) *Meta {
	m := &Meta{
		Version: f.version, Size: size, SpanCount: f.spans, TraceCount: f.traces, Granules: len(f.granules),
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
