package store

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/store/head"
)

// Operation is a span name with its kind, as seen for a service.
type Operation struct {
	Name string
	Kind int8
}

// ValueCount is an attribute value and how often it was seen (approximate:
// heads are sampled, parts keep their most frequent values only).
type ValueCount struct {
	Value string
	Count int64
}

const (
	catalogMaxKeys         = 1000
	catalogMaxValuesPerKey = 1000
	// Attribute values of the head are taken from every 8th span.
	catalogSampleEvery = 8
)

// catalog is what autocomplete needs from a set of spans.
type catalog struct {
	ops    map[string]map[Operation]struct{}
	values map[string]map[string]int64
}

func newCatalog() *catalog {
	return &catalog{ops: map[string]map[Operation]struct{}{}, values: map[string]map[string]int64{}}
}

func (c *catalog) addOp(service string, op Operation) {
	m := c.ops[service]
	if m == nil {
		m = map[Operation]struct{}{}
		c.ops[service] = m
	}
	m[op] = struct{}{}
}

func (c *catalog) addValue(key, value string, n int64) {
	m := c.values[key]
	if m == nil {
		if len(c.values) >= catalogMaxKeys {
			return
		}
		m = map[string]int64{}
		c.values[key] = m
	}
	if _, ok := m[value]; !ok && len(m) >= catalogMaxValuesPerKey {
		return
	}
	m[value] += n
}

func (c *catalog) addAttrs(attrs []model.Attr, weight int64) {
	for i := range attrs {
		a := &attrs[i]
		if a.Type == model.TypeStr && len(a.Str) <= 128 {
			c.addValue(a.Key, a.Str, weight)
		} else if a.Type == model.TypeInt || a.Type == model.TypeBool {
			c.addValue(a.Key, a.String(), weight)
		} else {
			c.addValue(a.Key, "", 0)
		}
	}
}

type headCatalog struct {
	h    *head.Head
	done int // spans of h already in cat
	cat  *catalog
	at   time.Time
}

// headCatalogCache keeps the catalog of each live head and extends it with
// the spans appended since the last call, so autocomplete sees new data at
// once without walking the whole head again.
type headCatalogCache struct {
	mu      sync.Mutex
	entries []*headCatalog
}

// with calls fn with the head's up-to-date catalog, under the cache lock.
func (cc *headCatalogCache) with(h *head.Head, fn func(*catalog)) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var e *headCatalog
	for _, x := range cc.entries {
		if x.h == h {
			e = x
		}
	}
	if e == nil {
		cc.entries = slices.DeleteFunc(cc.entries, func(x *headCatalog) bool { return time.Since(x.at) > time.Minute })
		e = &headCatalog{h: h, cat: newCatalog()}
		cc.entries = append(cc.entries, e)
	}
	e.at = time.Now()
	svcOf := map[*model.Resource]string{}
	i := e.done
	e.done = h.Each(e.done, func(s *model.Span) bool {
		svc, ok := svcOf[s.Resource]
		if !ok {
			svc = s.Service()
			svcOf[s.Resource] = svc
		}
		e.cat.addOp(svc, Operation{Name: s.Name, Kind: s.Kind})
		// Attribute values from every catalogSampleEvery-th span.
		if i%catalogSampleEvery == 0 {
			e.cat.addAttrs(s.Attrs, catalogSampleEvery)
			if s.Resource != nil {
				e.cat.addAttrs(s.Resource.Attrs, catalogSampleEvery)
			}
			for j := range s.Events {
				e.cat.addAttrs(s.Events[j].Attrs, catalogSampleEvery)
			}
		}
		i++
		return true
	})
	fn(e.cat)
}

// catalog merges the catalogs of the heads and of every part.
func (db *DB) catalog(ctx context.Context) *catalog {
	heads, parts := db.snapshot()
	defer db.releaseParts(parts)
	all := newCatalog()
	for _, h := range heads {
		if h.Len() == 0 {
			continue
		}
		db.headCat.with(h, func(c *catalog) {
			for svc, ops := range c.ops {
				for op := range ops {
					all.addOp(svc, op)
				}
			}
			for k, vs := range c.values {
				for v, n := range vs {
					all.addValue(k, v, n)
				}
			}
		})
	}
	for _, p := range parts {
		m := p.r.Meta()
		for _, op := range m.Operations {
			all.addOp(op.Service, Operation{Name: op.Name, Kind: op.Kind})
		}
		for _, kv := range m.TopValues {
			for _, v := range kv.Values {
				all.addValue(kv.Key, v.Value, v.Count)
			}
		}
	}
	return all
}

// Services returns every service name, sorted.
func (db *DB) Services(ctx context.Context) ([]string, error) {
	c := db.catalog(ctx)
	out := make([]string, 0, len(c.ops))
	for s := range c.ops {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// Operations returns the span names and kinds seen for a service ("" =
// all services), sorted by name then kind.
func (db *DB) Operations(ctx context.Context, service string) ([]Operation, error) {
	c := db.catalog(ctx)
	set := map[Operation]struct{}{}
	for svc, ops := range c.ops {
		if service != "" && svc != service {
			continue
		}
		for op := range ops {
			set[op] = struct{}{}
		}
	}
	out := make([]Operation, 0, len(set))
	for op := range set {
		out = append(out, op)
	}
	slices.SortFunc(out, func(a, b Operation) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	return out, nil
}

// AttributeKeys returns the attribute keys seen (span, resource and event
// attributes), sorted.
func (db *DB) AttributeKeys(ctx context.Context) ([]string, error) {
	c := db.catalog(ctx)
	out := make([]string, 0, len(c.values))
	for k := range c.values {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// AttributeValues returns the most frequent values of key, most frequent
// first, at most limit.
func (db *DB) AttributeValues(ctx context.Context, key string, limit int) ([]ValueCount, error) {
	c := db.catalog(ctx)
	out := make([]ValueCount, 0, len(c.values[key]))
	for v, n := range c.values[key] {
		if n > 0 || v != "" {
			out = append(out, ValueCount{Value: v, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b ValueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Stats describes what is stored.
type Stats struct {
	Parts      int
	PartSpans  int64
	PartBytes  int64
	WALBytes   int64
	HeadSpans  int
	Partitions int
}

// Stats returns current storage figures.
func (db *DB) Stats() Stats {
	db.mu.RLock()
	defer db.mu.RUnlock()
	st := Stats{Parts: len(db.parts), HeadSpans: db.head.Len(), WALBytes: db.wal.Size()}
	seen := map[time.Time]bool{}
	for _, h := range db.flushing {
		st.HeadSpans += h.Len()
	}
	for _, p := range db.parts {
		m := p.r.Meta()
		st.PartSpans += int64(m.SpanCount)
		st.PartBytes += m.Size
		seen[p.partition] = true
	}
	st.Partitions = len(seen)
	return st
}
