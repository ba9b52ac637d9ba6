package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildLog writes records 0..14 into segments 1 (0-4), 2 (5-9) and 3 (10-14)
// and returns the directory.
func buildLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w := openWAL(t, Options{Dir: dir})
	for _, part := range [][2]int{{0, 5}, {5, 10}, {10, 15}} {
		appendAll(t, w, payloads(part[0], part[1]))
		if part[1] < 15 {
			_, err := w.Cut()
			require.NoError(t, err)
		}
	}
	require.NoError(t, w.Close())
	return dir
}

// recordOffset is where record i starts in its segment as buildLog lays it out.
func recordOffset(i int) int64 {
	off := int64(segmentHeaderLen)
	for j := i - i%5; j < i; j++ {
		off += int64(recordHeaderLen + len(payload(j)))
	}
	return off
}

func framedLen(i int) int64 { return int64(recordHeaderLen + len(payload(i))) }

func TestReplayRepairs(t *testing.T) {
	last := recordOffset(14) // start of the last record of the last segment
	lastEnd := last + framedLen(14)
	seg1Size := recordOffset(4) + framedLen(4)

	type tc struct {
		name    string
		damage  func(t *testing.T, dir string)
		want    [][]byte // records Replay must return
		dropped int64
		corrupt *CorruptionError // nil: no repair expected
	}
	var cases []tc
	for off := last; off < lastEnd; off++ {
		var ce *CorruptionError
		if off > last {
			ce = &CorruptionError{Segment: 3, Offset: last, Err: errTorn}
		}
		cases = append(cases, tc{
			name:    "torn at " + itoa(off),
			damage:  func(t *testing.T, dir string) { require.NoError(t, os.Truncate(seg(dir, 3), off)) },
			want:    payloads(0, 14),
			dropped: off - last,
			corrupt: ce,
		})
	}
	for _, garbage := range []struct {
		name  string
		bytes []byte
		err   error
	}{
		{"ff", bytes.Repeat([]byte{0xff}, 5), errTorn},
		{"zeros", make([]byte, 64), errBadLength},
		{"huge length", binary.LittleEndian.AppendUint32(nil, maxRecordLen+1), errTorn},
		{"length past end", append(binary.LittleEndian.AppendUint32(nil, 1000), 0, 0, 0, 0, 'x'), errTorn},
		{"bad crc", appendRecord(nil, []byte("almost"), 1), errChecksum},
		{"too long", append(binary.LittleEndian.AppendUint32(nil, maxRecordLen+1), 0, 0, 0, 0), errBadLength},
	} {
		cases = append(cases, tc{
			name: "garbage " + garbage.name,
			damage: func(t *testing.T, dir string) {
				appendFile(t, seg(dir, 3), garbage.bytes)
			},
			want:    payloads(0, 15),
			dropped: int64(len(garbage.bytes)),
			corrupt: &CorruptionError{Segment: 3, Offset: lastEnd, Err: garbage.err},
		})
	}
	cases = append(cases,
		tc{
			name:    "flipped crc byte",
			damage:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 3), last+5) },
			want:    payloads(0, 14),
			dropped: framedLen(14),
			corrupt: &CorruptionError{Segment: 3, Offset: last, Err: errChecksum},
		},
		tc{
			name:    "flipped payload byte",
			damage:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 3), lastEnd-1) },
			want:    payloads(0, 14),
			dropped: framedLen(14),
			corrupt: &CorruptionError{Segment: 3, Offset: last, Err: errChecksum},
		},
		tc{
			name:    "flipped length byte",
			damage:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 3), last) },
			want:    payloads(0, 14),
			dropped: framedLen(14),
			corrupt: &CorruptionError{Segment: 3, Offset: last, Err: errTorn},
		},
		tc{
			name:    "torn header",
			damage:  func(t *testing.T, dir string) { require.NoError(t, os.Truncate(seg(dir, 3), 3)) },
			want:    payloads(0, 10),
			dropped: 3,
			corrupt: &CorruptionError{Segment: 3, Offset: 0, Err: errBadHeader},
		},
		tc{
			name:    "bad magic",
			damage:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 3), 0) },
			want:    payloads(0, 10),
			dropped: lastEnd,
			corrupt: &CorruptionError{Segment: 3, Offset: 0, Err: errBadHeader},
		},
		tc{
			name:    "corrupt record in the middle of a non-last segment",
			damage:  func(t *testing.T, dir string) { flipByte(t, seg(dir, 1), recordOffset(2)+4) },
			want:    append(payloads(0, 2), payloads(5, 15)...),
			dropped: seg1Size - recordOffset(2),
			corrupt: &CorruptionError{Segment: 1, Offset: recordOffset(2), Err: errChecksum},
		},
	)

	base := buildLog(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, base)
			c.damage(t, dir)
			opts := Options{Dir: dir}

			w, got, st := reopenAndReplay(t, opts)
			require.Equal(t, c.want, got)
			require.Equal(t, c.dropped, st.DroppedBytes)
			if c.corrupt == nil {
				require.Empty(t, st.Corruptions)
			} else {
				require.Equal(t, []*CorruptionError{c.corrupt}, st.Corruptions)
			}

			// New appends go to a fresh segment; the repaired log reads clean.
			require.NoError(t, w.Append(context.Background(), []byte("after repair")))
			require.NoError(t, w.Close())
			_, got, st = reopenAndReplay(t, opts)
			require.Equal(t, append(c.want, []byte("after repair")), got)
			require.Zero(t, st.DroppedBytes)
			require.Empty(t, st.Corruptions)
		})
	}
}

