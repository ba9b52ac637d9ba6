package part

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// blockRef locates one block. Offsets are not stored in the file: blocks
// are contiguous in footer order, so the reader derives them.
type blockRef struct {
	off   int64
	size  int // stored bytes
	raw   int // decompressed bytes (== size for codecRaw)
	crc   uint32
	codec byte
}

// granule is the footer entry of one granule, kept in memory by a Reader.
type granule struct {
	first    model.TraceID // first trace ID
	cont     bool          // the first trace continues from the previous granule
	spans    int
	minStart int64
	maxStart int64
	minDur   int64
	maxDur   int64
	services []uint32 // sorted indexes into footer.services
	// svcMaxDur[j] bounds the durations of the spans of services[j] from
	// above (version 3, see durCode; nil before: then maxDur bounds all).
	svcMaxDur []int64
	cols      [numCols]blockRef
	tokens    blockRef // raw bloom filter
}

// Granule flags.
const flagContinues = 1

type opRef struct {
	svc, name uint32
	kind      int8
}

// footer is everything a part's footer holds.
type footer struct {
	version      int
	walSegment   int
	replaces     []uint64
	spans        int64
	traces       int64
	minStart     int64
	maxStart     int64
	maxEnd       int64
	minDur       int64
	maxDur       int64
	services     []string
	names        []string
	ops          []opRef
	opsTruncated bool
	top          []KeyValues
	granules     []granule
	dict         blockRef // zstd: resources, scopes, attribute keys
	// sections partition the granules (in order); version 1 and 2 parts
	// have one section whose filter is the part's trace filter.
	sections []section
}

// section is a run of consecutive granules sorted by trace ID, with its own
// trace-ID filter. A part holds its spans in sections in order of time
// (a section's traces started before the next section's, as they were
// written), so a newest-first search can stop after the newest sections.
type section struct {
	g0, g1 int      // granules [g0, g1)
	traces int64    // traces starting in the section (a trace cut over granules counts once)
	bloom  blockRef // raw: Bloom filter of the section's trace IDs

	// Not stored: from the granules.
	spans              int64
	minStart, maxStart int64
	minDur, maxDur     int64
}

// bound sets the section's span count and bounds from its granules.
func (sec *section) bound(gs []granule) {
	sec.spans = 0
	sec.minStart, sec.maxStart = math.MaxInt64, math.MinInt64
	sec.minDur, sec.maxDur = math.MaxInt64, math.MinInt64
	for i := range gs {
		g := &gs[i]
		sec.spans += int64(g.spans)
		sec.minStart, sec.maxStart = min(sec.minStart, g.minStart), max(sec.maxStart, g.maxStart)
		sec.minDur, sec.maxDur = min(sec.minDur, g.minDur), max(sec.maxDur, g.maxDur)
	}
	if len(gs) == 0 {
		sec.minStart, sec.maxStart, sec.minDur, sec.maxDur = 0, 0, 0, 0
	}
}

