package part

import (
	"fmt"
	"sync"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// gdec decodes one granule. It is pooled: its buffers are reused across
// granules and readers.
type gdec struct {
	r    *Reader
	g    *granule
	dict *dict

	read   []byte
	cols   [numCols][]byte
	colBuf [numCols][]byte
	loaded [numCols]bool // cols[c] holds column c

	// Cheap columns, decoded for spans [0, decoded).
	n       int
	decoded int
	runIDs  []model.TraceID
	runEnd  []int32 // end (exclusive) of each run
	// runHeavy[k] are the offsets of run k in the heavy columns;
	// runHeavy[len(runs)] their lengths.
	runHeavy [][numHeavy]uint64
	run      []int32 // run of each span
	parent   []model.SpanID
	start    []int64
	end      []int64
	name     []string
	res      []uint32
	scope    []uint32

	// Heavy columns: one cursor per column, at span heavyPos[c].
	heavy    [numHeavy]*model.Decoder
	heavyPos [numHeavy]int
	vals     valueTable   // the values column, read with the heavy columns
	attrs    []model.Attr // reused by Scan and Iter
	tagBuf   []uint64     // inline shapes
}

var gdecPool = sync.Pool{New: func() any { return new(gdec) }}

func getGdec(r *Reader, gi int) *gdec {
	gd := gdecPool.Get().(*gdec)
	gd.r = r
	gd.g = &r.ft.granules[gi]
	gd.n = gd.g.spans
	gd.decoded = 0
	gd.loaded = [numCols]bool{}
	gd.runIDs = gd.runIDs[:0]
	for c := range gd.heavy {
		gd.heavy[c] = nil
		gd.heavyPos[c] = 0
	}
	return gd
}

// maxPooled bounds the buffers a pooled gdec keeps.
const maxPooled = 16 << 20

func putGdec(gd *gdec) {
	gd.r, gd.g, gd.dict = nil, nil, nil
	for c := range gd.cols {
		gd.cols[c] = nil
		if cap(gd.colBuf[c]) > maxPooled {
			gd.colBuf[c] = nil
		}
	}
	if cap(gd.read) > maxPooled {
		gd.read = nil
	}
	clear(gd.name) // do not pin inline names
	clear(gd.attrs)
	clear(gd.vals.strs)
	gd.vals.data = nil
	gdecPool.Put(gd)
}

func (gd *gdec) corrupt(c int, reason string, err error) error {
	return gd.r.corrupt(gd.g.cols[c].off, fmt.Sprintf("granule column %s: %s", colNames[c], reason), err)
}

// readCols reads, checks and decompresses columns [from, to) with one
// ReadAt (they are contiguous in the file). Columns already loaded are
// left as they are.
func (gd *gdec) readCols(from, to int) error {
	for from < to && gd.loaded[from] {
		from++
	}
	for to > from && gd.loaded[to-1] {
		to--
	}
	if from == to {
		return nil
	}
	first, last := &gd.g.cols[from], &gd.g.cols[to-1]
	size := int(last.off + int64(last.size) - first.off)
	if cap(gd.read) < size {
		gd.read = make([]byte, size)
	}
	buf := gd.read[:size]
	if err := gd.r.readAt(buf, first.off); err != nil {
		return err
	}
	for c := from; c < to; c++ {
		if gd.loaded[c] {
			continue
		}
		b := &gd.g.cols[c]
		rel := b.off - first.off
		out, err := gd.r.checkBlock(b, buf[rel:rel+int64(b.size)], gd.colBuf[c])
		if err != nil {
			return err
		}
		gd.cols[c], gd.colBuf[c] = out, out
		gd.loaded[c] = true
		switch {
		case c == colValues:
			dc, err := gd.r.loadDict()
			if err != nil {
				return err
			}
			if err := gd.vals.parse(out, gd.r.ft.version == 1, len(dc.keys)); err != nil {
				return gd.corrupt(c, "bad encoding", err)
			}
		case c >= firstHeavy:
			gd.heavy[c-firstHeavy] = model.NewDecoder(out)
			gd.heavyPos[c-firstHeavy] = 0
		}
	}
	return nil
}

// decodeRuns decodes the trace column.
func (gd *gdec) decodeRuns() error {
	d := model.NewDecoder(gd.cols[colTrace])
	nr := d.Count(17)
	ids := d.Bytes(16 * nr)
	if d.Err() != nil || nr == 0 {
		return gd.corrupt(colTrace, "bad run count", d.Err())
	}
	gd.runIDs = gd.runIDs[:0]
	gd.runEnd = gd.runEnd[:0]
	end := uint64(0)
	for i := 0; i < nr; i++ {
		var id model.TraceID
		copy(id[:], ids[16*i:])
		if i > 0 && compareID(&gd.runIDs[i-1], &id) >= 0 {
			return gd.corrupt(colTrace, "trace IDs out of order", nil)
		}
		gd.runIDs = append(gd.runIDs, id)
		n := d.Uvarint()
		if n == 0 || n > uint64(gd.n) {
			return gd.corrupt(colTrace, "bad run length", d.Err())
		}
		end += n
		if end > uint64(gd.n) {
			return gd.corrupt(colTrace, "runs exceed the granule", nil)
		}
		gd.runEnd = append(gd.runEnd, int32(end))
	}
	if end != uint64(gd.n) {
		return gd.corrupt(colTrace, "runs do not cover the granule", d.Err())
	}
	gd.runHeavy = append(gd.runHeavy[:0], [numHeavy]uint64{})
	for i := 0; i < nr; i++ {
		next := gd.runHeavy[i]
		for c := range next {
			next[c] += d.Uvarint()
			if next[c] > uint64(gd.g.cols[firstHeavy+c].raw) {
				return gd.corrupt(colTrace, "run offsets exceed a column", d.Err())
			}
		}
		gd.runHeavy = append(gd.runHeavy, next)
	}
	for c, n := range gd.runHeavy[nr] {
		if n != uint64(gd.g.cols[firstHeavy+c].raw) {
			return gd.corrupt(colTrace, "run offsets do not cover a column", d.Err())
		}
	}
	if len(d.Rest()) != 0 || d.Err() != nil {
		return gd.corrupt(colTrace, "trailing bytes", d.Err())
	}
	if gd.runIDs[0] != gd.g.first {
		return gd.corrupt(colTrace, "first trace ID differs from the footer", nil)
	}
	return nil
}

// decodeCheap decodes the cheap columns of spans [0, to). decodeRuns and
// readCols of the cheap columns must have succeeded.
func (gd *gdec) decodeCheap(to int) error {
	dc, err := gd.r.loadDict()
	if err != nil {
		return err
	}
	gd.dict = dc
	n := gd.n
	if len(gd.cols[colKindStatus]) != 2*n {
		return gd.corrupt(colKindStatus, "wrong length", nil)
	}
	gd.run = resize(gd.run, to)
	gd.parent = resize(gd.parent, to)
	gd.start = resize(gd.start, to)
	gd.end = resize(gd.end, to)
	gd.name = resize(gd.name, to)
	gd.res = resize(gd.res, to)
	gd.scope = resize(gd.scope, to)
	pd := model.NewDecoder(gd.cols[colParent])
	sd := model.NewDecoder(gd.cols[colStart])
	dd := model.NewDecoder(gd.cols[colDuration])
	nd := model.NewDecoder(gd.cols[colName])
	rd := model.NewDecoder(gd.cols[colResScope])
	spanIDs := gd.cols[colSpanID]
	names := gd.r.ft.names
	runStart := 0
	for k := 0; k < len(gd.runEnd) && runStart < to; k++ {
		runEnd := int(gd.runEnd[k])
		for i := runStart; i < runEnd && i < to; i++ {
			gd.run[i] = int32(k)
			switch tag := pd.Uvarint(); {
			case tag == 0:
				gd.parent[i] = model.SpanID{}
			case tag == 1:
				copy(gd.parent[i][:], pd.Bytes(8))
			case tag-2 < uint64(runEnd-runStart):
				j := runStart + int(tag-2)
				copy(gd.parent[i][:], spanIDs[8*j:8*j+8])
			default:
				return gd.corrupt(colParent, "parent index out of range", nil)
			}
			delta := sd.Uvarint()
			if i == runStart {
				gd.start[i] = int64(uint64(gd.g.minStart) + delta)
			} else {
				gd.start[i] = int64(uint64(gd.start[i-1]) + delta)
			}
			gd.end[i] = gd.start[i] + dd.Varint()
			switch ref := nd.Uvarint(); {
			case ref == 0:
				gd.name[i] = nd.String()
			case ref-1 < uint64(len(names)):
				gd.name[i] = names[ref-1]
			default:
				return gd.corrupt(colName, "name index out of range", nil)
			}
			ri, si := rd.Uvarint(), rd.Uvarint()
			if ri >= uint64(len(dc.res)) || si >= uint64(len(dc.scopes)) {
				return gd.corrupt(colResScope, "resource or scope index out of range", rd.Err())
			}
			gd.res[i], gd.scope[i] = uint32(ri), uint32(si)
		}
		runStart = runEnd
	}
	for _, cd := range [...]struct {
		c int
		d *model.Decoder
	}{{colParent, pd}, {colStart, sd}, {colDuration, dd}, {colName, nd}, {colResScope, rd}} {
		c, d := cd.c, cd.d
		if d.Err() != nil {
			return gd.corrupt(c, "bad encoding", d.Err())
		}
		if to == n && len(d.Rest()) != 0 {
			return gd.corrupt(c, "trailing bytes", nil)
		}
	}
	gd.decoded = to
	return nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// lastCandidate returns the index of the last span of the granule whose
// service is wanted (svcWanted nil: any) and whose duration is in [minDur,
// maxDur] (0: unbounded), or -1 if there is none. It reads and decodes only
// the duration and resource columns: a scan with such conditions skips the
// other columns of granules without candidates, and decodes the rest only
// up to the last candidate.
func (gd *gdec) lastCandidate(svcWanted []bool, minDur, maxDur int64) (int, error) {
	dc, err := gd.r.loadDict()
	if err != nil {
		return -1, err
	}
	if err := gd.readCols(colDuration, colDuration+1); err != nil {
		return -1, err
	}
	if svcWanted != nil {
		if err := gd.readCols(colResScope, colResScope+1); err != nil {
			return -1, err
		}
	}
	dd := model.NewDecoder(gd.cols[colDuration])
	rd := model.NewDecoder(gd.cols[colResScope])
	last := -1
	for i := 0; i < gd.n; i++ {
		d := dd.Varint()
		ok := (minDur == 0 || d >= minDur) && (maxDur == 0 || d <= maxDur)
		if svcWanted != nil {
			ri := rd.Uvarint()
			rd.Uvarint() // scope
			if ri >= uint64(len(dc.res)) {
				return -1, gd.corrupt(colResScope, "resource index out of range", rd.Err())
			}
			ok = ok && svcWanted[dc.resSvc[ri]]
		}
		if ok {
			last = i
		}
	}
	if err := dd.Err(); err != nil {
		return -1, gd.corrupt(colDuration, "bad encoding", err)
	}
	if err := rd.Err(); err != nil {
		return -1, gd.corrupt(colResScope, "bad encoding", err)
	}
	return last, nil
}

// cheapSpan fills s with the cheap fields of span i (decoded) and clears
// the others.
func (gd *gdec) cheapSpan(i int, s *model.Span) {
	*s = model.Span{
		TraceID:    gd.runIDs[gd.run[i]],
		ParentID:   gd.parent[i],
		Name:       gd.name[i],
		Kind:       int8(gd.cols[colKindStatus][2*i]),
		StatusCode: int8(gd.cols[colKindStatus][2*i+1]),
		Start:      gd.start[i],
		End:        gd.end[i],
		Resource:   gd.dict.res[gd.res[i]],
		Scope:      gd.dict.scopes[gd.scope[i]],
	}
	copy(s.SpanID[:], gd.cols[colSpanID][8*i:])
}

// seekRun positions the heavy column cursors at the first span of run k.
// readCols of the heavy columns and decodeRuns must have succeeded.
func (gd *gdec) seekRun(k int) {
	from := gd.runStart(k)
	for c, d := range gd.heavy {
		d.Reset(gd.cols[firstHeavy+c][gd.runHeavy[k][c]:])
		gd.heavyPos[c] = from
	}
}

// runStart is the index of the first span of run k.
func (gd *gdec) runStart(k int) int {
	if k == 0 {
		return 0
	}
	return int(gd.runEnd[k-1])
}

// heavySpan decodes the heavy fields of span i into s. Spans must be
// requested in increasing order per granule. With reuse, s.Attrs reuses a
// buffer owned by gd (valid until the next call).
func (gd *gdec) heavySpan(i int, s *model.Span, reuse bool) error {
	for c := range gd.heavy {
		d := gd.heavy[c]
		if gd.heavyPos[c] > i {
			return fmt.Errorf("part: internal error: span %d requested after %d", i, gd.heavyPos[c])
		}
		for ; gd.heavyPos[c] < i && d.Err() == nil; gd.heavyPos[c]++ {
			switch c + firstHeavy {
			case colAttrs:
				gd.skipAttrs(d)
			case colEvents:
				skipEvents(d)
			case colLinks:
				skipLinks(d)
			case colMisc:
				skipMisc(d)
			}
		}
		switch c + firstHeavy {
		case colAttrs:
			var buf []model.Attr
			if reuse {
				buf = gd.attrs
			}
			s.Attrs = gd.decodeAttrs(d, buf)
			if reuse {
				gd.attrs = s.Attrs
			}
			if len(s.Attrs) == 0 {
				s.Attrs = nil
			}
		case colEvents:
			s.Events = d.Events(s.Start)
		case colLinks:
			s.Links = d.Links()
		case colMisc:
			decodeMisc(d, s)
		}
		gd.heavyPos[c] = i + 1
		if d.Err() != nil {
			return gd.corrupt(c+firstHeavy, "bad encoding", d.Err())
		}
		if i == gd.n-1 && len(d.Rest()) != 0 {
			return gd.corrupt(c+firstHeavy, "trailing bytes", nil)
		}
	}
	return nil
}
