package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// Identity is who a token belongs to.
type Identity struct {
	User   string `json:"user"`
	Tenant string `json:"tenant"`
}

// Token returns the demo's bearer token for a user of a tenant.
func Token(user, tenant string) string { return user + "." + tenant }

var errBadToken = errors.New("token: expected USER.TENANT")

func startAuth(s *service) error {
	cache := newCache[Identity](s, "tokens", 5*time.Second, 10_000)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			writeError(w, r, http.StatusUnauthorized, errors.New("header Authorization: expected Bearer TOKEN"))
			return
		}
		if id, ok := cache.get(r.Context(), tok); ok {
			writeJSON(w, id)
			return
		}
		// Stands for a signature check: CPU-bound and slow enough to
		// be worth the cache.
		_, span := s.tr.Start(r.Context(), "verify signature")
		work(r.Context(), 2*time.Millisecond, 5*time.Millisecond)
		user, tenant, ok := strings.Cut(tok, ".")
		span.End()
		if !ok || user == "" || tenant == "" {
			writeError(w, r, http.StatusUnauthorized, errBadToken)
			return
		}
		id := Identity{User: user, Tenant: tenant}
		cache.put(tok, id)
		writeJSON(w, id)
	})
	return s.serveHTTP(mux)
}

// startFrontend starts the API gateway: it authenticates the user, puts
// their IDs in the baggage and calls the services behind it.
func startFrontend(s *service, authURL, storesURL, productsURL string) error {
	mux := http.NewServeMux()
	// authenticate verifies the token with auth and returns a context
	// whose baggage carries the user and tenant to every later hop.
	authenticate := func(w http.ResponseWriter, r *http.Request) (context.Context, bool) {
		var id Identity
		hdr := http.Header{"Authorization": r.Header["Authorization"]}
		if err := s.getJSON(r.Context(), "/verify", authURL+"/verify", hdr, &id); err != nil {
			writeError(w, r, statusOf(err), fmt.Errorf("auth: %w", err))
			return nil, false
		}
		u, _ := baggage.NewMember(bagUser, id.User)
		t, _ := baggage.NewMember(bagTenant, id.Tenant)
		bag, _ := baggage.New(u, t)
		// The server span started before the IDs were known.
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String(bagUser, id.User), attribute.String(bagTenant, id.Tenant))
		return baggage.ContextWithBaggage(r.Context(), bag), true
	}
	mux.HandleFunc("GET /api/stores", func(w http.ResponseWriter, r *http.Request) {
		ctx, ok := authenticate(w, r)
		if !ok {
			return
		}
		var stores []Store
		if err := s.getJSON(ctx, "/stores", storesURL+"/stores", nil, &stores); err != nil {
			writeError(w, r, statusOf(err), fmt.Errorf("stores: %w", err))
			return
		}
		writeJSON(w, stores)
	})
	mux.HandleFunc("GET /api/stores/{id}/products", func(w http.ResponseWriter, r *http.Request) {
		ctx, ok := authenticate(w, r)
		if !ok {
			return
		}
		var st Store
		if err := s.getJSON(ctx, "/stores/{id}", storesURL+"/stores/"+r.PathValue("id"), nil, &st); err != nil {
			writeError(w, r, statusOf(err), fmt.Errorf("stores: %w", err))
			return
		}
		if st.Tenant != baggage.FromContext(ctx).Member(bagTenant).Value() {
			writeError(w, r, http.StatusNotFound, fmt.Errorf("store %d: not found", st.ID))
			return
		}
		var list []Product
		if err := s.getJSON(ctx, "/stores/{id}/products", productsURL+"/stores/"+r.PathValue("id")+"/products", nil, &list); err != nil {
			writeError(w, r, statusOf(err), fmt.Errorf("products: %w", err))
			return
		}
		writeJSON(w, map[string]any{"store": st, "products": list})
	})
	mux.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx, ok := authenticate(w, r)
		if !ok {
			return
		}
		var p Product
		if err := s.getJSON(ctx, "/products/{id}", productsURL+"/products/"+r.PathValue("id"), nil, &p); err != nil {
			writeError(w, r, statusOf(err), fmt.Errorf("products: %w", err))
			return
		}
		writeJSON(w, p)
	})
	return s.serveHTTP(mux)
}
