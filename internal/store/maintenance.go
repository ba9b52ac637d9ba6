package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/store/part"
)

// maintenanceLoop merges parts and applies retention.
func (db *DB) maintenanceLoop() {
	defer db.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	// Shutdown cancels a running merge rather than waiting for it: the
	// inputs stay, the unfinished output is removed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-db.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	lastRetention := time.Time{}
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		if time.Since(lastRetention) >= 30*time.Second {
			db.applyRetention()
			lastRetention = time.Now()
		}
		for {
			merged, err := db.mergeOnce(ctx)
			if errors.Is(err, context.Canceled) {
				return
			}
			if err != nil {
				db.log.Error("merge failed", "err", err)
				break
			}
			if !merged {
				break
			}
			select {
			case <-db.stop:
				return
			default:
			}
		}
	}
}

// pickMerge chooses parts to merge: in any partition, L0FanIn parts of
// level 0 or MergeFanIn parts of a higher level; in partitions that no longer receive data, any two or more
// parts of the lowest level present, or a lone level-0 part (stored
// uncompressed); in all cases only parts whose spans add up to at most
// MaxPartSpans.
func (db *DB) pickMerge() []*partRef {
	db.mu.RLock()
	defer db.mu.RUnlock()
	current := db.opts.Now().UTC().Truncate(db.opts.PartitionDuration)
	type key struct {
		partition time.Time
		level     int
	}
	groups := map[key][]*partRef{}
	for _, p := range db.parts {
		if p.level >= maxMergeLevel {
			continue
		}
		k := key{p.partition, p.level}
		groups[k] = append(groups[k], p)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	// Oldest partition first, lowest level first: deterministic.
	slices.SortFunc(keys, func(a, b key) int {
		if c := a.partition.Compare(b.partition); c != 0 {
			return c
		}
		return cmp.Compare(a.level, b.level)
	})
	for _, k := range keys {
		g := groups[k]
		if len(g) == 1 && k.level == 0 && k.partition.Before(current) && !db.opts.CompressFlushes {
			// A lone level-0 part of a closed partition is stored raw:
			// rewrite it (compressed) on its own.
			g[0].acquire()
			return g
		}
		fanIn := db.opts.MergeFanIn
		if k.level == 0 {
			fanIn = db.opts.L0FanIn
		}
		if len(g) >= fanIn || (k.partition.Before(current) && len(g) >= 2) {
			slices.SortFunc(g, func(a, b *partRef) int { return cmp.Compare(a.seq, b.seq) })
			if len(g) > fanIn*2 {
				g = g[:fanIn*2]
			}
			// The oldest parts whose spans fit under MaxPartSpans
			// together; a group where not even two fit is left alone.
			var sum int64
			fit := g[:0:0]
			for _, p := range g {
				if n := p.r.Meta().SpanCount; sum+n <= db.opts.MaxPartSpans {
					fit = append(fit, p)
					sum += n
				}
			}
			if len(fit) < 2 {
				continue
			}
			g = fit
			for _, p := range g {
				p.acquire()
			}
			return g
		}
	}
	return nil
}

// mergeOnce runs at most one merge and reports whether it did.
func (db *DB) mergeOnce(ctx context.Context) (bool, error) {
	db.mergeMu.Lock()
	defer db.mergeMu.Unlock()
	in := db.pickMerge()
	if len(in) == 0 {
		return false, nil
	}
	defer db.releaseParts(in)
	start := time.Now()
	db.mu.Lock()
	seq := db.nextSeq
	db.nextSeq++
	db.mu.Unlock()
	level := in[0].level + 1
	path := filepath.Join(filepath.Dir(in[0].path), partName(level, seq))
	readers := make([]*part.Reader, len(in))
	replaces := make([]uint64, len(in))
	maxSeg := 0
	for i, p := range in {
		readers[i] = p.r
		replaces[i] = p.seq
		maxSeg = max(maxSeg, p.r.Meta().WALSegment)
	}
	if _, err := part.MergeContext(ctx, path, readers, db.partOptions(maxSeg, replaces)); err != nil {
		return false, fmt.Errorf("merge into %s: %w", path, err)
	}
	r, err := part.Open(path)
	if err != nil {
		return false, fmt.Errorf("open merged part %s: %w", path, err)
	}
	np := &partRef{r: r, path: path, level: level, seq: seq, partition: in[0].partition}
	np.refs.Store(1)
	db.mu.Lock()
	gone := map[*partRef]bool{}
	for _, p := range in {
		gone[p] = true
	}
	db.parts = slices.DeleteFunc(db.parts, func(p *partRef) bool { return gone[p] })
	db.parts = append(db.parts, np)
	db.mu.Unlock()
	for _, p := range in {
		p.obsolete.Store(true)
		p.release(db.log) // the DB's own reference; files go when readers finish
	}
	db.m.merges.Inc()
	db.m.mergeSeconds.Observe(time.Since(start).Seconds())
	db.log.Debug("merged parts", "inputs", len(in), "output", path, "level", level, "spans", r.Meta().SpanCount, "took", time.Since(start))
	return true, nil
}

// applyRetention drops partitions that are older than Retention, then the
// oldest partitions while the store is over MaxDiskBytes. The partition
// that currently receives data is never dropped for size.
func (db *DB) applyRetention() {
	db.mergeMu.Lock()
	defer db.mergeMu.Unlock()
	now := db.opts.Now().UTC()
	current := now.Truncate(db.opts.PartitionDuration)
	db.mu.Lock()
	byPartition := map[time.Time]int64{}
	for _, p := range db.parts {
		byPartition[p.partition] += p.r.Meta().Size
	}
	partitions := make([]time.Time, 0, len(byPartition))
	for t := range byPartition {
		partitions = append(partitions, t)
	}
	slices.SortFunc(partitions, func(a, b time.Time) int { return a.Compare(b) })
	drop := map[time.Time]string{}
	if db.opts.Retention > 0 {
		for _, t := range partitions {
			if t.Add(db.opts.PartitionDuration).Before(now.Add(-db.opts.Retention)) {
				drop[t] = "age"
			}
		}
	}
	if db.opts.MaxDiskBytes > 0 {
		total := db.wal.Size()
		for _, b := range byPartition {
			total += b
		}
		for _, t := range partitions {
			if total <= db.opts.MaxDiskBytes || !t.Before(current) {
				break
			}
			if _, ok := drop[t]; !ok {
				drop[t] = "size"
			}
			total -= byPartition[t]
		}
		if total > db.opts.MaxDiskBytes {
			db.log.Warn("store is over its disk limit but only the current partition is left", "bytes", total, "limit", db.opts.MaxDiskBytes)
		}
	}
	var dropped []*partRef
	db.parts = slices.DeleteFunc(db.parts, func(p *partRef) bool {
		if _, ok := drop[p.partition]; ok {
			dropped = append(dropped, p)
			return true
		}
		return false
	})
	db.mu.Unlock()
	for t, reason := range drop {
		db.m.retentionDrops.WithLabelValues(reason).Inc()
		db.log.Info("retention dropped partition", "partition", t.Format(partitionFmt), "reason", reason)
	}
	for _, p := range dropped {
		p.obsolete.Store(true)
		p.release(db.log)
	}
	for t := range drop {
		_ = os.Remove(filepath.Join(db.opts.Dir, partsDir, t.Format(partitionFmt)))
	}
}
