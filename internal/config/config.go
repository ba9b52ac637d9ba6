// Package config holds the server configuration: defaults, the strict YAML
// file format and validation. Flags are applied on top by cmd/ariadne.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole server configuration. YAML keys are the yaml tags;
// docs/configuration.md documents each one.
type Config struct {
	DataDir string `yaml:"data_dir"`
	// ListenHost is the interface every listener binds to. The default,
	// 127.0.0.1, accepts only local connections; "0.0.0.0" (or "::")
	// listens on all interfaces.
	ListenHost string  `yaml:"listen_host"`
	Ports      Ports   `yaml:"ports"`
	Ingest     Ingest  `yaml:"ingest"`
	Storage    Storage `yaml:"storage"`
	Query      Query   `yaml:"query"`
	Metrics    Metrics `yaml:"metrics"`
	Log        Log     `yaml:"log"`

	// Sampling configures the Jaeger remote sampling endpoint.
	Sampling Sampling `yaml:"sampling"`
}

// Ports are the listening ports.
type Ports struct {
	OTLPGRPC int `yaml:"otlp_grpc"`
	OTLPHTTP int `yaml:"otlp_http"`
	Query    int `yaml:"query"`
	Zipkin   int `yaml:"zipkin"`   // Zipkin ingest and query API
	Sampling int `yaml:"sampling"` // Jaeger remote sampling (HTTP)
	Tempo    int `yaml:"tempo"`    // Tempo-compatible HTTP API (Grafana's Tempo data source)
}

// Ingest holds receiver limits.
type Ingest struct {
	MaxRequestBytes       ByteSize `yaml:"max_request_bytes"`
	MaxAttributesPerSpan  int      `yaml:"max_attributes_per_span"`
	MaxAttributeValueLen  int      `yaml:"max_attribute_value_length"`
	MaxEventsPerSpan      int      `yaml:"max_events_per_span"`
	MaxLinksPerSpan       int      `yaml:"max_links_per_span"`
	MaxSpansPerTrace      int      `yaml:"max_spans_per_trace"`
	MaxFutureSkew         Duration `yaml:"max_future_skew"`
	MaxConcurrentRequests int      `yaml:"max_concurrent_requests"`
}