func appendBlockRef(dst []byte, b *blockRef) []byte {
	dst = append(dst, b.codec)
	dst = binary.AppendUvarint(dst, uint64(b.size))
	if b.codec == codecZstd {
		dst = binary.AppendUvarint(dst, uint64(b.raw))
	}
	return binary.LittleEndian.AppendUint32(dst, b.crc)
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = model.AppendString(dst, s)
	}
	return dst
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// append appends the (uncompressed) footer encoding.
func (f *footer) append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(f.version))
	dst = binary.AppendVarint(dst, int64(f.walSegment))
	dst = binary.AppendUvarint(dst, uint64(len(f.replaces)))
	for _, r := range f.replaces {
		dst = binary.AppendUvarint(dst, r)
	}
	dst = binary.AppendUvarint(dst, uint64(f.spans))
	dst = binary.AppendUvarint(dst, uint64(f.traces))
	for _, v := range []int64{f.minStart, f.maxStart, f.maxEnd, f.minDur, f.maxDur} {
		dst = binary.AppendVarint(dst, v)
	}
	dst = binary.AppendUvarint(dst, uint64(colsIn(f.version)))
	dst = appendStrings(dst, f.services)
	dst = appendStrings(dst, f.names)
	dst = binary.AppendUvarint(dst, uint64(len(f.ops)))
	for _, op := range f.ops {
		dst = binary.AppendUvarint(dst, uint64(op.svc))
		dst = binary.AppendUvarint(dst, uint64(op.name))
		dst = append(dst, byte(op.kind))
	}
	dst = appendBool(dst, f.opsTruncated)
	dst = binary.AppendUvarint(dst, uint64(len(f.top)))
	for _, kv := range f.top {
		dst = model.AppendString(dst, kv.Key)
		dst = binary.AppendUvarint(dst, uint64(len(kv.Values)))
		for _, v := range kv.Values {
			dst = model.AppendString(dst, v.Value)
			dst = binary.AppendUvarint(dst, uint64(v.Count))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.granules)))
	for i := range f.granules {
		g := &f.granules[i]
		dst = append(dst, g.first[:]...)
		var flags byte
		if g.cont {
			flags |= flagContinues
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(g.spans))
		dst = binary.AppendVarint(dst, g.minStart)
		dst = binary.AppendUvarint(dst, uint64(g.maxStart-g.minStart))
		dst = binary.AppendVarint(dst, g.minDur)
		dst = binary.AppendUvarint(dst, uint64(g.maxDur-g.minDur))
		dst = binary.AppendUvarint(dst, uint64(len(g.services)))
		prev := uint32(0)
		for j, s := range g.services {
			if j == 0 {
				dst = binary.AppendUvarint(dst, uint64(s))
			} else {
				dst = binary.AppendUvarint(dst, uint64(s-prev-1))
			}
			prev = s
		}
		if f.version >= 3 {
			for _, d := range g.svcMaxDur {
				dst = append(dst, durCode(d))
			}
		}
		for c := range g.cols[:colsIn(f.version)] {
			dst = appendBlockRef(dst, &g.cols[c])
		}
		dst = appendBlockRef(dst, &g.tokens)
	}
	dst = appendBlockRef(dst, &f.dict)
	if f.version < 3 {
		return appendBlockRef(dst, &f.sections[0].bloom)
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.sections)))
	for i := range f.sections {
		sec := &f.sections[i]
		dst = binary.AppendUvarint(dst, uint64(sec.g1-sec.g0))
		dst = binary.AppendUvarint(dst, uint64(sec.traces))
		dst = appendBlockRef(dst, &sec.bloom)
	}
	return dst
}

// footerDecoder decodes a footer, checking every count and reference.
type footerDecoder struct {
	d   *model.Decoder
	off int64 // next block offset
	end int64 // offset where the footer starts: blocks must end here
	err string
}

func (fd *footerDecoder) failf(format string, args ...any) {
	if fd.err == "" {
		fd.err = fmt.Sprintf(format, args...)
	}
}

func (fd *footerDecoder) block(b *blockRef) { fd.blockMax(b, maxBlockRaw) }

func (fd *footerDecoder) blockMax(b *blockRef, limit uint64) {
	d := fd.d
	b.codec = d.Byte()
	size := d.Uvarint()
	b.raw = -1
	switch b.codec {
	case codecRaw:
		if size > limit {
			fd.failf("block size %d too large", size)
			return
		}
		b.raw = int(size)
	case codecZstd:
		raw := d.Uvarint()
		if raw > limit || raw == 0 {
			fd.failf("block raw size %d out of range", raw)
			return
		}
		b.raw = int(raw)
	default:
		fd.failf("unknown block codec %d", b.codec)
		return
	}
	if crc := d.Bytes(4); crc != nil {
		b.crc = binary.LittleEndian.Uint32(crc)
	}
	if size > uint64(fd.end-fd.off) {
		fd.failf("block at %d of size %d exceeds the data section", fd.off, size)
		return
	}
	b.off = fd.off
	b.size = int(size)
	fd.off += int64(size)
}

func (fd *footerDecoder) strings(max int) []string {
	n := fd.d.Count(1)
	if n > max {
		fd.failf("%d strings, more than %d", n, max)
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fd.d.String()
	}
	return out
}

