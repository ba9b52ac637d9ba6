package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"

	"github.com/ariadne-tracing/ariadne/sdk/tracesql"
)

// Store is one shop of a tenant.
type Store struct {
	ID     int    `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	City   string `json:"city"`
}

// Tenants are the demo's customers; each has four stores.
var Tenants = []string{"acme", "globex", "initech"}

var cities = []string{"Lyon", "Porto", "Gdansk", "Ghent", "Turin", "Leeds"}

// openDB opens a private in-memory SQLite database, traced.
func openDB(s *service) (*sql.DB, error) {
	db, err := tracesql.Open("sqlite", ":memory:", tracesql.Options{TracerProvider: s.tp})
	if err != nil {
		return nil, fmt.Errorf("%s: open database: %w", s.name, err)
	}
	// One connection: each connection of ":memory:" is its own database.
	db.SetMaxOpenConns(1)
	return db, nil
}

// ttlCache is a small cache with expiry, traced as "cache get" spans.
type ttlCache[V any] struct {
	s     *service
	name  string
	ttl   time.Duration
	max   int
	mu    sync.Mutex
	items map[string]cacheItem[V]
}

type cacheItem[V any] struct {
	v       V
	expires time.Time
}

func newCache[V any](s *service, name string, ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{s: s, name: name, ttl: ttl, max: max, items: map[string]cacheItem[V]{}}
}

func (c *ttlCache[V]) get(ctx context.Context, key string) (V, bool) {
	_, span := c.s.tr.Start(ctx, "cache get "+c.name)
	defer span.End()
	c.mu.Lock()
	it, ok := c.items[key]
	c.mu.Unlock()
	hit := ok && time.Now().Before(it.expires)
	span.SetAttributes(attribute.Bool("cache.hit", hit))
	if !hit {
		var zero V
		return zero, false
	}
	return it.v, true
}

func (c *ttlCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		clear(c.items) // crude, bounded
	}
	c.items[key] = cacheItem[V]{v: v, expires: time.Now().Add(c.ttl)}
}

func startStores(s *service) (func(context.Context) error, error) {
	db, err := openDB(s)
	if err != nil {
		return nil, err
	}
	closeDB := func(context.Context) error { return db.Close() }
	if err := seedStores(db); err != nil {
		db.Close()
		return nil, err
	}
	cache := newCache[Store](s, "stores", 2*time.Second, 1000)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores", func(w http.ResponseWriter, r *http.Request) {
		tenant := baggage.FromContext(r.Context()).Member(bagTenant).Value()
		if tenant == "" {
			writeError(w, r, http.StatusBadRequest, errors.New("baggage tenant.id: required"))
			return
		}
		rows, err := db.QueryContext(r.Context(), "SELECT id, tenant, name, city FROM stores WHERE tenant = ? ORDER BY id", tenant)
		if err != nil {
			writeError(w, r, http.StatusInternalServerError, err)
			return
		}
		defer rows.Close()
		list := []Store{}
		for rows.Next() {
			var st Store
			if err := rows.Scan(&st.ID, &st.Tenant, &st.Name, &st.City); err != nil {
				writeError(w, r, http.StatusInternalServerError, err)
				return
			}
			list = append(list, st)
		}
		writeJSON(w, list)
	})
	mux.HandleFunc("GET /stores/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeError(w, r, http.StatusBadRequest, fmt.Errorf("store id %q: not a number", r.PathValue("id")))
			return
		}
		if st, ok := cache.get(r.Context(), r.PathValue("id")); ok {
			writeJSON(w, st)
			return
		}
		var st Store
		err = db.QueryRowContext(r.Context(), "SELECT id, tenant, name, city FROM stores WHERE id = ?", id).Scan(&st.ID, &st.Tenant, &st.Name, &st.City)
		if errors.Is(err, sql.ErrNoRows) {
			writeError(w, r, http.StatusNotFound, fmt.Errorf("store %d: not found", id))
			return
		}
		if err != nil {
			writeError(w, r, http.StatusInternalServerError, err)
			return
		}
		cache.put(r.PathValue("id"), st)
		writeJSON(w, st)
	})
	if err := s.serveHTTP(mux); err != nil {
		db.Close()
		return nil, err
	}
	return closeDB, nil
}

func seedStores(db *sql.DB) error {
	ctx := context.Background() // seeding is not part of any trace
	if _, err := db.ExecContext(ctx, `CREATE TABLE stores (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, city TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("seed stores: %w", err)
	}
	id := 1
	for _, t := range Tenants {
		for i := range 4 {
			city := cities[(id+i)%len(cities)]
			if _, err := db.ExecContext(ctx, "INSERT INTO stores VALUES (?, ?, ?, ?)", id, t, fmt.Sprintf("%s %s", t, city), city); err != nil {
				return fmt.Errorf("seed stores: %w", err)
			}
			id++
		}
	}
	return nil
}
