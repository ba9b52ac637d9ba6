package adaptive

import "github.com/prometheus/client_golang/prometheus"

var (
	descProbability = prometheus.NewDesc("ariadne_sampling_adaptive_probability",
		"Head sampling probability served for a root operation by adaptive sampling (operation \"\" is the service's default).",
		[]string{"service", "operation"}, nil)
	descObserved = prometheus.NewDesc("ariadne_sampling_adaptive_observed_traces_per_second",
		"Sampled traces per second received for a root operation in the last calculation interval.",
		[]string{"service", "operation"}, nil)
	descEstimated = prometheus.NewDesc("ariadne_sampling_adaptive_estimated_traces_per_second",
		"Smoothed estimate of a root operation's traces per second before sampling.",
		[]string{"service", "operation"}, nil)
	descUntracked = prometheus.NewDesc("ariadne_sampling_adaptive_untracked_traces",
		"Root spans in the last calculation interval not tracked because sampling.adaptive.max_operations was reached.",
		nil, nil)
)

// Describe implements prometheus.Collector. The series are those of the
// last calculation, at most MaxOperations per metric.
func (c *Calculator) Describe(ch chan<- *prometheus.Desc) {
	ch <- descProbability
	ch <- descObserved
	ch <- descEstimated
	ch <- descUntracked
}

// Collect implements prometheus.Collector.
func (c *Calculator) Collect(ch chan<- prometheus.Metric) {
	v := c.view.Load()
	for _, st := range v.ops {
		ch <- prometheus.MustNewConstMetric(descProbability, prometheus.GaugeValue, st.Probability, st.Service, st.Operation)
		ch <- prometheus.MustNewConstMetric(descObserved, prometheus.GaugeValue, st.Observed, st.Service, st.Operation)
		rate := st.Rate
		if rate < 0 {
			rate = 0
		}
		ch <- prometheus.MustNewConstMetric(descEstimated, prometheus.GaugeValue, rate, st.Service, st.Operation)
	}
	ch <- prometheus.MustNewConstMetric(descUntracked, prometheus.GaugeValue, float64(v.overflows))
}
