package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// moduleRoot is the directory of the ariadne go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the ariadne module: run from the repository (go run ./tools/bench)")
	}
	return filepath.Dir(mod), nil
}

// buildBinary builds ./cmd/ariadne into dir and returns its path.
func buildBinary(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ariadne")
	logf("building %s", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ariadne")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ariadne: %w", err)
	}
	return bin, nil
}

// server is a running ariadne process on free loopback ports.
type server struct {
	cmd      *exec.Cmd
	dataDir  string
	grpcAddr string // host:port
	httpAddr string // host:port
	queryURL string // http://host:port
	tempoURL string // Tempo-compatible API, http://host:port
	logPath  string
	exited   chan struct{}
	ready    time.Duration // from exec to the first 200 on /ready
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `bin serve` on dataDir with extra flags appended, and
// returns once /ready answers 200. The server's log is appended to logPath.
// The process is killed if the harness dies (Pdeathsig), so no server
// outlives a crashed or interrupted benchmark.
func startServer(ctx context.Context, bin, dataDir, logPath string, extra ...string) (*server, error) {
	var ports [4]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ports[i] = p
	}
	s := &server{
		dataDir:  dataDir,
		grpcAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		httpAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		queryURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		tempoURL: fmt.Sprintf("http://127.0.0.1:%d", ports[3]),
		logPath:  logPath,
		exited:   make(chan struct{}),
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data-dir", dataDir,
		"--otlp-grpc-port", strconv.Itoa(ports[0]), "--otlp-http-port", strconv.Itoa(ports[1]),
		"--query-port", strconv.Itoa(ports[2]), "--tempo-port", strconv.Itoa(ports[3]), "--zipkin-port", "0", "--sampling-port", "0"}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	logf("server pid %d: %s", s.cmd.Process.Pid, strings.Join(s.cmd.Args, " "))

	deadline := time.Now().Add(5 * time.Minute) // replaying a large WAL takes a while
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited while starting (%s); log:\n%s", s.cmd.ProcessState, tail(logPath))
		case <-ctx.Done():
			s.kill()
			return nil, ctx.Err()
		default:
		}
		resp, err := http.Get(s.queryURL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(start)
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("server not ready after 5m; log:\n%s", tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits for a clean exit, which includes writing the
// in-memory head to a part. It returns how long that took and the process's
// total CPU time (user+system, from its rusage).
func (s *server) stop() (took, cpu time.Duration, err error) {
	select {
	case <-s.exited:
		return 0, 0, fmt.Errorf("server exited before SIGTERM (%s); log:\n%s", s.cmd.ProcessState, tail(s.logPath))
	default:
	}
	t0 := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, 0, err
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Minute):
		s.kill()
		return 0, 0, fmt.Errorf("server did not stop within 5m of SIGTERM; log:\n%s", tail(s.logPath))
	}
	took = time.Since(t0)
	st := s.cmd.ProcessState
	if !st.Success() {
		return took, 0, fmt.Errorf("server exit: %s; log:\n%s", st, tail(s.logPath))
	}
	return took, st.UserTime() + st.SystemTime(), nil
}

// kill ends the process at once; safe to call more than once.
func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// metrics scrapes /metrics and sums each metric over its label sets.
func (s *server) metrics() (map[string]float64, error) {
	resp, err := http.Get(s.queryURL + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape /metrics: %s", resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		m[name] += v
	}
	return m, sc.Err()
}

// getJSON GETs path (with its query) from the query API into v.
func (s *server) getJSON(path string, v any) error {
	resp, err := http.Get(s.queryURL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
