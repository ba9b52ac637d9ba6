// Package server assembles the all-in-one Ariadne server: OTLP receivers,
// the embedded store, the query API and self-observability endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ariadne-tracing/ariadne/internal/api"
	"github.com/ariadne-tracing/ariadne/internal/api/jaeger"
	metricsapi "github.com/ariadne-tracing/ariadne/internal/api/metrics"
	"github.com/ariadne-tracing/ariadne/internal/api/tempo"
	"github.com/ariadne-tracing/ariadne/internal/api/zipkin"
	"github.com/ariadne-tracing/ariadne/internal/config"
	"github.com/ariadne-tracing/ariadne/internal/ingest"
	"github.com/ariadne-tracing/ariadne/internal/ingest/otlp"
	zipkiningest "github.com/ariadne-tracing/ariadne/internal/ingest/zipkin"
	"github.com/ariadne-tracing/ariadne/internal/pipeline"
	"github.com/ariadne-tracing/ariadne/internal/store"
	"github.com/ariadne-tracing/ariadne/internal/store/wal"
	"github.com/ariadne-tracing/ariadne/web"
)

// Server is the all-in-one server. New opens (and recovers) the store;
// Start binds the listeners; Shutdown stops receiving, drains requests and
// flushes the store.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	db      *store.DB
	recv    *otlp.Receiver
	zipkin  *zipkin.Server
	pipe    *pipeline.Pipeline
	http    *http.Server
	ln      net.Listener
	ready   atomic.Bool
	started atomic.Bool

	sampling *samplingEndpoint
	tempo    *http.Server // Tempo-compatible API
	tempoLn  net.Listener
}

// New validates cfg, opens the store and builds the components.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Storage.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.Storage.MemoryLimit))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var pipe *pipeline.Pipeline // nil: metrics.enabled is false
	var observer store.Observer
	if cfg.Metrics.Enabled {
		var err error
		if pipe, err = newPipeline(cfg, reg, log); err != nil {
			return nil, err
		}
		observer = pipe
	}
	adapt, err := newAdaptive(cfg, reg, log)
	if err != nil {
		return nil, err
	}
	tailSampler, err := newTail(cfg)
	if err != nil {
		return nil, err
	}
	sync := map[string]wal.SyncPolicy{"always": wal.SyncAlways, "interval": wal.SyncInterval, "never": wal.SyncNever}[cfg.Storage.WALSync]
	db, err := store.Open(store.Options{
		Dir:               cfg.DataDir,
		Sync:              sync,
		SyncInterval:      time.Duration(cfg.Storage.WALSyncInterval),
		HeadMaxSpans:      cfg.Storage.HeadMaxSpans,
		HeadMaxAge:        time.Duration(cfg.Storage.HeadMaxAge),
		MaxHeadBytes:      int64(cfg.Storage.MaxHeadBytes),
		MaxPartSpans:      cfg.Storage.MaxPartSpans,
		SectionSpans:      cfg.Storage.SectionSpans,
		PartitionDuration: time.Duration(cfg.Storage.PartitionDuration),
		Retention:         storeRetention(cfg.Storage.Retention),
		MaxDiskBytes:      int64(cfg.Storage.MaxDiskBytes),
		Registerer:        reg,
		Logger:            log.With("component", "store"),
		Observer:          withAdaptive(observer, adapt),
		Tail:              tailSampler,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := initCoverage(cfg, pipe, db); err != nil {
		_ = db.Shutdown(context.Background())
		return nil, err
	}
	recv, err := otlp.New(otlp.Config{
		GRPCAddr: cfg.Addr(cfg.Ports.OTLPGRPC),
		HTTPAddr: cfg.Addr(cfg.Ports.OTLPHTTP),
		Limits: ingest.Limits{
			MaxRequestBytes:   int64(cfg.Ingest.MaxRequestBytes),
			MaxAttrsPerSpan:   cfg.Ingest.MaxAttributesPerSpan,
			MaxAttrValueBytes: cfg.Ingest.MaxAttributeValueLen,
			MaxEventsPerSpan:  cfg.Ingest.MaxEventsPerSpan,
			MaxLinksPerSpan:   cfg.Ingest.MaxLinksPerSpan,
			MaxSpansPerTrace:  cfg.Ingest.MaxSpansPerTrace,
			MaxFutureSkew:     time.Duration(cfg.Ingest.MaxFutureSkew),
		},
		MaxConcurrentRequests: cfg.Ingest.MaxConcurrentRequests,
	}, db, reg, log)
	if err != nil {
		_ = db.Shutdown(context.Background())
		return nil, err
	}
	native := api.NewNative(db, reg, log.With("component", "api"), time.Duration(cfg.Query.Timeout))
	zlog := log.With("component", "zipkin")
	zrecv := zipkiningest.NewReceiver(db, recv.Limits(), cfg.Ingest.MaxConcurrentRequests, reg, zlog)
	zsrv := zipkin.New(cfg.Addr(cfg.Ports.Zipkin), db, zrecv, native.Wrap, zlog)
	s := &Server{cfg: cfg, log: log, reg: reg, db: db, recv: recv}
	s.zipkin = zsrv
	s.pipe = pipe
	mapi := metricsapi.New(pipe, native.Wrap)
	zsrv.Handle("GET /api/v2/dependencies", mapi.ZipkinDependencies())
	if s.sampling, err = newSamplingEndpoint(cfg, log, adapt); err != nil {
		_ = db.Shutdown(context.Background())
		return nil, err
	}
	mux := http.NewServeMux()
	native.Register(mux)
	jaeger.New(db, native.Wrap, log.With("component", "jaeger")).Register(mux)
	mapi.Register(mux)
	mux.Handle("GET /api/sampling", s.sampling.provider)
	mux.Handle("GET /api/v1/sampling/adaptive", adaptiveHandler(adapt))
	mux.Handle("GET /api/v1/sampling/tail", tailHandler(db, cfg.Sampling.Tail))
	reg.MustRegister(tailCollector{db})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /", web.Handler()) // the web UI; more specific routes above win
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	tempoMux := http.NewServeMux()
	var tempoStore tempo.Store = db
	if pipe != nil {
		tempoStore = seriesStore{db, pipe}
	}
	tempoAPI := tempo.New(tempoStore, log.With("component", "tempo-api"), time.Duration(cfg.Query.Timeout), s.ready.Load)
	tempoAPI.Register(tempoMux)
	// HTTP/1.1 and, for Grafana's streaming gRPC client, HTTP/2 without TLS
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.tempo = &http.Server{Handler: tempo.Handler(tempoMux, tempoAPI.GRPC()), ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
	return s, nil
}

// Store returns the store (for tests and tools in the same process).
func (s *Server) Store() *store.DB { return s.db }

// Start starts the store's background work and binds every listener. On
// error, what was started is stopped again.
func (s *Server) Start(ctx context.Context) error {
	if err := s.db.Start(ctx); err != nil {
		return err
	}
	if s.pipe != nil {
		s.pipe.Start()
	}
	ln, err := net.Listen("tcp", s.cfg.Addr(s.cfg.Ports.Query))
	if err != nil {
		return fmt.Errorf("query API listen: %w", err)
	}
	s.ln = ln
	if s.tempoLn, err = net.Listen("tcp", s.cfg.Addr(s.cfg.Ports.Tempo)); err != nil {
		ln.Close()
		return fmt.Errorf("tempo API listen: %w", err)
	}
	if err := s.recv.Start(ctx); err != nil {
		ln.Close()
		s.tempoLn.Close()
		return err
	}
	if err := s.zipkin.Start(ctx); err != nil {
		ln.Close()
		s.tempoLn.Close()
		_ = s.recv.Shutdown(ctx)
		return err
	}
	if err := s.sampling.Start(ctx); err != nil {
		ln.Close()
		s.tempoLn.Close()
		_ = s.recv.Shutdown(ctx)
		_ = s.zipkin.Shutdown(ctx)
		return err
	}
	s.started.Store(true)
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("query API stopped", "err", err)
		}
	}()
	go func() {
		if err := s.tempo.Serve(s.tempoLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("tempo API stopped", "err", err)
		}
	}()
	s.ready.Store(true)
	s.log.Info("ariadne ready", "tempo", s.tempoLn.Addr().String(),
		"otlp_grpc", s.recv.GRPCAddr().String(), "otlp_http", s.recv.HTTPAddr().String(),
		"query", ln.Addr().String(), "zipkin", s.zipkin.Addr().String(), "sampling", s.sampling.addr(),
		"data_dir", s.cfg.DataDir)
	return nil
}

