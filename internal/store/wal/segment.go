package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// On-disk format, version 1. Specified in docs/format.md ("Write-ahead log");
// frozen by TestFormatGolden.
const (
	segmentMagic     = "ARIWAL"
	segmentVersion   = 1
	segmentHeaderLen = len(segmentMagic) + 1 // magic + version byte

	recordHeaderLen = 8       // uint32 length + uint32 CRC-32C, little-endian
	maxRecordLen    = 1 << 30 // format limit on the payload length

	segmentSuffix    = ".wal"
	segmentNameWidth = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Causes of a CorruptionError.
var (
	errBadHeader = errors.New("segment header missing or torn (want magic \"ARIWAL\")")
	errTorn      = errors.New("record extends past end of segment (torn write)")
	errBadLength = errors.New("record length is 0 or over the format limit")
	errChecksum  = errors.New("record checksum mismatch")
)

// segmentName is the file name of segment idx: the index zero-padded to 8
// digits (wider once it needs more) plus ".wal".
func segmentName(idx int) string {
	return fmt.Sprintf("%0*d%s", segmentNameWidth, idx, segmentSuffix)
}

// parseSegmentName returns the index of a segment file name. Names that
// segmentName would not produce are not segments.
func parseSegmentName(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) < segmentNameWidth {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	idx, err := strconv.Atoi(digits)
	if err != nil || idx < 1 || segmentName(idx) != name {
		return 0, false
	}
	return idx, true
}

func appendSegmentHeader(dst []byte) []byte {
	dst = append(dst, segmentMagic...)
	return append(dst, segmentVersion)
}

// appendRecord appends the framing of rec to dst; crc is the CRC-32C
// (Castagnoli) of rec.
func appendRecord(dst []byte, rec []byte, crc uint32) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec)))
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, rec...)
}

// segment is a closed segment file.
type segment struct {
	index int
	size  int64
}

// listSegments returns the segment files in dir in ascending index order.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list wal dir: %w", err)
	}
	var segs []segment
	for _, e := range entries { // ReadDir sorts by name, and names sort by index
		idx, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat wal segment %s: %w", e.Name(), err)
		}
		segs = append(segs, segment{index: idx, size: fi.Size()})
	}
	return segs, nil
}

// syncDir fsyncs a directory so that created and removed entries are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open wal dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync wal dir: %w", err)
	}
	return nil
}

// segmentReader decodes segments. It reuses its buffers across segments.
type segmentReader struct {
	br  *bufio.Reader
	buf []byte
}

func newSegmentReader() *segmentReader {
	return &segmentReader{br: bufio.NewReaderSize(nil, 1<<20)}
}

// read calls fn for every intact record of segment seg, read from r, which
// holds size bytes. It returns a *CorruptionError (not wrapped) at the first
// record that is not intact; every record before it was passed to fn. Errors
// from fn and from reading are returned wrapped.
func (sr *segmentReader) read(r io.Reader, size int64, seg int, fn func(Pos, []byte) error, st *ReplayStats) error {
	sr.br.Reset(r)
	corrupt := func(off int64, err error) error {
		return &CorruptionError{Segment: seg, Offset: off, Err: err}
	}
	var hdr [recordHeaderLen]byte
	if size < int64(segmentHeaderLen) {
		return corrupt(0, errBadHeader)
	}
	if _, err := io.ReadFull(sr.br, hdr[:segmentHeaderLen]); err != nil {
		return fmt.Errorf("read wal segment %d: %w", seg, err)
	}
	if string(hdr[:len(segmentMagic)]) != segmentMagic {
		return corrupt(0, errBadHeader)
	}
	if v := hdr[len(segmentMagic)]; v != segmentVersion {
		return fmt.Errorf("wal segment %d: %w: %d (this build reads %d)", seg, ErrUnsupportedVersion, v, segmentVersion)
	}
	off := int64(segmentHeaderLen)
	for off < size {
		if size-off < recordHeaderLen {
			return corrupt(off, errTorn)
		}
		if _, err := io.ReadFull(sr.br, hdr[:]); err != nil {
			return fmt.Errorf("read wal segment %d at %d: %w", seg, off, err)
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		crc := binary.LittleEndian.Uint32(hdr[4:8])
		if n == 0 || n > maxRecordLen {
			return corrupt(off, errBadLength)
		}
		if int64(n) > size-off-recordHeaderLen {
			return corrupt(off, errTorn)
		}
		if cap(sr.buf) < int(n) {
			sr.buf = make([]byte, n)
		}
		rec := sr.buf[:n]
		if _, err := io.ReadFull(sr.br, rec); err != nil {
			return fmt.Errorf("read wal segment %d at %d: %w", seg, off, err)
		}
		if crc32.Checksum(rec, castagnoli) != crc {
			return corrupt(off, errChecksum)
		}
		if err := fn(Pos{Segment: seg, Offset: off}, rec); err != nil {
			return fmt.Errorf("replay wal segment %d record at %d: %w", seg, off, err)
		}
		st.Records++
		st.Bytes += int64(n)
		off += recordHeaderLen + int64(n)
	}
	return nil
}

// repairSegment truncates the segment file at off, the end of its last
// intact record. A segment whose header is damaged (off < header length) is
// reset to an empty segment with a fresh header.
func repairSegment(path string, off int64) (size int64, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if off < int64(segmentHeaderLen) {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		if _, err := f.WriteAt(appendSegmentHeader(nil), 0); err != nil {
			return 0, err
		}
		off = int64(segmentHeaderLen)
	} else if err := f.Truncate(off); err != nil {
		return 0, err
	}
	return off, f.Sync()
}

func segmentPath(dir string, idx int) string {
	return filepath.Join(dir, segmentName(idx))
}
