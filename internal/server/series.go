package server

import (
	"fmt"
	"path/filepath"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// seriesStore is the store plus the metrics pipeline's span series, so
// that TraceQL metrics queries the series can answer skip the scan
// (traceql.MinuteSeries).
type seriesStore struct {
	*store.DB
	pipe *pipeline.Pipeline
}

func (s seriesStore) SeriesCompleteFrom() int64 { return s.pipe.CompleteFrom() }

func (s seriesStore) SpanSeries(from, to int64, fn func(int64, *traceql.MinuteStat)) {
	var ms traceql.MinuteStat
	s.pipe.SpanSeries(from, to, func(m int64, k pipeline.SpanKey, st *pipeline.SpanStat) {
		svc := k.Service
		if svc == pipeline.UnknownService {
			svc = ""
		}
		ms = traceql.MinuteStat{Service: svc, Name: k.Name, Kind: k.Kind, Status: k.Status, Overflow: k.Name == pipeline.OverflowName,
			Count: st.Calls, DurSum: st.Latency.Sum, DurMin: st.Latency.Min, DurMax: st.Latency.Max}
		fn(m, &ms)
	})
}

// initCoverage records since when the series hold every stored span, or,
// with derivation off, forgets it (see pipeline.InitCoverage).
func initCoverage(cfg config.Config, pipe *pipeline.Pipeline, db *store.DB) error {
	if pipe == nil {
		if err := pipeline.ForgetCoverage(filepath.Join(cfg.DataDir, "metrics")); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		return nil
	}
	// Spans still in the WAL were just replayed through the pipeline: only
	// parts can hold spans it never saw.
	if err := pipe.InitCoverage(db.Stats().Parts == 0); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
