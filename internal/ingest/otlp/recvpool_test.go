package otlp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecvPool(t *testing.T) {
	for _, c := range []struct{ n, cap int }{
		{1, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10},
		{300 << 10, 512 << 10}, {1 << 20, 1 << 20}, {16 << 20, 16 << 20},
		{16<<20 + 1, 16<<20 + 1}, // past the tiers: allocated as asked
	} {
		var p recvPool
		b := p.Get(c.n)
		require.Len(t, *b, c.n)
		require.Equal(t, c.cap, cap(*b), "Get(%d)", c.n)
		p.Put(b)
	}
	// A buffer comes back at the length asked for, from its tier (or a new
	// one: sync.Pool may drop it), never from a smaller tier.
	var p recvPool
	for _, n := range []int{200 << 10, 100 << 10, 250 << 10, 70 << 10, 3 << 20} {
		b := p.Get(n)
		require.Len(t, *b, n)
		require.GreaterOrEqual(t, cap(*b), n)
		for i := range *b {
			(*b)[i] = 0xee
		}
		p.Put(b)
	}
	// A buffer of a foreign size is not pooled.
	odd := make([]byte, 10, 100<<10)
	p.Put(&odd)
	for range 10 {
		b := p.Get(90 << 10)
		require.Equal(t, 128<<10, cap(*b))
	}
}
