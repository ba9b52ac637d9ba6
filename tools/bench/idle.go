package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

func runIdle(ctx context.Context, args []string) error {
	var c commonFlags
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	c.register(fs, "an existing data dir with data (required), e.g. one kept by `query --data-dir`")
	idle := fs.Duration("idle", 30*time.Second, "how long to leave the server idle after it is ready")
	walSync := fs.String("wal-sync", "always", "server WAL sync policy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("idle: unexpected argument %q", fs.Arg(0))
	}
	if c.dataDir == "" {
		return errors.New("idle: --data-dir is required (a data dir with data in it)")
	}
	if _, err := os.Stat(c.dataDir); err != nil {
		return fmt.Errorf("idle: --data-dir: %w", err)
	}
	ws, err := newWorkspace(ctx, &c)
	if err != nil {
		return err
	}
	defer ws.close()

	var res results
	for run := 1; run <= c.runs; run++ {
		logf("idle run %d of %d", run, c.runs)
		ms, err := idleOnce(ctx, ws, c.dataDir, *walSync, *idle)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		res.addRun(ms)
	}
	res.write(os.Stdout, header{mode: "idle", args: args, fs: fs, binary: ws.bin, built: ws.built, runs: c.runs})
	return nil
}

func idleOnce(ctx context.Context, ws *workspace, dataDir, walSync string, idle time.Duration) ([]metric, error) {
	disk, err := measureDisk(dataDir)
	if err != nil {
		return nil, err
	}
	srv, err := ws.start(ctx, dataDir, "--wal-sync", walSync)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	p0, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(idle):
	}
	p1, err := readProc(srv.pid())
	if err != nil {
		return nil, err
	}
	m, err := srv.metrics()
	if err != nil {
		return nil, err
	}
	if _, _, err := srv.stop(); err != nil {
		return nil, err
	}
	spans := m["ariadne_store_stored_spans"] + m["ariadne_store_head_spans"]
	return []metric{
		{name: "spans stored", value: spans},
		{name: "data dir size (parts + WAL)", value: float64(disk.total()) / mib, unit: "MiB"},
		{name: "parts", value: m["ariadne_store_parts"]},
		{name: "start to ready", value: srv.ready.Seconds(), unit: "s", prec: 2},
		{name: "RSS when ready", value: float64(p0.rss) / mib, unit: "MiB"},
		{name: fmt.Sprintf("RSS after %s idle", idle), value: float64(p1.rss) / mib, unit: "MiB"},
		{name: "peak RSS (VmHWM, includes startup)", value: float64(p1.hwm) / mib, unit: "MiB"},
		{name: "server CPU while idle", value: (p1.cpu - p0.cpu).Seconds() / idle.Seconds(), unit: "cores", prec: 3},
	}, nil
}
