package otlp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers the "gzip" gRPC compressor
)

// zstdMaxWindow is the largest zstd window we accept (RFC 8878 asks
// decoders to support at least 8 MiB; common encoders stay within it).
const zstdMaxWindow = 8 << 20

func init() {
	encoding.RegisterCompressor(&zstdCompressor{})
}

// zstdCompressor is the gRPC "zstd" compressor. gRPC bounds the
// decompressed size itself (it reads at most the max receive size plus
// one byte from the reader we return).
type zstdCompressor struct {
	once sync.Once
	enc  *zstd.Encoder // EncodeAll only: safe for concurrent use, no goroutines
	decs sync.Pool     // *zstd.Decoder with concurrency 1 (synchronous, no goroutines)
}

func (c *zstdCompressor) Name() string { return "zstd" }

func (c *zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	c.once.Do(func() {
		c.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	})
	return &zstdWriter{w: w, enc: c.enc}, nil
}

// zstdWriter buffers a (small) response and compresses it on Close.
type zstdWriter struct {
	w   io.Writer
	enc *zstd.Encoder
	buf []byte
}

func (z *zstdWriter) Write(p []byte) (int, error) {
	z.buf = append(z.buf, p...)
	return len(p), nil
}

func (z *zstdWriter) Close() error {
	_, err := z.w.Write(z.enc.EncodeAll(z.buf, nil))
	return err
}

func (c *zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	d, _ := c.decs.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
	} else if err := d.Reset(r); err != nil {
		return nil, err
	}
	return &zstdReader{d: d, pool: &c.decs}, nil
}

// zstdReader returns its decoder to the pool when gRPC closes it.
type zstdReader struct {
	d    *zstd.Decoder
	pool *sync.Pool
}

func (z *zstdReader) Read(p []byte) (int, error) {
	if z.d == nil {
		return 0, io.EOF
	}
	return z.d.Read(p)
}

func (z *zstdReader) Close() error {
	if z.d != nil {
		_ = z.d.Reset(nil)
		z.pool.Put(z.d)
		z.d = nil
	}
	return nil
}

// errTooLarge means a body exceeded the size limit.
type errTooLarge struct {
	what  string // "request body" or "decompressed request body"
	limit int64
}

func (e errTooLarge) Error() string {
	return fmt.Sprintf("%s exceeds the limit of %d bytes", e.what, e.limit)
}

// decompressor decodes HTTP request bodies without ever producing more
// than limit bytes.
type decompressor struct {
	limit int64
	zstd  *zstd.Decoder // DecodeAll only; safe for concurrent use
	gzips sync.Pool     // *gzip.Reader
}

func newDecompressor(limit int64) (*decompressor, error) {
	// The decoder refuses windows larger than its memory limit, so that
	// limit cannot go below the window common encoders use; the real
	// limit is checked on the output.
	zd, err := zstd.NewReader(nil,
		zstd.WithDecoderMaxMemory(uint64(max(limit, zstdMaxWindow))),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return &decompressor{limit: limit, zstd: zd}, nil
}

func (d *decompressor) close() { d.zstd.Close() }

// gunzip appends the decompressed src to dst.
func (d *decompressor) gunzip(dst, src []byte) ([]byte, error) {
	zr, _ := d.gzips.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, fmt.Errorf("gzip: %w", err)
	}
	defer d.gzips.Put(zr)
	dst, err = readLimited(dst, zr, d.limit)
	if err != nil {
		var tl errTooLarge
		if errors.As(err, &tl) {
			tl.what = "decompressed request body"
			return dst, tl
		}
		return dst, fmt.Errorf("gzip: %w", err)
	}
	return dst, nil
}

// unzstd appends the decompressed src to dst. It may decode up to
// max(limit, zstdMaxWindow) bytes before it finds the output too large.
func (d *decompressor) unzstd(dst, src []byte) ([]byte, error) {
	out, err := d.zstd.DecodeAll(src, dst)
	switch {
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return dst, fmt.Errorf("zstd: window larger than %d bytes is not supported", zstdMaxWindow)
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return dst, errTooLarge{"decompressed request body", d.limit}
	case err != nil:
		return dst, fmt.Errorf("zstd: %w", err)
	case int64(len(out)-len(dst)) > d.limit:
		return out[:len(dst)], errTooLarge{"decompressed request body", d.limit}
	}
	return out, nil
}

// readLimited appends everything from r to dst, failing with errTooLarge
// as soon as more than limit bytes arrive.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := cap(dst) - len(dst)
		if max := limit + 1 - int64(len(dst)-start); int64(room) > max {
			room = int(max)
		}
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return dst, errTooLarge{"request body", limit}
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
