package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TrafficOptions configures Traffic.
type TrafficOptions struct {
	// Rate is how many user sessions start per second. Default 5.
	Rate float64
	// Users is how many distinct users (spread over the tenants) visit.
	// Default 30.
	Users int
	// MaxConcurrent bounds the sessions in flight; past it, sessions are
	// skipped (and counted). Default 32.
	MaxConcurrent int
}

// TrafficStats counts what the generator did.
type TrafficStats struct {
	Sessions, Skipped, Requests, Failed atomic.Int64
}

func (s *TrafficStats) String() string {
	return fmt.Sprintf("%d sessions, %d requests, %d failed, %d skipped",
		s.Sessions.Load(), s.Requests.Load(), s.Failed.Load(), s.Skipped.Load())
}

// Traffic behaves like users of the shop at baseURL until ctx ends: each
// session lists the stores of the user's tenant, opens one and lists its
// products, and often looks at one product. A few sessions use a bad token
// or ask for another tenant's store. When ctx ends it starts no more
// sessions and returns once the ones in flight have finished (each request
// has a 10s timeout).
func Traffic(ctx context.Context, baseURL string, o TrafficOptions, stats *TrafficStats) {
	if o.Rate <= 0 {
		o.Rate = 5
	}
	if o.Users <= 0 {
		o.Users = 30
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 32
	}
	client := &http.Client{Timeout: 10 * time.Second}
	sem := make(chan struct{}, o.MaxConcurrent)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			stats.Skipped.Add(1)
			continue
		}
		stats.Sessions.Add(1)
		u := rand.IntN(o.Users)
		token := Token(fmt.Sprintf("u%d", u), Tenants[u%len(Tenants)])
		if rand.IntN(100) == 0 {
			token = "garbage"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			session(context.WithoutCancel(ctx), client, baseURL, token, stats)
		}()
	}
}

func session(ctx context.Context, c *http.Client, base, token string, stats *TrafficStats) {
	get := func(path string, v any) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer "+token)
		stats.Requests.Add(1)
		resp, err := c.Do(req)
		if err != nil {
			stats.Failed.Add(1)
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			stats.Failed.Add(1)
			_, _ = io.Copy(io.Discard, resp.Body)
			return false
		}
		return json.NewDecoder(resp.Body).Decode(v) == nil
	}
	think := func() { sleep(ctx, time.Duration(rand.IntN(40))*time.Millisecond) }

	var stores []Store
	if !get("/api/stores", &stores) || len(stores) == 0 {
		return
	}
	think()
	storeID := stores[rand.IntN(len(stores))].ID
	if rand.IntN(30) == 0 {
		storeID = 1 + (storeID+4)%(4*len(Tenants)) // another tenant's store: 404
	}
	var page struct {
		Products []Product `json:"products"`
	}
	if !get(fmt.Sprintf("/api/stores/%d/products", storeID), &page) || len(page.Products) == 0 {
		return
	}
	if rand.IntN(10) < 6 {
		think()
		var p Product
		get(fmt.Sprintf("/api/products/%d", page.Products[rand.IntN(len(page.Products))].ID), &p)
	}
}
