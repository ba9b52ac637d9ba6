package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// File format (docs/format.md, "Metrics files"): magic "ARMT", a format
// version byte, the payload, then the CRC-32C of everything before it
// (little endian). The payload is: uvarint minute count; per minute (in
// ascending order) varint unix minute, uvarint span-series count, each
// series (strings are uvarint length + bytes): service, name, kind byte,
// status byte, uvarint calls, uvarint errors, sketch, exemplars; then
// uvarint edge count, each edge: client, server, connection type, uvarint
// calls, uvarint errors, client sketch, server sketch, exemplars. A sketch
// is encoded by appendSketch; exemplars are a uvarint count of slow ones
// then a uvarint count of failed ones, each as trace ID (16 bytes), span
// ID (8 bytes), varint start, varint duration, error byte.
const (
	fileMagic   = "ARMT"
	fileVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendExemplars(b []byte, x *exemplars) []byte {
	for _, list := range [][]Exemplar{x.Slow, x.Failed} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, e := range list {
			b = append(b, e.TraceID[:]...)
			b = append(b, e.SpanID[:]...)
			b = binary.AppendVarint(b, e.Start)
			b = binary.AppendVarint(b, e.Duration)
			if e.Error {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	return b
}

func (d *decoder) exemplars(x *exemplars) {
	for _, list := range []*[]Exemplar{&x.Slow, &x.Failed} {
		n := d.uvarint()
		if n > maxExemplars {
			d.err = errors.New("too many exemplars")
			return
		}
		for range n {
			var e Exemplar
			copy(e.TraceID[:], d.bytes(16))
			copy(e.SpanID[:], d.bytes(8))
			e.Start = d.varint()
			e.Duration = d.varint()
			eb := d.bytes(1)
			e.Error = len(eb) == 1 && eb[0] == 1
			*list = append(*list, e)
		}
	}
}

// EncodeData returns the file encoding of d (minutes in [from, to) only).
func EncodeData(d Data, from, to int64) []byte {
	b := append([]byte(fileMagic), fileVersion)
	ms := d.minutes(from, to)
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, mk := range ms {
		m := d[mk]
		b = binary.AppendVarint(b, mk)
		b = binary.AppendUvarint(b, uint64(len(m.Spans)))
		for _, k := range sortedKeys(m.Spans, cmpSpanKey) {
			s := m.Spans[k]
			b = appendStr(b, k.Service)
			b = appendStr(b, k.Name)
			b = append(b, byte(k.Kind), byte(k.Status))
			b = binary.AppendUvarint(b, s.Calls)
			b = binary.AppendUvarint(b, s.Errors)
			b = appendSketch(b, &s.Latency)
			b = appendExemplars(b, &s.exemplars)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Edges)))
		for _, k := range sortedKeys(m.Edges, cmpEdgeKey) {
			s := m.Edges[k]
			b = appendStr(b, k.Client)
			b = appendStr(b, k.Server)
			b = appendStr(b, k.ConnType)
			b = binary.AppendUvarint(b, s.Calls)
			b = binary.AppendUvarint(b, s.Errors)
			b = appendSketch(b, &s.Client)
			b = appendSketch(b, &s.Server)
			b = appendExemplars(b, &s.exemplars)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// DecodeData parses a file written by EncodeData.
func DecodeData(b []byte) (Data, error) {
	if len(b) < len(fileMagic)+1+4 || string(b[:len(fileMagic)]) != fileMagic {
		return nil, errors.New("not a metrics file")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("metrics file checksum mismatch")
	}
	if v := body[len(fileMagic)]; v != fileVersion {
		return nil, fmt.Errorf("metrics file version %d not supported", v)
	}
	d := &decoder{b: body[len(fileMagic)+1:]}
	out := Data{}
	nm := d.uvarint()
	for i := uint64(0); i < nm && d.err == nil; i++ {
		m := out.minute(d.varint())
		ns := d.uvarint()
		for j := uint64(0); j < ns && d.err == nil; j++ {
			var k SpanKey
			k.Service, k.Name = d.str(), d.str()
			kb := d.bytes(2)
			if d.err != nil {
				break
			}
			k.Kind, k.Status = int8(kb[0]), int8(kb[1])
			s := &SpanStat{Calls: d.uvarint(), Errors: d.uvarint()}
			d.sketch(&s.Latency)
			d.exemplars(&s.exemplars)
			m.Spans[k] = s
		}
		ne := d.uvarint()
		for j := uint64(0); j < ne && d.err == nil; j++ {
			k := EdgeKey{Client: d.str(), Server: d.str(), ConnType: d.str()}
			s := &EdgeStat{Calls: d.uvarint(), Errors: d.uvarint()}
			d.sketch(&s.Client)
			d.sketch(&s.Server)
			d.exemplars(&s.exemplars)
			m.Edges[k] = s
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// writeFileAtomic writes b to path via a synced temporary file and a
// rename, then syncs the directory.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
