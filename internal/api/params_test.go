package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ariadne-tracing/ariadne/internal/model"
	"github.com/ariadne-tracing/ariadne/internal/query"
)

func TestParseSearch(t *testing.T) {
	v := url.Values{
		"service": {"checkout"}, "name": {"PlaceOrder"}, "kind": {"server"}, "status": {"error"},
		"statusScope": {"trace"}, "attr": {"http.status_code>=500", "resource.host.name=~web-.*", "event.exception.type!=IOError"},
		"minDuration": {"100ms"}, "maxDuration": {"2s"}, "durationScope": {"trace"},
		"start": {"2026-11-22T10:00:00Z"}, "end": {"1795341600000"}, "limit": {"50"},
	}
	q, err := ParseSearch(v)
	require.NoError(t, err)
	require.Equal(t, "checkout", q.Service)
	require.Equal(t, "PlaceOrder", q.SpanName)
	require.Equal(t, model.KindServer, q.Kind)
	require.Equal(t, model.StatusError, q.Status)
	require.Equal(t, query.LevelTrace, q.StatusLevel)
	require.Equal(t, query.LevelTrace, q.DurationLevel)
	require.Equal(t, 100*time.Millisecond, q.MinDuration)
	require.Equal(t, 2*time.Second, q.MaxDuration)
	require.Equal(t, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), q.Start.UTC())
	require.Equal(t, int64(1795341600000), q.End.UnixMilli())
	require.Equal(t, 50, q.Limit)
	require.Len(t, q.Conds, 3)
	require.Equal(t, query.Cond{Scope: query.ScopeAny, Key: "http.status_code", Op: query.OpGe, Value: "500"}.Key, q.Conds[0].Key)
	require.Equal(t, query.OpGe, q.Conds[0].Op)
	require.Equal(t, query.ScopeResource, q.Conds[1].Scope)
	require.Equal(t, "host.name", q.Conds[1].Key)
	require.Equal(t, query.OpRe, q.Conds[1].Op)
	require.Equal(t, query.ScopeEvent, q.Conds[2].Scope)
	require.Equal(t, query.OpNe, q.Conds[2].Op)
	require.Equal(t, "IOError", q.Conds[2].Value)

	q, err = ParseSearch(url.Values{})
	require.NoError(t, err)
	require.Equal(t, query.DefaultLimit, q.Limit)
	require.Equal(t, int8(-1), q.Kind)
}

func TestParseSearchErrors(t *testing.T) {
	cases := map[string]url.Values{
		`unknown parameter "servce"`:         {"servce": {"x"}},
		"kind: unknown span kind":            {"kind": {"sideways"}},
		"status: unknown status":             {"status": {"bad"}},
		"statusScope: must be span or trace": {"statusScope": {"all"}},
		"minDuration":                        {"minDuration": {"fast"}},
		"maxDuration":                        {"minDuration": {"2s"}, "maxDuration": {"1s"}},
		"start":                              {"start": {"yesterday"}},
		"time range: end":                    {"start": {"2026-11-22T10:00:00Z"}, "end": {"2026-11-22T09:00:00Z"}},
		"limit: must be a positive integer":  {"limit": {"-3"}},
		"limit: must be between":             {"limit": {"100000"}},
		"attr 1":                             {"attr": {"novalue"}},
		"bad regular expression":             {"attr": {"a=~(["}},
		"empty attribute key":                {"attr": {"span.=x"}},
	}
	for want, v := range cases {
		_, err := ParseSearch(v)
		require.Error(t, err, want)
		require.Contains(t, err.Error(), want)
	}
}
