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

	"github.com/ariadne-tracing/ariadne/sdk"
)

// Product is one product with its stock and price.
type Product struct {
	ID        int    `json:"id"`
	StoreID   int    `json:"storeId"`
	Name      string `json:"name"`
	SKU       string `json:"sku"`
	Available int    `json:"available"`
	Cents     int    `json:"cents"`
	Warning   string `json:"warning,omitempty"`
}

var productNames = []string{"kettle", "lamp", "backpack", "notebook", "mug", "headphones", "umbrella", "scarf", "chair", "teapot", "candle", "bicycle bell"}

func startProducts(s *service, inventoryAddr, pricingURL string) (func(context.Context) error, error) {
	db, err := openDB(s)
	if err != nil {
		return nil, err
	}
	inv, err := newInventoryClient(s, inventoryAddr)
	if err != nil {
		db.Close()
		return nil, err
	}
	p := &productsSvc{s: s, db: db, inv: inv, pricingURL: pricingURL}
	closeAll := func(context.Context) error {
		p.background.Wait() // views still being recorded need the database
		return errors.Join(inv.conn.Close(), db.Close())
	}
	if err := seedProducts(db); err != nil {
		_ = closeAll(context.Background())
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores/{id}/products", p.listForStore)
	mux.HandleFunc("GET /products/{id}", p.getOne)
	if err := s.serveHTTP(mux); err != nil {
		_ = closeAll(context.Background())
		return nil, err
	}
	return closeAll, nil
}

type productsSvc struct {
	s          *service
	db         *sql.DB
	inv        *inventoryClient
	pricingURL string
	background sync.WaitGroup // sdk.Go work in flight
}

const productCols = "id, store_id, name, sku"

func (p *productsSvc) listForStore(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	storeID, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Errorf("store id %q: not a number", r.PathValue("id")))
		return
	}
	list, err := p.load(ctx, storeID)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, err)
		return
	}
	// Enrich the products concurrently. Each goroutine gets ctx, so its
	// calls are children of this request's span.
	var wg sync.WaitGroup
	for i := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.enrich(ctx, &list[i])
		}()
	}
	wg.Wait()
	writeJSON(w, list)
}

// load reads a store's products. With the N+1 fault it reads the IDs, then
// each product with its own query: the classic ORM pattern that traces
// make obvious.
func (p *productsSvc) load(ctx context.Context, storeID int) ([]Product, error) {
	if !p.s.faults.NPlusOne {
		return p.query(ctx, "SELECT "+productCols+" FROM products WHERE store_id = ? ORDER BY id", storeID)
	}
	rows, err := p.db.QueryContext(ctx, "SELECT id FROM products WHERE store_id = ? ORDER BY id", storeID)
	if err != nil {
		return nil, err
	}
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	list := []Product{}
	for _, id := range ids {
		one, err := p.query(ctx, "SELECT "+productCols+" FROM products WHERE id = ?", id)
		if err != nil {
			return nil, err
		}
		list = append(list, one...)
	}
	return list, nil
}

func (p *productsSvc) query(ctx context.Context, q string, arg any) ([]Product, error) {
	rows, err := p.db.QueryContext(ctx, q, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Product{}
	for rows.Next() {
		var pr Product
		if err := rows.Scan(&pr.ID, &pr.StoreID, &pr.Name, &pr.SKU); err != nil {
			return nil, err
		}
		list = append(list, pr)
	}
	return list, rows.Err()
}

// enrich adds stock (inventory, gRPC) and price (pricing, HTTP). A failure
// degrades the product rather than the whole answer.
func (p *productsSvc) enrich(ctx context.Context, pr *Product) {
	if st, err := p.inv.check(ctx, pr.SKU); err != nil {
		pr.Warning = "stock unknown"
		p.s.log.WarnContext(ctx, "stock check failed", "sku", pr.SKU, "err", err)
	} else {
		pr.Available = st.Available
	}
	price, err := p.price(ctx, pr.SKU)
	if err != nil {
		pr.Warning = "price unknown"
		return
	}
	pr.Cents = price.Cents
}

// price asks pricing; with the retry storm fault it retries a 503 right
// away, up to three times, which multiplies the load on an overloaded
// service: the "retry storm".
func (p *productsSvc) price(ctx context.Context, sku string) (*Price, error) {
	ctx, span := p.s.tr.Start(ctx, "get price")
	defer span.End()
	attempts := 1
	if p.s.faults.RetryStorm {
		attempts = 4
	}
	var err error
	for i := range attempts {
		var pr Price
		err = p.s.getJSON(ctx, "/prices/{sku}", p.pricingURL+"/prices/"+sku, nil, &pr)
		span.SetAttributes(attribute.Int("demo.attempts", i+1))
		if err == nil {
			return &pr, nil
		}
		var he *httpError
		if !errors.As(err, &he) || he.status != http.StatusServiceUnavailable {
			break
		}
	}
	return nil, sdk.Error(ctx, err)
}

func (p *productsSvc) getOne(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Errorf("product id %q: not a number", r.PathValue("id")))
		return
	}
	list, err := p.query(ctx, "SELECT "+productCols+" FROM products WHERE id = ?", id)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, err)
		return
	}
	if len(list) == 0 {
		writeError(w, r, http.StatusNotFound, fmt.Errorf("product %d: not found", id))
		return
	}
	p.enrich(ctx, &list[0])
	// Record the view in the background: the answer does not wait for it,
	// and sdk.Go keeps it in the request's trace even though the request
	// is over (and its context canceled) by the time it runs.
	user := baggage.FromContext(ctx).Member(bagUser).Value()
	p.background.Add(1)
	sdk.Go(ctx, func(ctx context.Context) {
		defer p.background.Done()
		ctx, span := p.s.tr.Start(ctx, "record view")
		defer span.End()
		work(ctx, time.Millisecond, 2*time.Millisecond)
		if _, err := p.db.ExecContext(ctx, "INSERT INTO views (product_id, user_id, at) VALUES (?, ?, ?)", id, user, time.Now().UnixMilli()); err != nil {
			_ = sdk.Error(ctx, err)
		}
	})
	writeJSON(w, list[0])
}

// ProductsPerStore is how many products each store has in the demo
// database.
func ProductsPerStore(storeID int) int { return 4 + storeID%5 }

func seedProducts(db *sql.DB) error {
	ctx := context.Background() // seeding is not part of any trace
	for _, q := range []string{
		"CREATE TABLE products (id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL, name TEXT NOT NULL, sku TEXT NOT NULL)",
		"CREATE INDEX products_store ON products (store_id)",
		"CREATE TABLE views (product_id INTEGER NOT NULL, user_id TEXT NOT NULL, at INTEGER NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed products: %w", err)
		}
	}
	id := 1
	for store := 1; store <= 4*len(Tenants); store++ {
		for i := range ProductsPerStore(store) {
			name := productNames[(store*3+i)%len(productNames)]
			if _, err := db.ExecContext(ctx, "INSERT INTO products VALUES (?, ?, ?, ?)", id, store, name, fmt.Sprintf("SKU-%04d", id)); err != nil {
				return fmt.Errorf("seed products: %w", err)
			}
			id++
		}
	}
	return nil
}
