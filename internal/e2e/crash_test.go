package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const crashSpansPerTrace = 20

// makeTrace builds one trace of crashSpansPerTrace spans with trace ID id.
func makeTrace(id pcommon.TraceID, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "crash-test")
	rs.Resource().Attributes().PutStr("host.name", "host-1")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i := 0; i < crashSpansPerTrace; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(id)
		var sid [8]byte
		binary.BigEndian.PutUint64(sid[:], uint64(n)<<8|uint64(i+1))
		sp.SetSpanID(sid)
		if i > 0 {
			var pid [8]byte
			binary.BigEndian.PutUint64(pid[:], uint64(n)<<8|1)
			sp.SetParentSpanID(pid)
		}
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i+1) * time.Millisecond)))
		sp.Attributes().PutStr("http.route", "/api/items/{id}")
		sp.Attributes().PutInt("item.id", int64(n*100+i))
	}
	return td
}

// TestCrashRecovery kills the server with SIGKILL under load and checks that
// every acknowledged span is there after a restart; then it tears the WAL
// tail and checks that the server repairs it and still has everything.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "ariadne.yaml")
	// Small heads so that parts are written (and merged) during the load:
	// acknowledged data is then spread over parts and the WAL.
	require.NoError(t, os.WriteFile(cfgPath, []byte("storage:\n  head_max_spans: 3000\n  head_max_age: 1s\n"), 0o644))
	srv := startServer(t, dir, "--config", cfgPath)

	conn, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)

	var mu sync.Mutex
	var acked []pcommon.TraceID
	var counter atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(counter.Add(1))
				var id pcommon.TraceID
				_, _ = rand.Read(id[:])
				resp, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(makeTrace(id, n)))
				if err != nil || resp.PartialSuccess().RejectedSpans() != 0 {
					continue
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	// Let the load run until several parts exist, then kill -9.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		parts, _ := filepath.Glob(filepath.Join(dir, "parts", "*", "*.part"))
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if len(parts) >= 3 && n >= 600 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	ackedCopy := slices.Clone(acked)
	mu.Unlock()
	require.GreaterOrEqual(t, len(ackedCopy), 100, "too little load before the kill")
	t.Logf("%d traces acknowledged before SIGKILL", len(ackedCopy))

	verify := func(s *server) {
		t.Helper()
		for _, id := range ackedCopy {
			require.Equal(t, crashSpansPerTrace, s.trace(id.String()).SpanCount(), "trace %s", id)
		}
	}
	srv = srv.restart()
	verify(srv)

	// Torn tail: a write cut short by a crash leaves a partial record at
	// the end of the newest WAL segment.
	srv.kill()
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	slices.Sort(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	torn := make([]byte, 8+37)
	binary.LittleEndian.PutUint32(torn, 1000) // claims 1000 bytes, has 37
	_, _ = rand.Read(torn[4:])
	_, err = f.Write(torn)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	srv = srv.restart()
	verify(srv)
	require.Regexp(t, `wal_bytes_dropped=[1-9]`, srv.log.String(), "the repair is reported")

	// The repaired WAL takes new data and keeps it across a clean restart.
	var id pcommon.TraceID
	_, _ = rand.Read(id[:])
	conn2, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn2.Close()
	_, err = ptraceotlp.NewGRPCClient(conn2).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(makeTrace(id, 1<<20)))
	require.NoError(t, err)
	srv.stop()
	srv = srv.restart()
	verify(srv)
	require.Equal(t, crashSpansPerTrace, srv.trace(id.String()).SpanCount())
}
