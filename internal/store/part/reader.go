package part

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// Reader reads one part file. Open validates the header, trailer and
// footer; column blocks are read with ReadAt, checked against their CRC and
// decompressed only when a call needs them. A Reader is safe for
// concurrent use by many goroutines.
type Reader struct {
	ra     io.ReaderAt
	f      *os.File // nil unless opened by Open
	size   int64
	path   string
	ft     *footer
	meta   *Meta
	blooms []*bloom.Filter // trace filter of each section
	verify bool            // check CRCs (tests turn it off to fuzz the decoders)
	closed atomic.Bool

	dictOnce sync.Once
	dict     *dict
	dictErr  error
}

// dict is the part's dictionary block, loaded on first use.
type dict struct {
	res    []*model.Resource
	resSvc []uint32 // service index of each resource
	scopes []*model.Scope
	keys   []string
	shapes shapeTable // version 2
}

// Open opens a part file and reads its footer. It returns an error
// matching ErrCorrupt (a *CorruptError) if the file is not a complete,
// valid part of this version. It never panics on a corrupt file.
func Open(path string) (*Reader, error) { return open(path, true) }

func open(path string, verify bool) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open part: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open part: %w", err)
	}
	r, err := newReader(f, st.Size(), path, verify)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

// NewReader reads a part of size bytes from ra (for parts not in a local
// file, such as in an object store; ra must be safe for concurrent
// ReadAt). name is used in errors and by Path. Close does not close ra.
// Errors are as for Open.
func NewReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	return newReader(ra, size, name, true)
}

func newReader(ra io.ReaderAt, size int64, name string, verify bool) (*Reader, error) {
	r := &Reader{ra: ra, size: size, path: name, verify: verify}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) corrupt(off int64, reason string, err error) error {
	return &CorruptError{Path: r.path, Offset: off, Reason: reason, Err: err}
}

// readAt reads len(b) bytes at off; a short read means the file is
// shorter than its footer claims.
func (r *Reader) readAt(b []byte, off int64) error {
	if r.closed.Load() {
		return ErrClosed
	}
	n, err := r.ra.ReadAt(b, off)
	if n == len(b) {
		return nil // io.ReaderAt may return io.EOF with a full read at the end
	}
	if err == nil || errors.Is(err, io.EOF) {
		return r.corrupt(off, "unexpected end of file", nil)
	}
	if err != nil {
		return fmt.Errorf("read part %s: %w", r.path, err)
	}
	return nil
}

func (r *Reader) load() error {
	size := r.size
	if size < headerSize+trailerSize {
		return r.corrupt(0, fmt.Sprintf("file of %d bytes is too short", size), nil)
	}
	var hdr [headerSize]byte
	if err := r.readAt(hdr[:], 0); err != nil {
		return err
	}
	if string(hdr[:len(magic)]) != magic {
		return r.corrupt(0, "bad header magic", nil)
	}
	version := int(hdr[len(magic)])
	if version < 1 || version > Version && !r.newer(version) {
		return r.corrupt(int64(len(magic)), fmt.Sprintf("format version %d, this build reads 1 to %d", version, Version), nil)
	}
	if version > Version {
		return fmt.Errorf("part %s: format version %d, this build reads 1 to %d: %w", r.path, version, Version, ErrNewerVersion)
	}
	var tr [trailerSize]byte
	trOff := size - trailerSize
	if err := r.readAt(tr[:], trOff); err != nil {
		return err
	}
	if string(tr[8:8+len(magic)]) != magic || int(tr[trailerSize-1]) != version {
		return r.corrupt(trOff, "bad trailer magic", nil)
	}
	flen := int64(binary.LittleEndian.Uint32(tr[0:]))
	if flen > trOff-headerSize || flen < 2 {
		return r.corrupt(trOff, fmt.Sprintf("footer length %d out of range", flen), nil)
	}
	fOff := trOff - flen
	stored := make([]byte, flen)
	if err := r.readAt(stored, fOff); err != nil {
		return err
	}
	if r.verify && crc32.Checksum(stored, castagnoli) != binary.LittleEndian.Uint32(tr[4:]) {
		return r.corrupt(fOff, "footer checksum mismatch", nil)
	}
	rawLen, n := binary.Uvarint(stored)
	if n <= 0 || rawLen > maxFooterRaw {
		return r.corrupt(fOff, "bad footer length", nil)
	}
	raw, err := decompress(nil, stored[n:], int(rawLen))
	if err != nil {
		return r.corrupt(fOff, "footer", err)
	}
	ft, err := decodeFooter(raw, version, fOff)
	if err != nil {
		return r.corrupt(fOff, "footer", err)
	}
	r.ft = ft
	r.blooms = make([]*bloom.Filter, len(ft.sections))
	for i := range ft.sections {
		b := &ft.sections[i].bloom
		bb, err := r.readBlock(b, nil, nil) // the filter keeps bb
		if err != nil {
			return err
		}
		if r.blooms[i], err = bloom.Decode(bb); err != nil {
			return r.corrupt(b.off, "trace filter", err)
		}
	}
	r.meta = ft.meta(size)
	return nil
}