// decodeSections reads the trace filter (version 1 and 2: one section) or
// the section table (version 3) and checks the granule order in each
// section.
func (f *footer) decodeSections(fd *footerDecoder) {
	d := fd.d
	if f.version < 3 {
		f.sections = []section{{g0: 0, g1: len(f.granules), traces: f.traces}}
		fd.block(&f.sections[0].bloom)
	} else {
		ns := d.Count(1 + 1 + 6)
		if ns == 0 && fd.err == "" && d.Err() == nil {
			fd.failf("no sections")
			return
		}
		f.sections = make([]section, 0, ns)
		g, traces := 0, int64(0)
		for i := 0; i < ns && d.Err() == nil && fd.err == ""; i++ {
			n := d.Uvarint()
			if n > uint64(len(f.granules)-g) || n == 0 && len(f.granules) > 0 {
				fd.failf("section %d: %d granules, %d left", i, n, len(f.granules)-g)
				return
			}
			sec := section{g0: g, g1: g + int(n), traces: int64(d.Uvarint())}
			fd.block(&sec.bloom)
			g = sec.g1
			traces += sec.traces
			f.sections = append(f.sections, sec)
		}
		if d.Err() == nil && fd.err == "" && (g != len(f.granules) || traces != f.traces) {
			fd.failf("sections hold %d granules and %d traces, footer says %d and %d", g, traces, len(f.granules), f.traces)
			return
		}
	}
	for i := range f.sections {
		sec := &f.sections[i]
		if sec.bloom.codec != codecRaw {
			fd.failf("section %d: compressed trace filter", i)
			return
		}
		for gi := sec.g0 + 1; gi < sec.g1; gi++ {
			if compareID(&f.granules[gi-1].first, &f.granules[gi].first) > 0 {
				fd.failf("granule %d: trace IDs out of order", gi)
				return
			}
		}
		if sec.g0 < sec.g1 && f.granules[sec.g0].cont {
			fd.failf("granule %d: first of section %d continues a trace", sec.g0, i)
			return
		}
		sec.bound(f.granules[sec.g0:sec.g1])
	}
}

// colsIn returns the number of column blocks per granule in a part of
// format version v: version 1 had no values column.
func colsIn(v int) int {
	if v == 1 {
		return colValues
	}
	return numCols
}

