package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Spans waiting for the other side of a call are saved with each sealed
// set (file wait-<seq>.mwait, written before the set's pending file): they
// come from spans in that part, which the WAL no longer replays after the
// part is written. Recover puts the ones of the newest committed part back,
// with a fresh wait, so a pair whose sides straddle a flush and a crash is
// still matched once.
//
// Format: "ARMW" version:u8(=1) count:uvarint entry* crc:u32le (CRC-32C of
// everything before it), entry = role:u8 (0 parent, 1 child) keyTrace:16
// keySpan:8 trace:16 span:8 service:str peer:str start:varint
// duration:varint kind:u8 error:u8 matched:u8.
const waitMagic = "ARMW"

type waitEntry struct {
	child bool
	key   refKey
	ref   spanRef
}

func waitName(seq uint64) string { return fmt.Sprintf("wait-%016x.mwait", seq) }

// snapshot copies the waiting spans.
func (m *matcher) snapshot() []waitEntry {
	out := make([]waitEntry, 0, m.size)
	for k, r := range m.parents {
		out = append(out, waitEntry{key: k, ref: *r})
	}
	for k, kids := range m.children {
		for _, c := range kids {
			out = append(out, waitEntry{child: true, key: k, ref: *c})
		}
	}
	return out
}

// restore adds saved entries, each waiting expires (unix ns) from now.
func (m *matcher) restore(es []waitEntry, expires int64) {
	for _, e := range es {
		if m.size >= m.max {
			return
		}
		r := e.ref
		r.expires = expires
		if e.child {
			m.children[e.key] = append(m.children[e.key], &r)
		} else {
			if m.parents[e.key] != nil {
				continue
			}
			m.parents[e.key] = &r
		}
		m.size++
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func encodeWait(es []waitEntry) []byte {
	// Sized up front: the file is written at every flush, with up to
	// MaxPending entries.
	n := len(waitMagic) + 1 + binary.MaxVarintLen64 + 4
	for i := range es {
		r := &es[i].ref
		n += 1 + 2*(16+8) + 2*binary.MaxVarintLen64 + len(r.service) + len(r.peer) + 2*binary.MaxVarintLen64 + 3
	}
	b := make([]byte, 0, n)
	b = append(b, waitMagic...)
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(es)))
	for i := range es {
		e := &es[i]
		b = append(b, boolByte(e.child))
		b = append(b, e.key.trace[:]...)
		b = append(b, e.key.span[:]...)
		r := &e.ref
		b = append(b, r.trace[:]...)
		b = append(b, r.span[:]...)
		b = appendStr(b, r.service)
		b = appendStr(b, r.peer)
		b = binary.AppendVarint(b, r.start)
		b = binary.AppendVarint(b, r.dur)
		b = append(b, byte(r.kind), boolByte(r.err), boolByte(r.matched))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeWait(b []byte) ([]waitEntry, error) {
	if len(b) < len(waitMagic)+1+4 || string(b[:len(waitMagic)]) != waitMagic || b[len(waitMagic)] != 1 {
		return nil, errors.New("not a version 1 wait file")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("wait file checksum mismatch")
	}
	d := &decoder{b: body[len(waitMagic)+1:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errShort
	}
	out := make([]waitEntry, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var e waitEntry
		rb := d.bytes(1)
		e.child = len(rb) == 1 && rb[0] == 1
		copy(e.key.trace[:], d.bytes(16))
		copy(e.key.span[:], d.bytes(8))
		copy(e.ref.trace[:], d.bytes(16))
		copy(e.ref.span[:], d.bytes(8))
		e.ref.service, e.ref.peer = d.str(), d.str()
		e.ref.start, e.ref.dur = d.varint(), d.varint()
		if f := d.bytes(3); d.err == nil {
			e.ref.kind, e.ref.err, e.ref.matched = int8(f[0]), f[1] == 1, f[2] == 1
		}
		out = append(out, e)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// loadWait restores the waiting spans saved with part seq.
func (p *Pipeline) loadWait(seq uint64) {
	path := filepath.Join(p.cfg.Dir, waitName(seq))
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var es []waitEntry
	if err == nil {
		es, err = decodeWait(b)
	}
	if err != nil {
		p.log.Warn("waiting spans not restored", "file", path, "err", err)
		return
	}
	p.mu.Lock()
	p.match.restore(es, p.cfg.Now().Add(p.cfg.EdgeWait).UnixNano())
	p.mu.Unlock()
	p.log.Info("waiting spans restored", "spans", len(es))
}