// newer reports whether a part whose header says format version v (above
// Version) was written by a newer build rather than damaged: its trailer
// has the magic and the same version.
func (r *Reader) newer(v int) bool {
	var tr [trailerSize]byte
	if r.readAt(tr[:], r.size-trailerSize) != nil {
		return false
	}
	return string(tr[8:8+len(magic)]) == magic && int(tr[trailerSize-1]) == v
}

// readBlock reads, checks and decompresses one block. buf and out are
// reusable buffers for the stored and the decompressed bytes; the result
// aliases one of them (or new memory).
func (r *Reader) readBlock(b *blockRef, buf, out []byte) ([]byte, error) {
	if cap(buf) < b.size {
		buf = make([]byte, b.size)
	}
	buf = buf[:b.size]
	if err := r.readAt(buf, b.off); err != nil {
		return nil, err
	}
	return r.checkBlock(b, buf, out)
}

// checkBlock verifies the stored bytes of block b and decompresses them
// into out (raw blocks are copied, so the result never aliases stored).
func (r *Reader) checkBlock(b *blockRef, stored, out []byte) ([]byte, error) {
	if r.verify && crc32.Checksum(stored, castagnoli) != b.crc {
		return nil, r.corrupt(b.off, "block checksum mismatch", nil)
	}
	if b.codec == codecRaw {
		return append(out[:0], stored...), nil
	}
	res, err := decompress(out, stored, b.raw)
	if err != nil {
		return nil, r.corrupt(b.off, "block", err)
	}
	return res, nil
}

// Meta returns the part's description. It is shared: do not modify it.
func (r *Reader) Meta() *Meta { return r.meta }

// Path returns the file path.
func (r *Reader) Path() string { return r.path }

// MayContain reports whether the part may hold spans of trace id (false:
// certainly not). It uses only memory.
func (r *Reader) MayContain(id model.TraceID) bool {
	h := bloom.Hash(id[:])
	for _, bf := range r.blooms {
		if bf.MayContain(h) {
			return true
		}
	}
	return false
}

// Close closes the file (of a Reader from Open). Calls made after Close
// return ErrClosed; calls in flight may fail with an I/O error. Closing
// twice is a no-op.
func (r *Reader) Close() error {
	if r.closed.Swap(true) || r.f == nil {
		return nil
	}
	return r.f.Close()
}

// loadDict reads the dictionary block once.
func (r *Reader) loadDict() (*dict, error) {
	r.dictOnce.Do(func() {
		r.dict, r.dictErr = r.readDict()
	})
	return r.dict, r.dictErr
}

func (r *Reader) readDict() (*dict, error) {
	b := &r.ft.dict
	raw, err := r.readBlock(b, nil, nil)
	if err != nil {
		return nil, err
	}
	d := model.NewDecoder(raw)
	dc := &dict{}
	nres := d.Count(3)
	dc.res = make([]*model.Resource, 0, nres)
	for i := 0; i < nres && d.Err() == nil; i++ {
		dc.res = append(dc.res, d.Resource())
	}
	nsc := d.Count(5)
	dc.scopes = make([]*model.Scope, 0, nsc)
	for i := 0; i < nsc && d.Err() == nil; i++ {
		dc.scopes = append(dc.scopes, d.Scope())
	}
	nk := d.Count(1)
	dc.keys = make([]string, 0, nk)
	for i := 0; i < nk && d.Err() == nil; i++ {
		dc.keys = append(dc.keys, d.String())
	}
	dc.shapes.reset()
	if r.ft.version >= 2 {
		if ns := d.Count(1); d.Err() == nil {
			rest := d.Rest()
			p, err := dc.shapes.parse(rest, 0, uint64(ns))
			if err != nil {
				return nil, r.corrupt(b.off, "dictionary", err)
			}
			d.Bytes(p)
		}
	}
	if err := d.Err(); err != nil {
		return nil, r.corrupt(b.off, "dictionary", err)
	}
	if len(d.Rest()) != 0 {
		return nil, r.corrupt(b.off, "dictionary has trailing bytes", nil)
	}
	svc := make(map[string]uint32, len(r.ft.services))
	for i, s := range r.ft.services {
		svc[s] = uint32(i)
	}
	dc.resSvc = make([]uint32, len(dc.res))
	for i, res := range dc.res {
		si, ok := svc[res.Service()]
		if !ok {
			return nil, r.corrupt(b.off, "resource of a service missing from the footer", nil)
		}
		dc.resSvc[i] = si
	}
	return dc, nil
}

