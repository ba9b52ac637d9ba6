package part

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Merge writes the spans of inputs, which must not be modified or closed
// during the call, as one part at path. It is a k-way merge by (trace ID,
// start), ties in input order, through a Writer, so memory stays bounded by
// one decoded granule per input plus the Writer's. Exact duplicates (same
// trace, start, span ID and encoding, as when a client resent a batch that
// landed in several parts) are written once. The inputs stay open.
//
// The output is what writing the inputs' spans with Add would produce, but
// spans are not decoded: their attributes, events, links and other fields
// are copied as encoded, with attribute keys and values re-pointed to the
// output's dictionaries.
func Merge(path string, inputs []*Reader, opts WriteOptions) (*Meta, error) {
	return MergeContext(context.Background(), path, inputs, opts)
}

// mergeCheckEvery is how many spans MergeContext copies between checks of
// its context.
const mergeCheckEvery = 4096

// MergeContext is Merge that gives up, removing its unfinished output, when
// ctx is done: a merge of large parts takes minutes and must not hold up a
// shutdown.
func MergeContext(ctx context.Context, path string, inputs []*Reader, opts WriteOptions) (*Meta, error) {
	opts = opts.withDefaults()
	w, err := Create(path, opts)
	if err != nil {
		return nil, err
	}
	stash := make([]mergeMaps, len(inputs)) // per input, shared by its sections
	n := 0
	for gi, group := range mergeGroups(inputs, opts.SectionSpans) {
		if gi > 0 {
			if err := w.NewSection(); err != nil {
				w.Abort()
				return nil, fmt.Errorf("merge %s: %w", path, err)
			}
		}
		if err := mergeGroup(ctx, w, path, inputs, group, stash, &n); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w.Finish()
}

// inputSection is one section of one input of a merge.
type inputSection struct {
	input, sec int
	*section
}

// mergeGroups chooses the output sections of a merge: the inputs' sections
// in order of time (their newest span start), cut into groups of at most
// target spans (a section bigger than that is a group of its own). Each
// group is merged by trace ID into one output section.
func mergeGroups(inputs []*Reader, target int) [][]inputSection {
	var all []inputSection
	for i, r := range inputs {
		for j := range r.ft.sections {
			if sec := &r.ft.sections[j]; sec.spans > 0 {
				all = append(all, inputSection{i, j, sec})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b inputSection) int {
		if c := cmp.Compare(a.maxStart, b.maxStart); c != 0 {
			return c
		}
		return cmp.Compare(a.minStart, b.minStart)
	})
	var groups [][]inputSection
	var spans int64
	for _, s := range all {
		if len(groups) == 0 || spans+s.spans > int64(target) {
			groups = append(groups, nil)
			spans = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], s)
		spans += s.spans
	}
	return groups
}

// mergeGroup writes the spans of a group of input sections to w in (trace
// ID, start) order, ties in input order. n counts the spans copied (for
// context checks).
func mergeGroup(ctx context.Context, w *Writer, path string, inputs []*Reader, group []inputSection, stash []mergeMaps, n *int) error {
	h := make(mergeHeap, 0, len(group))
	defer func() {
		for _, in := range h {
			in.release()
		}
	}()
	// Ties go to the lower input, then the earlier section.
	slices.SortFunc(group, func(a, b inputSection) int {
		if c := cmp.Compare(a.input, b.input); c != 0 {
			return c
		}
		return cmp.Compare(a.sec, b.sec)
	})
	ins := make([]*mergeInput, len(group))
	defer func() {
		for _, in := range ins {
			if in != nil && in.keys != nil {
				stash[in.input] = in.mergeMaps
			}
		}
	}()
	for k, s := range group {
		r := inputs[s.input]
		in := &mergeInput{r: r, idx: k, input: s.input, gi: s.g0, gEnd: s.g1, mergeMaps: stash[s.input]}
		ins[k] = in
		ok, err := in.next()
		if err != nil {
			return fmt.Errorf("merge %s: read %s: %w", path, r.Path(), err)
		}
		if ok {
			h = append(h, in)
		}
	}
	h.init()
	for ; len(h) > 0; *n++ {
		if *n%mergeCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("merge %s: %w", path, err)
			}
		}
		in := h[0]
		if err := w.addRaw(in); err != nil {
			if in.err != nil {
				return fmt.Errorf("merge %s: read %s: %w", path, in.r.Path(), err)
			}
			return fmt.Errorf("merge %s: %w", path, err)
		}
		ok, err := in.next()
		if err != nil {
			return fmt.Errorf("merge %s: read %s: %w", path, in.r.Path(), err)
		}
		if ok {
			h.down(0)
			continue
		}
		in.release()
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		h.down(0)
	}
	return nil
}

