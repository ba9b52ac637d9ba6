package tempo

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
	"github.com/ariadne-tracing/ariadne/internal/query/traceql"
)

// maxScanSpans bounds the spans one tag request reads: tag names and the
// values of intrinsics and scoped attributes come from the newest spans
// (in the requested time range).
const maxScanSpans = 20_000

// intrinsicTags are the intrinsics Tempo lists under the intrinsic scope.
var intrinsicTags = []string{
	"duration", "event:name", "event:timeSinceStart", "instrumentation:name", "instrumentation:version",
	"kind", "name", "rootName", "rootServiceName", "span:duration", "span:kind", "span:name", "span:status",
	"span:statusMessage", "status", "statusMessage", "trace:duration", "trace:rootName", "trace:rootService",
	"traceDuration",
}

var tagScopes = []string{"resource", "span", "event", "link", "instrumentation"}

// scan visits up to maxScanSpans of the newest spans in [start, end] that
// pass keep (nil = all).
func (a *API) scan(ctx context.Context, v url.Values, keep func(*model.Span) bool, fn func(*model.Span)) error {
	start, end, err := timeRange(v)
	if err != nil {
		return err
	}
	blocks, release, err := a.store.Blocks(ctx)
	if err != nil {
		return err
	}
	defer release()
	slices.SortFunc(blocks, func(x, y query.Block) int {
		_, xm := x.Bounds()
		_, ym := y.Bounds()
		return cmp.Compare(ym, xm)
	})
	var f query.Filter
	if !start.IsZero() {
		f.MinStart = start.UnixNano()
	}
	if !end.IsZero() {
		f.MaxStart = end.UnixNano()
	}
	n := 0
	for _, b := range blocks {
		lo, hi := b.Bounds()
		if f.MinStart != 0 && hi < f.MinStart || f.MaxStart != 0 && lo > f.MaxStart {
			continue
		}
		err := b.Scan(ctx, &f, func(s *model.Span) bool {
			return (f.MinStart == 0 || s.Start >= f.MinStart) && (f.MaxStart == 0 || s.Start <= f.MaxStart)
		}, func(s *model.Span) bool {
			if keep == nil || keep(s) {
				fn(s)
			}
			n++
			return n < maxScanSpans
		})
		if err != nil {
			return err
		}
		if n >= maxScanSpans {
			break
		}
	}
	return nil
}

// spanFilter parses the optional q of the tag endpoints. As in Tempo, a q
// that is not a single valid spanset filter is ignored.
func spanFilter(v url.Values) func(*model.Span) bool {
	q, err := traceql.Parse(v.Get("q"))
	if err != nil || q.IsMetrics() {
		return nil
	}
	return q.SpanFilter()
}

func addKeys(set map[string]bool, attrs []model.Attr) {
	for i := range attrs {
		set[attrs[i].Key] = true
	}
}

// scopedTags collects attribute names by scope.
func (a *API) scopedTags(ctx context.Context, v url.Values) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for _, s := range tagScopes {
		out[s] = map[string]bool{}
	}
	err := a.scan(ctx, v, spanFilter(v), func(s *model.Span) {
		addKeys(out["span"], s.Attrs)
		if s.Resource != nil {
			addKeys(out["resource"], s.Resource.Attrs)
		}
		if s.Scope != nil {
			addKeys(out["instrumentation"], s.Scope.Attrs)
		}
		for i := range s.Events {
			addKeys(out["event"], s.Events[i].Attrs)
		}
		for i := range s.Links {
			addKeys(out["link"], s.Links[i].Attrs)
		}
	})
	return out, err
}

