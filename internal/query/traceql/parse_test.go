package traceql

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseErrorsHavePositions(t *testing.T) {
	cases := []struct {
		q        string
		line     int
		col      int
		contains string
	}{
		{"{ .a < }", 1, 8, "unexpected '}', expected a value"},
		{"{ .a = 1", 1, 9, "unexpected end of query, expected an operator or '}'"},
		{"{ attribute = 4 }", 1, 3, `unknown identifier "attribute"`},
		{"{ span. }", 1, 8, "expected an attribute name"},
		{"{ .a == 4 }", 1, 7, "unexpected '='"},
		{"{ trace:status = error }", 1, 9, "expected one of duration, id, rootName, rootService"},
		{"{ .a = \"x }", 1, 8, "string literal not terminated"},
		{"{ true }\n| count()", 2, 3, "count() must be compared"},
		{"{ true } |\n  coalesce() | { true }", 0, 0, ""}, // valid
		{"coalesce() | { true }", 1, 1, "cannot start with coalesce()"},
		{"{ 1 = \"foo\" }", 1, 5, "same type"},
		{"{ span.foo =~ \"[\" }", 1, 15, "invalid regular expression"},
		{"{ status }", 1, 3, "must resolve to a boolean"},
		{"{ span:status = nil }", 1, 15, "intrinsics always exist"},
		{"{ parent.a = 1 }", 1, 3, "not supported"},
		{"{} | rate() | topk(0)", 1, 15, "greater than 0"},
		{"({} | rate()) * 10s", 1, 17, "duration"},
		{"{ true } = { true }", 1, 1, "expected an aggregate"},
		{"[ true ]", 1, 1, "unexpected character '['"},
		{"", 1, 1, "empty query"},
		{"{ .a = 1 } { .b = 2 }", 1, 12, "expected end of query"},
		{"{ .\"a\\x\" = 1 }", 1, 6, "invalid escape"},
		{"{} | max() = 1", 1, 10, "expected a field expression"},
		{"{ true } | by()", 1, 15, "expected a field expression"},
		{"{ résumé = 1 }", 1, 4, "unexpected character"},
	}
	for _, c := range cases {
		_, err := Parse(c.q)
		if c.line == 0 {
			require.NoError(t, err, c.q)
			continue
		}
		require.Error(t, err, c.q)
		var pe *Error
		require.True(t, errors.As(err, &pe), c.q)
		require.Equal(t, [2]int{c.line, c.col}, [2]int{pe.Line, pe.Col}, "%q: %v", c.q, err)
		require.Contains(t, err.Error(), c.contains, c.q)
	}
}

func TestParseNestingLimit(t *testing.T) {
	_, err := Parse("{ " + strings.Repeat("(", 100) + ".a = 1" + strings.Repeat(")", 100) + " }")
	require.NoError(t, err)
	_, err = Parse("{ " + strings.Repeat("(", 10000) + ".a = 1" + strings.Repeat(")", 10000) + " }")
	require.ErrorContains(t, err, "nested more than")
	_, err = Parse("{ " + strings.Repeat("!", 10000) + ".a }")
	require.ErrorContains(t, err, "nested more than")
	_, err = Parse(strings.Repeat("(", 10000) + "{ }" + strings.Repeat(")", 10000))
	require.ErrorContains(t, err, "nested more than")
	_, err = Parse("count() > " + strings.Repeat("-", 10000) + "1")
	require.ErrorContains(t, err, "nested more than")
	// long flat chains are fine
	_, err = Parse("{ " + strings.Repeat(".a = 1 && ", 2000) + ".b = 2 }")
	require.NoError(t, err)
}

func TestParseStructure(t *testing.T) {
	// precedence and associativity, shown through String()
	cases := map[string]string{
		"{ .a || .b && .c }":                   "((.a || .b) && .c)",
		"{ .a = 1 || .b = 2 }":                 "((.a = 1) || (.b = 2))",
		"{ -.a * 2 = 1 }":                      "(-(.a * 2) = 1)",
		"{ -.a + 2 = 1 }":                      "((-.a + 2) = 1)",
		"{ !.a && .b }":                        "(!.a && .b)",
		"{ 2 ^ 3 ^ 2 = .x }":                   "((2 ^ (3 ^ 2)) = .x)",
		"{ .a != nil }":                        "(.a != nil)",
		"{ nil = .a }":                         "(.a = nil)",
		"{ span.\"a b\" = 1 }":                 "(span.\"a b\" = 1)",
		"{ resource.service.name = \"x\" }":    "(resource.service.name = \"x\")",
		"{ event:name = \"exception\" }":       "(event:name = \"exception\")",
		"{ span:id = \"0102030405060708\" }":   "(span:id = \"0102030405060708\")",
		"{ duration > 1.5s && kind = server }": "((duration > 1.5s) && (kind = server))",
		"{ .a = 1 } // comment":                "(.a = 1)",
	}
	for q, want := range cases {
		parsed, err := Parse(q)
		require.NoError(t, err, q)
		p := parsed.search.(*pipeline)
		require.Len(t, p.stages, 1, q)
		require.Equal(t, want, p.stages[0].(*filter).expr.String(), q)
	}
}

func TestParseDurations(t *testing.T) {
	for q, ns := range map[string]int64{
		"{ duration > 1s }": 1e9, "{ duration > 100ms }": 1e8, "{ duration > 1.5s }": 15e8,
		"{ duration > 1h30m }": 5400e9, "{ duration > 1d }": 86400e9, "{ duration > 250us }": 250e3,
		"{ duration > 7ns }": 7,
	} {
		parsed, err := Parse(q)
		require.NoError(t, err, q)
		b := parsed.search.(*pipeline).stages[0].(*filter).expr.(*Binary)
		require.Equal(t, Value{T: TypeDuration, I: ns}, b.R.(*Static).Val, q)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"{ .a = 1 }", "{ span.http.status_code >= 500 && resource.service.name =~ \"api.*\" }",
		"{ } >> { kind = server } | select(nestedSetLeft)", "({ a } | count() > 1) && ({ .b })",
		"{} | rate() by (span.client_ip) | topk(10)", "({} | rate()) * 10 - 1", "{ .\"a\\\"b\" = nil }",
		"max(duration) > 3s | { status = error }", "{ true } | by(.a) | coalesce()",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parsed, err := Parse(q)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error without position: %v", q, err)
			}
			if pe.Offset < 0 || pe.Offset > len(q) {
				t.Fatalf("%q: offset %d out of range", q, pe.Offset)
			}
			return
		}
		if parsed.search != nil {
			parsed.Matches(sampleTrace())
		}
	})
}
