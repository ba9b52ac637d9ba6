package traceql

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ariadne-tracing/ariadne/internal/model"
)

type corpusSpan struct {
	ID      string         `yaml:"id"`
	Parent  string         `yaml:"parent"`
	Service string         `yaml:"service"`
	Name    string         `yaml:"name"`
	Kind    string         `yaml:"kind"`
	Status  string         `yaml:"status"`
	Message string         `yaml:"message"`
	Start   int64          `yaml:"start"` // ms after the dataset's base time
	Dur     int64          `yaml:"dur"`   // ms
	Env     string         `yaml:"env"`
	Scope   string         `yaml:"scope"`
	Attrs   map[string]any `yaml:"attrs"`
	Events  []struct {
		Name  string         `yaml:"name"`
		At    int64          `yaml:"at"`
		Attrs map[string]any `yaml:"attrs"`
	} `yaml:"events"`
	Links []struct {
		Trace string         `yaml:"trace"`
		Span  string         `yaml:"span"`
		Attrs map[string]any `yaml:"attrs"`
	} `yaml:"links"`
}

type semanticsCorpus struct {
	Traces  map[string][]corpusSpan `yaml:"traces"`
	Queries []struct {
		Q      string              `yaml:"q"`
		Expect map[string][]string `yaml:"expect"`
	} `yaml:"queries"`
}

// testBase is the dataset's time origin.
var testBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()

func corpusTraceID(label string) model.TraceID {
	var id model.TraceID
	id[15] = byte(label[0]-'A') + 0x0a
	return id
}

func corpusSpanID(label string) model.SpanID {
	var id model.SpanID
	b, err := hex.DecodeString(fmt.Sprintf("%016s", label))
	if err != nil {
		panic(label)
	}
	copy(id[:], b)
	return id
}

func corpusAttrs(m map[string]any) []model.Attr {
	var out []model.Attr
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			out = append(out, model.Attr{Key: k, Type: model.TypeStr, Str: v})
		case int:
			out = append(out, model.Attr{Key: k, Type: model.TypeInt, Num: uint64(v)})
		case float64:
			out = append(out, model.Attr{Key: k, Type: model.TypeDouble, Num: math.Float64bits(v)})
		case bool:
			n := uint64(0)
			if v {
				n = 1
			}
			out = append(out, model.Attr{Key: k, Type: model.TypeBool, Num: n})
		default:
			panic(fmt.Sprintf("attribute %s: unsupported %T", k, v))
		}
	}
	return out
}

func loadSemantics(t testing.TB) (semanticsCorpus, map[string][]model.Span) {
	b, err := os.ReadFile("testdata/semantics.yaml")
	require.NoError(t, err)
	var c semanticsCorpus
	require.NoError(t, yaml.Unmarshal(b, &c))
	traces := map[string][]model.Span{}
	for label, spans := range c.Traces {
		for _, cs := range spans {
			res := &model.Resource{Attrs: []model.Attr{{Key: "service.name", Type: model.TypeStr, Str: cs.Service}}}
			if cs.Env != "" {
				res.Attrs = append(res.Attrs, model.Attr{Key: "deployment.environment", Type: model.TypeStr, Str: cs.Env})
			}
			scope := &model.Scope{Name: "default", Version: "0.1"}
			if cs.Scope != "" {
				scope = &model.Scope{Name: cs.Scope, Version: "1.0", Attrs: []model.Attr{{Key: "lib", Type: model.TypeStr, Str: "x"}}}
			}
			kind, ok := model.ParseKind(cs.Kind)
			require.True(t, ok, cs.Kind)
			s := model.Span{
				TraceID: corpusTraceID(label), SpanID: corpusSpanID(cs.ID), Name: cs.Name, Kind: kind,
				StatusMessage: cs.Message, Start: testBase + cs.Start*1e6, End: testBase + (cs.Start+cs.Dur)*1e6,
				Attrs: corpusAttrs(cs.Attrs), Resource: res, Scope: scope,
			}
			switch cs.Status {
			case "ok":
				s.StatusCode = model.StatusOK
			case "error":
				s.StatusCode = model.StatusError
			}
			if cs.Parent != "" {
				s.ParentID = corpusSpanID(cs.Parent)
			}
			for _, e := range cs.Events {
				s.Events = append(s.Events, model.Event{Name: e.Name, Time: testBase + e.At*1e6, Attrs: corpusAttrs(e.Attrs)})
			}
			for _, l := range cs.Links {
				s.Links = append(s.Links, model.Link{TraceID: corpusTraceID(l.Trace), SpanID: corpusSpanID(l.Span), Attrs: corpusAttrs(l.Attrs)})
			}
			traces[label] = append(traces[label], s)
		}
	}
	return c, traces
}

// spansetLabels renders spansets as the corpus writes them.
func spansetLabels(spans []model.Span, sets []Spanset) []string {
	var out []string
	for _, ss := range sets {
		var ids []string
		for _, i := range ss.Spans {
			ids = append(ids, strings.TrimLeft(spans[i].SpanID.String(), "0"))
		}
		out = append(out, strings.Join(ids, " "))
	}
	return out
}

func TestSemanticsCorpus(t *testing.T) {
	c, traces := loadSemantics(t)
	require.Len(t, traces, 3)
	require.GreaterOrEqual(t, len(c.Queries), 60)
	for _, qc := range c.Queries {
		q, err := Parse(qc.Q)
		require.NoError(t, err, qc.Q)
		got := map[string][]string{}
		for label, spans := range traces {
			sets, _ := q.Eval(spans)
			if len(sets) > 0 {
				got[label] = spansetLabels(spans, sets)
			}
		}
		want := qc.Expect
		if want == nil {
			want = map[string][]string{}
		}
		require.Equal(t, want, got, qc.Q)
	}
}

var sampleOnce = sync.OnceValue(func() []model.Span {
	_, traces := loadSemantics(&testing.T{})
	return traces["A"]
})

// sampleTrace is trace A of the semantics corpus (for the fuzz target).
func sampleTrace() []model.Span { return sampleOnce() }
