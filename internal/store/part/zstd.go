package part

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// One encoder per level and one decoder for the process: EncodeAll and
// DecodeAll are safe for concurrent use and pool their internal state, so
// no call ever creates a codec.
var (
	encOnce [zstd.SpeedBestCompression + 1]sync.Once
	encs    [zstd.SpeedBestCompression + 1]*zstd.Encoder

	decOnce sync.Once
	dec     *zstd.Decoder
)

func encoder(level zstd.EncoderLevel) *zstd.Encoder {
	encOnce[level].Do(func() {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(level),
			zstd.WithEncoderCRC(false), // blocks carry a CRC-32C in the footer
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		)
		if err != nil {
			panic(fmt.Sprintf("part: zstd encoder: %v", err)) // only on invalid options
		}
		encs[level] = e
	})
	return encs[level]
}

func decoder() *zstd.Decoder {
	decOnce.Do(func() {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(maxDictRaw),
			zstd.WithDecodeAllCapLimit(true),
		)
		if err != nil {
			panic(fmt.Sprintf("part: zstd decoder: %v", err)) // only on invalid options
		}
		dec = d
	})
	return dec
}

// compress appends the block encoding of raw to dst and returns the codec
// used: zstd when it is smaller, raw otherwise.
func compress(dst, raw []byte, level zstd.EncoderLevel) ([]byte, byte) {
	if len(raw) == 0 {
		return dst, codecRaw
	}
	n := len(dst)
	dst = encoder(level).EncodeAll(raw, dst)
	if len(dst)-n < len(raw) {
		return dst, codecZstd
	}
	return append(dst[:n], raw...), codecRaw
}

// decompress decompresses src, which must decompress to exactly rawLen
// bytes, into dst[:0] (reallocated with some headroom if too small). The
// result keeps the capacity of the buffer, for reuse.
func decompress(dst, src []byte, rawLen int) ([]byte, error) {
	if rawLen < 0 || rawLen > maxDictRaw {
		return nil, fmt.Errorf("block size %d out of range", rawLen)
	}
	if cap(dst) < rawLen {
		dst = make([]byte, 0, rawLen+rawLen/4)
	}
	// The capacity limit makes DecodeAll fail rather than grow past rawLen.
	out, err := decoder().DecodeAll(src, dst[:0:rawLen])
	if err != nil {
		return nil, err
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("block decompressed to %d bytes, want %d", len(out), rawLen)
	}
	if rawLen > 0 && &out[0] == &dst[:1][0] {
		return dst[:rawLen], nil
	}
	return out, nil
}