// Shutdown stops accepting spans, finishes in-flight requests, stops the
// query API and flushes the store. Safe without Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	var errs []error
	if err := s.recv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("receivers: %w", err))
	}
	if err := s.zipkin.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("zipkin: %w", err))
	}
	// Calls still waiting for their other side end now (as virtual-node
	// edges or expired), so that the head's last flush keeps them.
	if s.pipe != nil {
		s.pipe.ExpireAll()
	}
	if err := s.sampling.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sampling: %w", err))
	}
	if s.started.Load() {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("query API: %w", err))
		}
		if err := s.tempo.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tempo API: %w", err))
		}
	}
	if err := s.db.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("store: %w", err))
	}
	if s.pipe != nil {
		s.pipe.Shutdown()
	}
	return errors.Join(errs...)
}

// storeRetention maps the documented "0 keeps everything" to the store's
// negative (its zero means the default).
func storeRetention(d config.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}

// newPipeline builds the metrics pipeline (docs/metrics.md) that the store
// feeds; its files live in <data_dir>/metrics.
func newPipeline(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*pipeline.Pipeline, error) {
	ret := time.Duration(cfg.Metrics.Retention)
	if ret == 0 {
		ret = time.Duration(cfg.Storage.Retention)
	}
	if ret == 0 {
		ret = 7 * 24 * time.Hour
	}
	return pipeline.New(pipeline.Config{
		Dir:                filepath.Join(cfg.DataDir, "metrics"),
		EdgeWait:           time.Duration(cfg.Metrics.EdgeWait),
		MaxPending:         cfg.Metrics.MaxPending,
		MaxSeriesPerMinute: cfg.Metrics.MaxSeries,
		Retention:          ret,
		KeptExemplars:      cfg.Sampling.Tail.Enabled,
		Registerer:         reg,
		Logger:             log.With("component", "pipeline"),
	})
}
