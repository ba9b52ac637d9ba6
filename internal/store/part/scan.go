package part

import (
	"context"
	"hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/part/bloom"
)

// Filter selects spans for Scan. The zero Filter selects every span.
type Filter struct {
	// MinStart and MaxStart bound the span start time (unix nanoseconds,
	// inclusive); 0 means unbounded.
	MinStart, MaxStart int64
	// MinDuration and MaxDuration bound End-Start (nanoseconds,
	// inclusive); 0 means unbounded.
	MinDuration, MaxDuration int64
	// Services: the span's service (its resource's service.name) must be
	// one of these; empty means any.
	Services []string
	// Tokens prune granules only: a granule is skipped when one of the
	// tokens is certainly absent from it. A token is KeyToken(key) (the key
	// is present on some span, event, link, resource or scope of the
	// granule) or the AttrToken form "key=value" for string, int and bool
	// values. Scan does not check tokens per span: the caller must check
	// the attributes of the spans it is given.
	Tokens []string
	// Complete says that pre will return true for most spans that satisfy
	// the filter: a parallel scan then reads and decompresses the columns
	// that complete them (attributes, events, links) on its workers, for
	// every granule with such a span, instead of on the caller's goroutine
	// when pre first asks.
	Complete bool
}

// Scan calls pre and fn for the spans of the part that satisfy f's time,
// duration and service conditions, in stored order, skipping the granules
// whose index or token filter shows that they hold no such span (and, with
// Tokens, granules where a token is certainly absent).
//
// For each such span pre is called first with the cheap fields set
// (TraceID, SpanID, ParentID, Name, Kind, StatusCode, Start, End, Resource,
// Scope; the others are zero). Only if pre returns true (or pre is nil) are
// the other fields decoded and fn called with the complete span. Scan stops
// when fn returns false (and returns nil) or when ctx is done (and returns
// ctx.Err()).
//
// The *model.Span passed to pre and fn and the slices it references
// (Attrs, Events, Links) are reused after the call returns: a caller that
// keeps anything must copy it. Strings are not reused and may be kept.
// Resource and Scope are shared with the Reader and must not be modified.
func (r *Reader) Scan(ctx context.Context, f *Filter, pre, fn func(*model.Span) bool) error {
	ft := r.ft
	all := section{g0: 0, g1: len(ft.granules), spans: ft.spans,
		minStart: ft.minStart, maxStart: ft.maxStart, minDur: ft.minDur, maxDur: ft.maxDur}
	return r.scan(ctx, &all, f, pre, fn)
}

// Sections returns the number of sections of the part (at least 1). A
// section is a run of granules sorted by trace ID; sections are in order of
// time (as written: Write and Merge put earlier traces first), and a trace
// may have spans in more than one.
func (r *Reader) Sections() int { return len(r.ft.sections) }

// SectionBounds returns the smallest and largest span start in section i
// (both 0 if it is empty).
func (r *Reader) SectionBounds(i int) (minStart, maxStart int64) {
	sec := &r.ft.sections[i]
	return sec.minStart, sec.maxStart
}

// ScanSection is Scan over the spans of section i only.
func (r *Reader) ScanSection(ctx context.Context, i int, f *Filter, pre, fn func(*model.Span) bool) error {
	return r.scan(ctx, &r.ft.sections[i], f, pre, fn)
}

func (r *Reader) scan(ctx context.Context, sec *section, f *Filter, pre, fn func(*model.Span) bool) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if f == nil {
		f = &Filter{}
	}
	ft := r.ft
	if sec.spans == 0 || !overlaps(sec.minStart, sec.maxStart, f.MinStart, f.MaxStart) ||
		!overlaps(sec.minDur, sec.maxDur, f.MinDuration, f.MaxDuration) {
		return nil
	}
	var svcWanted []bool // by service index; nil: any service
	if len(f.Services) > 0 {
		svcWanted = make([]bool, len(ft.services))
		any := false
		for _, s := range f.Services {
			for i, name := range ft.services {
				if name == s {
					svcWanted[i] = true
					any = true
				}
			}
		}
		if !any {
			return nil
		}
	}
	tokens := make([]uint64, len(f.Tokens))
	for i, t := range f.Tokens {
		tokens[i] = bloom.HashString(t)
	}
	var list []int // granules that may hold matching spans, by their index and service sets
	for gi := sec.g0; gi < sec.g1; gi++ {
		g := &ft.granules[gi]
		if !overlaps(g.minStart, g.maxStart, f.MinStart, f.MaxStart) ||
			!overlaps(g.minDur, g.maxDur, f.MinDuration, f.MaxDuration) {
			continue
		}
		if svcWanted != nil && !anyService(g, svcWanted, f.MinDuration) {
			continue
		}
		list = append(list, gi)
	}
	sc := scanner{r: r, f: f, svcWanted: svcWanted, tokens: tokens}
	if workers := min(runtime.GOMAXPROCS(0), maxScanWorkers); workers > 1 && len(list) >= minParallelGranules {
		return sc.parallel(ctx, list, workers, pre, fn)
	}
	var span model.Span
	for _, gi := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := sc.prepare(gi)
		stop, err := sc.consume(&p, &span, pre, fn)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// Scans of parts with at least minParallelGranules candidate granules
