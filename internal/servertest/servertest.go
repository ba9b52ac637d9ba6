// Package servertest runs a real in-process Ariadne server on free
// loopback ports for tests of the packages that send it spans (sdk,
// examples/shop).
package servertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/server"
	"github.com/ariadne-tracing/ariadne/internal/store"
)

// Server is a started server; it stops when the test ends.
type Server struct {
	Config   config.Config
	GRPCAddr string // OTLP/gRPC, host:port
	HTTPAddr string // OTLP/HTTP, host:port
	QueryURL string // http://host:port of the query API
	// SamplingURL is the Jaeger remote sampling endpoint,
	// http://host:port/sampling.
	SamplingURL string
	Store       *store.DB
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a server with the defaults, a temporary data directory and
// free loopback ports; edit adjusts the configuration first (may be nil).
func Start(t testing.TB, edit func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Storage.WALSync = "never"
	cfg.Ports.OTLPGRPC, cfg.Ports.OTLPHTTP, cfg.Ports.Query = FreePort(t), FreePort(t), FreePort(t)
	cfg.Ports.Sampling = FreePort(t)
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return &Server{
		Config:      cfg,
		GRPCAddr:    cfg.Addr(cfg.Ports.OTLPGRPC),
		HTTPAddr:    cfg.Addr(cfg.Ports.OTLPHTTP),
		QueryURL:    fmt.Sprintf("http://%s", cfg.Addr(cfg.Ports.Query)),
		SamplingURL: fmt.Sprintf("http://%s/sampling", cfg.Addr(cfg.Ports.Sampling)),
		Store:       srv.Store(),
	}
}

// Trace returns the stored spans of a trace given as hex.
func (s *Server) Trace(t testing.TB, traceID string) []model.Span {
	t.Helper()
	id, err := model.ParseTraceID(traceID)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := s.Store.Trace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}
