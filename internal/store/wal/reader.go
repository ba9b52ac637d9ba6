package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
)

// Reader reads single records back by position (from AppendPos or
// ReplayPos), for callers that keep positions instead of the records, like
// tail sampling holding spans until it decides. It keeps the segment files
// it read open until Close. A Reader is not safe for concurrent use; the
// segments it reads must not be truncated while it is open.
type Reader struct {
	dir   string
	files map[int]*os.File
	hdr   [recordHeaderLen]byte
}

// NewReader returns a Reader for the log's segments.
func (w *WAL) NewReader() *Reader { return &Reader{dir: w.opts.Dir, files: map[int]*os.File{}} }

// Read returns the record at p, appended to buf[:0], after checking its
// checksum.
func (r *Reader) Read(p Pos, buf []byte) ([]byte, error) {
	f := r.files[p.Segment]
	if f == nil {
		var err error
		if f, err = os.Open(segmentPath(r.dir, p.Segment)); err != nil {
			return nil, fmt.Errorf("read wal record: %w", err)
		}
		r.files[p.Segment] = f
	}
	if _, err := f.ReadAt(r.hdr[:], p.Offset); err != nil {
		return nil, fmt.Errorf("read wal segment %d at %d: %w", p.Segment, p.Offset, err)
	}
	n := binary.LittleEndian.Uint32(r.hdr[0:4])
	crc := binary.LittleEndian.Uint32(r.hdr[4:8])
	if n == 0 || n > maxRecordLen {
		return nil, fmt.Errorf("read wal segment %d at %d: %w", p.Segment, p.Offset, errBadLength)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.ReadAt(buf, p.Offset+recordHeaderLen); err != nil {
		return nil, fmt.Errorf("read wal segment %d at %d: %w", p.Segment, p.Offset, err)
	}
	if crc32.Checksum(buf, castagnoli) != crc {
		return nil, fmt.Errorf("read wal segment %d at %d: %w", p.Segment, p.Offset, errChecksum)
	}
	return buf, nil
}

// Close closes the files the Reader opened.
func (r *Reader) Close() {
	for k, f := range r.files {
		f.Close()
		delete(r.files, k)
	}
}