// Trace returns the spans of trace id in stored order (start time, then
// write order), or nil, nil if the part has none. The spans are newly
// allocated and owned by the caller; their Resource and Scope are shared
// with the Reader and must not be modified.
func (r *Reader) Trace(id model.TraceID) ([]model.Span, error) { return r.trace(id, true) }

// TraceCheap is Trace with only the cheap fields of each span set (TraceID,
// SpanID, ParentID, Name, Kind, StatusCode, Start, End, Resource, Scope):
// all a trace summary needs. It reads and decompresses only the cheap
// columns of the granules that hold the trace, a fraction of Trace's work.
func (r *Reader) TraceCheap(id model.TraceID) ([]model.Span, error) { return r.trace(id, false) }

func (r *Reader) trace(id model.TraceID, heavy bool) ([]model.Span, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	h := bloom.Hash(id[:])
	var out []model.Span
	found := 0 // sections holding spans of the trace
	for si, sec := range r.ft.sections {
		if !r.blooms[si].MayContain(h) {
			continue
		}
		gs := r.ft.granules[sec.g0:sec.g1]
		lo := sort.Search(len(gs), func(i int) bool { return compareID(&gs[i].first, &id) >= 0 })
		// The trace starts in granule lo if that granule begins with it
		// (and does not continue it from lo-1); otherwise it can only be
		// the last trace of lo-1, possibly continued in the granules after.
		start := lo
		if start == len(gs) || gs[start].first != id || gs[start].cont {
			start--
		}
		start = max(start, 0)
		n := len(out)
		for i := start; i < len(gs) && (i == start || gs[i].first == id); i++ {
			var err error
			if out, err = r.traceInGranule(sec.g0+i, id, heavy, out); err != nil {
				return nil, err
			}
		}
		if len(out) > n {
			found++
		}
	}
	if found > 1 {
		// A trace in several sections: back to start order.
		slices.SortStableFunc(out, func(a, b model.Span) int { return cmp.Compare(a.Start, b.Start) })
	}
	return out, nil
}

// traceInGranule appends the spans of id in granule gi to out, with their
// heavy fields (attributes, events, links, the rest) only if heavy.
func (r *Reader) traceInGranule(gi int, id model.TraceID, heavy bool, out []model.Span) ([]model.Span, error) {
	gd := getGdec(r, gi)
	defer putGdec(gd)
	if err := gd.readCols(colTrace, colTrace+1); err != nil {
		return out, err
	}
	if err := gd.decodeRuns(); err != nil {
		return out, err
	}
	k := sort.Search(len(gd.runIDs), func(i int) bool { return compareID(&gd.runIDs[i], &id) >= 0 })
	if k == len(gd.runIDs) || gd.runIDs[k] != id {
		return out, nil
	}
	from := 0
	if k > 0 {
		from = int(gd.runEnd[k-1])
	}
	to := int(gd.runEnd[k])
	last := numCols
	if !heavy {
		last = firstHeavy
	}
	if err := gd.readCols(colTrace+1, last); err != nil {
		return out, err
	}
	if err := gd.decodeCheap(to); err != nil {
		return out, err
	}
	if heavy {
		gd.seekRun(k)
	}
	for i := from; i < to; i++ {
		out = append(out, model.Span{})
		s := &out[len(out)-1]
		gd.cheapSpan(i, s)
		if !heavy {
			continue
		}
		if err := gd.heavySpan(i, s, false); err != nil {
			return out, err
		}
	}
	return out, nil
}