// decode them on up to maxScanWorkers goroutines (at most GOMAXPROCS):
// reading, checking, decompressing and decoding the cheap columns is most
// of a scan's work, and granules are independent. The callbacks still run
// on the caller's goroutine, in stored order.
const (
	minParallelGranules = 4
	maxScanWorkers      = 4
)

// scanner holds what the granules of one Scan share.
type scanner struct {
	r         *Reader
	f         *Filter
	svcWanted []bool
	tokens    []uint64
}

// prepared is a granule decoded up to its cheap columns, with the spans
// that satisfy the filter's time, duration and service conditions.
type prepared struct {
	gd     *gdec // nil: no span of the granule can match
	sel    []int32
	tokBuf []byte
	err    error
}

// prepare checks granule gi's token filter, decodes its cheap columns and
// selects its spans. It is safe to call concurrently.
func (sc *scanner) prepare(gi int) prepared {
	return sc.prepareInto(gi, nil, nil)
}

func (sc *scanner) prepareInto(gi int, sel []int32, tokBuf []byte) prepared {
	r, f := sc.r, sc.f
	p := prepared{sel: sel[:0], tokBuf: tokBuf}
	if len(sc.tokens) > 0 {
		var ok bool
		if ok, p.tokBuf, p.err = r.granuleMayContain(&r.ft.granules[gi], sc.tokens, p.tokBuf); p.err != nil || !ok {
			return p
		}
	}
	gd := getGdec(r, gi)
	to := gd.n // spans [0, to) may match
	if sc.svcWanted != nil || f.MinDuration != 0 || f.MaxDuration != 0 {
		last, err := gd.lastCandidate(sc.svcWanted, f.MinDuration, f.MaxDuration)
		if err != nil || last < 0 {
			p.err = err
			putGdec(gd)
			return p
		}
		to = last + 1
	}
	if p.err = gd.readCols(0, firstHeavy); p.err == nil {
		if p.err = gd.decodeRuns(); p.err == nil {
			p.err = gd.decodeCheap(to)
		}
	}
	if p.err != nil {
		putGdec(gd)
		return p
	}
	for i := 0; i < to; i++ {
		st, d := gd.start[i], gd.end[i]-gd.start[i]
		if f.MinStart != 0 && st < f.MinStart || f.MaxStart != 0 && st > f.MaxStart ||
			f.MinDuration != 0 && d < f.MinDuration || f.MaxDuration != 0 && d > f.MaxDuration {
			continue
		}
		if sc.svcWanted != nil && !sc.svcWanted[gd.dict.resSvc[gd.res[i]]] {
			continue
		}
		p.sel = append(p.sel, int32(i))
	}
	if len(p.sel) == 0 {
		putGdec(gd)
		return p
	}
	if f.Complete {
		if p.err = gd.readCols(firstHeavy, numCols); p.err != nil {
			putGdec(gd)
			return p
		}
	}
	p.gd = gd
	return p
}

// consume runs pre and fn over the selected spans of a prepared granule
// and releases it.
func (sc *scanner) consume(p *prepared, span *model.Span, pre, fn func(*model.Span) bool) (stop bool, err error) {
	if p.err != nil || p.gd == nil {
		return p.err != nil, p.err
	}
	gd := p.gd
	p.gd = nil
	defer putGdec(gd)
	heavy := false
	run := 0 // the run of span i
	for _, i := range p.sel {
		gd.cheapSpan(int(i), span)
		if pre != nil && !pre(span) {
			continue
		}
		if !heavy {
			if err := gd.readCols(firstHeavy, numCols); err != nil {
				return true, err
			}
			heavy = true
		}
		// Jump to the start of span i's run (the trace column has each
		// run's offsets in the heavy columns) instead of skipping every
		// span before it: the selected spans are usually few and far
		// apart.
		for int(gd.runEnd[run]) <= int(i) {
			run++
		}
		if start := gd.runStart(run); gd.heavyPos[0] < start {
			gd.seekRun(run)
		}
		if err := gd.heavySpan(int(i), span, true); err != nil {
			return true, err
		}
		if !fn(span) {
			return true, nil
		}
	}
	return false, nil
}