func TestCorruptionError(t *testing.T) {
	err := error(&CorruptionError{Segment: 3, Offset: 42, Err: errChecksum})
	require.ErrorIs(t, err, errChecksum)
	require.EqualError(t, err, "wal segment 3 corrupt at offset 42: record checksum mismatch")
}

func seg(dir string, idx int) string { return filepath.Join(dir, segmentName(idx)) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0x40
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// FuzzReplay writes arbitrary bytes as segment 1 and checks that Replay
// yields exactly the longest intact record prefix (per refDecode, a separate
// straightforward reading of docs/format.md), repairs the file to end there,
// and never panics.
func FuzzReplay(f *testing.F) {
	// The seed corpus lives in testdata/fuzz/FuzzReplay; these add a few
	// more built from the format.
	valid := appendSegmentHeader(nil)
	for _, r := range [][]byte{[]byte("a"), []byte("span batch"), bytes.Repeat([]byte{7}, 300)} {
		valid = appendRecord(valid, r, crc32.Checksum(r, castagnoli))
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := seg(dir, 1)
		require.NoError(t, os.WriteFile(path, data, 0o644))
		wantRecs, good, unsupported := refDecode(data)

		w, err := Open(Options{Dir: dir, Sync: SyncNever, Logger: quietLogger})
		require.NoError(t, err)
		defer w.Close()
		var got [][]byte
		st, err := w.Replay(func(rec []byte) error {
			got = append(got, bytes.Clone(rec))
			return nil
		})
		if unsupported {
			require.ErrorIs(t, err, ErrUnsupportedVersion)
			return
		}
		require.NoError(t, err)
		require.Equal(t, wantRecs, got)
		onDisk, err := os.ReadFile(path)
		require.NoError(t, err)
		if good < 0 { // damaged header: reset to an empty segment
			require.Equal(t, appendSegmentHeader(nil), onDisk)
			require.Equal(t, int64(len(data)), st.DroppedBytes)
			return
		}
		require.Equal(t, data[:good], onDisk)
		require.Equal(t, int64(len(data))-good, st.DroppedBytes)
	})
}

// refDecode returns the records of the longest intact prefix of a segment,
// where that prefix ends (-1 if the header is damaged), and whether the
// segment has an unsupported version.
func refDecode(data []byte) (recs [][]byte, good int64, unsupported bool) {
	if len(data) < 7 || string(data[:6]) != "ARIWAL" {
		return nil, -1, false
	}
	if data[6] != 1 {
		return nil, 0, true
	}
	rest := data[7:]
	for len(rest) >= 8 {
		n := binary.LittleEndian.Uint32(rest)
		crc := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > 1<<30 || uint64(n) > uint64(len(rest)-8) {
			break
		}
		if crc32.Checksum(rest[8:8+n], crc32.MakeTable(crc32.Castagnoli)) != crc {
			break
		}
		recs = append(recs, rest[8:8+n])
		rest = rest[8+n:]
	}
	return recs, int64(len(data) - len(rest)), false
}
