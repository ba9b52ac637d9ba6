// Package store is Ariadne's embedded trace store: a write-ahead log
// (package wal), an in-memory head (package head) and immutable columnar
// parts (package part), grouped into time partitions on disk.
//
// Contracts:
//   - DB.Append returns nil only after the batch is in the WAL (and fsynced
//     under the default sync policy); from then on the spans are visible to
//     Trace and Search, and they survive a crash of the process.
//   - Append takes ownership of the spans slice; the caller must not modify
//     it or what it points to afterwards.
//   - Append returns ErrOverloaded (nothing stored; retry later) when the WAL
//     or the part writer falls behind or the head reaches its memory limit.
//   - Trace returns every span of a trace, whichever parts they landed in,
//     with exact duplicates (a resent batch) removed.
//   - Data is partitioned by arrival time; retention drops whole partitions
//     by age and by total disk size.
//
// Layout of the data directory:
//
//	<dir>/wal/NNNNNNNN.wal                       write-ahead log segments
//	<dir>/parts/<YYYYMMDDTHHMMZ>/L<l>-<seq>.part  immutable parts per partition
//
// The formats of both are specified in docs/format.md.
package store