// mergeInput is a cursor over the spans of one input of Merge, in stored
// order, one granule at a time: the cheap columns are decoded, the heavy
// ones are left encoded (pos are the current span's offsets in them).
type mergeInput struct {
	r     *Reader
	idx   int // position in the merge group: ties go to the lower
	input int // index of r in the inputs
	gi    int // next granule
	gEnd  int // end of the granules to read (of a section)
	gd    *gdec
	i     int              // current span in gd, -1 before the first
	pos   [numHeavy]int    // offsets of the current span in the heavy columns
	cur   [numHeavy]uint32 // its lengths there (set by Writer.addRaw)
	err   error            // the input is corrupt

	// Sort key of the current span: trace ID (big-endian halves), start.
	hi, lo uint64
	start  int64

	mergeMaps
	vals []valMap // value of the current granule -> output entry
}

// mergeMaps map an input's dictionaries to the output's (index+1; 0 = not
// mapped yet), filled as spans use them.
type mergeMaps struct {
	keys   []uint32 // key index -> output key ref+1
	res    []uint32
	scopes []uint32
	shapes []int32 // shape -> output shape+1; -1: depends on the span (inline keys)
}

type valMap struct {
	gen uint32 // valueDict.gen the entry is valid for
	idx int32  // output value entry
}

// next moves to the next span; false at the end.
func (in *mergeInput) next() (bool, error) {
	for {
		if gd := in.gd; gd != nil {
			if in.i >= 0 {
				for c := range in.pos {
					in.pos[c] += int(in.cur[c])
				}
			}
			in.i++
			if in.i < gd.n {
				id := &gd.runIDs[gd.run[in.i]]
				in.hi = binary.BigEndian.Uint64(id[:8])
				in.lo = binary.BigEndian.Uint64(id[8:])
				in.start = gd.start[in.i]
				return true, nil
			}
			for c := range in.pos {
				if in.pos[c] != len(gd.cols[firstHeavy+c]) {
					return false, in.fail(gd.corrupt(firstHeavy+c, "trailing bytes", nil))
				}
			}
			in.release()
		}
		if in.gi >= in.gEnd {
			return false, nil
		}
		if in.r.closed.Load() {
			return false, ErrClosed
		}
		gd := getGdec(in.r, in.gi)
		in.gi++
		in.gd, in.i, in.pos = gd, -1, [numHeavy]int{}
		in.cur = [numHeavy]uint32{}
		if err := gd.readCols(0, numCols); err != nil {
			return false, in.fail(err)
		}
		if err := gd.decodeRuns(); err != nil {
			return false, in.fail(err)
		}
		if err := gd.decodeCheap(gd.n); err != nil {
			return false, in.fail(err)
		}
		if in.keys == nil {
			dc := gd.dict
			in.keys = make([]uint32, len(dc.keys))
			in.res = make([]uint32, len(dc.res))
			in.scopes = make([]uint32, len(dc.scopes))
			in.shapes = make([]int32, dc.shapes.len())
		}
		n := len(gd.vals.ents)
		if cap(in.vals) < n {
			in.vals = make([]valMap, n)
		}
		in.vals = in.vals[:n]
		clear(in.vals)
	}
}

func (in *mergeInput) fail(err error) error {
	in.err = err
	return err
}

func (in *mergeInput) release() {
	if in.gd != nil {
		putGdec(in.gd)
		in.gd = nil
	}
}

// mergeHeap is a binary min-heap of inputs by their current span.
type mergeHeap []*mergeInput

