package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestDemo runs `ariadne demo` (server, shop and traffic in one process)
// and checks that connected traces spanning several services arrive, then
// stops it with SIGTERM.
func TestDemo(t *testing.T) {
	gp, hp, qp, sp := freePort(t), freePort(t), freePort(t), freePort(t)
	s := &server{t: t, dataDir: t.TempDir(), log: &logBuffer{}, exited: make(chan struct{}),
		queryURL: fmt.Sprintf("http://127.0.0.1:%d", qp)}
	s.cmd = exec.Command(ariadneBin, "demo", "--data-dir", s.dataDir, "--rate", "20",
		"--otlp-grpc-port", strconv.Itoa(gp), "--otlp-http-port", strconv.Itoa(hp),
		"--query-port", strconv.Itoa(qp), "--sampling-port", strconv.Itoa(sp))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	require.NoError(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("demo log:\n%s", s.log.String())
		}
	})

	// Wait for a product listing trace that reached at least four
	// services and whose spans all have their parents.
	deadline := time.Now().Add(30 * time.Second)
	var best ptrace.Traces
	found := false
	for !found && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get(s.queryURL + "/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		res, code := s.search(url.Values{"service": {"frontend"}, "name": {"GET /api/stores/{id}/products"}, "limit": {"50"}})
		if code != 200 {
			continue
		}
		for _, tr := range res.Traces {
			if len(tr.Services) >= 4 {
				td := s.trace(tr.TraceID)
				if complete(td) {
					best, found = td, true
					break
				}
			}
		}
	}
	require.True(t, found, "no connected multi-service trace within 30s")
	services := map[string]bool{}
	for _, rs := range best.ResourceSpans().All() {
		name, _ := rs.Resource().Attributes().Get("service.name")
		services[name.Str()] = true
	}
	for _, want := range []string{"frontend", "auth", "stores", "products"} {
		require.True(t, services[want], "service %s in %v", want, services)
	}

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not stop within 60s of SIGTERM")
	}
	require.Equal(t, 0, s.cmd.ProcessState.ExitCode(), s.log.String())
	require.Contains(t, s.log.String(), "ariadne demo: stopping after")
}

// complete reports whether every span's parent is in the trace and there
// is exactly one root.
func complete(td ptrace.Traces) bool {
	ids := map[string]bool{}
	var parents []string
	roots := 0
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				ids[sp.SpanID().String()] = true
				if sp.ParentSpanID().IsEmpty() {
					roots++
				} else {
					parents = append(parents, sp.ParentSpanID().String())
				}
			}
		}
	}
	for _, p := range parents {
		if !ids[p] {
			return false
		}
	}
	return roots == 1 && len(ids) > 0
}

// TestDemoEndpoint runs `ariadne demo --endpoint` against a separate
// `ariadne serve`: no embedded server, the shop's spans arrive there.
func TestDemoEndpoint(t *testing.T) {
	srv := startServer(t, "")
	out, err := exec.Command(ariadneBin, "demo", "--endpoint", srv.grpcAddr, "--duration", "2s", "--rate", "10").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "sending spans to "+srv.grpcAddr)
	require.NotContains(t, string(out), "traces at", "no embedded server")
	var services struct {
		Services []string `json:"services"`
	}
	require.Equal(t, 200, srv.getJSON("/api/v1/services", &services))
	require.Subset(t, services.Services, []string{"frontend", "auth", "stores", "products", "inventory", "pricing"})
}

func TestDemoBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--error-rate", "shipping=0.5"}, `--error-rate: "shipping=0.5": expected SERVICE=RATE`},
		{[]string{"--error-rate", "products=2"}, `--error-rate: "products=2": the rate must be a number between 0 and 1`},
		{[]string{"--rate", "-1"}, "--rate: must be greater than zero"},
		{[]string{"--endpoint", "127.0.0.1:1", "--sampling-strategies-file", "x.json"}, "--sampling-strategies-file needs the embedded server"},
	} {
		out, err := exec.Command(ariadneBin, append([]string{"demo"}, c.args...)...).CombinedOutput()
		require.Error(t, err, "%v", c.args)
		require.Contains(t, string(out), c.want)
	}
}
