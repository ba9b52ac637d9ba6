package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// commonFlags are the flags every mode has.
type commonFlags struct {
	binary  string
	dataDir string
	runs    int
	keep    bool
}

func (c *commonFlags) register(fs *flag.FlagSet, dataDirUsage string) {
	fs.StringVar(&c.binary, "binary", "", "ariadne binary to run (default: go build ./cmd/ariadne into a temp dir)")
	fs.StringVar(&c.dataDir, "data-dir", "", dataDirUsage)
	fs.IntVar(&c.runs, "runs", 1, "repeat the measurement this many times and report the median, min and max")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp directory (binary, server logs, temp data dirs) and print its path")
}

// workspace is a temp directory for the binary, server logs and temp data
// dirs of one benchmark.
type workspace struct {
	dir   string
	bin   string
	built bool // bin was built from the checkout
	keep  bool
	logs  int
}

func newWorkspace(ctx context.Context, c *commonFlags) (*workspace, error) {
	if c.runs < 1 {
		return nil, fmt.Errorf("--runs must be at least 1")
	}
	dir, err := os.MkdirTemp("", "ariadne-bench-")
	if err != nil {
		return nil, err
	}
	w := &workspace{dir: dir, keep: c.keep}
	if c.binary != "" {
		if w.bin, err = filepath.Abs(c.binary); err != nil {
			w.close()
			return nil, err
		}
		if _, err := os.Stat(w.bin); err != nil {
			w.close()
			return nil, fmt.Errorf("--binary: %w", err)
		}
		return w, nil
	}
	if w.bin, err = buildBinary(ctx, dir); err != nil {
		w.close()
		return nil, err
	}
	w.built = true
	return w, nil
}

// newLog returns a fresh path for a server log.
func (w *workspace) newLog() string {
	w.logs++
	return filepath.Join(w.dir, fmt.Sprintf("server-%d.log", w.logs))
}

// tempDataDir makes an empty data dir in the workspace.
func (w *workspace) tempDataDir(name string) (string, error) {
	d := filepath.Join(w.dir, name)
	return d, os.MkdirAll(d, 0o755)
}

// start runs the server over dataDir with extra serve flags.
func (w *workspace) start(ctx context.Context, dataDir string, extra ...string) (*server, error) {
	return startServer(ctx, w.bin, dataDir, w.newLog(), extra...)
}

func (w *workspace) close() {
	if w.keep {
		logf("kept %s", w.dir)
		return
	}
	_ = os.RemoveAll(w.dir)
}
