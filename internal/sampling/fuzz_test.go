package sampling

import (
	"encoding/json"
	"testing"
)

// FuzzParse checks that no strategies file makes the parser panic, and
// that whatever it accepts serves valid strategies.
func FuzzParse(f *testing.F) {
	f.Add([]byte(jaegerStyle))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"default_strategy":{"type":"ratelimiting","param":3}}`))
	f.Add([]byte(`{"service_strategies":[{"service":"a","type":"probabilistic","param":1,"operation_strategies":[{"operation":"x","type":"probabilistic","param":0.5}]}]}`))
	f.Add([]byte(`{"default_strategy":null,"service_strategies":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := parse(b, 0.5, func(string) {})
		if err != nil {
			return
		}
		all := []*Response{tab.def}
		for _, r := range tab.services {
			all = append(all, r)
		}
		for _, r := range all {
			if p := r.ProbabilisticSampling; p != nil && (p.SamplingRate < 0 || p.SamplingRate > 1) {
				t.Fatalf("probability %g accepted", p.SamplingRate)
			}
			if rl := r.RateLimitingSampling; rl != nil && rl.MaxTracesPerSecond < 0 {
				t.Fatalf("negative rate %d accepted", rl.MaxTracesPerSecond)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("accepted strategy does not encode: %v", err)
			}
		}
	})
}
