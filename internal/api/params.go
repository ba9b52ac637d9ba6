package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

// ParseSearch turns the native search parameters into a validated query.
// Every error names the parameter and says what is wrong.
func ParseSearch(v url.Values) (*query.Query, error) {
	q := query.New()
	for key := range v {
		if !knownSearchParams[key] {
			return nil, fmt.Errorf("unknown parameter %q (known: service, name, kind, status, statusScope, attr, minDuration, maxDuration, durationScope, start, end, limit)", key)
		}
	}
	q.Service = v.Get("service")
	q.SpanName = v.Get("name")
	if s := v.Get("kind"); s != "" {
		k, ok := model.ParseKind(strings.ToLower(s))
		if !ok {
			k, ok = model.ParseKind(s)
		}
		if !ok {
			return nil, fmt.Errorf("kind: unknown span kind %q (use internal, server, client, producer, consumer or unspecified)", s)
		}
		q.Kind = k
	}
	if s := v.Get("status"); s != "" {
		switch strings.ToLower(s) {
		case "unset":
			q.Status = model.StatusUnset
		case "ok":
			q.Status = model.StatusOK
		case "error":
			q.Status = model.StatusError
		default:
			return nil, fmt.Errorf("status: unknown status %q (use unset, ok or error)", s)
		}
	}
	var err error
	if q.StatusLevel, err = parseLevel("statusScope", v.Get("statusScope")); err != nil {
		return nil, err
	}
	if q.DurationLevel, err = parseLevel("durationScope", v.Get("durationScope")); err != nil {
		return nil, err
	}
	for i, a := range v["attr"] {
		c, err := ParseCond(a)
		if err != nil {
			return nil, fmt.Errorf("attr %d (%q): %v", i+1, a, err)
		}
		q.Conds = append(q.Conds, c)
	}
	if q.MinDuration, err = parseDuration("minDuration", v.Get("minDuration")); err != nil {
		return nil, err
	}
	if q.MaxDuration, err = parseDuration("maxDuration", v.Get("maxDuration")); err != nil {
		return nil, err
	}
	if q.Start, err = ParseTime("start", v.Get("start")); err != nil {
		return nil, err
	}
	if q.End, err = ParseTime("end", v.Get("end")); err != nil {
		return nil, err
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("limit: must be a positive integer, got %q", s)
		}
		q.Limit = n
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

var knownSearchParams = map[string]bool{
	"service": true, "name": true, "kind": true, "status": true, "statusScope": true,
	"attr": true, "minDuration": true, "maxDuration": true, "durationScope": true,
	"start": true, "end": true, "limit": true,
}

func parseLevel(name, s string) (query.Level, error) {
	switch s {
	case "", "span":
		return query.LevelSpan, nil
	case "trace":
		return query.LevelTrace, nil
	}
	return 0, fmt.Errorf("%s: must be span or trace, got %q", name, s)
}

func parseDuration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration (examples: 250ms, 1.5s, 2m)", name, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative", name)
	}
	return d, nil
}

// ParseTime accepts RFC 3339 or a Unix timestamp in seconds, milliseconds,
// microseconds or nanoseconds (told apart by magnitude).
func ParseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n < 0:
			return time.Time{}, fmt.Errorf("%s: negative timestamp %d", name, n)
		case n < 1e11:
			return time.Unix(n, 0), nil
		case n < 1e14:
			return time.UnixMilli(n), nil
		case n < 1e17:
			return time.UnixMicro(n), nil
		default:
			return time.Unix(0, n), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither RFC 3339 (2006-01-02T15:04:05Z) nor a Unix timestamp", name, s)
	}
	return t, nil
}

// ParseCond parses "[scope.]key OP value" where scope is span, resource,
// event, link or instrumentation (absent: any of them) and OP is one of = != < <= > >= =~ !~.
func ParseCond(s string) (query.Cond, error) {
	var c query.Cond
	i := strings.IndexAny(s, "=!<>")
	if i <= 0 {
		return c, fmt.Errorf("expected key, operator and value, like http.status_code>=500")
	}
	key, rest := strings.TrimSpace(s[:i]), s[i:]
	opLen := 1
	if len(rest) >= 2 {
		switch rest[:2] {
		case "!=", "<=", ">=", "=~", "!~":
			opLen = 2
		}
	}
	op, ok := query.ParseOp(rest[:opLen])
	if !ok {
		return c, fmt.Errorf("unknown operator %q", rest[:opLen])
	}
	c.Op = op
	c.Value = rest[opLen:]
	switch {
	case strings.HasPrefix(key, "span."):
		c.Scope, key = query.ScopeSpan, key[len("span."):]
	case strings.HasPrefix(key, "resource."):
		c.Scope, key = query.ScopeResource, key[len("resource."):]
	case strings.HasPrefix(key, "event."):
		c.Scope, key = query.ScopeEvent, key[len("event."):]
	case strings.HasPrefix(key, "link."):
		c.Scope, key = query.ScopeLink, key[len("link."):]
	case strings.HasPrefix(key, "instrumentation."):
		c.Scope, key = query.ScopeInstrumentation, key[len("instrumentation."):]
	}
	if key == "" {
		return c, fmt.Errorf("empty attribute key")
	}
	c.Key = key
	return c, nil
}
