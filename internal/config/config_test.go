package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:4317", c.Addr(c.Ports.OTLPGRPC))
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
data_dir: /var/lib/ariadne
listen_host: 0.0.0.0
storage:
  retention: 2d12h
  max_disk_bytes: 10GiB
  wal_sync: interval
ingest:
  max_request_bytes: 4MB
metrics:
  enabled: false
`), 0o644))
	c, err := Load(path)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, "/var/lib/ariadne", c.DataDir)
	require.Equal(t, "0.0.0.0:16686", c.Addr(c.Ports.Query))
	require.Equal(t, Duration(60*time.Hour), c.Storage.Retention)
	require.Equal(t, ByteSize(10<<30), c.Storage.MaxDiskBytes)
	require.Equal(t, ByteSize(4_000_000), c.Ingest.MaxRequestBytes)
	require.Equal(t, "interval", c.Storage.WALSync)
	require.Equal(t, 4318, c.Ports.OTLPHTTP, "unset keys keep their defaults")
	require.False(t, c.Metrics.Enabled)
	require.True(t, Default().Metrics.Enabled, "derivation is on by default")
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"unknown key":    "storage:\n  retension: 7d\n",
		"bad duration":   "storage:\n  retention: seven days\n",
		"bad size":       "storage:\n  max_disk_bytes: lots\n",
		"wrong type":     "ports:\n  query: abc\n",
		"not yaml":       "{{{",
		"unknown nested": "log:\n  colour: true\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.yaml")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			_, err := Load(path)
			require.Error(t, err)
			require.Contains(t, err.Error(), path)
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.Error(t, err)
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		mod  func(c *Config)
		want string
	}{
		{func(c *Config) { c.DataDir = "" }, "data_dir"},
		{func(c *Config) { c.ListenHost = "example.com" }, "listen_host"},
		{func(c *Config) { c.Ports.Query = 70000 }, "ports.query"},
		{func(c *Config) { c.Storage.WALSync = "sometimes" }, "storage.wal_sync"},
		{func(c *Config) { c.Storage.HeadMaxSpans = 0 }, "storage.head_max_spans"},
		{func(c *Config) { c.Storage.Retention = -1 }, "storage.retention"},
		{func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{func(c *Config) { c.Log.Format = "xml" }, "log.format"},
	}
	for _, c := range cases {
		cfg := Default()
		c.mod(&cfg)
		err := cfg.Validate()
		require.Error(t, err, c.want)
		require.Contains(t, err.Error(), c.want)
	}
}

func TestParseDurationAndSize(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "7x", "1d2"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
	for in, want := range map[string]int64{"512": 512, "1KiB": 1024, "1.5GiB": 3 << 29, "2MB": 2e6} {
		got, err := ParseByteSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "-1", "tenGB"} {
		_, err := ParseByteSize(bad)
		require.Error(t, err, bad)
	}
}
