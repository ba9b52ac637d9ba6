package bloom

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func key(i int) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	return Hash(b[:])
}

func TestNoFalseNegativesAndRate(t *testing.T) {
	for _, n := range []int{1, 10, 1000, 100000} {
		f := New(n, 0.01)
		for i := 0; i < n; i++ {
			f.Add(key(i))
		}
		for i := 0; i < n; i++ {
			require.True(t, f.MayContain(key(i)))
		}
		fp := 0
		const probes = 100000
		for i := n; i < n+probes; i++ {
			if f.MayContain(key(i)) {
				fp++
			}
		}
		if n >= 1000 {
			require.Less(t, float64(fp)/probes, 0.02, "n=%d", n)
		}
		g, err := Decode(f.Append(nil))
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			require.True(t, g.MayContain(key(i)))
		}
		require.Equal(t, f.EncodedSize(), len(f.Append(nil)))
	}
}

func TestEmpty(t *testing.T) {
	f := New(0, 0.01)
	require.False(t, f.MayContain(1))
	f.Add(1)
	require.False(t, f.MayContain(1))
	g, err := Decode(f.Append(nil))
	require.NoError(t, err)
	require.False(t, g.MayContain(1))
}

func TestDecodeCorrupt(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {17, 1, 2}} {
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrCorrupt)
	}
}

func TestSizing(t *testing.T) {
	f := New(1000, 0.01)
	require.Equal(t, 9592, f.Bits())
	require.Equal(t, 7, f.K())
}

func BenchmarkMayContain(b *testing.B) {
	f := New(1_000_000, 0.01)
	for i := 0; i < 1_000_000; i++ {
		f.Add(key(i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.MayContain(key(i))
	}
}
