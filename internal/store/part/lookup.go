package part

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Small caches in front of the Writer's maps. A Writer looks up a dozen
// attribute keys, a span name, a resource and a scope for every span; a Go
// map costs a full hash of the key and a group probe each time, while a
// part has few distinct keys, names, resources and scopes. The caches are
// direct-mapped, bounded, and only ever answer with what the map would:
// a miss falls through to the map.

const golden64 = 0x9e3779b97f4a7c15

// cheapHash mixes the length and up to 16 bytes (the first and last 8) of
// s. It is meant for direct-mapped caches that verify with ==.
func cheapHash(s string) uint64 {
	n := len(s)
	b := unsafe.Slice(unsafe.StringData(s), n)
	var x, y uint64
	switch {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b)
		y = binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b))
		y = uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		x = uint64(b[0])<<16 | uint64(b[n/2])<<8 | uint64(b[n-1])
	}
	h := (x ^ bits.RotateLeft64(y, 29) ^ uint64(n)<<56) * golden64
	return h ^ h>>32
}

const strCacheBits = 8

// strCache maps strings to small integers (index+1 in v; 0 = empty). The
// strings it holds must be immutable: callers store their own copies.
type strCache struct {
	slots [1 << strCacheBits]strSlot
}

type strSlot struct {
	s string
	v uint32
}

func (c *strCache) slot(s string) *strSlot {
	return &c.slots[cheapHash(s)>>(64-strCacheBits)]
}

// get returns v for s, or 0.
func (c *strCache) get(s string) uint32 {
	if sl := c.slot(s); sl.v != 0 && sl.s == s {
		return sl.v
	}
	return 0
}

func (c *strCache) put(s string, v uint32) { *c.slot(s) = strSlot{s, v} }

const ptrCacheBits = 8

// ptrCache maps pointers to small integers (index+1 in v; 0 = empty).
type ptrCache struct {
	slots [1 << ptrCacheBits]ptrSlot
}

type ptrSlot struct {
	p unsafe.Pointer
	v uint32
}

func (c *ptrCache) slot(p unsafe.Pointer) *ptrSlot {
	return &c.slots[(uint64(uintptr(p))*golden64)>>(64-ptrCacheBits)]
}

// spanIndex finds, in one run of a granule, the first span with a given
// span ID (for parent references): an open-addressing table of span
// indexes, rebuilt per run.
type spanIndex struct {
	slots []int32 // span index+1, 0 = empty
	mask  uint64
}

func spanIDHash(id model.SpanID) uint64 {
	return (binary.LittleEndian.Uint64(id[:]) * golden64) >> 17
}

func (x *spanIndex) build(spans []wspan) {
	size := 16
	for size < 2*len(spans) {
		size *= 2
	}
	if cap(x.slots) < size {
		x.slots = make([]int32, size)
	}
	x.slots = x.slots[:size]
	clear(x.slots)
	x.mask = uint64(size - 1)
	for i := range spans {
		id := spans[i].spanID
		for j := spanIDHash(id) & x.mask; ; j = (j + 1) & x.mask {
			e := x.slots[j]
			if e == 0 {
				x.slots[j] = int32(i + 1)
				break
			}
			if spans[e-1].spanID == id {
				break // keep the first
			}
		}
	}
}

// find returns the index of the first span with ID id, or -1.
func (x *spanIndex) find(spans []wspan, id model.SpanID) int {
	for j := spanIDHash(id) & x.mask; ; j = (j + 1) & x.mask {
		e := x.slots[j]
		if e == 0 {
			return -1
		}
		if spans[e-1].spanID == id {
			return int(e - 1)
		}
	}
}
