package pipeline

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The series hold every stored span only from the moment derivation began
// for the data directory: a store that already held spans when the
// pipeline first ran (or that ran with metrics turned off for a while)
// has spans no series counts. Dir/complete-since records that moment as a
// decimal unix minute; the series are complete for spans starting in that
// minute or later (and within the retention). Queries that answer from
// the series instead of scanning spans (TraceQL metrics) use it.
const coverageName = "complete-since"

// InitCoverage reads the coverage file, or creates it if missing: from
// the beginning of time if the store is empty, else from the next minute.
// Call it once, after the store has opened (and replayed its WAL).
func (p *Pipeline) InitCoverage(storeEmpty bool) error {
	since := int64(math.MinInt64)
	if !storeEmpty {
		since = minuteCeil(p.cfg.Now())
	}
	if p.cfg.Dir == "" {
		p.since.Store(since)
		return nil
	}
	path := filepath.Join(p.cfg.Dir, coverageName)
	b, err := os.ReadFile(path)
	if err == nil {
		v, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			return fmt.Errorf("%s: %w", path, perr)
		}
		p.since.Store(v)
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := writeFileAtomic(path, []byte(strconv.FormatInt(since, 10)+"\n")); err != nil {
		return fmt.Errorf("write %s: %w", coverageName, err)
	}
	p.since.Store(since)
	return nil
}

// ForgetCoverage removes the coverage file of a metrics directory: the
// server calls it when it runs with derivation off, so that turning it
// back on starts a new coverage.
func ForgetCoverage(dir string) error {
	err := os.Remove(filepath.Join(dir, coverageName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// CompleteFrom returns the first unix minute from which the span series
// count every stored span with a start in that minute or later: the
// coverage start, or the oldest minute the retention keeps if later.
// Before InitCoverage it returns math.MaxInt64 (nothing is known to be
// complete).
func (p *Pipeline) CompleteFrom() int64 {
	since := p.since.Load()
	cut := minuteCeil(p.cfg.Now().Add(-p.cfg.Retention))
	return max(since, cut)
}

// SpanSeries calls fn for every span-metrics series of every minute in
// [from, to) (unix minutes), in no particular order. It must not call
// back into the pipeline.
func (p *Pipeline) SpanSeries(from, to int64, fn func(minute int64, k SpanKey, s *SpanStat)) {
	d := p.View(time.Unix(from*60, 0), time.Unix(to*60, 0))
	for m, x := range d {
		for k, s := range x.Spans {
			fn(m, k, s)
		}
	}
}