// Storage configures the embedded store.
type Storage struct {
	WALSync           string   `yaml:"wal_sync"` // always, interval, never
	WALSyncInterval   Duration `yaml:"wal_sync_interval"`
	Retention         Duration `yaml:"retention"`
	MaxDiskBytes      ByteSize `yaml:"max_disk_bytes"`
	PartitionDuration Duration `yaml:"partition_duration"`
	HeadMaxSpans      int      `yaml:"head_max_spans"`
	HeadMaxAge        Duration `yaml:"head_max_age"`
	MaxHeadBytes      ByteSize `yaml:"max_head_bytes"`
	MaxPartSpans      int64    `yaml:"max_part_spans"` // merges stop at parts of this many spans
	SectionSpans      int      `yaml:"section_spans"`  // spans per section of a part (newest-first searches read whole sections)
	// MemoryLimit is passed to the Go runtime (debug.SetMemoryLimit)
	// unless GOMEMLIMIT is set in the environment; 0 leaves the runtime
	// default (no limit). Default 800 MiB.
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// Query configures the query API.
type Query struct {
	Timeout Duration `yaml:"timeout"`
}

// Sampling configures the Jaeger remote sampling endpoint.
type Sampling struct {
	// StrategiesFile is a strategies file in Jaeger's format; empty
	// serves DefaultProbability to every service.
	StrategiesFile     string   `yaml:"strategies_file"`
	ReloadInterval     Duration `yaml:"reload_interval"`
	DefaultProbability float64  `yaml:"default_probability"`
	// Adaptive computes per-operation probabilities from observed rates.
	Adaptive AdaptiveSampling `yaml:"adaptive"`
	// Tail holds traces until they are complete and keeps them by policy.
	Tail TailSampling `yaml:"tail"`
}

// Log configures the server's own logs.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Metrics configures the span metrics and service graph derived at ingest
// (docs/metrics.md).
type Metrics struct {
	// Enabled turns derivation on (the default). Off, spans are stored
	// but no series or graph is derived and the metrics endpoints answer
	// 404.
	Enabled bool `yaml:"enabled"`
	// Retention of the series; 0 = storage.retention (7d if that is 0).
	Retention  Duration `yaml:"retention"`
	EdgeWait   Duration `yaml:"edge_wait"`   // how long one side of a call waits for the other
	MaxPending int      `yaml:"max_pending"` // spans waiting for their other side, at most
	MaxSeries  int      `yaml:"max_series"`  // span series and edges per minute, at most
}

// Default returns the defaults.
func Default() Config {
	return Config{
		DataDir:    "./ariadne-data",
		ListenHost: "127.0.0.1",
		Ports:      Ports{OTLPGRPC: 4317, OTLPHTTP: 4318, Query: 16686, Zipkin: 9411, Sampling: 5778, Tempo: 3200},
		Ingest: Ingest{
			MaxRequestBytes:       16 << 20,
			MaxAttributesPerSpan:  128,
			MaxAttributeValueLen:  4096,
			MaxEventsPerSpan:      128,
			MaxLinksPerSpan:       128,
			MaxSpansPerTrace:      100_000,
			MaxFutureSkew:         Duration(time.Hour),
			MaxConcurrentRequests: 64,
		},
		Storage: Storage{
			WALSync:           "always",
			WALSyncInterval:   Duration(100 * time.Millisecond),
			Retention:         Duration(7 * 24 * time.Hour),
			PartitionDuration: Duration(time.Hour),
			HeadMaxSpans:      131_072,
			HeadMaxAge:        Duration(15 * time.Second),
			MaxHeadBytes:      256 << 20,
			MaxPartSpans:      4_000_000,
			SectionSpans:      131_072,
			MemoryLimit:       800 << 20,
		},
		Query: Query{Timeout: Duration(30 * time.Second)},
		Log:   Log{Level: "info", Format: "text"},

		Metrics:  Metrics{Enabled: true, EdgeWait: Duration(10 * time.Second), MaxPending: 200_000, MaxSeries: 20_000},
		Sampling: Sampling{ReloadInterval: Duration(5 * time.Second), DefaultProbability: 1, Adaptive: defaultAdaptive(), Tail: defaultTail()},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are an error.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Parse(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML into cfg strictly (unknown keys are errors).
func Parse(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the configuration and names the first bad setting.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if net.ParseIP(c.ListenHost) == nil && c.ListenHost != "localhost" {
		return fmt.Errorf("listen_host: %q is not an IP address (use 127.0.0.1, or 0.0.0.0 for all interfaces)", c.ListenHost)
	}
	for name, p := range map[string]int{"ports.otlp_grpc": c.Ports.OTLPGRPC, "ports.otlp_http": c.Ports.OTLPHTTP, "ports.query": c.Ports.Query,
		"ports.zipkin": c.Ports.Zipkin, "ports.sampling": c.Ports.Sampling, "ports.tempo": c.Ports.Tempo} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%s: %d is not a port", name, p)
		}
	}
	switch c.Storage.WALSync {
	case "always", "interval", "never":
	default:
		return fmt.Errorf("storage.wal_sync: must be always, interval or never, got %q", c.Storage.WALSync)
	}
	positive := map[string]int64{
		"ingest.max_request_bytes":          int64(c.Ingest.MaxRequestBytes),
		"ingest.max_attributes_per_span":    int64(c.Ingest.MaxAttributesPerSpan),
		"ingest.max_attribute_value_length": int64(c.Ingest.MaxAttributeValueLen),
		"ingest.max_spans_per_trace":        int64(c.Ingest.MaxSpansPerTrace),
		"ingest.max_concurrent_requests":    int64(c.Ingest.MaxConcurrentRequests),
		"storage.partition_duration":        int64(c.Storage.PartitionDuration),
		"storage.head_max_spans":            int64(c.Storage.HeadMaxSpans),
		"storage.head_max_age":              int64(c.Storage.HeadMaxAge),
		"storage.max_head_bytes":            int64(c.Storage.MaxHeadBytes),
		"storage.max_part_spans":            c.Storage.MaxPartSpans,
		"storage.section_spans":             int64(c.Storage.SectionSpans),
		"query.timeout":                     int64(c.Query.Timeout),
		"metrics.edge_wait":                 int64(c.Metrics.EdgeWait),
		"metrics.max_pending":               int64(c.Metrics.MaxPending),
		"metrics.max_series":                int64(c.Metrics.MaxSeries),
	}
	for name, v := range positive {
		if v <= 0 {
			return fmt.Errorf("%s: must be greater than zero", name)
		}
	}
	for name, v := range map[string]int64{
		"ingest.max_events_per_span": int64(c.Ingest.MaxEventsPerSpan),
		"ingest.max_links_per_span":  int64(c.Ingest.MaxLinksPerSpan),
		"ingest.max_future_skew":     int64(c.Ingest.MaxFutureSkew),
		"storage.retention":          int64(c.Storage.Retention),
		"storage.max_disk_bytes":     int64(c.Storage.MaxDiskBytes),
		"storage.memory_limit":       int64(c.Storage.MemoryLimit),
		"metrics.retention":          int64(c.Metrics.Retention),
	} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative", name)
		}
	}
	if p := c.Sampling.DefaultProbability; !(p >= 0 && p <= 1) {
		return fmt.Errorf("sampling.default_probability: must be between 0 and 1, got %g", p)
	}
	if c.Sampling.ReloadInterval < 0 {
		return errors.New("sampling.reload_interval: must not be negative (0 turns reloading off)")
	}
	if err := c.Sampling.Tail.validate(); err != nil {
		return err
	}
	if err := c.Sampling.Adaptive.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: must be text or json, got %q", c.Log.Format)
	}
	return nil
}

// Addr joins the listen host with a port.
func (c *Config) Addr(port int) string { return net.JoinHostPort(c.ListenHost, strconv.Itoa(port)) }

// Duration is a time.Duration that also accepts a "d" (day) suffix, as in
// "7d" or "1d12h".
type Duration time.Duration

// ParseDuration parses Go durations plus whole days ("7d", "2d12h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, errors.New("empty duration (examples: 30s, 15m, 2h, 7d)")
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q (examples: 30s, 15m, 2h, 7d)", s)
		}
	}
	return time.Duration(days)*24*time.Hour + d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// String formats the duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	*d = Duration(v)
	return err
}

// ByteSize is a size in bytes that accepts suffixes: 512KiB, 64MiB, 10GiB,
// 1GB, or a plain number.
type ByteSize int64

// ParseByteSize parses sizes with KB/MB/GB/TB (powers of 1000) and
// KiB/MiB/GiB/TiB (powers of 1024) suffixes.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 512MiB, 10GiB, 1000000)", s)
	}
	return int64(f * float64(mult)), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

// String formats the size in bytes.
func (b ByteSize) String() string { return strconv.FormatInt(int64(b), 10) }

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	*b = ByteSize(v)
	return err
}
