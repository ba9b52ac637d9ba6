package store

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	spansStored    prometheus.Counter
	overloaded     *prometheus.CounterVec
	flushes        prometheus.Counter
	flushSeconds   prometheus.Histogram
	merges         prometheus.Counter
	mergeSeconds   prometheus.Histogram
	retentionDrops *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, db *DB) *metrics {
	m := &metrics{
		spansStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_store_spans_appended_total", Help: "Spans acknowledged by the store (in the WAL)."}),
		overloaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ariadne_store_overloaded_total", Help: "Appends refused because the store was overloaded, by reason."}, []string{"reason"}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_store_head_flushes_total", Help: "Heads written to parts."}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ariadne_store_head_flush_duration_seconds", Help: "Time to write a head to a part.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_store_merges_total", Help: "Part merges completed."}),
		mergeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ariadne_store_merge_duration_seconds", Help: "Time to merge parts.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
		retentionDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ariadne_store_retention_dropped_partitions_total", Help: "Partitions dropped by retention, by reason (age, size)."}, []string{"reason"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.spansStored, m.overloaded, m.flushes, m.flushSeconds, m.merges, m.mergeSeconds, m.retentionDrops)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ariadne_store_parts", Help: "Parts on disk."}, func() float64 {
		db.mu.RLock()
		defer db.mu.RUnlock()
		return float64(len(db.parts))
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ariadne_store_part_bytes", Help: "Bytes of parts on disk."}, func() float64 {
		return float64(db.partBytes())
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ariadne_store_wal_bytes", Help: "Bytes of WAL segments on disk."}, func() float64 {
		if db.wal == nil {
			return 0
		}
		return float64(db.wal.Size())
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ariadne_store_stored_spans", Help: "Spans in parts on disk (before duplicate removal)."}, func() float64 {
		db.mu.RLock()
		defer db.mu.RUnlock()
		var n int64
		for _, p := range db.parts {
			n += p.r.Meta().SpanCount
		}
		return float64(n)
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ariadne_store_head_spans", Help: "Spans held in memory (head and heads being written)."}, func() float64 {
		db.mu.RLock()
		defer db.mu.RUnlock()
		n := db.head.Len()
		for _, h := range db.flushing {
			n += h.Len()
		}
		return float64(n)
	}))
	return m
}

func (db *DB) partBytes() int64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var n int64
	for _, p := range db.parts {
		n += p.r.Meta().Size
	}
	return n
}
