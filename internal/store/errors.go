package store

import "errors"

// ErrOverloaded is returned by Append when the store cannot take more data
// right now (WAL queue full, head over its memory limit, disk full). Nothing
// of the batch was stored; the client should retry later. Receivers map it
// to gRPC UNAVAILABLE / HTTP 503 with Retry-After.
var ErrOverloaded = errors.New("store overloaded, retry later")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("store closed")

// ErrNotFound is returned when a trace does not exist.
var ErrNotFound = errors.New("trace not found")
