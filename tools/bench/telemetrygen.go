package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const telemetrygenInstall = "go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@latest"

// tgSpansPerTrace is the size of a telemetrygen trace with --child-spans 9.
const tgSpansPerTrace = 10

// findTelemetrygen returns the telemetrygen binary: explicit, from PATH, or
// from $(go env GOPATH)/bin. It never installs it.
func findTelemetrygen(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("--telemetrygen: %w", err)
		}
		return explicit, nil
	}
	if p, err := exec.LookPath("telemetrygen"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "telemetrygen")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("telemetrygen not found in PATH or $(go env GOPATH)/bin; install it with\n\t%s\nor pass --telemetrygen /path/to/telemetrygen", telemetrygenInstall)
}

// tgTracesGenerated matches telemetrygen's per-worker closing log line,
// e.g. `... traces generated {"worker": 3, "traces": 12345}`.
var tgTracesGenerated = regexp.MustCompile(`traces generated.*"traces":\s*(\d+)`)

// tgProblem matches telemetrygen's warning and error log lines (zap's
// console format), which are passed on to stderr.
var tgProblem = regexp.MustCompile(`\t(WARN|ERROR|FATAL|DPANIC|PANIC)\t`)

// runTelemetrygen sends 10-span traces with telemetrygen to a gRPC
// endpoint. Its --rate is spans per second per worker (its limiter waits
// once per span), so the total rate is divided among the workers. Offered
// spans are counted from the traces it reports having generated, which
// includes spans its SDK batch processor dropped when its queue was full.
func runTelemetrygen(ctx context.Context, bin, grpcAddr string, f *ingestFlags) (loadResult, error) {
	args := []string{"traces", "--otlp-insecure", "--otlp-endpoint", grpcAddr,
		"--rate", strconv.FormatFloat(f.rate/float64(f.workers), 'f', -1, 64),
		"--duration", f.duration.String(),
		"--workers", strconv.Itoa(f.workers),
		"--child-spans", strconv.Itoa(tgSpansPerTrace - 1)}
	logf("%s %s", bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return loadResult{}, err
	}
	cmd.Stdout = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return loadResult{}, fmt.Errorf("start telemetrygen: %w", err)
	}
	var traces int64
	var lastLines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if m := tgTracesGenerated.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			traces += n
		}
		if tgProblem.MatchString(line) {
			fmt.Fprintln(os.Stderr, "telemetrygen:", line)
		}
		if lastLines = append(lastLines, line); len(lastLines) > 20 {
			lastLines = lastLines[1:]
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return loadResult{}, ctx.Err()
	}
	if err != nil {
		return loadResult{}, fmt.Errorf("telemetrygen: %w; its last output:\n%s", err, strings.Join(lastLines, "\n"))
	}
	if traces == 0 {
		return loadResult{}, errors.New("telemetrygen reported no generated traces; its last output:\n" + strings.Join(lastLines, "\n"))
	}
	st := cmd.ProcessState
	return loadResult{
		elapsed:   elapsed,
		offered:   traces * tgSpansPerTrace,
		clientCPU: st.UserTime() + st.SystemTime(),
	}, nil
}
