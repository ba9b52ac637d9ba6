package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/sampling/tail"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// newTail builds the tail sampler when sampling.tail.enabled (nil
// otherwise).
func newTail(cfg config.Config) (*tail.Sampler, error) {
	t := cfg.Sampling.Tail
	if !t.Enabled {
		return nil, nil
	}
	s, err := tail.New(tail.Config{
		Idle: time.Duration(t.Idle), MaxWait: time.Duration(t.MaxWait), MaxBytes: int64(t.MaxMemory),
		DecisionCache: t.DecisionCache, Policies: tailPolicies(t.Policies), Compile: TailCompile,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sampling.tail.%w", err)
	}
	return s, nil
}

func tailPolicies(ps []config.TailPolicy) []tail.Policy {
	var out []tail.Policy
	for _, p := range ps {
		out = append(out, tail.Policy{
			Name: p.Name, Type: p.Type, Threshold: time.Duration(p.Threshold), Service: p.Service,
			Operation: p.Operation, Query: p.Query, Probability: p.Probability,
			TracesPerSecond: p.TracesPerSecond, PerService: p.PerService, MinSpans: p.MinSpans, MaxSpans: p.MaxSpans,
			MaxTracesPerSecond: p.MaxTracesPerSecond, Policies: tailPolicies(p.Policies),
		})
	}
	return out
}

// tailCollector exports the tail sampler's counters on /metrics.
type tailCollector struct{ db *store.DB }

var (
	tailTracesDesc = prometheus.NewDesc("ariadne_tail_sampling_traces_total",
		"Traces decided by tail sampling, by decision.", []string{"decision"}, nil)
	tailSpansDesc = prometheus.NewDesc("ariadne_tail_sampling_spans_total",
		"Spans of decided traces, by decision; late spans arrived after their trace's decision.", []string{"decision", "late"}, nil)
	tailPolicyDesc = prometheus.NewDesc("ariadne_tail_sampling_policy_traces_total",
		"Per policy: traces it evaluated, matched, kept (the first policy that keeps a trace), and matches its budget refused.",
		[]string{"policy", "outcome"}, nil)
	tailEarlyDesc = prometheus.NewDesc("ariadne_tail_sampling_early_decisions_total",
		"Traces decided before they were complete because held memory reached sampling.tail.max_memory.", nil, nil)
	tailHeldTracesDesc = prometheus.NewDesc("ariadne_tail_sampling_held_traces", "Traces held, undecided.", nil, nil)
	tailHeldSpansDesc  = prometheus.NewDesc("ariadne_tail_sampling_held_spans", "Spans of the held traces.", nil, nil)
	tailHeldBytesDesc  = prometheus.NewDesc("ariadne_tail_sampling_held_bytes",
		"Estimated memory held for undecided traces (span data stays in the WAL).", nil, nil)
)

func (c tailCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tailTracesDesc, tailSpansDesc, tailPolicyDesc, tailEarlyDesc,
		tailHeldTracesDesc, tailHeldSpansDesc, tailHeldBytesDesc} {
		ch <- d
	}
}

func (c tailCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.db.TailStats()
	if !ok {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(tailTracesDesc, st.TracesKept, "kept")
	counter(tailTracesDesc, st.TracesDropped, "dropped")
	counter(tailSpansDesc, st.SpansKept, "kept", "false")
	counter(tailSpansDesc, st.SpansDropped, "dropped", "false")
	counter(tailSpansDesc, st.LateSpansKept, "kept", "true")
	counter(tailSpansDesc, st.LateSpansDropped, "dropped", "true")
	counter(tailEarlyDesc, st.EarlyDecisions)
	for _, p := range st.Policies {
		counter(tailPolicyDesc, p.Evaluated, p.Name, "evaluated")
		counter(tailPolicyDesc, p.Matched, p.Name, "matched")
		counter(tailPolicyDesc, p.Kept, p.Name, "kept")
		counter(tailPolicyDesc, p.OverBudget, p.Name, "over_budget")
	}
	gauge(tailHeldTracesDesc, st.HeldTraces)
	gauge(tailHeldSpansDesc, st.HeldSpans)
	gauge(tailHeldBytesDesc, st.HeldBytes)
}

// tailHandler answers GET /api/v1/sampling/tail (docs/api.md).
func tailHandler(db *store.DB, cfg config.TailSampling) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st, ok := db.TailStats()
		if !ok {
			_, _ = w.Write([]byte(`{"enabled":false}` + "\n"))
			return
		}
		policies := st.Policies
		if policies == nil {
			policies = []tail.PolicyStats{}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"enabled":          true,
			"idleSeconds":      time.Duration(cfg.Idle).Seconds(),
			"maxWaitSeconds":   time.Duration(cfg.MaxWait).Seconds(),
			"maxMemoryBytes":   int64(cfg.MaxMemory),
			"heldTraces":       st.HeldTraces,
			"heldSpans":        st.HeldSpans,
			"heldBytes":        st.HeldBytes,
			"tracesKept":       st.TracesKept,
			"tracesDropped":    st.TracesDropped,
			"spansKept":        st.SpansKept,
			"spansDropped":     st.SpansDropped,
			"lateSpansKept":    st.LateSpansKept,
			"lateSpansDropped": st.LateSpansDropped,
			"earlyDecisions":   st.EarlyDecisions,
			"policies":         policies,
		})
	})
}