func sortedKeys(m map[string]bool, limit int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// tagParams reads scope and limit of the tag name endpoints.
func tagParams(w http.ResponseWriter, v url.Values) (scope string, limit int, ok bool) {
	scope = v.Get("scope")
	switch scope {
	case "", "all":
		scope = "all"
	case "intrinsic", "resource", "span", "event", "link", "instrumentation":
	default:
		badRequest(w, "scope: must be resource, span, intrinsic, event, link, instrumentation or all, got %q", scope)
		return "", 0, false
	}
	limit, err := positiveInt("limit", v.Get("limit"), 0, 100_000)
	if err != nil {
		badRequest(w, "%v", err)
		return "", 0, false
	}
	return scope, limit, true
}

type tagsResponse struct {
	TagNames []string `json:"tagNames"`
	Metrics  struct{} `json:"metrics"`
}

func (a *API) tagsV1(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	scope, limit, ok := tagParams(w, v)
	if !ok {
		return
	}
	if scope == "intrinsic" {
		writeJSON(w, tagsResponse{TagNames: intrinsicTags})
		return
	}
	tags, err := a.scopedTags(r.Context(), v)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	names := map[string]bool{}
	for s, keys := range tags {
		if scope == s || scope == "all" && (s == "span" || s == "resource") {
			for k := range keys {
				names[k] = true
			}
		}
	}
	writeJSON(w, tagsResponse{TagNames: sortedKeys(names, limit)})
}

type tagsV2Scope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagsV2Response struct {
	Scopes  []tagsV2Scope `json:"scopes"`
	Metrics struct{}      `json:"metrics"`
}

func (a *API) tagsV2(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	scope, limit, ok := tagParams(w, v)
	if !ok {
		return
	}
	out := tagsV2Response{Scopes: []tagsV2Scope{}}
	if scope != "intrinsic" {
		tags, err := a.scopedTags(r.Context(), v)
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		for _, s := range tagScopes {
			if (scope == "all" || scope == s) && len(tags[s]) > 0 {
				out.Scopes = append(out.Scopes, tagsV2Scope{Name: s, Tags: sortedKeys(tags[s], limit)})
			}
		}
	}
	if scope == "all" || scope == "intrinsic" {
		out.Scopes = append(out.Scopes, tagsV2Scope{Name: "intrinsic", Tags: intrinsicTags})
	}
	writeJSON(w, out)
}

// tagValues collects the distinct values of attr, most frequent first.
func (a *API) tagValues(ctx context.Context, v url.Values, attr *traceql.Attribute, limit int) ([]traceql.Value, error) {
	counts := map[traceql.Value]int{}
	err := a.scan(ctx, v, spanFilter(v), func(s *model.Span) {
		for _, val := range traceql.SpanValues(attr, s) {
			counts[val]++
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]traceql.Value, 0, len(counts))
	for val := range counts {
		out = append(out, val)
	}
	slices.SortFunc(out, func(x, y traceql.Value) int {
		if c := cmp.Compare(counts[y], counts[x]); c != 0 {
			return c
		}
		return strings.Compare(x.Text(), y.Text())
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// valueParams checks limit, start and end of the tag value endpoints.
func valueParams(w http.ResponseWriter, v url.Values) (limit int, ok bool) {
	limit, err := positiveInt("limit", v.Get("limit"), 1000, 100_000)
	if err == nil {
		_, _, err = timeRange(v)
	}
	if err != nil {
		badRequest(w, "%v", err)
		return 0, false
	}
	return limit, true
}

type tagValuesResponse struct {
	TagValues []string `json:"tagValues"`
	Metrics   struct{} `json:"metrics"`
}

func (a *API) tagValuesV1(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	limit, ok := valueParams(w, v)
	if !ok {
		return
	}
	tag := r.PathValue("tag")
	out := tagValuesResponse{TagValues: []string{}}
	// Exact values from the newest spans, then the store's catalog of
	// frequent values over all data (for plain attribute names).
	seen := map[string]bool{}
	if attr, err := traceql.ParseAttribute(tag); err == nil {
		vals, err := a.tagValues(r.Context(), v, attr, limit)
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		for _, val := range vals {
			seen[val.Text()] = true
			out.TagValues = append(out.TagValues, val.Text())
		}
	}
	vals, err := a.store.AttributeValues(r.Context(), tag, limit)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	for _, val := range vals {
		if !seen[val.Value] && len(out.TagValues) < limit {
			seen[val.Value] = true
			out.TagValues = append(out.TagValues, val.Value)
		}
	}
	writeJSON(w, out)
}

type tagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tagValuesV2Response struct {
	TagValues []tagValue `json:"tagValues"`
	Metrics   struct{}   `json:"metrics"`
}

func (a *API) tagValuesV2(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	limit, ok := valueParams(w, v)
	if !ok {
		return
	}
	attr, err := traceql.ParseAttribute(r.PathValue("tag"))
	if err != nil {
		badRequest(w, "tag: %v", err)
		return
	}
	vals, err := a.tagValues(r.Context(), v, attr, limit)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	out := tagValuesV2Response{TagValues: make([]tagValue, 0, len(vals))}
	for _, val := range vals {
		out.TagValues = append(out.TagValues, tagValue{Type: val.TypeName(), Value: val.Text()})
	}
	writeJSON(w, out)
}
