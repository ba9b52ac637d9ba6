// Package part reads and writes Ariadne's immutable columnar part files.
//
// A part holds spans in sections, in order of time; a section holds spans
// sorted by (trace ID, start time), grouped into granules of at most
// WriteOptions.GranuleSpans spans. A granule never splits a trace unless
// the trace alone is bigger than a granule. Inside a granule
// every column is a separately compressed block (zstd), so a query reads and
// decompresses only the columns it needs of the granules it cannot prune.
// The byte layout is specified in docs/format.md ("Parts") and frozen by
// TestGoldenPart.
//
// A part is one file, written once and never modified: a Writer streams
// sorted spans into path+".tmp" and renames it into place only after
// everything is fsynced, so a part file that exists is complete. A Reader
// keeps only the footer (per-granule index, dictionaries needed for pruning
// and autocomplete, the sections' trace-ID Bloom filters) in memory; it reads columns
// with ReadAt on demand and is safe for concurrent use.
package part

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

// Version is the format version written by this package; Open reads it
// and versions 1 and 2. Version 3 added sections (runs of granules, each
// sorted by trace ID with its own trace filter, in order of time); version
// 2 added the granule value dictionary (column "values"); version 1 stored
// every string attribute value inline.
const Version = 3

const (
	magic       = "ARIPART"
	headerSize  = 8  // magic, version
	trailerSize = 16 // footer length, footer CRC, magic, version
)

// Columns of a granule, in file order. Columns before colAttrs are the
// "cheap" ones decoded for every visited span; the rest are decoded only
// for spans a Scan's pre callback selects. Columns colAttrs to colMisc hold
// one entry per span (the "heavy" columns, with per-run offsets in the trace
// column); colValues is the granule's string value dictionary, which the
// attrs column refers to.
const (
	colTrace      = iota // distinct trace IDs and run lengths
	colSpanID            // 8 raw bytes per span
	colParent            // parent reference per span
	colStart             // start time deltas
	colDuration          // end-start
	colName              // span name dictionary reference
	colKindStatus        // kind and status code bytes
	colResScope          // resource and scope dictionary indexes
	colAttrs             // span attributes
	colEvents            // span events
	colLinks             // span links
	colMisc              // trace state, flags, status message, dropped counts
	colValues            // distinct string attribute values of the granule
	numCols
)

const (
	firstHeavy = colAttrs
	numHeavy   = colMisc + 1 - firstHeavy
)

var colNames = [numCols]string{
	"trace", "span_id", "parent", "start", "duration", "name", "kind_status",
	"resource_scope", "attrs", "events", "links", "misc", "values",
}

// Block codecs.
const (
	codecRaw  = 0
	codecZstd = 1
)

// Limits. They bound what a Reader allocates for a corrupt or hostile file
// and what a Writer accepts.
const (
	// maxBlockRaw is the largest decompressed granule block a Reader
	// accepts; maxDictRaw the largest dictionary block (resources are
	// unbounded in number, so the Writer fails Finish past it).
	maxBlockRaw = 64 << 20
	maxDictRaw  = 1 << 30
	// maxSpanBytes is the largest encoded span a Writer accepts.
	maxSpanBytes = 16 << 20
	// maxFooterRaw is the largest decompressed footer a Reader accepts.
	maxFooterRaw = 64 << 20
	// maxNames bounds the span-name dictionary; further names are stored
	// inline in the name column and Meta.OperationsTruncated is set.
	maxNames = 16384
	// maxNameLen: longer span names are always stored inline.
	maxNameLen = 256
	// maxKeys bounds the attribute-key dictionary; further keys are stored
	// inline in the attrs column.
	maxKeys = 4096
	// maxOps bounds the (service, span name, kind) set in the footer.
	maxOps = 16384
	// maxTopKeys bounds the number of attribute keys with top values.
	maxTopKeys = 200
	// maxTopValueLen: longer values are not counted for top values.
	maxTopValueLen = 128
	// maxGranuleValues bounds a granule's value dictionary; further values
	// are stored inline in the attrs column.
	maxGranuleValues = 1 << 16
	// traceFPRate and tokenFPRate are the Bloom filter false-positive rates.
	// A trace lookup checks every section's filter, so theirs is lower.
	traceFPRate = 0.002
	tokenFPRate = 0.002
)

// Defaults for WriteOptions.
const (
	DefaultGranuleSpans = 2048
	DefaultGranuleBytes = 8 << 20
	DefaultTopValues    = 50
	DefaultSectionSpans = 131072
)

// ErrCorrupt is matched (errors.Is) by every error reporting a part file
// that failed validation: bad magic, version, checksum or encoding.
var ErrCorrupt = errors.New("corrupt part")

// ErrNewerVersion is matched by the error of Open for a part written by a
// newer build (a format version above Version): the file is not corrupt,
// this build just cannot read it.
var ErrNewerVersion = errors.New("part format newer than this build")

