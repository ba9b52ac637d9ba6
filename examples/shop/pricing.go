package shop

import (
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Price is what pricing answers.
type Price struct {
	SKU      string `json:"sku"`
	Cents    int    `json:"cents"`
	Currency string `json:"currency"`
}

var errOverloaded = errors.New("pricing is shedding load, try again")

func startPricing(s *service) error {
	// With RetryStorm, pricing has overload bursts: in a share of the
	// two-second windows it sheds half of its requests with 503.
	var window atomic.Int64
	var overloaded atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /prices/{sku}", func(w http.ResponseWriter, r *http.Request) {
		sku := r.PathValue("sku")
		if s.faults.RetryStorm {
			if now := time.Now().Unix() / 2; window.Swap(now) != now {
				overloaded.Store(rand.Float64() < s.faults.OverloadShare)
			}
			if overloaded.Load() && rand.IntN(2) == 0 {
				trace.SpanFromContext(r.Context()).SetAttributes(attribute.Bool("demo.overloaded", true))
				w.Header().Set("Retry-After", "1")
				writeError(w, r, http.StatusServiceUnavailable, errOverloaded)
				return
			}
		}
		work(r.Context(), 500*time.Microsecond, 3*time.Millisecond)
		h := fnv.New32a()
		h.Write([]byte(sku))
		writeJSON(w, Price{SKU: sku, Cents: 199 + int(h.Sum32()%9800), Currency: "EUR"})
	})
	return s.serveHTTP(mux)
}