func (h mergeHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	switch {
	case a.hi != b.hi:
		return a.hi < b.hi
	case a.lo != b.lo:
		return a.lo < b.lo
	case a.start != b.start:
		return a.start < b.start
	}
	return a.idx < b.idx
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h mergeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// rawAttr is an attribute whose tokens wait until its span is kept (see
// Writer.appendAttrs). Its strings may alias the input of addRaw.
type rawAttr struct {
	ref uint32 // output key ref
	key string
	typ model.ValueType
	str string
	num uint64
}

// addRaw adds the current span of in, as Add would add it decoded.
func (w *Writer) addRaw(in *mergeInput) error {
	gd := in.gd
	i := in.i
	var ws wspan
	copy(ws.spanID[:], gd.cols[colSpanID][8*i:])
	id := &gd.runIDs[gd.run[i]]
	if err := w.checkOrder(id, gd.start[i], ws.spanID); err != nil {
		return err
	}
	newTrace := w.startSpan(id)
	if w.err != nil {
		return w.err
	}
	ws.parentID = gd.parent[i]
	ws.start, ws.end = gd.start[i], gd.end[i]
	ws.name = gd.name[i]
	ws.nameIdx = w.nameRef(ws.name, true)
	ws.kind = int8(gd.cols[colKindStatus][2*i])
	ws.status = int8(gd.cols[colKindStatus][2*i+1])
	ws.res = w.rawResource(in, gd.res[i])
	ws.scope = w.rawScope(in, gd.scope[i])

	p := &w.pend
	for c := range p.heavy {
		ws.heavy[c] = uint32(len(p.heavy[c]))
	}
	w.spanVals, w.spanValBytes = len(w.values.ents), len(w.values.data)
	var err error
	var n int
	// On an error the Writer is left inconsistent: Merge aborts it.
	p.heavy[0], n, err = w.rawAttrs(p.heavy[0], gd.cols[colAttrs][in.pos[0]:], in)
	if err != nil {
		return in.fail(gd.corrupt(colAttrs, "bad encoding", err))
	}
	in.cur[0] = uint32(n)
	for c := 1; c < numHeavy; c++ {
		src := gd.cols[firstHeavy+c][in.pos[c]:]
		var n int
		switch firstHeavy + c {
		case colEvents:
			n = skipEventsAt(src)
		case colLinks:
			n = skipLinksAt(src)
		case colMisc:
			n = skipMiscAt(src)
		}
		if n < 0 {
			return in.fail(gd.corrupt(firstHeavy+c, "bad encoding", nil))
		}
		in.cur[c] = uint32(n)
		p.heavy[c] = append(p.heavy[c], src[:n]...)
	}
	if keep, err := w.keepSpan(&ws, id, newTrace); !keep {
		return err
	}
	w.deferredTokens()
	if len(p.heavy[1])-int(ws.heavy[1]) > 1 {
		p.tokens = w.th.events(p.tokens, p.heavy[1][ws.heavy[1]:])
	}
	if len(p.heavy[2])-int(ws.heavy[2]) > 1 {
		p.tokens = w.th.links(p.tokens, p.heavy[2][ws.heavy[2]:])
	}
	w.countSpan(&ws)
	return nil
}

// rawResource returns the output index of resource k of in's dictionary.
func (w *Writer) rawResource(in *mergeInput, k uint32) uint32 {
	if v := in.res[k]; v != 0 {
		return v - 1
	}
	r := in.gd.dict.res[k]
	i, ok := w.res.cached(unsafe.Pointer(r))
	if !ok {
		i = w.internResource(r)
	}
	in.res[k] = i + 1
	return i
}

// rawScope returns the output index of scope k of in's dictionary.
func (w *Writer) rawScope(in *mergeInput, k uint32) uint32 {
	if v := in.scopes[k]; v != 0 {
		return v - 1
	}
	s := in.gd.dict.scopes[k]
	i, ok := w.scopes.cached(unsafe.Pointer(s))
	if !ok {
		i = w.internScope(s)
	}
	in.scopes[k] = i + 1
	return i
}

// rawAttrs appends the output encoding of the attrs-column entry at the
// start of src (a span of in's current granule) to dst and returns the
// entry's length in src. It adds tokens and defers some as appendAttrs.
func (w *Writer) rawAttrs(dst, src []byte, in *mergeInput) ([]byte, int, error) {
	gd := in.gd
	vt, keys := &gd.vals, gd.dict.keys
	w.deferred = w.deferred[:0]
	vals, outTags := w.rowVals[:0], w.tagBuf[:0]
	var inTags []uint64
	var n uint64
	var p int
	shape := uint64(0) // input shape index+1, 0 if inline (or version 1)
	outShape := int32(0)
	if vt.v1 {
		if n, p = uvarint(src, 0); p < 0 || n > uint64(len(src)) {
			return dst, 0, errBadRow
		}
	} else {
		var err error
		if inTags, p, err = rowShape(src, &gd.dict.shapes, w.tagBuf2[:0]); err != nil {
			return dst, 0, err
		}
		if src[0] != 0 {
			shape, _ = uvarint(src, 0)
			outShape = in.shapes[shape-1]
		} else {
			w.tagBuf2 = inTags
		}
		n = uint64(len(inTags))
	}
	cacheable := shape != 0
	for i := uint64(0); i < n; i++ {
		var tag uint64
		if vt.v1 {
			if p < len(src) && src[p] < 0x80 {
				tag = uint64(src[p])
				p++
			} else if tag, p = uvarintSlow(src, p); p < 0 {
				return dst, 0, errBadRow
			}
		} else {
			tag = inTags[i]
		}
		typ := model.ValueType(tag & 7)
		var ref uint32
		var key string
		if r := tag >> 3; r == 0 {
			kb, q := stringAt(src, p)
			if q < 0 {
				return dst, 0, errBadRow
			}
			p = q
			key = unsafe.String(unsafe.SliceData(kb), len(kb))
			ref = w.keys.ref(key, false)
			cacheable = false
		} else {
			if r > uint64(len(keys)) {
				return dst, 0, errBadRow
			}
			m := &in.keys[r-1]
			if *m == 0 {
				*m = w.keys.ref(keys[r-1], true) + 1
			}
			ref = *m - 1
			key = keys[r-1]
		}
		if outShape <= 0 {
			outTags = append(outTags, uint64(ref)<<3|uint64(typ))
		}
		if ref == 0 {
			vals = model.AppendString(vals, key)
		}
		switch typ {
		case model.TypeStr:
			var v uint64
			if vt.v1 {
			} else if p < len(src) && src[p] < 0x80 {
				v = uint64(src[p])
				p++
			} else if v, p = uvarintSlow(src, p); p < 0 {
				return dst, 0, errBadRow
			}
			var val []byte
			entry := -1
			if v == 0 {
				var q int
				if val, q = stringAt(src, p); q < 0 {
					return dst, 0, errBadRow
				}
				p = q
			} else if entry = vt.index(uint32(tag>>3), v); entry < 0 {
				return dst, 0, errBadRow
			} else {
				val = vt.bytes(entry)
			}
			if ref != 0 {
				if ki := &w.keys.info[ref-1]; ki.gen != w.gen || !ki.topDone {
					w.keyTokens(ref, typ, unsafe.String(unsafe.SliceData(val), len(val)), 0)
				}
				if idx := w.rawValue(in, ref, entry, val); idx >= 0 {
					vals = binary.AppendUvarint(vals, uint64(w.values.ents[idx].local))
					continue
				}
			}
			vals = append(vals, 0)
			vals = binary.AppendUvarint(vals, uint64(len(val)))
			vals = append(vals, val...)
			w.deferred = append(w.deferred, rawAttr{ref: ref, key: key, typ: typ, str: unsafe.String(unsafe.SliceData(val), len(val))})
			continue
		case model.TypeInt:
			x, k := binary.Varint(src[p:])
			if k <= 0 {
				return dst, 0, errBadRow
			}
			vals = append(vals, src[p:p+k]...)
			p += k
			if ref != 0 {
				w.keyTokens(ref, typ, "", uint64(x))
				continue
			}
			w.deferred = append(w.deferred, rawAttr{key: key, typ: typ, num: uint64(x)})
			continue
		case model.TypeBool:
			if p >= len(src) {
				return dst, 0, errBadRow
			}
			b := src[p]
			vals = append(vals, b)
			p++
			if ref != 0 {
				w.keyTokens(ref, typ, "", uint64(b&1))
				continue
			}
			w.deferred = append(w.deferred, rawAttr{key: key, typ: typ, num: uint64(b & 1)})
			continue
		}
		q := skipValueAt(src, p, byte(typ))
		if q < 0 {
			return dst, 0, errBadRow
		}
		vals = append(vals, src[p:q]...)
		p = q
		if ref != 0 {
			w.keyTokens(ref, typ, "", 0)
		} else {
			w.deferred = append(w.deferred, rawAttr{key: key, typ: typ})
		}
	}
	w.rowVals, w.tagBuf = vals, outTags
	if outShape > 0 {
		dst = binary.AppendUvarint(dst, uint64(outShape))
	} else {
		var idx int
		dst, idx = w.appendShapeRef(dst, outTags)
		if shape != 0 {
			in.shapes[shape-1] = -1
			if cacheable && idx >= 0 {
				in.shapes[shape-1] = int32(idx + 1)
			}
		}
	}
	return append(dst, vals...), p, nil
}

// uvarint decodes a uvarint at b[p:] and returns it and the position after
// it (-1 if malformed). The one-byte case is inlined.
func uvarint(b []byte, p int) (uint64, int) {
	if p < len(b) && b[p] < 0x80 {
		return uint64(b[p]), p + 1
	}
	return uvarintSlow(b, p)
}

func uvarintSlow(b []byte, p int) (uint64, int) {
	if p+1 < len(b) && b[p+1] < 0x80 {
		return uint64(b[p]&0x7f) | uint64(b[p+1])<<7, p + 2
	}
	if p >= len(b) {
		return 0, -1
	}
	v, k := binary.Uvarint(b[p:])
	if k <= 0 {
		return 0, -1
	}
	return v, p + k
}

// rawValue returns the output value entry for a string attribute with
// output key ref, whose value val is entry (≥ 0) of the input granule's
// values or inline (entry < 0); -1 when the output dictionary is full.
func (w *Writer) rawValue(in *mergeInput, ref uint32, entry int, val []byte) int {
	vd := &w.values
	if entry < 0 {
		return vd.ref(ref, unsafe.String(unsafe.SliceData(val), len(val)))
	}
	m := &in.vals[entry]
	if m.gen == vd.gen {
		if e := &vd.ents[m.idx]; e.key == ref {
			e.count++
			return int(m.idx)
		}
	}
	idx := vd.ref(ref, unsafe.String(unsafe.SliceData(val), len(val)))
	if idx >= 0 {
		*m = valMap{gen: vd.gen, idx: int32(idx)}
	}
	return idx
}

// stringAt returns the string at b[p:] and the position after it (-1 if
// malformed).
func stringAt(b []byte, p int) ([]byte, int) {
	q := skipStringAt(b, p)
	if q < 0 {
		return nil, -1
	}
	_, k := binary.Uvarint(b[p:])
	return b[p+k : q], q
}

// skipModelAttrsAt returns the position after a model.AppendAttrs encoding
// at b[p:], or -1.
func skipModelAttrsAt(b []byte, p int) int {
	n, k := binary.Uvarint(b[p:])
	if k <= 0 || n > uint64(len(b)-p) {
		return -1
	}
	p += k
	for ; n > 0 && p >= 0; n-- {
		if p = skipStringAt(b, p); p < 0 || p >= len(b) {
			return -1
		}
		t := b[p]
		if t > byte(model.TypeMap) {
			return -1
		}
		p = skipValueAt(b, p+1, t)
	}
	return p
}

// skipEventsAt returns the length of the model.AppendEvents encoding at the
// start of b, or -1.
func skipEventsAt(b []byte) int {
	n, p := binary.Uvarint(b)
	if p <= 0 || n > uint64(len(b)) {
		return -1
	}
	for ; n > 0 && p >= 0; n-- {
		if _, k := binary.Varint(b[p:]); k <= 0 {
			return -1
		} else {
			p += k
		}
		if p = skipStringAt(b, p); p < 0 {
			return -1
		}
		if p = skipModelAttrsAt(b, p); p < 0 {
			return -1
		}
		p = skipUint32At(b, p)
	}
	return p
}

// skipLinksAt returns the length of the model.AppendLinks encoding at the
// start of b, or -1.
func skipLinksAt(b []byte) int {
	n, p := binary.Uvarint(b)
	if p <= 0 || n > uint64(len(b)) {
		return -1
	}
	for ; n > 0 && p >= 0; n-- {
		if len(b)-p < 24 {
			return -1
		}
		p += 24
		if p = skipStringAt(b, p); p < 0 {
			return -1
		}
		if p = skipUint32At(b, p); p < 0 {
			return -1
		}
		if p = skipModelAttrsAt(b, p); p < 0 {
			return -1
		}
		p = skipUint32At(b, p)
	}
	return p
}

// skipMiscAt returns the length of the misc-column entry at the start of
// b, or -1.
func skipMiscAt(b []byte) int {
	p := skipStringAt(b, 0)
	if p >= 0 {
		p = skipUint32At(b, p)
	}
	if p >= 0 {
		p = skipStringAt(b, p)
	}
	for i := 0; i < 3 && p >= 0; i++ {
		p = skipUint32At(b, p)
	}
	return p
}

// skipUint32At returns the position after a uvarint of at most 32 bits at
// b[p:] (what model.Decoder.Uint32 accepts), or -1.
func skipUint32At(b []byte, p int) int {
	if x, k := binary.Uvarint(b[p:]); k > 0 && x <= 1<<32-1 {
		return p + k
	}
	return -1
}
