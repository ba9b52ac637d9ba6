// Package bloom is the small Bloom filter used by part files: a trace-ID
// filter per part and an attribute-token filter per granule.
//
// Keys are 64-bit hashes (xxhash64 of the key bytes, see Hash). A filter of
// m bits with k probes sets, for i in [0, k):
//
//	x_i = uint32(lo + i*hi)          // lo, hi = low and high 32 bits of the hash, 32-bit wrapping arithmetic
//	bit_i = (uint64(x_i) * m) >> 32  // "fastrange" reduction into [0, m)
//
// and bit b lives in byte b/8 at position b%8 (least significant bit first).
// The encoding is one byte k followed by the m/8 bytes of the bit array; the
// exact layout is specified in docs/format.md ("Parts").
package bloom

import (
	"errors"
	"math"

	"github.com/cespare/xxhash/v2"
)

// MaxBits bounds the size of one filter (the probe arithmetic is 32-bit).
const MaxBits = 1 << 32

// maxK bounds the number of probes.
const maxK = 16

// ErrCorrupt is returned by Decode for an encoding that cannot be a filter.
var ErrCorrupt = errors.New("bloom: corrupt filter")

// Filter is a Bloom filter over 64-bit hashes. A Filter built with New is
// not safe for concurrent Add; once built (or decoded), MayContain is safe
// for concurrent use.
type Filter struct {
	bits []byte // m = 8*len(bits)
	k    uint32
}

// Hash returns the hash used for key b (xxhash64).
func Hash(b []byte) uint64 { return xxhash.Sum64(b) }

// HashString is Hash for a string.
func HashString(s string) uint64 { return xxhash.Sum64String(s) }

// New returns an empty filter sized for n distinct keys at false-positive
// rate p (0 < p < 1): m = ceil(-n*ln(p)/ln(2)^2) bits rounded up to a whole
// byte (at least 64 bits), k = round(m/n*ln(2)) clamped to [1, 16]. A filter
// for n = 0 keys has no bits and contains nothing.
func New(n int, p float64) *Filter {
	if n <= 0 {
		return &Filter{k: 1}
	}
	if !(p > 0 && p < 1) {
		p = 0.01
	}
	m := math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2))
	m = max(m, 64)
	m = min(m, MaxBits)
	nbytes := (int(m) + 7) / 8
	k := int(math.Round(float64(nbytes*8) / float64(n) * math.Ln2))
	k = min(max(k, 1), maxK)
	return &Filter{bits: make([]byte, nbytes), k: uint32(k)}
}

// Add inserts a hash.
func (f *Filter) Add(h uint64) {
	m := uint64(len(f.bits)) * 8
	if m == 0 {
		return
	}
	lo, hi := uint32(h), uint32(h>>32)
	for i := uint32(0); i < f.k; i++ {
		b := (uint64(lo+i*hi) * m) >> 32
		f.bits[b>>3] |= 1 << (b & 7)
	}
}

// MayContain reports whether h may have been added. False means certainly
// not added.
func (f *Filter) MayContain(h uint64) bool {
	m := uint64(len(f.bits)) * 8
	if m == 0 {
		return false
	}
	lo, hi := uint32(h), uint32(h>>32)
	for i := uint32(0); i < f.k; i++ {
		b := (uint64(lo+i*hi) * m) >> 32
		if f.bits[b>>3]&(1<<(b&7)) == 0 {
			return false
		}
	}
	return true
}

// Bits returns m, the size of the filter in bits.
func (f *Filter) Bits() int { return len(f.bits) * 8 }

// K returns the number of probes.
func (f *Filter) K() int { return int(f.k) }

// EncodedSize returns the length of Append's output.
func (f *Filter) EncodedSize() int { return 1 + len(f.bits) }

// Append appends the encoding of f: the byte k, then the bit array.
func (f *Filter) Append(dst []byte) []byte {
	dst = append(dst, byte(f.k))
	return append(dst, f.bits...)
}

// Decode returns the filter encoded in b. The filter aliases b; b must not
// be modified while the filter is in use.
func Decode(b []byte) (*Filter, error) {
	if len(b) < 1 {
		return nil, ErrCorrupt
	}
	k := uint32(b[0])
	if k < 1 || k > maxK || uint64(len(b)-1)*8 > MaxBits {
		return nil, ErrCorrupt
	}
	return &Filter{bits: b[1:], k: k}, nil
}
