package otlp

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// recvPool holds the buffers an Export request is gathered into before it
// is decoded (gRPC hands the codec the message as a list of HTTP/2 frame
// buffers). gRPC's default pool clears a whole buffer on every Get, and
// its largest tier is 1 MiB: a 300 KB request cleared 1 MiB, a bigger one
// was a fresh (zeroed) allocation. Requests are copied in whole, every
// byte written before it is read, so these buffers are never cleared; the
// tiers are powers of two from 64 KiB up to the request size limit.
type recvPool struct {
	tiers [recvTiers]sync.Pool
}

const (
	recvMinShift = 16 // 64 KiB
	recvTiers    = 9  // up to 16 MiB; bigger requests are allocated
)

var _ mem.BufferPool = (*recvPool)(nil)

// recvTier returns the index of the smallest tier holding n bytes, or -1.
func recvTier(n int) int {
	if n <= 1<<recvMinShift {
		return 0
	}
	t := bits.Len(uint(n-1)) - recvMinShift
	if t >= recvTiers {
		return -1
	}
	return t
}

// Get returns a buffer of length n. Its contents are unspecified.
func (p *recvPool) Get(n int) *[]byte {
	t := recvTier(n)
	if t < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(recvMinShift+t))
	return &b
}

// Put returns a buffer got from Get.
func (p *recvPool) Put(b *[]byte) {
	c := cap(*b)
	t := recvTier(c)
	if t < 0 || c != 1<<(recvMinShift+t) {
		return // allocated outside the tiers
	}
	p.tiers[t].Put(b)
}