// parallel prepares the granules of list on workers goroutines, at most a
// few granules ahead of the consumer, and consumes them in order here.
func (sc *scanner) parallel(ctx context.Context, list []int, workers int, pre, fn func(*model.Span) bool) error {
	ahead := 2 * workers
	slots := make([]chan prepared, ahead) // granule k's result goes to slots[k%ahead]
	for i := range slots {
		slots[i] = make(chan prepared, 1)
	}
	credits := make(chan struct{}, ahead) // a worker takes one per granule; the consumer returns it
	for range ahead {
		credits <- struct{}{}
	}
	quit := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sel []int32
			var tokBuf []byte
			for {
				select {
				case <-credits:
				case <-quit:
					return
				}
				k := int(next.Add(1) - 1)
				if k >= len(list) {
					return
				}
				p := sc.prepareInto(list[k], sel, tokBuf)
				tokBuf = p.tokBuf
				sel = nil
				if p.gd == nil {
					sel = p.sel // not handed on: reuse
				}
				slots[k%ahead] <- p
			}
		}()
	}
	defer func() {
		close(quit)
		wg.Wait()
		for _, c := range slots { // release granules prepared but not consumed
			select {
			case p := <-c:
				if p.gd != nil {
					putGdec(p.gd)
				}
			default:
			}
		}
	}()
	var span model.Span
	for k := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := <-slots[k%ahead]
		stop, err := sc.consume(&p, &span, pre, fn)
		credits <- struct{}{}
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// overlaps reports whether [lo, hi] intersects the filter range [min, max]
// (0 = unbounded).
func overlaps(lo, hi, min, max int64) bool {
	return (min == 0 || hi >= min) && (max == 0 || lo <= max)
}

// anyService reports whether granule g has spans of a wanted service that
// last at least minDur (0: any).
func anyService(g *granule, wanted []bool, minDur int64) bool {
	for j, s := range g.services {
		if wanted[s] && (minDur == 0 || g.svcMaxDur == nil || g.svcMaxDur[j] >= minDur) {
			return true
		}
	}
	return false
}

// granuleMayContain reads granule g's token filter and reports whether it
// may contain every token.
func (r *Reader) granuleMayContain(g *granule, tokens []uint64, buf []byte) (bool, []byte, error) {
	if cap(buf) < g.tokens.size {
		buf = make([]byte, g.tokens.size)
	}
	buf = buf[:g.tokens.size]
	if err := r.readAt(buf, g.tokens.off); err != nil {
		return false, buf, err
	}
	if r.verify && crc32.Checksum(buf, castagnoli) != g.tokens.crc {
		return false, buf, r.corrupt(g.tokens.off, "token filter checksum mismatch", nil)
	}
	bf, err := bloom.Decode(buf)
	if err != nil {
		return false, buf, r.corrupt(g.tokens.off, "token filter", err)
	}
	for _, h := range tokens {
		if !bf.MayContain(h) {
			return false, buf, nil
		}
	}
	return true, buf, nil
}

// Iter is a cursor over every span of a part in stored order, decoding one
// granule at a time. It is not safe for concurrent use (create one per
// goroutine).
type Iter struct {
	r    *Reader
	gi   int
	gd   *gdec
	i    int
	span model.Span
	err  error
	done bool
}

// Iter returns a cursor positioned before the first span.
func (r *Reader) Iter() *Iter { return &Iter{r: r} }

// Next advances to the next span. It returns false at the end or on error
// (see Err); it then releases the cursor's buffers.
func (it *Iter) Next() bool {
	for it.err == nil && !it.done {
		if it.gd != nil && it.i < it.gd.n {
			it.gd.cheapSpan(it.i, &it.span)
			if it.err = it.gd.heavySpan(it.i, &it.span, true); it.err != nil {
				break
			}
			it.i++
			return true
		}
		it.release()
		if it.r.closed.Load() {
			it.err = ErrClosed
			break
		}
		if it.gi >= len(it.r.ft.granules) {
			return false
		}
		gd := getGdec(it.r, it.gi)
		it.gi++
		it.gd, it.i = gd, 0
		if it.err = gd.readCols(0, numCols); it.err != nil {
			break
		}
		if it.err = gd.decodeRuns(); it.err != nil {
			break
		}
		it.err = gd.decodeCheap(gd.n)
	}
	it.release()
	return false
}

// Span returns the current span. It and the slices it references are valid
// until the next call to Next; strings may be kept.
func (it *Iter) Span() *model.Span { return &it.span }

// Err returns the error that ended the iteration, if any.
func (it *Iter) Err() error { return it.err }

// Close releases the cursor's buffers; the cursor then reports no more
// spans. It is safe to call more than once.
func (it *Iter) Close() {
	it.done = true
	it.release()
}

func (it *Iter) release() {
	if it.gd != nil {
		putGdec(it.gd)
		it.gd = nil
	}
}