// ErrClosed is returned by calls on a closed Reader.
var ErrClosed = errors.New("part closed")

// CorruptError describes where a part file failed validation.
// errors.Is(err, ErrCorrupt) is true for it.
type CorruptError struct {
	Path   string
	Offset int64 // file offset of the bad structure, -1 if not known
	Reason string
	Err    error // underlying decoder error, may be nil
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("corrupt part %s", e.Path)
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Operation is one (service, span name, kind) combination in a part.
type Operation struct {
	Service string
	Name    string
	Kind    int8
}

// ValueCount is an attribute value and its estimated number of spans.
type ValueCount struct {
	Value string
	Count int64
}

// KeyValues holds the most frequent values of one attribute key, most
// frequent first.
type KeyValues struct {
	Key    string
	Values []ValueCount
}

// Meta describes a part. It is read from the footer and kept in memory;
// callers must not modify it.
type Meta struct {
	Version    int
	Size       int64 // file size in bytes
	SpanCount  int64
	TraceCount int64
	Granules   int
	Sections   int
	// MinStart and MaxStart bound span start times, MaxEnd span end times
	// (unix nanoseconds); MinDuration and MaxDuration bound End-Start.
	// All are zero for an empty part.
	MinStart, MaxStart, MaxEnd int64
	MinDuration, MaxDuration   int64
	// WALSegment and Replaces are recorded from WriteOptions, opaque here.
	WALSegment int
	Replaces   []uint64
	// Services are the service.name values of the part's resources, sorted.
	Services []string
	// Operations are the (service, span name, kind) combinations, sorted.
	// OperationsTruncated is set when the part had more than the footer
	// keeps (very many distinct span names).
	Operations          []Operation
	OperationsTruncated bool
	// TopValues are, for up to 200 string-typed span and resource attribute
	// keys (the first seen), the most frequent values of at most 128 bytes
	// with estimated span counts (Space-Saving: counts are upper bounds,
	// exact when a key has few distinct values), sorted by key.
	TopValues []KeyValues
}

// WriteOptions configure a Writer.
type WriteOptions struct {
	// GranuleSpans is the largest number of spans in a granule (default
	// 2048). Smaller granules make trace lookups faster and pruning finer,
	// larger ones compress better.
	GranuleSpans int
	// GranuleBytes flushes a granule early when its uncompressed columns
	// reach this size (default 8 MiB).
	GranuleBytes int
	// ZstdLevel is the compression level (zero value: zstd.SpeedFastest).
	// On realistic spans SpeedDefault makes parts about 3.5% smaller for
	// about 0.35 µs more CPU per span (BenchmarkWrite/add-sorted-zstd-
	// default).
	ZstdLevel zstd.EncoderLevel
	// TopValues is the number of most frequent values kept per attribute
	// key in the footer (default 50; negative: none).
	TopValues int
	// Uncompressed stores every column block raw, for parts that are soon
	// merged (the store's level-0 parts): compressing them would be work
	// the merge throws away.
	Uncompressed bool
	// SectionSpans is the size, in spans, that Write and Merge aim for in
	// a section (default 131072). Write cuts its spans into sections by
	// the start of their traces when there are more; Merge combines input
	// sections of neighbouring times up to this size. A newest-first search
	// reads whole sections, so smaller ones let it stop sooner; every
	// section costs a trace-filter check per trace lookup.
	SectionSpans int
	// WALSegment is recorded in the footer, opaque to this package.
	WALSegment int
	// Replaces is recorded in the footer, opaque to this package (the store
	// records the sequence numbers of merged inputs).
	Replaces []uint64
}

func (o WriteOptions) withDefaults() WriteOptions {
	if o.GranuleSpans <= 0 {
		o.GranuleSpans = DefaultGranuleSpans
	}
	if o.GranuleBytes <= 0 {
		o.GranuleBytes = DefaultGranuleBytes
	}
	o.GranuleBytes = min(o.GranuleBytes, maxBlockRaw/2)
	if o.ZstdLevel <= 0 || o.ZstdLevel > zstd.SpeedBestCompression {
		o.ZstdLevel = zstd.SpeedFastest
	}
	if o.TopValues == 0 {
		o.TopValues = DefaultTopValues
	}
	if o.SectionSpans <= 0 {
		o.SectionSpans = DefaultSectionSpans
	}
	return o
}

// Compare orders spans as a part stores them: by trace ID, then start.
func Compare(a, b *model.Span) int {
	if c := compareID(&a.TraceID, &b.TraceID); c != 0 {
		return c
	}
	switch {
	case a.Start < b.Start:
		return -1
	case a.Start > b.Start:
		return 1
	}
	return 0
}

func compareID(a, b *model.TraceID) int { return bytes.Compare(a[:], b[:]) }
