package pipeline

import (
	"encoding/binary"
	"errors"
	"math"
)

// sketchAlpha is the relative accuracy of a Sketch: every quantile it
// returns is within sketchAlpha (relative) of the exact sample at the same
// rank. 0.008 keeps the promised 1% with room to spare.
const sketchAlpha = 0.008

var (
	sketchGamma    = (1 + sketchAlpha) / (1 - sketchAlpha)
	sketchLogGamma = math.Log(sketchGamma)
)

// maxSketchBuckets bounds a sketch's dense bucket array: 1ns to ~100 days
// at this accuracy needs ~2,000 buckets.
const maxSketchBuckets = 4096

// Sketch is a log-bucketed quantile sketch of positive durations in
// nanoseconds (the DDSketch idea): bucket i counts values in
// (gamma^(i-1), gamma^i]. Sketches merge exactly, so per-minute sketches
// add up to any range. Values <= 0 are counted in Zero. The zero value is
// an empty sketch. Not safe for concurrent use.
type Sketch struct {
	Count  uint64
	Zero   uint64
	Sum    float64 // nanoseconds
	Min    int64
	Max    int64
	offset int32    // bucket index of counts[0]
	counts []uint32 // dense counts from offset
}

func sketchIndex(v int64) int32 {
	return int32(math.Ceil(math.Log(float64(v)) / sketchLogGamma))
}

// Add records one value.
func (s *Sketch) Add(v int64) { s.addN(v, 1) }

func (s *Sketch) addN(v int64, n uint32) {
	if s.Count == 0 || v < s.Min {
		s.Min = v
	}
	if s.Count == 0 || v > s.Max {
		s.Max = v
	}
	s.Count += uint64(n)
	s.Sum += float64(v) * float64(n)
	if v <= 0 {
		s.Zero += uint64(n)
		return
	}
	s.addIndex(sketchIndex(v), n)
}

func (s *Sketch) addIndex(i int32, n uint32) {
	if len(s.counts) == 0 {
		s.offset = i
		s.counts = append(s.counts[:0], n)
		return
	}
	if i < s.offset {
		grow := int(s.offset - i)
		if len(s.counts)+grow > maxSketchBuckets {
			// Out of range: fold into the lowest bucket (never reached for
			// real durations; keeps memory bounded for hostile input).
			s.counts[0] += n
			return
		}
		nc := make([]uint32, len(s.counts)+grow, cap(s.counts)+grow)
		copy(nc[grow:], s.counts)
		s.counts = nc
		s.offset = i
	}
	j := int(i - s.offset)
	if j >= len(s.counts) {
		if j >= maxSketchBuckets {
			s.counts[len(s.counts)-1] += n
			return
		}
		s.counts = append(s.counts, make([]uint32, j+1-len(s.counts))...)
	}
	s.counts[j] += n
}

// Merge adds o into s.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.Count == 0 {
		return
	}
	if s.Count == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	if s.Count == 0 || o.Max > s.Max {
		s.Max = o.Max
	}
	s.Count += o.Count
	s.Zero += o.Zero
	s.Sum += o.Sum
	for j, c := range o.counts {
		if c != 0 {
			s.addIndex(o.offset+int32(j), c)
		}
	}
}

// Quantile returns the estimated q-quantile (0 <= q <= 1) in nanoseconds:
// the value at rank floor(q*(Count-1)) of the sorted samples, within
// sketchAlpha relative error. 0 for an empty sketch.
func (s *Sketch) Quantile(q float64) float64 {
	if s.Count == 0 {
		return 0
	}
	if q <= 0 {
		return float64(s.Min)
	}
	if q >= 1 {
		return float64(s.Max)
	}
	rank := uint64(q * float64(s.Count-1))
	if rank < s.Zero {
		return 0
	}
	seen := s.Zero
	for j, c := range s.counts {
		seen += uint64(c)
		if seen > rank {
			i := s.offset + int32(j)
			v := 2 * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1)
			// The exact extremes are known: never answer outside them.
			return math.Min(math.Max(v, float64(s.Min)), float64(s.Max))
		}
	}
	return float64(s.Max)
}

// appendSketch encodes s: count, zero, sum bits, min, max, offset, number
// of buckets, then each bucket count (uvarints; zero runs cost a byte each).
func appendSketch(b []byte, s *Sketch) []byte {
	b = binary.AppendUvarint(b, s.Count)
	if s.Count == 0 {
		return b
	}
	b = binary.AppendUvarint(b, s.Zero)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Sum))
	b = binary.AppendVarint(b, s.Min)
	b = binary.AppendVarint(b, s.Max)
	b = binary.AppendVarint(b, int64(s.offset))
	b = binary.AppendUvarint(b, uint64(len(s.counts)))
	for _, c := range s.counts {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

var errShort = errors.New("truncated metrics record")

// decoder reads the varint encodings of this package; the first error
// sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) sketch(s *Sketch) {
	s.Count = d.uvarint()
	if s.Count == 0 {
		return
	}
	s.Zero = d.uvarint()
	s.Sum = math.Float64frombits(d.u64())
	s.Min = d.varint()
	s.Max = d.varint()
	s.offset = int32(d.varint())
	n := d.uvarint()
	if n > maxSketchBuckets {
		d.err = errors.New("sketch: too many buckets")
		return
	}
	s.counts = make([]uint32, n)
	for j := range s.counts {
		s.counts[j] = uint32(d.uvarint())
	}
}

func pow(i int32) float64 { return math.Pow(sketchGamma, float64(i)) }
