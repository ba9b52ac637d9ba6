package main

import (
	"bufio"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metric is one measured value of one run.
type metric struct {
	name  string
	value float64
	unit  string // printed after the value
	prec  int    // digits after the decimal point
}

// results collects the metrics of every run, in the order first reported.
type results struct {
	names []string
	by    map[string][]metric
}

func (r *results) add(m metric) {
	if r.by == nil {
		r.by = map[string][]metric{}
	}
	if _, ok := r.by[m.name]; !ok {
		r.names = append(r.names, m.name)
	}
	r.by[m.name] = append(r.by[m.name], m)
}

// addRun adds the metrics of one run.
func (r *results) addRun(ms []metric) {
	for _, m := range ms {
		r.add(m)
	}
}

// header describes how and where a report was made.
type header struct {
	mode   string
	args   []string
	fs     *flag.FlagSet
	binary string // the ariadne binary, for its Go version
	built  bool   // binary was built from the checkout by this run
	notes  []string
	runs   int
}

// write prints the report: what ran, on what, then one Markdown table with
// the median (and min/max over runs when there was more than one).
func (r *results) write(w io.Writer, h header) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "\n### %s\n\n", h.mode)
	fmt.Fprintf(bw, "```\ngo run ./tools/bench %s\n```\n\n", shellJoin(append([]string{h.mode}, h.args...)))
	var all []string
	h.fs.VisitAll(func(f *flag.Flag) { all = append(all, "--"+f.Name+"="+f.Value.String()) })
	fmt.Fprintf(bw, "- settings: `%s`\n", strings.Join(all, " "))
	fmt.Fprintf(bw, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(bw, "- machine: nproc %d, %s, %s\n", runtime.NumCPU(), cpuModel(), memTotal())
	if h.built {
		fmt.Fprintf(bw, "- ariadne: built from the checkout at %s with %s\n", gitRevision(), binaryGoVersion(h.binary))
	} else {
		fmt.Fprintf(bw, "- ariadne: `%s` (--binary), built with %s; the checkout is at %s\n", h.binary, binaryGoVersion(h.binary), gitRevision())
	}
	fmt.Fprintf(bw, "- runs: %d", h.runs)
	if h.runs > 1 {
		fmt.Fprint(bw, " (median, min and max over runs)")
	}
	fmt.Fprintln(bw)
	for _, n := range h.notes {
		fmt.Fprintf(bw, "- %s\n", n)
	}
	fmt.Fprintln(bw)
	if h.runs > 1 {
		fmt.Fprintln(bw, "| metric | median | min | max |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|")
	} else {
		fmt.Fprintln(bw, "| metric | value |")
		fmt.Fprintln(bw, "|---|---:|")
	}
	for _, name := range r.names {
		ms := r.by[name]
		vals := make([]float64, len(ms))
		for i, m := range ms {
			vals[i] = m.value
		}
		f := func(v float64) string { return formatValue(v, ms[0].prec, ms[0].unit) }
		if h.runs > 1 {
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", name, f(medianOf(vals)), f(slices.Min(vals)), f(slices.Max(vals)))
		} else {
			fmt.Fprintf(bw, "| %s | %s |\n", name, f(vals[0]))
		}
	}
}

func formatValue(v float64, prec int, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// medianOf returns the median of v (the mean of the middle two for an
// even count), or NaN for none.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted d.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const mib = 1 << 20

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return "memory unknown"
}

// gitRevision is the commit of the module's checkout, marked when the
// work tree has changes.
func gitRevision() string {
	root, err := moduleRoot()
	if err != nil {
		return "unknown revision"
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown revision"
	}
	rev := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += " (work tree modified)"
	}
	return rev
}

// binaryGoVersion reads the Go version a binary was built with.
func binaryGoVersion(bin string) string {
	if bin != "" {
		if bi, err := buildinfo.ReadFile(bin); err == nil {
			return bi.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
		}
	}
	return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' || r == '+' ||
				'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) < 0 {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
