package wal

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the WAL's Prometheus metrics. Build them with NewMetrics; a
// nil *Metrics records nothing.
type Metrics struct {
	FsyncSeconds prometheus.Histogram // ariadne_wal_fsync_duration_seconds
	Bytes        prometheus.Counter   // ariadne_wal_written_bytes_total: segment bytes written, framing included
	Records      prometheus.Counter   // ariadne_wal_records_total: records written
	Corruptions  prometheus.Counter   // ariadne_wal_corruptions_total: corrupt segments repaired by Replay
	Rejected     prometheus.Counter   // ariadne_wal_rejected_appends_total: Appends refused with ErrFull
}

// NewMetrics creates the WAL metrics and registers them with reg unless reg
// is nil. Like prometheus.MustRegister it panics if they are already
// registered with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		FsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ariadne_wal_fsync_duration_seconds",
			Help:    "Duration of WAL segment fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 15), // 100µs .. 1.6s
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_wal_written_bytes_total",
			Help: "Bytes written to WAL segments, record framing included.",
		}),
		Records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_wal_records_total",
			Help: "Records written to the WAL.",
		}),
		Corruptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_wal_corruptions_total",
			Help: "Corrupt or torn WAL segments found and truncated during replay.",
		}),
		Rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ariadne_wal_rejected_appends_total",
			Help: "Appends rejected because too many bytes were pending (ErrFull).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.FsyncSeconds, m.Bytes, m.Records, m.Corruptions, m.Rejected)
	}
	return m
}

func (m *Metrics) observeFsync(seconds float64) {
	if m != nil {
		m.FsyncSeconds.Observe(seconds)
	}
}

func (m *Metrics) written(bytes, records int) {
	if m != nil {
		m.Bytes.Add(float64(bytes))
		m.Records.Add(float64(records))
	}
}

func (m *Metrics) corruption() {
	if m != nil {
		m.Corruptions.Inc()
	}
}

func (m *Metrics) rejected() {
	if m != nil {
		m.Rejected.Inc()
	}
}
