package ingest

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Attribute lists, events and links of all spans of a request are carved
// out of a few large slices (arenas) instead of being allocated one by one.
// Every list handed out has its capacity cut to its length, so appending to
// it later reallocates rather than overwriting a neighbour.

const (
	// maxChunk bounds the size of one arena slice (in elements), so that
	// an overestimate wastes at most this much.
	maxChunk = 4096
	// attrBytes is the smallest typical size of an encoded attribute
	// (KeyValue with its tag): the protobuf decoder sizes attribute chunks
	// at one attribute per attrBytes bytes of request left.
	attrBytes = 32
)

// attrArena builds attribute lists of unknown length one attribute at a
// time: begin, push per attribute, end.
type attrArena struct {
	buf   []model.Attr // current chunk; buf[start:] is the list being built
	start int
	used  int // attributes in the lists handed out
	// hint is the size to give the next chunk; the protobuf decoder
	// updates it from the bytes left in the request.
	hint int
}

// init makes the first chunk hold n attributes.
func (a *attrArena) init(n int) {
	if n > 0 {
		a.buf = make([]model.Attr, 0, n)
	}
}

// begin starts a list.
func (a *attrArena) begin() { a.start = len(a.buf) }

// push adds an attribute to the list being built and returns it, zeroed.
// The pointer is valid until the next push.
func (a *attrArena) push() *model.Attr {
	if len(a.buf) == cap(a.buf) {
		a.grow()
	}
	n := len(a.buf)
	a.buf = a.buf[:n+1]
	return &a.buf[n]
}

// grow moves the list being built to a new chunk.
//
//go:noinline
func (a *attrArena) grow() {
	n := len(a.buf) - a.start
	size := min(max(a.hint, 64), maxChunk)
	size = max(size, 2*n+2)
	buf := make([]model.Attr, n, size)
	copy(buf, a.buf[a.start:])
	clear(a.buf[a.start:]) // drop references from the abandoned tail
	a.buf, a.start = buf, 0
}

// end returns the list built since begin, nil if empty.
func (a *attrArena) end() []model.Attr {
	n := len(a.buf)
	if n == a.start {
		return nil
	}
	l := a.buf[a.start:n:n]
	a.used += n - a.start
	a.start = n
	return l
}

// rollback discards the list being built.
func (a *attrArena) rollback() {
	clear(a.buf[a.start:])
	a.buf = a.buf[:a.start]
}

// arena hands out slices of known length.
type arena[T any] struct {
	buf  []T
	next int // size of the next chunk
}

// init makes the first chunk hold n elements.
func (a *arena[T]) init(n int) {
	if n > 0 {
		a.buf = make([]T, 0, n)
	}
}

// take returns n zeroed elements (n > 0).
func (a *arena[T]) take(n int) []T {
	if cap(a.buf)-len(a.buf) < n {
		a.next = min(max(2*a.next, 8), maxChunk)
		a.buf = make([]T, 0, max(n, a.next))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}

// scratch is the reusable working memory of a decoder: it never ends up
// in the spans it returns, so it is pooled.
type scratch struct {
	trunc  []string // keys truncated in the current attribute list
	buf    []byte
	intern *interner // allocated on first use by the protobuf decoder
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.buf) > 64<<10 {
		sc.buf = nil
	}
	clear(sc.trunc[:cap(sc.trunc)])
	sc.trunc = sc.trunc[:0]
	scratchPool.Put(sc)
}

const (
	internBits = 12 // 4096 strings, 128 KiB
	// maxIntern is the longest string interned; longer ones (SQL,
	// messages) rarely repeat exactly.
	maxIntern = 128
)

// interner holds one shared copy of recently seen short strings, so that
// the attribute keys, names and common values repeated in every span are
// allocated once. It is a direct-mapped cache: a collision replaces the
// older string, so memory stays bounded. It lives in the pooled scratch and
// so stays warm across requests; the strings it holds are immutable copies
// (never views), safe to share between spans of any request. It holds only
// valid UTF-8, so a string found in it needs no check.
type interner struct {
	tab [1 << internBits]internEntry
}

// internEntry is a string with its first and last eight bytes (see
// fingerprint), which decide most comparisons without reading the string.
type internEntry struct {
	s    string
	x, y uint64
}

// slot returns the entry for a string of length n with fingerprint x, y.
// The entry holds that string if its length and fingerprint match and,
// for strings over 16 bytes, its middle bytes too (see state.text).
func (in *interner) slot(x, y uint64, n int) *internEntry {
	h := (x ^ uint64(n)<<56) * 0x9e3779b97f4a7c15
	h ^= y * 0xc2b2ae3d27d4eb4f
	return &in.tab[(h^h>>29)>>(64-internBits)]
}

// fingerprint returns the first and last eight bytes of s (overlapping if
// s is shorter than 16 bytes; for shorter than 8, the first and last four,
// or for shorter than 4, every byte): together with the length they
// determine any string of up to 16 bytes.
func fingerprint(s string) (x, y uint64) {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	switch {
	case len(b) >= 8:
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	case len(b) >= 4:
		return uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	case len(b) > 0:
		return uint64(b[0])<<16 | uint64(b[len(b)/2])<<8 | uint64(b[len(b)-1]), 0
	}
	return 0, 0
}