// decodeFooter parses raw (the decompressed footer) of a file of format
// version (from its header) whose data section ends at dataEnd.
func decodeFooter(raw []byte, version int, dataEnd int64) (*footer, error) {
	d := model.NewDecoder(raw)
	fd := &footerDecoder{d: d, off: headerSize, end: dataEnd}
	f := &footer{}
	f.version = int(d.Uvarint())
	if d.Err() == nil && f.version != version {
		return nil, fmt.Errorf("footer version %d, header says %d", f.version, version)
	}
	ncols := colsIn(version)
	f.walSegment = int(d.Varint())
	nrep := d.Count(1)
	f.replaces = make([]uint64, nrep)
	for i := range f.replaces {
		f.replaces[i] = d.Uvarint()
	}
	f.spans = int64(d.Uvarint())
	f.traces = int64(d.Uvarint())
	f.minStart, f.maxStart, f.maxEnd = d.Varint(), d.Varint(), d.Varint()
	f.minDur, f.maxDur = d.Varint(), d.Varint()
	if nc := d.Uvarint(); d.Err() == nil && nc != uint64(ncols) {
		return nil, fmt.Errorf("%d columns, want %d", nc, ncols)
	}
	f.services = fd.strings(1 << 24)
	f.names = fd.strings(maxNames)
	nops := d.Count(3)
	f.ops = make([]opRef, 0, nops)
	for i := 0; i < nops && d.Err() == nil; i++ {
		op := opRef{svc: uint32(d.Uvarint()), name: uint32(d.Uvarint()), kind: int8(d.Byte())}
		if int(op.svc) >= len(f.services) || int(op.name) >= len(f.names) {
			fd.failf("operation %d refers to a missing service or name", i)
			break
		}
		f.ops = append(f.ops, op)
	}
	f.opsTruncated = d.Byte() != 0
	ntop := d.Count(2)
	f.top = make([]KeyValues, 0, ntop)
	for i := 0; i < ntop && d.Err() == nil; i++ {
		kv := KeyValues{Key: d.String()}
		nv := d.Count(2)
		kv.Values = make([]ValueCount, nv)
		for j := range kv.Values {
			kv.Values[j] = ValueCount{Value: d.String(), Count: int64(d.Uvarint())}
		}
		f.top = append(f.top, kv)
	}
	ng := d.Count(16 + 1 + 5 + 1 + (ncols+1)*6)
	f.granules = make([]granule, ng)
	var total int64
	for i := 0; i < ng && d.Err() == nil && fd.err == ""; i++ {
		g := &f.granules[i]
		copy(g.first[:], d.Bytes(16))
		flags := d.Byte()
		g.cont = flags&flagContinues != 0
		spans := d.Uvarint()
		if spans == 0 || spans > maxBlockRaw/8 {
			fd.failf("granule %d: %d spans", i, spans)
			break
		}
		g.spans = int(spans)
		total += int64(spans)
		g.minStart = d.Varint()
		g.maxStart = g.minStart + int64(d.Uvarint())
		g.minDur = d.Varint()
		g.maxDur = g.minDur + int64(d.Uvarint())
		ns := d.Count(1)
		g.services = make([]uint32, ns)
		next := uint64(0)
		for j := range g.services {
			v := next + d.Uvarint()
			if v >= uint64(len(f.services)) {
				fd.failf("granule %d: service index out of range", i)
				break
			}
			g.services[j] = uint32(v)
			next = v + 1
		}
		if version >= 3 {
			g.svcMaxDur = make([]int64, ns)
			for j := range g.svcMaxDur {
				g.svcMaxDur[j] = durBound(d.Byte())
			}
		}
		for c := range g.cols[:ncols] {
			fd.block(&g.cols[c])
		}
		if ncols == colValues {
			// Version 1: an empty values column where it would be, so
			// that column ranges stay contiguous.
			g.cols[colValues] = blockRef{off: fd.off, codec: codecRaw}
		}
		if g.cols[colSpanID].raw != 8*g.spans {
			fd.failf("granule %d: span ID column of %d bytes for %d spans", i, g.cols[colSpanID].raw, g.spans)
		}
		fd.block(&g.tokens)
		if g.tokens.codec != codecRaw {
			fd.failf("granule %d: compressed token filter", i)
		}
	}
	fd.blockMax(&f.dict, maxDictRaw)
	f.decodeSections(fd)
	if err := d.Err(); err != nil {
		return nil, err
	}
	if fd.err != "" {
		return nil, fmt.Errorf("%s", fd.err)
	}
	if len(d.Rest()) != 0 {
		return nil, fmt.Errorf("%d trailing footer bytes", len(d.Rest()))
	}
	if fd.off != dataEnd {
		return nil, fmt.Errorf("blocks end at %d, footer starts at %d", fd.off, dataEnd)
	}
	if total != f.spans {
		return nil, fmt.Errorf("granules hold %d spans, footer says %d", total, f.spans)
	}
	return f, nil
}

// durCode encodes an upper bound of duration d in one byte: code c stands
// for (4 + c mod 4) << (c / 4) nanoseconds (the bound is at most 25% above
// d; 0 for d ≤ 4, saturating at math.MaxInt64).
func durCode(d int64) byte {
	if d <= 4 {
		return 0
	}
	e := max(bits.Len64(uint64(d))-3, 0)
	q := (uint64(d) + 1<<e - 1) >> e // in [4, 8]
	if q == 8 {
		e, q = e+1, 4
	}
	return byte(e<<2 | int(q-4))
}

// durBound is the duration a durCode stands for.
func durBound(c byte) int64 {
	e, m := uint(c>>2), int64(4+c&3)
	if e >= 61 {
		return math.MaxInt64
	}
	return m << e
}
