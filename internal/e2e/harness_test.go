// Package e2e tests the real ariadne binary over loopback: it is built once
// in TestMain and started as a child process per test.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	// The binary is built by TestMain with go build, which go test's cache
	// does not see; importing the server makes a change to any package of
	// the binary invalidate this package's cached results.
	_ "github.com/ariadne-tracing/ariadne/internal/server"
)

var ariadneBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ariadne-e2e")
	if err != nil {
		panic(err)
	}
	ariadneBin = filepath.Join(dir, "ariadne")
	build := exec.Command("go", "build", "-o", ariadneBin, "../../cmd/ariadne")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ariadne:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running ariadne process.
type server struct {
	t        *testing.T
	cmd      *exec.Cmd
	dataDir  string
	grpcAddr string
	httpAddr string
	queryURL string
	zipkin   string // Zipkin API base URL
	tempoURL string
	log      *logBuffer
	exited   chan struct{}
	args     []string
}

// logBuffer collects a server's output: exec copies into it from its own
// goroutine while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// issuedPorts are the ports freePort has handed out in this process: the
// kernel may offer a just-closed port again, and two servers (or two
// listeners of one) must not get the same one.
var issuedPorts sync.Map

func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, dup := issuedPorts.LoadOrStore(port, true); !dup {
			return port
		}
	}
}

// startServer starts ariadne on free loopback ports with dataDir ("" = a
// new temporary directory). The process is killed when the test ends.
func startServer(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &server{t: t, dataDir: dataDir, log: &logBuffer{}, exited: make(chan struct{}), args: args}
	gp, hp, qp, zp := freePort(t), freePort(t), freePort(t), freePort(t)
	s.zipkin = fmt.Sprintf("http://127.0.0.1:%d", zp)
	s.grpcAddr = fmt.Sprintf("127.0.0.1:%d", gp)
	s.httpAddr = fmt.Sprintf("127.0.0.1:%d", hp)
	s.queryURL = fmt.Sprintf("http://127.0.0.1:%d", qp)
	tp := freePort(t)
	s.tempoURL = fmt.Sprintf("http://127.0.0.1:%d", tp)
	all := append([]string{"serve", "--data-dir", dataDir,
		"--otlp-grpc-port", strconv.Itoa(gp), "--otlp-http-port", strconv.Itoa(hp), "--query-port", strconv.Itoa(qp), "--zipkin-port", strconv.Itoa(zp),
		"--tempo-port", strconv.Itoa(tp)}, args...)
	if !hasFlag(args, "--sampling-port") {
		all = append(all, "--sampling-port", strconv.Itoa(freePort(t)))
	}
	s.cmd = exec.Command(ariadneBin, all...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	require.NoError(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("server exited during start:\n%s", s.log.String())
		default:
		}
		resp, err := http.Get(s.queryURL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 30s:\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// kill sends SIGKILL and waits for the process to exit.
func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("server did not stop within 60s after SIGTERM:\n%s", s.log.String())
	}
	require.Equal(s.t, 0, s.cmd.ProcessState.ExitCode(), "exit code; log:\n%s", s.log.String())
}

func (s *server) restart() *server {
	s.t.Helper()
	return startServer(s.t, s.dataDir, s.args...)
}

// getJSON GETs path from the query API and decodes the JSON body into v,
// returning the status code.
func (s *server) getJSON(path string, v any) int {
	s.t.Helper()
	resp, err := http.Get(s.queryURL + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if v != nil {
		require.NoError(s.t, json.Unmarshal(b, v), "body: %s", b)
	}
	return resp.StatusCode
}

// trace fetches a trace through the native API; nil if not found.
func (s *server) trace(id string) ptrace.Traces {
	s.t.Helper()
	resp, err := http.Get(s.queryURL + "/api/v1/traces/" + id)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if resp.StatusCode == http.StatusNotFound {
		return ptrace.NewTraces()
	}
	require.Equal(s.t, 200, resp.StatusCode, "body: %s", b)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	require.NoError(s.t, err)
	return td
}

type searchResponse struct {
	Traces []struct {
		TraceID         string `json:"traceID"`
		RootServiceName string `json:"rootServiceName"`
		RootSpanName    string `json:"rootSpanName"`
		SpanCount       int    `json:"spanCount"`
		ErrorCount      int    `json:"errorCount"`
		DurationNanos   int64  `json:"durationNanos"`
		Services        []struct {
			Name      string `json:"name"`
			SpanCount int    `json:"spanCount"`
		} `json:"services"`
	} `json:"traces"`
	Error string `json:"error"`
}

func (s *server) search(params url.Values) (searchResponse, int) {
	s.t.Helper()
	var r searchResponse
	code := s.getJSON("/api/v1/search?"+params.Encode(), &r)
	return r, code
}

// postOTLP posts an OTLP/HTTP body and returns status and body.
func (s *server) postOTLP(contentType string, body []byte, headers ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.httpAddr+"/v1/traces", bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func spanCount(td ptrace.Traces) int { return td.SpanCount() }

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
